"""Intensity normalisation: local background removed, in units of fine-scale noise.

Valvano 2019 does not say how intensities were scaled. Ours: a calcification is
a small bright spot over a slowly varying background, so we subtract the
breast's local mean (a normalised convolution, so the skin line does not drag
dark air into it) and divide by the local standard deviation of the
fine-scale texture. A given calcification then has about the same input
contrast on film and on digital detectors, on synthetic and real images, and
in fatty and dense tissue (dense tissue is "louder": with one global scale it
was the main source of false positives). The local std is computed on values
clipped at 3 global stds, so a bright calcification does not inflate the std
around itself and hide its neighbours.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi

#: Scale of the local background that is subtracted.
BACKGROUND_SIGMA_MM = 1.5
#: Scale over which the texture's local standard deviation is measured.
NOISE_SIGMA_MM = 3.0
#: Normalised values are clipped to this range (burnt-in text, metal clips).
CLIP = 30.0


def normalise_intensities(pixels: np.ndarray, breast: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Return float32 (pixel - local breast mean) / noise std, 0 outside the breast."""
    image = pixels.astype(np.float32, copy=False)
    weight = breast.astype(np.float32)
    # Blur on a 4x coarser grid: the background is smooth at this scale, and
    # it makes this step ~16x cheaper on a full mammogram.
    factor = 4
    sigma_px = BACKGROUND_SIGMA_MM / (spacing_mm * factor)
    num = _coarse_blur(image * weight, factor, sigma_px)
    den = _coarse_blur(weight, factor, sigma_px)
    # In place where the result is the same: each image-sized temporary is fresh memory the kernel
    # has to fault in, which on this project's machine cost more than the arithmetic.
    np.maximum(den, 1e-3, out=den)
    np.divide(num, den, out=num)                       # the local mean
    detail = np.subtract(image, num, out=num)
    detail *= weight
    del den
    inside = detail[breast]
    if inside.size == 0:
        return np.zeros_like(image)
    # Robust std of the fine-scale texture: MAD of the detail inside the breast,
    # subsampled because a median over 10^7 pixels is needlessly slow.
    sample = inside[:: max(1, inside.size // 200_000)]
    noise = 1.4826 * float(np.median(np.abs(sample - np.median(sample))))
    if noise <= 0:
        noise = float(sample.std()) or 1.0
    clipped = np.divide(detail, noise)
    np.clip(clipped, -3.0, 3.0, out=clipped)
    np.square(clipped, out=clipped)
    clipped *= weight
    local_var = _coarse_blur(clipped, factor, NOISE_SIGMA_MM / (spacing_mm * factor))
    del clipped
    weight_blur = _coarse_blur(weight, factor, NOISE_SIGMA_MM / (spacing_mm * factor))
    np.maximum(weight_blur, 1e-3, out=weight_blur)
    np.divide(local_var, weight_blur, out=local_var)
    del weight_blur
    np.clip(local_var, 0.25, None, out=local_var)  # floor: never amplify by more than 2x
    np.sqrt(local_var, out=local_var)
    local_var *= noise                                  # the local std
    out = np.divide(detail, local_var, out=detail)
    np.clip(out, -CLIP, CLIP, out=out)
    out[~breast] = 0.0
    return out.astype(np.float32, copy=False)


def _coarse_blur(image: np.ndarray, factor: int, sigma_px: float) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(image))[None, None]
    coarse = F.avg_pool2d(tensor, factor, ceil_mode=True)[0, 0].numpy()
    coarse = ndi.gaussian_filter(coarse, sigma_px, mode="nearest")
    up = F.interpolate(torch.from_numpy(coarse)[None, None], scale_factor=factor, mode="bilinear",
                       align_corners=False)[0, 0].numpy()
    return up[: image.shape[0], : image.shape[1]]
