"""Where patches are taken: centres of each class C1-C4 in an image (Valvano 2019 sec. 3.3).

C1 and C2 centres are drawn half per pixel, half per calcification; C4 gets
random breast pixels, bright look-alikes and the skin line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from mcseg.defaults import (BRIGHT_PEAK_MIN_NOISE_UNITS, BRIGHT_PEAK_WINDOW_PX, C2_MAX_DISTANCE_PX, PATCH_SIZE_PX,
                            PATCHES_PER_IMAGE, SKIN_LINE_DEPTH_PX)
from mcseg.patches.classes import PatchClass, patch_class_map


@dataclass(frozen=True)
class ExtractedPatches:
    pixels: np.ndarray      # float16 (n, N, N)
    rows: np.ndarray
    cols: np.ndarray
    classes: np.ndarray     # uint8 1-4
    kinds: list[str]


def extract_patches(
    image: np.ndarray,
    breast: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    patch_size_px: int = PATCH_SIZE_PX,
    per_image: dict[str, int] | None = None,
    c2_max_distance_px: float = C2_MAX_DISTANCE_PX,
) -> ExtractedPatches:
    """Sample patch centres of every class inside the breast and cut the patches."""
    per_image = {**PATCHES_PER_IMAGE, **(per_image or {})}
    classes = patch_class_map(mask, patch_size_px, c2_max_distance_px)
    inside = breast | mask.astype(bool)
    chosen: list[tuple[np.ndarray, str]] = []
    # C1 and C2 centres are drawn half per pixel, half per calcification.
    # Drawn per pixel alone, a 1-2 px speck (a third of the calcifications
    # below 0.2 mm) gets ~1% of the C1 patches a 0.8 mm one gets, and the
    # networks under-learn exactly the calcifications they miss most. C1 draws
    # with replacement (a speck has one or two pixels to give; the dihedral
    # augmentation varies the repeats), at most 2 per pixel. C3 windows are
    # near-equal per calcification already.
    owner = _nearest_calcification(mask)
    for cls in (PatchClass.C1, PatchClass.C2, PatchClass.C3):
        idx = np.flatnonzero(((classes == cls) & inside).ravel())
        k = per_image[cls.name]
        if cls == PatchClass.C3:
            picked = _pick(idx, k, rng)
        elif cls == PatchClass.C1 and len(idx):
            picked = np.sort(rng.choice(idx, size=min(k, 2 * len(idx)), replace=True,
                                        p=_per_calcification_weights(owner.ravel()[idx])))
        else:
            picked = _pick(idx, k, rng, _per_calcification_weights(owner.ravel()[idx]))
        chosen.append((picked, "random"))
    c4 = (classes == PatchClass.C4) & breast
    chosen.append((_pick(np.flatnonzero(c4.ravel()), per_image["C4_random"], rng), "random"))
    # Bright look-alikes: local maxima of the normalised image that are not calcifications.
    peaks = ((image == ndi.maximum_filter(image, size=BRIGHT_PEAK_WINDOW_PX)) & (image > BRIGHT_PEAK_MIN_NOISE_UNITS)
             & c4)
    chosen.append((_pick(np.flatnonzero(peaks.ravel()), per_image["C4_bright"], rng), "bright"))
    edge = c4 & ~ndi.binary_erosion(breast, iterations=SKIN_LINE_DEPTH_PX)
    chosen.append((_pick(np.flatnonzero(edge.ravel()), per_image["C4_edge"], rng), "edge"))

    flat = np.concatenate([c for c, _ in chosen]).astype(np.int64)
    kinds = [k for c, k in chosen for _ in range(len(c))]
    rows, cols = np.unravel_index(flat, image.shape)
    pixels = cut_patches(image, rows, cols, patch_size_px)
    return ExtractedPatches(pixels, rows.astype(np.int32), cols.astype(np.int32),
                            classes.ravel()[flat].astype(np.uint8), kinds)


def cut_patches(image: np.ndarray, rows: np.ndarray, cols: np.ndarray, patch_size_px: int) -> np.ndarray:
    """float16 (n, N, N) patches of ``image`` centred on (rows, cols); zero outside the image."""
    padded = np.pad(image.astype(np.float32, copy=False), patch_size_px // 2, mode="constant")
    # A strided view gives every patch without copying the image N^2 times.
    windows = np.lib.stride_tricks.sliding_window_view(padded, (patch_size_px, patch_size_px))
    return windows[rows, cols].astype(np.float16)


def _nearest_calcification(mask: np.ndarray) -> np.ndarray:
    """Label (8-connected component) of the calcification nearest to every pixel; 0 if none."""
    labels, count = ndi.label(np.asarray(mask, dtype=bool), structure=np.ones((3, 3), bool))
    if count == 0:
        return labels
    _, (rows, cols) = ndi.distance_transform_edt(labels == 0, return_indices=True)
    return labels[rows, cols]


def _per_calcification_weights(owner: np.ndarray) -> np.ndarray:
    """Sampling weights: half uniform over pixels, half uniform over the calcifications owning them."""
    if len(owner) == 0:
        return np.zeros(0)
    _, inverse, counts = np.unique(owner, return_inverse=True, return_counts=True)
    weights = 0.5 / len(owner) + 0.5 / (len(counts) * counts[inverse])
    return weights / weights.sum()


def _pick(indices: np.ndarray, k: int, rng: np.random.Generator, weights: np.ndarray | None = None) -> np.ndarray:
    if len(indices) <= k:
        return indices
    return rng.choice(indices, size=k, replace=False, p=weights)
