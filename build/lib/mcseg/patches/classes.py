"""The patch classes C1-C4 of Valvano 2019 (sec. 3.3, Table 1).

For a patch of side N centred on pixel p of a calcification mask:

* C1: p belongs to a calcification;
* C2: p does not, but a calcification pixel lies within ``c2_max_distance_px``
  (Euclidean, in working-resolution pixels; the paper's "2 to 3 pixels from the
  centre", see :data:`mcseg.defaults.C2_MAX_DISTANCE_PX`);
* C3: a calcification lies inside the patch, farther from the centre;
* C4: no calcification pixel inside the patch.

The detector calls C1-C3 positive; the segmentator calls only C1 positive.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from scipy import ndimage as ndi

from mcseg.defaults import C2_MAX_DISTANCE_PX, PATCH_SIZE_PX


class PatchClass(IntEnum):
    C1 = 1  # centre on a calcification
    C2 = 2  # calcification close to the centre
    C3 = 3  # calcification in the periphery
    C4 = 4  # no calcification


#: The classes each network calls positive (Valvano 2019 sec. 3.3).
POSITIVE_CLASSES = {
    "detector": (PatchClass.C1, PatchClass.C2, PatchClass.C3),
    "segmentator": (PatchClass.C1,),
}


def is_positive(patch_class: int | np.ndarray, role: str) -> np.ndarray:
    """Binary training label of a patch class for the 'detector' or the 'segmentator'."""
    if role not in POSITIVE_CLASSES:
        raise ValueError(f"role must be 'detector' or 'segmentator', not {role!r}")
    return np.isin(np.asarray(patch_class), [int(c) for c in POSITIVE_CLASSES[role]])


def patch_class_map(
    mask: np.ndarray,
    patch_size_px: int = PATCH_SIZE_PX,
    c2_max_distance_px: float = C2_MAX_DISTANCE_PX,
) -> np.ndarray:
    """Class (uint8, 1-4) of the patch centred on every pixel of ``mask``.

    Pixels near the image border see the outside as calcification-free.
    """
    mc = np.asarray(mask, dtype=bool)
    classes = np.full(mc.shape, PatchClass.C4, dtype=np.uint8)
    if not mc.any():
        return classes
    in_patch = ndi.maximum_filter(mc, size=patch_size_px, mode="constant", cval=False)
    classes[in_patch] = PatchClass.C3
    distance = ndi.distance_transform_edt(~mc)
    classes[(distance <= c2_max_distance_px) & ~mc] = PatchClass.C2
    classes[mc] = PatchClass.C1
    return classes


def patch_class(
    mask: np.ndarray,
    row: int,
    col: int,
    patch_size_px: int = PATCH_SIZE_PX,
    c2_max_distance_px: float = C2_MAX_DISTANCE_PX,
) -> PatchClass:
    """Class of the single patch centred on (row, col); the literal definition."""
    mc = np.asarray(mask, dtype=bool)
    if mc[row, col]:
        return PatchClass.C1
    half = patch_size_px // 2
    r0, c0 = max(row - half, 0), max(col - half, 0)
    window = mc[r0 : row + half + 1, c0 : col + half + 1]
    if not window.any():
        return PatchClass.C4
    rr, cc = np.nonzero(window)
    nearest = np.sqrt((rr + r0 - row) ** 2 + (cc + c0 - col) ** 2).min()
    return PatchClass.C2 if nearest <= c2_max_distance_px else PatchClass.C3
