"""Calcification-level matching and FROC (the Cortina et al. protocol's hit rule).

A predicted calcification hits a ground-truth one when its centroid lies
within ``hit_radius_mm`` of the ground-truth centroid or inside the ground-truth
region dilated by ``dilation_mm``. Each ground truth is matched at most once,
greedily by descending score; unmatched predictions are false positives.
False positives per image count every image of the set, negatives included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

HIT_RADIUS_MM = 0.5
DILATION_MM = 0.25


@dataclass
class ImageMatch:
    """Per-prediction outcome on one image."""

    scores: np.ndarray      # (n_pred,)
    hits: np.ndarray        # bool (n_pred,): matched a ground truth
    n_truth: int


def match_calcifications(
    pred_centroids_px: np.ndarray,
    pred_scores: np.ndarray,
    truth_mask: np.ndarray,
    spacing_mm: tuple[float, float],
    hit_radius_mm: float = HIT_RADIUS_MM,
    dilation_mm: float = DILATION_MM,
) -> ImageMatch:
    """Match predictions to the connected components of a ground-truth mask."""
    pred = np.asarray(pred_centroids_px, dtype=np.float64).reshape(-1, 2)
    scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    labels, n_truth = ndi.label(truth_mask, structure=np.ones((3, 3), bool))
    hits = np.zeros(len(pred), dtype=bool)
    if n_truth == 0 or len(pred) == 0:
        return ImageMatch(scores, hits, n_truth)
    sr, sc = spacing_mm
    centres = np.asarray(ndi.center_of_mass(truth_mask, labels, np.arange(1, n_truth + 1))).reshape(-1, 2)
    # Dilated ground truth: every pixel within dilation_mm of a component gets its label.
    dist, (ir, ic) = ndi.distance_transform_edt(labels == 0, sampling=(sr, sc), return_indices=True)
    near = np.where(dist <= dilation_mm, labels[ir, ic], 0)
    rows = np.clip(np.round(pred[:, 0]).astype(int), 0, truth_mask.shape[0] - 1)
    cols = np.clip(np.round(pred[:, 1]).astype(int), 0, truth_mask.shape[1] - 1)
    inside = near[rows, cols]
    d_mm = np.hypot((pred[:, None, 0] - centres[None, :, 0]) * sr, (pred[:, None, 1] - centres[None, :, 1]) * sc)
    taken = np.zeros(n_truth + 1, dtype=bool)
    for i in np.argsort(-scores, kind="stable"):
        candidates = set(np.flatnonzero(d_mm[i] <= hit_radius_mm) + 1)
        if inside[i]:
            candidates.add(int(inside[i]))
        free = [k for k in candidates if not taken[k]]
        if free:
            best = min(free, key=lambda k: d_mm[i, k - 1])
            taken[best] = True
            hits[i] = True
    return ImageMatch(scores, hits, n_truth)


def match_listed(
    calcifications: list[dict],
    truth_mask: np.ndarray,
    spacing_mm: tuple[float, float],
    in_mask_only: bool = False,
) -> ImageMatch:
    """Match the ``calcifications`` of an output-contract JSON against a truth mask.

    ``in_mask_only`` keeps those at the operating point (the mask's); otherwise
    every listed candidate takes part, as a FROC sweep needs.
    """
    kept = [c for c in calcifications if c["in_mask"]] if in_mask_only else calcifications
    return match_calcifications([c["centroid_px"] for c in kept], [c["score"] for c in kept], truth_mask,
                                spacing_mm)


@dataclass
class FrocCurve:
    thresholds: np.ndarray
    sensitivity: np.ndarray
    fppi: np.ndarray
    n_images: int
    n_truth: int

    def sensitivity_at(self, fppi: float) -> float:
        """Highest sensitivity reached with at most ``fppi`` false positives per image."""
        ok = self.fppi <= fppi + 1e-12
        return float(self.sensitivity[ok].max()) if ok.any() else 0.0


def froc(matches: list[ImageMatch]) -> FrocCurve:
    """FROC curve over a set of images, swept over the prediction scores."""
    scores = np.concatenate([m.scores for m in matches]) if matches else np.zeros(0)
    hits = np.concatenate([m.hits for m in matches]) if matches else np.zeros(0, bool)
    n_truth = sum(m.n_truth for m in matches)
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(hits[order])
    fp = np.cumsum(~hits[order])
    n = max(len(matches), 1)
    sens = tp / max(n_truth, 1)
    return FrocCurve(np.r_[np.inf, scores[order]], np.r_[0.0, sens], np.r_[0.0, fp / n], len(matches), n_truth)


def pixel_dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two binary masks (1.0 when both are empty)."""
    p, t = np.asarray(pred, bool), np.asarray(truth, bool)
    denom = p.sum() + t.sum()
    return 1.0 if denom == 0 else float(2 * (p & t).sum() / denom)
