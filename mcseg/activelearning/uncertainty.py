"""Where are the models unsure? Test-time augmentation on C2- and C3-type patches.

Valvano 2019 (Table 2) finds the errors concentrated in two patch classes: C2
(centre next to a calcification border: the segmentator's hard case) and C3
(a calcification off-centre in the window: the detector's hard case). Without
ground truth we locate those patches from the models' own output:

* C3-type: the detector's windows. Each is classified under the eight
  rotations/flips of the square (they keep a patch's class); the spread of the
  eight scores (mostly) and the closeness of their mean to the threshold
  (a little, to break ties) make the uncertainty.
* C2-type: the rings 1-3 working pixels around each candidate calcification.
  The segmentator runs on the image under four flips/rotations; the per-pixel
  standard deviation, averaged over a calcification's ring, is its uncertainty.

An image's score is the mean of its top-k patch uncertainties (robust to one
odd patch, sensitive to a few hard ones). Monte Carlo dropout is not used: the
dense segmentator path has no dropout to sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import ndimage as ndi

from mcseg.defaults import C2_MAX_DISTANCE_PX
from mcseg.detector.windows import classify_patches, cut_windows
from mcseg.io.reader import Mammogram
from mcseg.pipeline import Pipeline, _box_to_input
from mcseg.patches.symmetry import D4, apply_symmetry
from mcseg.segmentator import segment_views

TOP_K = 10
#: Candidate calcifications whose ring is examined (strongest first): bounds the cost.
MAX_CANDIDATES = 200


@dataclass
class UncertainPatch:
    patch_class: str                 # "C2" or "C3"
    bbox_px: list[int]               # r0, c0, r1, c1 in the input image
    bbox_mm: list[float]             # the same box in mm from the image's top-left corner
    uncertainty: float               # 0 (sure) .. 1

    def to_json(self) -> dict[str, Any]:
        return {"patch_class": self.patch_class, "bbox_px": self.bbox_px, "bbox_mm": self.bbox_mm,
                "uncertainty": round(self.uncertainty, 4)}


@dataclass
class ImageUncertainty:
    score: float
    patches: list[UncertainPatch]    # most uncertain first
    windows: int
    candidates: int
    #: The plain-entropy score of the same image (:func:`entropy_score`), from the first of the views.
    entropy: float = 0.0

    def to_json(self, top_k: int = TOP_K) -> dict[str, Any]:
        return {"score": round(self.score, 5), "patches": [p.to_json() for p in self.patches[:top_k]],
                "windows": self.windows, "candidates": self.candidates, "entropy": round(self.entropy, 5)}


#: Four views for the costly dense pass; the first is the image as it is (the entropy score reads it).
_TTA = [(0, False), (1, False), (2, False), (0, True)]


def score_image(pipeline: Pipeline, mammo: Mammogram, top_k: int = TOP_K) -> ImageUncertainty:
    """Uncertainty of the pipeline on ``mammo``, with the patches that drive it."""
    # The networks that would serve it: their doubts are what a reader's label corrects. (A detector image of
    # 0.08 to <0.11 mm is served by the native networks alone and its label trains the coarse ones, which then
    # take the band over: Pipeline.route_of.)
    pipeline = pipeline.for_input(mammo)
    cfg = pipeline.config
    with torch.inference_mode():
        frame = pipeline.prepare(mammo)
        detection = pipeline.detect(frame)
        patches = []

        # C3-type: detector windows near the threshold or unstable under symmetry.
        flagged_or_close = np.flatnonzero(np.abs(detection.scores - cfg.detector_threshold) < 0.35)
        if len(flagged_or_close):
            tl = detection.top_left[flagged_or_close]
            windows = cut_windows(frame.image, tl, detection.patch_size_px)
            views = np.stack([classify_patches(pipeline.detector, np.ascontiguousarray(apply_symmetry(windows, k, f)))
                              for k, f in D4])
            mean, spread = views.mean(0), views.std(0)
            # Mostly the disagreement between views (std 0.5 = split views -> 1), a
            # little the closeness of the mean to the threshold (1 at it), to break ties.
            closeness = 1 - np.minimum(np.abs(mean - cfg.detector_threshold) / 0.35, 1)
            unc = np.clip(0.8 * 2 * spread + 0.2 * closeness, 0, 1)
            n = detection.patch_size_px
            for (r, c), u in zip(tl, unc):
                patches.append(("C3", (int(r), int(c), int(r) + n, int(c) + n), float(u)))

        # C2-type: rings around candidate calcifications, from four views of the segmentator.
        region = pipeline.candidate_region(frame, detection)
        probs = np.stack(list(segment_views(pipeline.segmentator, frame.image, region, _TTA,
                                            cfg.segmentator_path)))
    mean, std = probs.mean(0), probs.std(0)
    candidates, n_cand = ndi.label(mean >= cfg.candidate_threshold)
    n_cand_used = 0
    if n_cand:
        peaks = ndi.maximum(mean, candidates, np.arange(1, n_cand + 1))
        order = np.argsort(-peaks)[:MAX_CANDIDATES]
        slices = ndi.find_objects(candidates)
        pad = int(np.ceil(C2_MAX_DISTANCE_PX))
        for idx in order:
            sl = slices[idx]
            r0, c0 = max(sl[0].start - pad, 0), max(sl[1].start - pad, 0)
            r1, c1 = min(sl[0].stop + pad, mean.shape[0]), min(sl[1].stop + pad, mean.shape[1])
            comp = candidates[r0:r1, c0:c1] == idx + 1
            ring = ndi.binary_dilation(comp, iterations=pad) & ~ndi.binary_erosion(comp)
            if not ring.any():
                continue
            # Twice the std: a pixel split 50/50 between views has std 0.5 -> 1.
            u = float(np.clip(2 * std[r0:r1, c0:c1][ring].mean(), 0, 1))
            patches.append(("C2", (r0, c0, r1, c1), u))
            n_cand_used += 1

    patches.sort(key=lambda p: -p[2])
    sr, sc = mammo.spacing_mm
    out = []
    for cls, box, u in patches:
        b = _box_to_input(frame, box)
        out.append(UncertainPatch(cls, b, [round(b[0] * sr, 2), round(b[1] * sc, 2), round(b[2] * sr, 2),
                                           round(b[3] * sc, 2)], u))
    top = [p.uncertainty for p in out[:top_k]]
    return ImageUncertainty(float(np.mean(top)) if top else 0.0, out, int(len(detection.scores)), n_cand_used,
                            tile_entropy(probs[0], region, top_k))


#: Side of the square tiles over which :func:`entropy_score` averages, in working pixels
#: (about a 2 mm square at 0.07 mm, a small cluster's extent).
ENTROPY_TILE_PX = 32


def entropy_score(pipeline: Pipeline, mammo: Mammogram, top_k: int = TOP_K) -> float:
    """Plain uncertainty, the comparison strategy without the C2/C3 split.

    The segmentator's single-view probability map over the region the detector
    flags; the binary entropy (bits) of each pixel, averaged over square tiles;
    the image's score is the mean of its ``top_k`` tiles, the same aggregation
    as :func:`score_image`. One dense pass, no symmetry views, no detector spread.
    """
    pipeline = pipeline.for_input(mammo)
    cfg = pipeline.config
    with torch.inference_mode():
        frame = pipeline.prepare(mammo)
        region = pipeline.candidate_region(frame, pipeline.detect(frame))
        prob = next(segment_views(pipeline.segmentator, frame.image, region, [(0, False)], cfg.segmentator_path))
    return tile_entropy(prob, region, top_k)


def tile_entropy(prob: np.ndarray, region: np.ndarray, top_k: int = TOP_K) -> float:
    """Mean of the ``top_k`` highest tile means of the pixel entropy (bits) of ``prob`` on ``region``."""
    p = np.clip(prob.astype(np.float64), 1e-6, 1 - 1e-6)
    entropy = np.where(region, -(p * np.log2(p) + (1 - p) * np.log2(1 - p)), 0.0)
    n = ENTROPY_TILE_PX
    rows, cols = -(-entropy.shape[0] // n) * n, -(-entropy.shape[1] // n) * n
    tiles = np.pad(entropy, ((0, rows - entropy.shape[0]), (0, cols - entropy.shape[1])))
    tile_means = tiles.reshape(rows // n, n, cols // n, n).mean(axis=(1, 3)).ravel()
    return float(np.sort(tile_means)[::-1][:top_k].mean())
