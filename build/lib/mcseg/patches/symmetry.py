"""The eight symmetries of the square (the dihedral group D4).

They keep a patch's class, so the patch store augments with them, and the
segmentator can be averaged over them at test time.
"""

from __future__ import annotations

import numpy as np

#: Each symmetry as (quarter turns, mirror), rotations first.
D4 = tuple((k, mirror) for mirror in (False, True) for k in range(4))


def apply_symmetry(a: np.ndarray, k: int, mirror: bool) -> np.ndarray:
    """``a`` turned by k quarter turns, then mirrored left-right (last two axes)."""
    a = np.rot90(a, k, axes=(-2, -1))
    return np.flip(a, -1) if mirror else a


def undo_symmetry(a: np.ndarray, k: int, mirror: bool) -> np.ndarray:
    """The inverse of :func:`apply_symmetry`: back to the original orientation."""
    a = np.flip(a, -1) if mirror else a
    return np.rot90(a, -k, axes=(-2, -1))
