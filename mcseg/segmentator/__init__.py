"""Stage 3: the segmentator CNN classifies every pixel of the flagged windows.

Two paths give the same probabilities: :func:`segment_dense` (fast, the whole
region at once) and :func:`segment_reference` (literal: one N x N patch per
pixel, as Valvano 2019 sec. 3.1 describes). They agree exactly for a "valid"
network; a "same" network has no exact dense form and always uses the reference. Either can be
averaged over the eight symmetries of the square (:mod:`mcseg.patches.symmetry`).
"""

from mcseg.segmentator.inference import (segment, segment_dense, segment_reference, segment_views,
                                        segment_with_spread)

__all__ = ["segment", "segment_dense", "segment_reference", "segment_views", "segment_with_spread"]
