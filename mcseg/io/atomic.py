"""Write a file so that a reader, or a crash, never sees half of it.

Every published artefact (labels, checkpoints, JSON results, state files) goes
through here: write a temporary file in the same folder, fsync it, rename it
over the target (atomic on POSIX), fsync the folder so the rename survives a
power cut.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


@contextmanager
def atomic_path(path: str | Path, keep_suffix: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    With ``keep_suffix`` the temporary file keeps the target's suffixes, so writers
    that choose the format by extension (ITK, torch) write the right one; without,
    it ends in ``.tmp``, so that a folder watcher matching ``*.nii.gz`` never sees it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = ("".join(path.suffixes) or ".tmp") if keep_suffix else ".tmp"
    # The name is cut so that a long target name cannot push the temporary past 255 bytes.
    fd, name = tempfile.mkstemp(prefix=f".{path.name[:64]}-", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write(path: str | Path, write: Callable[[Path], object], keep_suffix: bool = False) -> Path:
    """Call ``write(tmp_path)``, then move the result to ``path`` atomically."""
    with atomic_path(path, keep_suffix) as tmp:
        write(tmp)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def atomic_copy(source: str | Path, path: str | Path) -> Path:
    """Copy ``source`` to ``path`` so that ``path`` is always either the old or the new file."""
    import shutil

    return atomic_write(path, lambda tmp: shutil.copyfile(source, tmp))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some filesystems do not open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
