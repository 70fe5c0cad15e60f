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


def calcification_hit_rule(hit_radius_mm: float = HIT_RADIUS_MM, dilation_mm: float = DILATION_MM) -> str:
    """The calcification hit rule in words, for reports (built from the values the matching uses)."""
    return (f"A detection is a hit when its centroid lies within {hit_radius_mm:g} mm of a ground-truth "
            f"calcification or inside it dilated by {dilation_mm:g} mm")


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
    labels, n_truth = ndi.label(truth_mask, structure=np.ones((3, 3), bool))
    centres = np.asarray(ndi.center_of_mass(truth_mask, labels, np.arange(1, n_truth + 1))).reshape(-1, 2)
    return match_points(pred_centroids_px, pred_scores, centres, labels, spacing_mm, hit_radius_mm, dilation_mm)


def match_points(
    pred_centroids_px: np.ndarray,
    pred_scores: np.ndarray,
    truth_centres_px: np.ndarray,
    truth_regions: np.ndarray | None,
    spacing_mm: tuple[float, float],
    hit_radius_mm: float = HIT_RADIUS_MM,
    dilation_mm: float = DILATION_MM,
) -> ImageMatch:
    """Match predictions to ground-truth calcifications given as centres and optional regions.

    ``truth_regions`` labels pixels with k + 1 for calcification k (0 elsewhere),
    or is None when only points are annotated (then only the radius rule applies).
    """
    pred = np.asarray(pred_centroids_px, dtype=np.float64).reshape(-1, 2)
    scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    centres = np.asarray(truth_centres_px, dtype=np.float64).reshape(-1, 2)
    n_truth = len(centres)
    hits = np.zeros(len(pred), dtype=bool)
    if n_truth == 0 or len(pred) == 0:
        return ImageMatch(scores, hits, n_truth)
    sr, sc = spacing_mm
    inside = np.zeros(len(pred), dtype=np.int64)
    if truth_regions is not None and truth_regions.any():
        # Dilated ground truth: every pixel within dilation_mm of a region gets its label.
        dist, (ir, ic) = ndi.distance_transform_edt(truth_regions == 0, sampling=(sr, sc), return_indices=True)
        near = np.where(dist <= dilation_mm, truth_regions[ir, ic], 0)
        rows = np.clip(np.round(pred[:, 0]).astype(int), 0, truth_regions.shape[0] - 1)
        cols = np.clip(np.round(pred[:, 1]).astype(int), 0, truth_regions.shape[1] - 1)
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


def without_ignored(match: ImageMatch, centroids_px, ignore: list, spacing_mm: tuple[float, float],
                    margin_mm: float = 0.0) -> tuple[ImageMatch, np.ndarray]:
    """``match`` less the false positives whose centroid lies in an ignore circle (a
    :class:`~mcseg.evaluation.truth.TruthCluster` with a radius) widened by ``margin_mm``; also
    the kept predictions' mask, to subset anything aligned with them."""
    pred = np.asarray(centroids_px, dtype=np.float64).reshape(-1, 2)
    inside = np.zeros(len(pred), dtype=bool)
    scale = np.asarray(spacing_mm, dtype=np.float64)
    for circle in ignore:
        d_mm = np.hypot(*((pred - np.asarray(circle.centre_px)) * scale).T)
        inside |= d_mm <= circle.radius_px * scale.mean() + margin_mm
    keep = match.hits | ~inside
    return ImageMatch(match.scores[keep], match.hits[keep], match.n_truth), keep


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

    def threshold_at(self, fppi: float) -> float:
        """The score threshold at which :meth:`sensitivity_at` is reached."""
        ok = np.flatnonzero(self.fppi <= fppi + 1e-12)
        return float(self.thresholds[ok[np.argmax(self.sensitivity[ok])]])


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


#: Cluster hit rule (issue 4): inside the ground-truth cluster dilated by 2 mm,
#: or within 5 mm of its centre when it has no outline.
CLUSTER_DILATION_MM = 2.0
CLUSTER_CENTRE_RADIUS_MM = 5.0


def cluster_hit_rule(dilation_mm: float = CLUSTER_DILATION_MM,
                     centre_radius_mm: float = CLUSTER_CENTRE_RADIUS_MM) -> str:
    """The cluster hit rule in words, for reports."""
    return (f"A predicted cluster is a hit when its centroid lies inside the ground-truth cluster dilated by "
            f"{dilation_mm:g} mm, or within {centre_radius_mm:g} mm of its centre when it has no outline")


def match_clusters(
    pred_centroids_px: np.ndarray,
    pred_scores: np.ndarray,
    truth_clusters: list,
    spacing_mm: tuple[float, float],
    n_unlocated: int = 0,
    dilation_mm: float = CLUSTER_DILATION_MM,
    centre_radius_mm: float = CLUSTER_CENTRE_RADIUS_MM,
) -> ImageMatch:
    """Match predicted cluster centroids to ground-truth clusters (TruthCluster), greedily by score.

    A contour is tested with point-in-polygon and the distance to its edges; a
    circle (centre and radius) with the distance to its centre. Unlocated
    clusters count as ground truth that nothing can hit.
    """
    from skimage.measure import points_in_poly

    pred = np.asarray(pred_centroids_px, dtype=np.float64).reshape(-1, 2)
    scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    n_truth = len(truth_clusters) + n_unlocated
    hits = np.zeros(len(pred), dtype=bool)
    if not truth_clusters or not len(pred):
        return ImageMatch(scores, hits, n_truth)
    scale = np.asarray(spacing_mm, dtype=np.float64)
    ok = np.zeros((len(pred), len(truth_clusters)), dtype=bool)
    dist_mm = np.zeros_like(ok, dtype=np.float64)
    for k, cl in enumerate(truth_clusters):
        d_centre = np.hypot(*((pred - np.asarray(cl.centre_px)) * scale).T)
        dist_mm[:, k] = d_centre
        if cl.contour_px is not None:
            poly = np.asarray(cl.contour_px, dtype=np.float64)
            inside = points_in_poly(pred, poly)
            ok[:, k] = inside | (_distance_to_polyline_mm(pred, poly, scale) <= dilation_mm)
        elif cl.radius_px is not None:
            ok[:, k] = d_centre <= cl.radius_px * scale.mean() + dilation_mm
        else:
            ok[:, k] = d_centre <= centre_radius_mm
    taken = np.zeros(len(truth_clusters), dtype=bool)
    for i in np.argsort(-scores, kind="stable"):
        free = np.flatnonzero(ok[i] & ~taken)
        if len(free):
            taken[free[np.argmin(dist_mm[i, free])]] = True
            hits[i] = True
    return ImageMatch(scores, hits, n_truth)


def _distance_to_polyline_mm(points: np.ndarray, poly: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Distance (mm) from each point to the closed polygon's edges."""
    p = points[:, None, :] * scale
    a = poly * scale
    b = np.roll(a, -1, axis=0)
    ab = b - a
    t = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0, 1)
    closest = a + t[..., None] * ab
    return np.sqrt(((p - closest) ** 2).sum(-1)).min(1)


def aufroc(curve: FrocCurve, max_fppi: float = 50.0) -> float:
    """Area under the FROC curve from 0 to ``max_fppi`` FP/image, divided by ``max_fppi`` (Cortina et al.).

    The curve is the step function "best sensitivity within f FP/image"; past
    its last point it stays at the last sensitivity reached.
    """
    f, s = curve.fppi, np.maximum.accumulate(curve.sensitivity)
    keep = f <= max_fppi
    f, s = np.r_[f[keep], max_fppi], np.r_[s[keep], s[keep][-1]]
    return float(np.sum(np.diff(f) * s[:-1]) / max_fppi)


def bootstrap_froc(
    matches: list[ImageMatch],
    fppi_points: tuple[float, ...],
    n_boot: int = 1000,
    seed: int = 0,
    max_fppi: float = 50.0,
) -> dict[str, list[float]]:
    """Image-level bootstrap 95% intervals of sensitivity at ``fppi_points`` and of the AUFROC."""
    rng = np.random.default_rng(seed)
    n = len(matches)
    rows = []
    for _ in range(n_boot):
        sample = [matches[i] for i in rng.integers(0, n, size=n)]
        curve = froc(sample)
        if curve.n_truth == 0:
            continue
        rows.append([curve.sensitivity_at(f) for f in fppi_points] + [aufroc(curve, max_fppi)])
    if not rows:
        return {}
    arr = np.asarray(rows)
    lo, hi = np.percentile(arr, [2.5, 97.5], axis=0)
    keys = [f"{f:g}" for f in fppi_points] + ["aufroc"]
    return {k: [round(float(a), 3), round(float(b), 3)] for k, a, b in zip(keys, lo, hi)}


def bootstrap_difference(
    matches_a: list[ImageMatch],
    matches_b: list[ImageMatch],
    fppi_points: tuple[float, ...],
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, float | list[float]]]:
    """Sensitivity of arm a minus arm b at each of ``fppi_points``, on the same images (``matches_a[i]``
    and ``matches_b[i]`` are one image), with its paired image-level bootstrap 95% interval: both arms
    are scored on each resample of the images, so what the images share cancels. Whether an arm beats
    another by a margin should be asked of the interval, not of the two point values alone."""
    if len(matches_a) != len(matches_b):
        raise ValueError(f"paired arms need the same images: {len(matches_a)} against {len(matches_b)}")
    rng = np.random.default_rng(seed)
    n = len(matches_a)

    def difference(index) -> list[float]:
        a, b = froc([matches_a[i] for i in index]), froc([matches_b[i] for i in index])
        return [a.sensitivity_at(f) - b.sensitivity_at(f) for f in fppi_points]

    observed = difference(range(n))
    rows = [difference(rng.integers(0, n, size=n)) for _ in range(n_boot)]
    lo, hi = np.percentile(np.asarray(rows), [2.5, 97.5], axis=0)
    return {f"{f:g}": {"difference": round(float(d), 4), "ci95": [round(float(x), 4), round(float(y), 4)]}
            for f, d, x, y in zip(fppi_points, observed, lo, hi)}
