"""Outlines redrawn at a finer pixel than the one the calcifications were found at.

The coarse weights find calcifications at 0.14 mm; drawn back onto a 0.07 mm input their mask is
coarser than a calcification of a few tenths of a millimetre. :func:`refine_outlines` keeps what was
found (which calcifications, their scores and clusters) and redraws each one's outline from a finer
segmentator's probability around it: the measurement at one pixel, the overlay at another.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def refine_outlines(coarse: np.ndarray, fine_prob: np.ndarray, threshold: float, margin_px: int,
                    owners: np.ndarray, grown: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Redraw each calcification of ``coarse`` (a mask in the fine frame) from ``fine_prob``.

    Each calcification's neighbourhood is its coarse pixels dilated by ``margin_px``; there its new
    outline is the fine components at ``threshold`` that touch the coarse pixels, or the coarse
    pixels themselves where no fine component does (the finer network may miss what the coarser one
    found, and a found calcification keeps an outline). ``owners`` holds, per calcification, a pixel
    (row, col) of the fine frame inside it. Returns the new mask and each owner's area in pixels:
    a neighbourhood shared by several owners (close calcifications) is split evenly among them, so
    that the areas add up to the mask. ``grown``: ``coarse`` already dilated by ``margin_px``, where
    the caller has it (the pipeline dilates once to know where to run the finer segmentator).
    """
    if grown is None:
        grown = ndi.binary_dilation(coarse, iterations=margin_px)
    neighbourhoods, n = ndi.label(grown)
    fine_labels, _ = ndi.label((fine_prob >= threshold) & (neighbourhoods > 0))
    out = np.zeros(coarse.shape, bool)
    pixels = np.zeros(n + 1)
    for k, box in enumerate(ndi.find_objects(neighbourhoods), start=1):
        here = neighbourhoods[box] == k
        own_coarse = coarse[box] & here
        touching = np.unique(fine_labels[box][own_coarse])
        touching = touching[touching > 0]
        drawn = np.isin(fine_labels[box], touching) & here if len(touching) else own_coarse
        out[box] |= drawn
        pixels[k] = drawn.sum()
    rows = np.clip(owners[:, 0], 0, coarse.shape[0] - 1) if len(owners) else np.zeros(0, int)
    cols = np.clip(owners[:, 1], 0, coarse.shape[1] - 1) if len(owners) else np.zeros(0, int)
    owner_k = neighbourhoods[rows, cols]
    sharing = np.bincount(owner_k, minlength=n + 1)
    areas = np.where(owner_k > 0, pixels[owner_k] / np.maximum(sharing[owner_k], 1), 0.0)
    return out, areas
