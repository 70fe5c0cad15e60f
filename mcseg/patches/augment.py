"""Augmentation: one of the 8 rotations/flips of the square per patch, which keep its class."""

from __future__ import annotations

import numpy as np

from mcseg.patches.symmetry import D4, apply_symmetry


def dihedral_choices(count: int, rng: np.random.Generator) -> np.ndarray:
    """Which of the 8 rotations/flips each of ``count`` patches gets."""
    return rng.integers(0, len(D4), size=count)


def dihedral_augment(pixels: np.ndarray, choice: np.ndarray | np.random.Generator) -> np.ndarray:
    """Apply one of the 8 rotations/flips of the square to each patch (keeps its class): the given
    ``choice`` per patch, or random ones drawn from a generator."""
    out = np.empty_like(pixels)
    if isinstance(choice, np.random.Generator):
        choice = dihedral_choices(len(pixels), choice)
    for t, (k, mirror) in enumerate(D4):
        sel = choice == t
        if sel.any():
            out[sel] = apply_symmetry(pixels[sel], k, mirror)
    return out
