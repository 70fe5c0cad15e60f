"""Read calcification labels (masks) as training, evaluation and the app receive them.

A label is a 2D image of the mammogram's size whose non-zero pixels are
calcification. 3D Slicer saves a segmentation of a 2D image as a one-slice
volume; that slice is taken.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcseg.io.errors import LabelError, UnreadableImageError

#: Label values and what they mean: the only label map the app's models use.
LABEL_VALUES = {0: "background", 1: "calcification"}
#: The value of the "uncertain" segment the server can send for reading (never an annotation).
UNCERTAIN_VALUE = 2


def read_label_image(path: str | Path, reduce_colour: bool = False):
    """A 2D label file as (array, SimpleITK image); a one-slice volume (as Slicer saves) is squeezed.
    With ``reduce_colour`` a colour raster becomes its brightest channel (otherwise it is refused)."""
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise UnreadableImageError(f"{Path(path).name}: label cannot be read") from exc
    arr = sitk.GetArrayFromImage(image)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if reduce_colour and arr.ndim == 3 and arr.shape[-1] in (3, 4):
        arr = arr.max(-1)
    if arr.ndim != 2:
        raise UnreadableImageError(f"{Path(path).name}: label has shape {arr.shape}, not 2D")
    return arr, image


def read_label(path: str | Path) -> np.ndarray:
    """A label image as a boolean array (any non-zero value is calcification)."""
    return read_label_image(path)[0] != 0


def read_label_checked(path: str | Path, shape: tuple[int, int], name: str | None = None) -> np.ndarray:
    """A label an annotator saved, as a boolean mask, after checking everything training trusts.

    It must decode completely (a truncated compressed file reads as zeros, so the
    stream itself is checked), be 2D (or one slice) of the image's ``shape``, finite,
    and hold only the values of :data:`LABEL_VALUES`. Anything else raises
    :class:`LabelError` naming the problem.
    """
    path = Path(path)
    name = name or path.name
    _check_complete(path, name)
    try:
        arr, _ = read_label_image(path)
    except UnreadableImageError as exc:
        raise LabelError(f"{name}: {str(exc).split(': ', 1)[-1]}") from exc
    if arr.shape != tuple(shape):
        raise LabelError(f"{name} is {arr.shape[0]} x {arr.shape[1]} pixels; the image is {shape[0]} x {shape[1]}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise LabelError(f"{name}: {int((~np.isfinite(arr)).sum()):,} pixels are NaN or infinite; a label holds "
                         f"only {_values_text()}")
    values = np.unique(arr)
    unknown = [v for v in values.tolist() if v not in LABEL_VALUES]
    if unknown == [UNCERTAIN_VALUE]:
        raise LabelError(f"{name}: holds the value {UNCERTAIN_VALUE}, the 'uncertain' segment that the server sends to show "
                         "where the models disagree; it is not an annotation: delete it, or turn its pixels into "
                         "calcification or background, before submitting")
    if unknown:
        shown = ", ".join(f"{v:g}" for v in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise LabelError(f"{name}: holds the value(s) {shown}; a label holds only {_values_text()}")
    return arr == 1


def _values_text() -> str:
    return " and ".join(f"{v} ({meaning})" for v, meaning in LABEL_VALUES.items())


def _check_complete(path: Path, name: str) -> None:
    """Refuse a file whose data stop early or are not finite.

    ITK reads a truncated .nii.gz as zeros, and a NaN NIfTI as zeros too, without
    complaint; NIfTI is what 3D Slicer's MONAI Label module sends, so its voxels are
    decoded with nibabel, which fails on both. Other .gz files get a stream check."""
    import gzip
    import zlib

    lower = path.name.lower()
    if lower.endswith(".gz"):  # the stream to its end, CRC and length included
        try:
            with gzip.open(path, "rb") as fh:
                while fh.read(1 << 20):
                    pass
        except (OSError, EOFError, zlib.error) as exc:
            raise LabelError(f"{name}: the compressed file is truncated or corrupt ({exc})") from exc
    if lower.endswith((".nii", ".nii.gz")):
        import nibabel

        try:
            voxels = np.asanyarray(nibabel.load(str(path)).dataobj)
        except Exception as exc:  # nibabel raises many types for a broken file
            raise LabelError(f"{name}: the NIfTI file is truncated or corrupt ({exc})") from exc
        if voxels.dtype.kind == "f" and not np.isfinite(voxels).all():
            raise LabelError(f"{name}: {int((~np.isfinite(voxels)).sum()):,} pixels are NaN or infinite; a label "
                             f"holds only {_values_text()}")
