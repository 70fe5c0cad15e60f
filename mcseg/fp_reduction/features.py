"""Features of each listed calcification candidate, for the second-stage classifier.

The segmentator sees a 49 x 49 window (3.4 mm at 0.07 mm) and outputs one number per pixel. On real
tissue its false positives are bright specks in busy texture, points on vessel walls and ducts, and
film grain, which a wider look separates better than a sharper one: the published cascades for
calcifications (Bria et al. 2014) and context-sensitive networks (Wang and Yang 2018) classify each
candidate again with its surroundings. The features here describe a candidate by

* its own evidence: segmentator score, symmetry spread, component area, peak contrast over the
  local background and over the local noise (the contrast-to-noise of the real-FFDM issue);
* its shape at two scales: difference-of-Gaussians responses and the Hessian's eigenvalues at the
  peak (a calcification is a blob, a vessel or a duct wall is a line);
* its context: how busy the surrounding 4 mm is, how much of it is breast, how many other
  candidates lie within 3 and 10 mm, and how many strong candidates the image has per cm^2
  (a noisy film raises every score at once);
* the input's own pixel size (an upsampled 0.2 mm image has no detail below 0.2 mm).

Everything is measured in the working frame (normalised intensities, working pixels), so the same
calcification gives the same features whatever the input. Computed on crops around the candidates,
not on the whole image: a mammogram has 10^7 pixels and at most a few thousand candidates.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

#: Half side of the crop around each candidate, in mm (the crop is 4 mm wide). Ours: twice the
#: segmentator's window, the context a reader uses for one calcification.
CONTEXT_HALF_MM = 2.0
#: Rings of the crop: background (between the two inner radii) and noise (between the outer two).
BACKGROUND_RING_MM = (0.35, 1.0)
NOISE_RING_MM = (1.0, 2.0)
#: Scales (Gaussian sigma) of the shape features, in mm. Ours: 0.07 mm resolves the smallest
#: calcifications at the working pixel, 0.14 and 0.28 mm match 0.3-0.7 mm calcifications.
SHAPE_SIGMAS_MM = (0.07, 0.14, 0.28)
#: Radii of the neighbour counts, in mm. Ours: 3 mm is a calcification's neighbourhood within a
#: cluster, 10 mm the side of the cluster definition's 1 cm^2.
NEIGHBOUR_RADII_MM = (3.0, 10.0)
#: Candidates whose crops are cut and measured at once. Ours: 512 keeps each temporary under
#: 30 MB, which the allocator then reuses instead of asking the kernel for fresh pages.
FEATURE_CHUNK = 512
#: A "strong" candidate for the counts: the segmentator's score at least this. Ours.
STRONG_SCORE = 0.5

FEATURE_NAMES: tuple[str, ...] = (
    "segmentator_score", "spread", "log_area_mm2", "peak", "contrast", "cnr", "log_noise", "texture_std",
    "breast_share", "dog_fine", "dog_coarse",
    "hessian_small_0.07", "hessian_ratio_0.07", "hessian_small_0.14", "hessian_ratio_0.14",
    "hessian_small_0.28", "hessian_ratio_0.28", "prob_halfmax_mm2", "prob_mass_mm2",
    "neighbours_3mm", "neighbours_10mm", "strong_neighbours_10mm", "strong_per_cm2", "input_spacing_mm",
)


def candidate_features(
    image: np.ndarray,
    breast: np.ndarray,
    prob: np.ndarray,
    spread: np.ndarray | None,
    peaks_px: np.ndarray,
    scores: np.ndarray,
    areas_px: np.ndarray,
    spacing_mm: float,
    input_spacing_mm: float,
) -> np.ndarray:
    """float32 (n, len(FEATURE_NAMES)): one row per candidate peak (row, col) of the working frame."""
    peaks = np.asarray(peaks_px, dtype=np.int64).reshape(-1, 2)
    n = len(peaks)
    if n == 0:
        return np.zeros((0, len(FEATURE_NAMES)), np.float32)
    scores = np.asarray(scores, np.float64)
    pixel_mm2 = spacing_mm * spacing_mm
    # In chunks: the crops of thousands of candidates at once are hundreds of MB of temporaries, and
    # fresh memory costs page faults (on a 3328 x 4084 phantom the features took 3.5 s in the
    # pipeline, 2.8 s of it in the kernel, against 1 s on warm memory).
    local = np.concatenate([_crop_features(image, breast, prob, peaks[i : i + FEATURE_CHUNK], spacing_mm)
                            for i in range(0, n, FEATURE_CHUNK)])
    spread_at = np.zeros(n) if spread is None else spread[peaks[:, 0], peaks[:, 1]]
    peaks_mm = peaks * spacing_mm
    tree = cKDTree(peaks_mm)
    counts = [np.array([len(x) - 1 for x in tree.query_ball_point(peaks_mm, r)]) for r in NEIGHBOUR_RADII_MM]
    strong = scores >= STRONG_SCORE
    if strong.any():
        strong_tree = cKDTree(peaks_mm[strong])
        strong_near = np.array([len(x) for x in strong_tree.query_ball_point(peaks_mm, NEIGHBOUR_RADII_MM[1])])
        strong_near = strong_near - strong  # not counting the candidate itself
    else:
        strong_near = np.zeros(n)
    breast_cm2 = max(float(breast.sum()) * pixel_mm2 / 100.0, 1e-3)

    columns = [
        scores, spread_at, np.log(np.maximum(areas_px, 1) * pixel_mm2), *local.T, np.log1p(counts[0]), np.log1p(counts[1]), np.log1p(strong_near),
        np.full(n, np.log1p(strong.sum() / breast_cm2)), np.full(n, input_spacing_mm),
    ]
    out = np.stack([np.asarray(c, np.float64) for c in columns], axis=1)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def _crop_features(image: np.ndarray, breast: np.ndarray, prob: np.ndarray, peaks: np.ndarray,
                   spacing_mm: float) -> np.ndarray:
    """(n, 16) float64: the features read from crops around each peak (peak ... prob_mass_mm2)."""
    n = len(peaks)
    half = max(3, round(CONTEXT_HALF_MM / spacing_mm))
    crops = _crops(image, peaks, half)                      # (n, S, S)
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    radius_mm = np.hypot(yy, xx) * spacing_mm
    flat = crops.reshape(n, -1)
    inside = _crops(breast, peaks, half).reshape(n, -1)
    inside_f = inside.astype(np.float32)

    def ring(lo: float, hi: float) -> np.ndarray:
        return ((radius_mm >= lo) & (radius_mm < hi)).ravel()[None, :] & inside

    centre = half
    peak = crops[:, centre - 1 : centre + 2, centre - 1 : centre + 2].reshape(n, -1).max(axis=1)
    background = _masked_median(flat, ring(*BACKGROUND_RING_MM))
    noise_values = flat - _masked_median(flat, ring(*NOISE_RING_MM))[:, None]
    noise = 1.4826 * _masked_median(np.abs(noise_values), ring(*NOISE_RING_MM))
    noise = np.maximum(noise, 0.05)
    contrast = peak - background
    texture = np.sqrt(_masked_mean((flat - _masked_mean(flat, inside_f)[:, None]) ** 2, inside_f))

    shape_features = []
    smooth = {}
    flat64 = flat.astype(np.float64)  # once, not per filter

    def centre_response(sigma_px: float, order: tuple[int, int]) -> np.ndarray:
        kernel = _centre_kernel(crops.shape[1], sigma_px, order)
        if kernel is None:  # the support does not fit in the crop: the border matters, filter whole
            return ndi.gaussian_filter(crops, (0, sigma_px, sigma_px), order=(0, *order),
                                       mode="nearest")[:, centre, centre]
        return flat64 @ kernel

    for sigma_mm in SHAPE_SIGMAS_MM:
        s = sigma_mm / spacing_mm
        smooth[sigma_mm] = centre_response(s, (0, 0))
        hrr = centre_response(s, (2, 0))
        hcc = centre_response(s, (0, 2))
        hrc = centre_response(s, (1, 1))
        # Scale-normalised (sigma^2) eigenvalues; a bright blob has both strongly negative, a bright
        # line one negative and one near zero, an edge one of each sign.
        mean = (hrr + hcc) / 2
        root = np.sqrt(((hrr - hcc) / 2) ** 2 + hrc ** 2)
        large, small = (mean - root) * s * s, (mean + root) * s * s   # large: the more negative
        ratio = np.clip(small / np.where(np.abs(large) > 1e-6, large, -1e-6), -2.0, 2.0)
        shape_features += [small / noise, ratio]
    s0, s1, s2 = (smooth[s] for s in SHAPE_SIGMAS_MM)
    dog_fine, dog_coarse = (s0 - s1) / noise, (s1 - s2) / noise

    # The probability is looked at within 1 mm of the peak only: a crop of that size is enough.
    near = min(half, int(np.ceil(1.0 / spacing_mm)))
    prob_crops = _crops(prob, peaks, near).reshape(n, -1)
    prob_peak = np.maximum(prob_crops[:, prob_crops.shape[1] // 2], 1e-6)
    pixel_mm2 = spacing_mm * spacing_mm
    near_centre = (np.hypot(*np.mgrid[-near : near + 1, -near : near + 1]) * spacing_mm <= 1.0).ravel()
    halfmax = ((prob_crops >= prob_peak[:, None] / 2) & near_centre).sum(axis=1) * pixel_mm2
    mass = (prob_crops @ near_centre.astype(np.float32)) / prob_peak * pixel_mm2

    return np.stack([np.asarray(c, np.float64) for c in (
        peak, contrast, contrast / noise, np.log(noise), texture, inside.mean(axis=1), dog_fine, dog_coarse,
        *shape_features, halfmax, mass)], axis=1)


def _centre_kernel(size: int, sigma_px: float, order: tuple[int, int]) -> np.ndarray | None:
    """The weights of a Gaussian (derivative) filter's output at the centre of a size x size crop,
    flattened, or None where the filter's support (scipy's 4 sigma) does not fit in the crop.

    Only the centre is wanted, so one dot product per crop replaces filtering every crop whole:
    the same value up to rounding, many times faster. The weights are the response to a centred
    impulse, because these kernels are point-symmetric."""
    centre = size // 2
    if int(4.0 * sigma_px + 0.5) > centre:
        return None
    impulse = np.zeros((size, size), np.float64)
    impulse[centre, centre] = 1.0
    return ndi.gaussian_filter(impulse, sigma_px, order=order, mode="constant").ravel()


def peaks_of(prob: np.ndarray, boxes_px: Sequence[tuple[int, int, int, int]]) -> np.ndarray:
    """(n, 2): the probability peak inside each box (working frame)."""
    out = np.zeros((len(boxes_px), 2), np.int64)
    for i, (r0, c0, r1, c1) in enumerate(boxes_px):
        crop = prob[r0:r1, c0:c1]
        r, c = np.unravel_index(int(np.argmax(crop)), crop.shape)
        out[i] = (r0 + r, c0 + c)
    return out


def _crops(array: np.ndarray, centres: np.ndarray, half: int) -> np.ndarray:
    """(n, 2 half + 1, 2 half + 1) windows centred on ``centres``, zero beyond the array (float32; bool
    stays bool). Only the box around the centres is padded, not the whole mammogram."""
    dtype = bool if array.dtype == bool else np.float32
    lo, hi = centres.min(axis=0) - half, centres.max(axis=0) + half + 1
    box = array[max(lo[0], 0) : hi[0], max(lo[1], 0) : hi[1]].astype(dtype, copy=False)
    padded = np.pad(box, ((max(-lo[0], 0), max(hi[0] - array.shape[0], 0)),
                          (max(-lo[1], 0), max(hi[1] - array.shape[1], 0))))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * half + 1, 2 * half + 1))
    return windows[centres[:, 0] - half - lo[0], centres[:, 1] - half - lo[1]]


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median of each row over its masked entries (0 for a row with none). Written out because
    np.nanmedian loops over the rows in Python (2 s for 5,000 candidates); this sorts once."""
    cols = np.flatnonzero(mask.any(axis=0))        # a ring: the same few columns in every row
    if cols.size == 0:
        return np.zeros(len(values), values.dtype)
    keep = mask[:, cols]
    data = np.where(keep, values[:, cols], np.inf)  # the masked-out entries sort last
    data.sort(axis=1)
    count = keep.sum(axis=1)
    lo = np.take_along_axis(data, np.maximum((count - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(data, np.minimum(count // 2, data.shape[1] - 1)[:, None], axis=1)[:, 0]
    return np.where(count > 0, (lo + hi) / 2, 0.0)


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of each row over the entries where ``mask`` (0/1 float) is 1 (0 for a row with none)."""
    count = mask.sum(axis=1, dtype=np.float64)
    total = np.einsum("ij,ij->i", values, mask, dtype=np.float64)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)
