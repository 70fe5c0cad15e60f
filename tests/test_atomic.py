"""Atomic writes: the target is always the old or the new file, never half of one."""

from __future__ import annotations

import pytest

from mcseg.io.atomic import atomic_copy, atomic_path, atomic_write_text


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "label.nii.gz"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half of the new")
            raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["label.nii.gz"]


def test_writes_replace_and_temporaries_do_not_look_like_labels(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"new label")
    seen = []
    with atomic_path(tmp_path / "out" / "a.nii.gz", keep_suffix=False) as tmp:
        seen.append(tmp.name)
        tmp.write_bytes(b"x")
    assert seen[0].startswith(".") and seen[0].endswith(".tmp")
    atomic_copy(source, tmp_path / "out" / "a.nii.gz")
    assert (tmp_path / "out" / "a.nii.gz").read_bytes() == b"new label"
    atomic_write_text(tmp_path / "out" / "b.json", "{}")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.nii.gz", "b.json"]
    with atomic_path(tmp_path / "c.seg.nrrd") as tmp:  # ITK picks the format by extension
        assert tmp.name.endswith(".seg.nrrd")
        tmp.write_bytes(b"x")
