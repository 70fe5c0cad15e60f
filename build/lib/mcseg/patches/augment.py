"""Augmentation: one of the 8 rotations/flips of the square per patch, which keep its class."""

from __future__ import annotations

import numpy as np

from mcseg.patches.symmetry import D4, apply_symmetry


def dihedral_augment(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Apply one of the 8 rotations/flips of the square to each patch (keeps its class)."""
    out = np.empty_like(pixels)
    choice = rng.integers(0, len(D4), size=len(pixels))
    for t, (k, mirror) in enumerate(D4):
        sel = choice == t
        if sel.any():
            out[sel] = apply_symmetry(pixels[sel], k, mirror)
    return out
