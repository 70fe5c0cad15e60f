"""The hand-crafted features of Cortina et al.'s first pipeline, on the 14 x 14 px patch of a candidate.

* First-order statistics (17): minimum, maximum, 10th and 90th quantiles, mean, median, standard
  deviation, energy, entropy, uniformity, skewness, kurtosis, interquartile range, range, mean
  absolute deviation, robust mean absolute deviation (within the 10th-90th quantiles), root mean square.
* Gabor (30): the magnitude of six Gabor filters (scikit-image's kernels; two frequencies at 0, 45
  and 90 degrees, ours: the report shows its six kernels, not their parameters), and of each its
  energy, mean, standard deviation, skewness and kurtosis over the patch.
* Wavelet (56 + 36): a two-level Haar decomposition of the patch (LL1, LH1, HL1, HH1, LL2, LH2, HL2,
  HH2), of each band its mean, skewness, standard deviation, kurtosis, entropy, uniformity and
  relative smoothness; and of LH1, HL1, HH1 the grey-level co-occurrence matrix at offset 2 and 0,
  45, 90 degrees (scikit-image), summarised by correlation, homogeneity, contrast, dissimilarity.

The report's fourth set, Haar-like features chosen by a random forest from 28,643, is left out.
The Haar wavelet is written here (pairwise sums and differences, a few lines) because PyWavelets is
not among the project's dependencies.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from skimage.filters import gabor_kernel

from mcseg.defaults import CORTINA_PATCH_PX

GABOR_FREQUENCIES = (0.15, 0.3)             # cycles per pixel
GABOR_ANGLES_DEG = (0, 45, 90)
BANDS = ("LL1", "LH1", "HL1", "HH1", "LL2", "LH2", "HL2", "HH2")
GLCM_ANGLES = (0.0, np.pi / 4, np.pi / 2)
GLCM_PROPS = ("correlation", "homogeneity", "contrast", "dissimilarity")
GLCM_LEVELS = 16
_HIST_BINS = 16

FIRST_ORDER = ("min", "max", "p10", "p90", "mean", "median", "std", "energy", "entropy", "uniformity", "skewness",
               "kurtosis", "iqr", "range", "mad", "robust_mad", "rms")
FEATURE_NAMES = (
    tuple(f"fo_{n}" for n in FIRST_ORDER)
    + tuple(f"gabor{k}_{s}" for k in range(len(GABOR_FREQUENCIES) * len(GABOR_ANGLES_DEG))
            for s in ("energy", "mean", "std", "skewness", "kurtosis"))
    + tuple(f"wav_{b}_{s}" for b in BANDS for s in ("mean", "skewness", "std", "kurtosis", "entropy", "uniformity",
                                                     "smoothness"))
    + tuple(f"glcm_{b}_{p}_{int(np.degrees(a))}" for b in ("LH1", "HL1", "HH1") for p in GLCM_PROPS
            for a in GLCM_ANGLES)
)


def _kernels() -> list[np.ndarray]:
    return [gabor_kernel(f, theta=np.radians(a)) for f in GABOR_FREQUENCIES for a in GABOR_ANGLES_DEG]


def patches_at(image: np.ndarray, centres_px: np.ndarray, size_px: int) -> np.ndarray:
    """(n, size, size) crops centred on ``centres_px``, the image reflected beyond its edges."""
    half = size_px // 2
    padded = np.pad(image, half + 1, mode="reflect")
    r = np.round(centres_px[:, 0]).astype(int) + 1
    c = np.round(centres_px[:, 1]).astype(int) + 1
    offsets = np.arange(size_px)
    return padded[r[:, None, None] + offsets[None, :, None], c[:, None, None] + offsets[None, None, :]]


def _entropy_uniformity(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shannon entropy (bits) and uniformity of a 16-bin histogram of each row's own range."""
    lo, hi = values.min(1, keepdims=True), values.max(1, keepdims=True)
    bins = np.clip(((values - lo) / np.maximum(hi - lo, 1e-12) * _HIST_BINS).astype(int), 0, _HIST_BINS - 1)
    counts = np.stack([np.bincount(b, minlength=_HIST_BINS) for b in bins]) / values.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(counts > 0, counts * np.log2(counts), 0.0), axis=1)
    return entropy, (counts ** 2).sum(1)


def _moments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (np.nan_to_num(stats.skew(values, axis=1)), np.nan_to_num(stats.kurtosis(values, axis=1)))


def first_order(patches: np.ndarray) -> np.ndarray:
    v = patches.reshape(len(patches), -1).astype(np.float64)
    p10, p25, p50, p75, p90 = np.percentile(v, [10, 25, 50, 75, 90], axis=1)
    mean = v.mean(1)
    entropy, uniformity = _entropy_uniformity(v)
    skew, kurt = _moments(v)
    inner = np.where((v >= p10[:, None]) & (v <= p90[:, None]), v, np.nan)
    robust = np.nanmean(np.abs(inner - np.nanmean(inner, 1, keepdims=True)), 1)
    return np.stack([v.min(1), v.max(1), p10, p90, mean, p50, v.std(1), (v ** 2).sum(1), entropy, uniformity, skew,
                     kurt, p75 - p25, np.ptp(v, 1), np.abs(v - mean[:, None]).mean(1), robust,
                     np.sqrt((v ** 2).mean(1))], 1)


def gabor(image: np.ndarray, centres_px: np.ndarray) -> np.ndarray:
    """Five statistics of each Gabor magnitude over the patch. Only the crops around the candidates
    are filtered (a whole mammogram six times over would cost more than every patch together)."""
    kernels = _kernels()
    k = max(max(kr.shape) for kr in kernels)
    size = CORTINA_PATCH_PX + k - 1 + (k % 2 == 0)
    crops = torch.from_numpy(patches_at(image, centres_px, size).astype(np.float32))[:, None]
    out = []
    for kern in kernels:
        pad_r, pad_c = (k - kern.shape[0]) // 2, (k - kern.shape[1]) // 2
        full = np.zeros((k, k), complex)
        full[pad_r:pad_r + kern.shape[0], pad_c:pad_c + kern.shape[1]] = kern
        weight = torch.from_numpy(np.stack([full.real, full.imag]).astype(np.float32))[:, None]
        resp = F.conv2d(crops, weight)
        mag = torch.sqrt(resp[:, 0] ** 2 + resp[:, 1] ** 2)
        mag = mag[:, :CORTINA_PATCH_PX, :CORTINA_PATCH_PX].reshape(len(crops), -1).numpy().astype(np.float64)
        skew, kurt = _moments(mag)
        out += [(mag ** 2).sum(1), mag.mean(1), mag.std(1), skew, kurt]
    return np.stack(out, 1)


def haar2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One level of the orthonormal 2-D Haar transform of (n, h, w) patches (odd sizes edge-padded):
    LL, LH (horizontal detail), HL (vertical), HH (diagonal)."""
    x = np.pad(x, ((0, 0), (0, x.shape[1] % 2), (0, x.shape[2] % 2)), mode="edge")
    a, b = x[:, 0::2, 0::2], x[:, 0::2, 1::2]
    c, d = x[:, 1::2, 0::2], x[:, 1::2, 1::2]
    return (a + b + c + d) / 2, (a + b - c - d) / 2, (a - b + c - d) / 2, (a - b - c + d) / 2


def wavelet(patches: np.ndarray) -> np.ndarray:
    x = patches.astype(np.float64)
    ll1, lh1, hl1, hh1 = haar2(x)
    bands = [ll1, lh1, hl1, hh1, *haar2(ll1)]
    out = []
    for band in bands:
        v = band.reshape(len(band), -1)
        skew, kurt = _moments(v)
        entropy, uniformity = _entropy_uniformity(v)
        var = v.var(1)
        out += [v.mean(1), skew, v.std(1), kurt, entropy, uniformity, 1 - 1 / (1 + var)]
    glcm = []
    for band in (lh1, hl1, hh1):
        lo, hi = band.min(axis=(1, 2), keepdims=True), band.max(axis=(1, 2), keepdims=True)
        q = np.clip(((band - lo) / np.maximum(hi - lo, 1e-12) * GLCM_LEVELS).astype(np.int64), 0, GLCM_LEVELS - 1)
        glcm.append(glcm_properties(q))
    return np.concatenate([np.stack(out, 1), *glcm], 1)


def glcm_properties(q: np.ndarray, distance: int = 2) -> np.ndarray:
    """(n, 4 properties x 3 angles) of the symmetric, normalised co-occurrence matrices of (n, h, w)
    patches quantised to GLCM_LEVELS, as scikit-image's ``graycomatrix``/``graycoprops`` give them
    (the same offsets; tested equal). Written here because those run one patch at a time, and a
    mammogram has thousands of candidates: this counts every patch's pairs in one ``bincount``."""
    n, h, w = q.shape
    levels = GLCM_LEVELS
    i, j = np.meshgrid(np.arange(levels), np.arange(levels), indexing="ij")
    out = np.empty((n, len(GLCM_PROPS), len(GLCM_ANGLES)))
    for k, angle in enumerate(GLCM_ANGLES):
        dr, dc = int(round(np.sin(angle) * distance)), int(round(np.cos(angle) * distance))
        # Pairs (r, c) -> (r + dr, c + dc) inside the patch.
        a = q[:, max(0, -dr):h - max(0, dr), max(0, -dc):w - max(0, dc)]
        b = q[:, max(0, dr):h + min(0, dr), max(0, dc):w + min(0, dc)]
        idx = (np.arange(n)[:, None, None] * levels + a) * levels + b
        counts = np.bincount(idx.ravel(), minlength=n * levels * levels).reshape(n, levels, levels).astype(float)
        counts = counts + counts.transpose(0, 2, 1)
        p = counts / np.maximum(counts.sum(axis=(1, 2), keepdims=True), 1e-12)
        contrast = (p * (i - j) ** 2).sum(axis=(1, 2))
        dissimilarity = (p * np.abs(i - j)).sum(axis=(1, 2))
        homogeneity = (p / (1.0 + (i - j) ** 2)).sum(axis=(1, 2))
        mu_i, mu_j = (p * i).sum(axis=(1, 2)), (p * j).sum(axis=(1, 2))
        sd_i = np.sqrt((p * (i - mu_i[:, None, None]) ** 2).sum(axis=(1, 2)))
        sd_j = np.sqrt((p * (j - mu_j[:, None, None]) ** 2).sum(axis=(1, 2)))
        cov = (p * (i - mu_i[:, None, None]) * (j - mu_j[:, None, None])).sum(axis=(1, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            correlation = np.where((sd_i < 1e-15) | (sd_j < 1e-15), 1.0, cov / (sd_i * sd_j))
        out[:, :, k] = np.stack([correlation, homogeneity, contrast, dissimilarity], 1)
    return out.reshape(n, -1)


def candidate_features(image: np.ndarray, centres_px: np.ndarray) -> np.ndarray:
    """(n, len(FEATURE_NAMES)) features of the 14 x 14 patches of the working-frame ``image``."""
    if len(centres_px) == 0:
        return np.zeros((0, len(FEATURE_NAMES)))
    patches = patches_at(image, centres_px, CORTINA_PATCH_PX)
    feats = np.concatenate([first_order(patches), gabor(image, centres_px), wavelet(patches)], 1)
    return np.nan_to_num(feats, nan=0.0, posinf=0.0, neginf=0.0)
