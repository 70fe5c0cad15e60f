"""Read calcification labels (masks) as training, evaluation and the app receive them.

A label is a 2D image of the mammogram's size whose non-zero pixels are
calcification. 3D Slicer saves a segmentation of a 2D image as a one-slice
volume; that slice is taken.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcseg.io.errors import UnreadableImageError


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
