"""Labels as annotators save them: what is accepted, what is refused, and why."""

from __future__ import annotations

import nibabel
import numpy as np
import pytest
import SimpleITK as sitk

from mcseg.io import LabelError, read_label_checked

SHAPE = (120, 90)


def _mask() -> np.ndarray:
    mask = np.zeros(SHAPE, np.uint8)
    mask[40:44, 30:33] = 1
    return mask


def _nifti(path, array: np.ndarray) -> str:
    """A one-slice NIfTI as Slicer saves it (x = column, y = row, z = 1)."""
    nibabel.save(nibabel.Nifti1Image(array.T[:, :, None], np.eye(4)), str(path))
    return str(path)


def test_slicer_style_and_plain_labels_are_read(tmp_path):
    volume = sitk.JoinSeries(sitk.GetImageFromArray(_mask()))
    sitk.WriteImage(volume, str(tmp_path / "a.nii.gz"))
    sitk.WriteImage(sitk.GetImageFromArray(_mask()), str(tmp_path / "b.nrrd"), useCompression=True)
    for name in ("a.nii.gz", "b.nrrd"):
        np.testing.assert_array_equal(read_label_checked(tmp_path / name, SHAPE), _mask() == 1)
    empty = np.zeros(SHAPE, np.float32)
    assert not read_label_checked(_nifti(tmp_path / "e.nii", empty), SHAPE).any()  # a negative case


@pytest.mark.parametrize("make, words", [
    (lambda p: _nifti(p / "nan.nii.gz", np.full(SHAPE, np.nan, np.float32)), "NaN"),
    (lambda p: _nifti(p / "inf.nii.gz", np.where(_mask() > 0, np.inf, 0).astype(np.float32)), "NaN or infinite"),
    (lambda p: _nifti(p / "half.nii.gz", _mask() * 0.5), "0.5"),
    (lambda p: _nifti(p / "two.nii.gz", _mask() * 2), "value"),
    (lambda p: _nifti(p / "small.nii.gz", np.zeros((10, 10), np.uint8)), "10 x 10"),
])
def test_bad_labels_are_refused_with_the_reason(tmp_path, make, words):
    with pytest.raises(LabelError, match=words):
        read_label_checked(make(tmp_path), SHAPE)


def test_truncated_labels_are_refused(tmp_path):
    speckled = (np.random.default_rng(0).random(SHAPE) < 0.3).astype(np.uint8)  # compresses poorly
    good = open(_nifti(tmp_path / "good.nii.gz", speckled), "rb").read()
    assert len(good) > 1000
    for keep in (200, len(good) // 2, len(good) - 10):
        cut = tmp_path / f"cut{keep}.nii.gz"
        cut.write_bytes(good[:keep])
        with pytest.raises(LabelError, match="truncated or corrupt"):
            read_label_checked(cut, SHAPE)
    plain = _nifti(tmp_path / "plain.nii", _mask())
    (tmp_path / "plaincut.nii").write_bytes(open(plain, "rb").read()[:5000])
    with pytest.raises(LabelError, match="truncated"):
        read_label_checked(tmp_path / "plaincut.nii", SHAPE)
    (tmp_path / "text.nrrd").write_text("not a label")
    with pytest.raises(LabelError):
        read_label_checked(tmp_path / "text.nrrd", SHAPE)
