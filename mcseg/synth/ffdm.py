"""An FFDM-like look: what a vendor's "For Presentation" processing does to a projection.

A digital mammogram is not the phantom's linear intensities. The detector counts photons, so
quantum noise follows the signal (after the log it is strongest behind dense tissue); the
acquisition workstation log-converts, lifts the periphery where the compressed thickness falls
(thickness equalisation), boosts fine detail with a multi-scale enhancement, and maps the result
through a display curve into 12 bits. Anonymised copies often arrive as 8-bit values stored in
16 bits. `vendor_processing` applies those steps to a phantom background; its parameters are drawn
per image from `VendorLook`'s ranges, so the training set spans several "vendors".

The ranges are the project's own choices, not a vendor's published algorithm: they were set so that
the processed phantom's fine-scale noise and its histogram inside the breast fall in the range of the
three real vendor samples (`benchmarks/ffdm_look.py` prints both side by side).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Pixel size at which `VendorLook.photons_per_pixel_range` holds; a coarser pixel collects more photons.
REFERENCE_PIXEL_MM = 0.07


@dataclass(frozen=True)
class VendorLook:
    """Ranges (low, high) of the processing parameters, drawn per image."""

    #: Line integral of attenuation across the breast at full thickness (air = 0).
    attenuation_range: tuple[float, float] = (1.2, 2.4)
    #: Photons per 0.07 mm pixel reaching the detector behind fat (relative quantum noise 1/sqrt(N)).
    photons_per_pixel_range: tuple[float, float] = (800.0, 4000.0)
    #: Share of the large-scale (10 mm) variation inside the breast removed by thickness equalisation.
    equalisation_range: tuple[float, float] = (0.5, 0.85)
    #: Multi-scale enhancement: gain of each band between these Gaussian scales (mm), finest first.
    band_edges_mm: tuple[float, ...] = (0.1, 0.4, 1.5, 5.0)
    band_gain_ranges: tuple[tuple[float, float], ...] = ((0.0, 0.4), (0.2, 1.0), (0.1, 0.6))
    #: Steepness of the display sigmoid (1 = nearly linear over the breast's range).
    display_steepness_range: tuple[float, float] = (0.5, 1.5)
    output_max: float = 4095.0


def _draw(rng: np.random.Generator, value_range: tuple[float, float]) -> float:
    return float(rng.uniform(*value_range))


def vendor_processing(
    image: np.ndarray,
    breast_mask: np.ndarray,
    spacing_mm: float,
    rng: np.random.Generator,
    look: VendorLook = VendorLook(),
) -> np.ndarray:
    """A phantom background (linear, dense bright) turned into an FFDM-like presentation image (float32).

    The breast keeps its place and mask; air maps near 0 and the breast spans most of 0-output_max.
    """
    image = np.asarray(image, dtype=np.float32)
    mask = np.asarray(breast_mask, dtype=bool)
    inside = image[mask] if mask.any() else image.ravel()
    air = float(np.percentile(image[~mask], 50)) if (~mask).any() else float(inside.min())
    top = float(np.percentile(inside, 99.5))
    attenuation = _draw(rng, look.attenuation_range) * np.clip((image - air) / max(top - air, 1e-6), 0, None)
    # Photon counts: more per pixel for a coarser pixel (same fluence, larger area).
    photons = _draw(rng, look.photons_per_pixel_range) * (spacing_mm / REFERENCE_PIXEL_MM) ** 2
    expected = photons * np.exp(-attenuation)
    counts = expected + np.sqrt(expected) * rng.standard_normal(image.shape, dtype=np.float32)
    log_image = -np.log(np.clip(counts, 1.0, None) / photons).astype(np.float32)

    # Thickness equalisation: flatten the large-scale fall-off towards the skin.
    weight = ndimage.gaussian_filter(mask.astype(np.float32), 10.0 / spacing_mm)
    low = ndimage.gaussian_filter(log_image * mask, 10.0 / spacing_mm) / np.maximum(weight, 1e-3)
    level = float(np.median(low[mask])) if mask.any() else 0.0
    out = log_image - np.float32(_draw(rng, look.equalisation_range)) * (low - level) * mask

    # Multi-scale enhancement: add gain x (band-pass between consecutive scales).
    smoothed = [ndimage.gaussian_filter(out, s / spacing_mm) for s in look.band_edges_mm]
    enhanced = out.copy()
    for (fine, coarse), gain_range in zip(zip(smoothed[:-1], smoothed[1:]), look.band_gain_ranges):
        enhanced += np.float32(_draw(rng, gain_range)) * (fine - coarse)

    # Display curve: a sigmoid over the breast's range, air near black.
    inside = enhanced[mask] if mask.any() else enhanced.ravel()
    lo, hi = (float(v) for v in np.percentile(inside, [0.5, 99.5]))
    x = (enhanced - lo) / max(hi - lo, 1e-6)
    steep = _draw(rng, look.display_steepness_range)
    curve = 1.0 / (1.0 + np.exp(-steep * 4.0 * (x - 0.5)))
    low_end, high_end = 1.0 / (1.0 + np.exp(steep * 2.0)), 1.0 / (1.0 + np.exp(-steep * 2.0))
    display = (curve - low_end) / (high_end - low_end)
    # The periphery stays grey, not black: what equalisation leaves of the fall-off is lifted.
    display = np.where(mask, 0.15 + 0.85 * display, np.minimum(display, 0.05))
    return (np.clip(display, 0.0, 1.0) * look.output_max * 0.95 + 0.02 * look.output_max).astype(np.float32)


def to_eight_bit(pixels: np.ndarray, max_value: float) -> np.ndarray:
    """8-bit values stored in 16 bits (every value a multiple of 257), as anonymised copies often come."""
    scaled = np.rint(np.clip(np.asarray(pixels, np.float64) / max(max_value, 1.0), 0, 1) * 255.0)
    return (scaled * 257).astype(np.uint16)
