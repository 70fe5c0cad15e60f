"""Synthetic craniocaudal mammograms with microcalcifications and exact ground truth.

The background is a compressed breast seen in a CC view: an irregular
half-ellipse against the chest wall, darker towards the skin where the
projected thickness falls, with power-law (1/f^beta) anatomical texture, a few
fibroglandular dense regions, vessel-like curvilinear structures (hard
negatives), a thin skin line and white quantum noise, on a dark air
background. Calcifications (see `calcifications.py`) are added on top; their
contrast is measured in units of `local_noise_std` of the background.

Conventions: images are (rows, cols) float32 until `SynthCase`, which holds
uint16 pixels, MONOCHROME2 (calcifications and dense tissue bright). The chest
wall is on the image's LEFT edge for laterality "L" and on its RIGHT edge for
"R" (the back-to-back hanging; DICOM PatientOrientation A\\R and P\\L).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import fft, ndimage
from scipy.special import expit

from mcseg.preprocess.frame import chest_wall_on_right
from mcseg.synth.ffdm import to_eight_bit, vendor_processing
from mcseg.synth.calcifications import (
    CalcificationSpec,
    render_calcification,
    sample_calcification_specs,
)

logger = logging.getLogger(__name__)

#: Spectrum flattens below this spatial frequency (1 / 40 mm): mammographic
#: anatomical noise follows 1/f^beta over ~0.05-2 cycles/mm, and a fixed corner
#: keeps the texture statistics independent of the image size.
TEXTURE_CORNER_PER_MM = 1.0 / 40.0
#: Scale of the low-pass whose residual defines the local fine-scale noise.
LOCAL_NOISE_SIGMA_MM = 1.0
STYLES = ("phantom", "ffdm")


@dataclass
class SynthConfig:
    """Parameters of a synthetic case. Ranges are (low, high), drawn per image; counts inclusive."""

    shape_px: tuple[int, int] = (1400, 1000)
    spacing_mm: float = 0.07
    n_clusters_range: tuple[int, int] = (1, 3)
    n_singles_range: tuple[int, int] = (2, 8)
    #: None = the faint/medium/obvious mix of calcifications.CONTRAST_BANDS;
    #: (lo, hi) = uniform contrast in local-noise-std units.
    contrast_range: tuple[float, float] | None = None
    laterality: str = "random"  # "L", "R" or "random"
    #: Exponent of the anatomical noise power spectrum ~ 1/f^beta (2.5-3.5 in the literature).
    texture_beta: float = 3.0
    #: Std of the anatomical texture, intensity units (before density modulation).
    texture_std_range: tuple[float, float] = (150.0, 350.0)
    #: Texture structures are this many times longer along the nipple axis
    #: (ducts and Cooper's ligaments run from the nipple towards the chest wall).
    texture_anisotropy_range: tuple[float, float] = (1.3, 2.2)
    #: Std of the white quantum noise inside the breast, as a fraction of the texture std.
    quantum_noise_fraction_range: tuple[float, float] = (0.2, 0.4)
    air_level_range: tuple[float, float] = (300.0, 800.0)
    #: Fatty tissue at full compressed thickness, above air.
    fat_level_range: tuple[float, float] = (2200.0, 4000.0)
    #: Extra signal of fully dense fibroglandular tissue.
    dense_level_range: tuple[float, float] = (800.0, 2500.0)
    n_dense_regions_range: tuple[int, int] = (2, 5)
    n_vessels_range: tuple[int, int] = (1, 3)
    #: Fraction of the image covered by the breast.
    breast_coverage_range: tuple[float, float] = (0.47, 0.66)
    #: Width of the band along the skin where the projected thickness falls.
    thickness_falloff_range_mm: tuple[float, float] = (8.0, 20.0)
    skin_thickness_range_mm: tuple[float, float] = (0.5, 1.0)
    skin_margin_mm: float = 3.0
    bits_stored: int = 14
    #: "phantom": the linear phantom; "ffdm": the phantom through `ffdm.vendor_processing`
    #: (signal-dependent quantum noise, log, equalisation, multi-scale enhancement, 12 bits).
    style: str = "phantom"
    #: Store 8-bit values in 16 bits (x 257), as anonymised copies often come.
    eight_bit: bool = False

    def __post_init__(self) -> None:
        if self.laterality not in ("L", "R", "random"):
            raise ValueError(f"laterality must be 'L', 'R' or 'random', not {self.laterality!r}")
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, not {self.style!r}")


@dataclass
class SynthCase:
    """One mammogram with its exact ground truth."""

    image: np.ndarray  # uint16, rows x cols, MONOCHROME2
    gt_mask: np.ndarray  # uint8, 1 = calcification
    breast_mask: np.ndarray  # bool
    spacing_mm: tuple[float, float]  # (row_mm, col_mm)
    laterality: str
    calcifications: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    source: str = "synthetic"
    #: The background's local_noise_std: the unit of the calcifications' contrast.
    local_noise_std: float = 0.0
    specs: list[CalcificationSpec] = field(default_factory=list, repr=False)
    #: A real background's crop: its top-left pixel in the background resampled to ``spacing_mm``
    #: (None for a synthetic one), so that findings of that background can be mapped into the crop.
    background_window_px: tuple[int, int] | None = None
    #: A real background's DICOM DetectorType, written into the case's header; None for a synthetic one.
    detector_type: str | None = None


# --- Background -----------------------------------------------------------------


def _draw(rng: np.random.Generator, value_range: tuple[float, float]) -> float:
    return float(rng.uniform(*value_range))


def _draw_count(rng: np.random.Generator, count_range: tuple[int, int]) -> int:
    return int(rng.integers(count_range[0], count_range[1] + 1))


def power_law_noise(
    rng: np.random.Generator,
    shape_px: tuple[int, int],
    spacing_mm: float,
    beta: float,
    corner_per_mm: float = TEXTURE_CORNER_PER_MM,
    elongation_along_cols: float = 1.0,
) -> np.ndarray:
    """Gaussian noise with power spectrum 1 / (f^2 + f0^2)^(beta/2), unit std, float32.

    `elongation_along_cols` > 1 stretches the structures horizontally (the
    column frequency is scaled up). Drawn directly in the Fourier domain (one
    inverse FFT instead of two).
    """
    rows, cols = shape_px
    freq_r = fft.fftfreq(rows, d=spacing_mm).astype(np.float32)
    freq_c = fft.rfftfreq(cols, d=spacing_mm).astype(np.float32) * np.float32(elongation_along_cols)
    f2 = freq_r[:, None] ** 2 + freq_c[None, :] ** 2 + np.float32(corner_per_mm**2)
    amplitude = f2 ** np.float32(-beta / 4.0)
    amplitude[0, 0] = 0.0  # zero mean
    coefficients = rng.standard_normal((rows, freq_c.size, 2), dtype=np.float32).view(np.complex64)[..., 0]
    coefficients *= amplitude
    noise = fft.irfft2(coefficients, s=(rows, cols), workers=-1)
    noise /= max(float(noise.std()), 1e-12)
    return noise.astype(np.float32, copy=False)


class _BreastOutline:
    """An irregular half-ellipse against the chest wall at column 0.

    Normalised coordinates: x = col / depth, y = (row - centre - tilt * col) / half_height
    (half_height differs above and below the centre: an egg, not an ellipse); the
    boundary is rho = 1 + sum of small harmonics of the polar angle.
    """

    def __init__(self, rng: np.random.Generator, config: SynthConfig):
        rows, cols = config.shape_px
        # Irregularity: low orders bend the outline, higher ones add small bumps.
        orders = np.arange(2, 13)
        amplitudes = rng.uniform(0.0, 0.04, orders.size) / (orders / 2.0) ** 1.3
        phases = rng.uniform(0.0, 2 * np.pi, orders.size)
        theta = np.linspace(-np.pi / 2, np.pi / 2, 4097)
        self._theta_table = theta
        self._rho_table = 1.0 + (amplitudes[:, None] * np.cos(orders[:, None] * theta + phases[:, None])).sum(0)
        reach = float(self._rho_table.max())

        coverage = _draw(rng, config.breast_coverage_range)
        half_height = rng.uniform(0.40, 0.45) * rows / reach
        asymmetry = rng.uniform(-0.05, 0.05)
        self.half_height_top = half_height * (1 + asymmetry)
        self.half_height_bottom = half_height * (1 - asymmetry)
        # Keep air above and below the breast (at least 2% of the height).
        slack = rows / 2 - reach * max(self.half_height_top, self.half_height_bottom) - 0.02 * rows
        self.centre_row = rows / 2 + rng.uniform(-0.8, 0.8) * max(slack, 0.0)
        # Half-ellipse area = pi * a * b / 2; cap the depth to leave air on the far side.
        self.depth = min(2 * coverage * rows * cols / (math.pi * half_height), 0.9 * cols / reach)
        self.tilt = rng.uniform(-0.08, 0.08) * half_height / self.depth

    def signed_distance_px(self, row: np.ndarray, col: np.ndarray) -> np.ndarray:
        """Approximate distance to the skin in pixels, positive inside the breast."""
        row = np.asarray(row, dtype=np.float32)
        col = np.asarray(col, dtype=np.float32)
        offset = row - np.float32(self.centre_row) - np.float32(self.tilt) * col
        half_height = np.where(offset < 0, np.float32(self.half_height_top), np.float32(self.half_height_bottom))
        y = offset / half_height
        x = col / np.float32(self.depth)
        rho = np.maximum(np.hypot(x, y), np.float32(1e-6))
        rho_boundary = np.interp(np.arctan2(y, x), self._theta_table, self._rho_table).astype(np.float32)
        # Radial gap (rho_b - rho) turned into a perpendicular distance with the
        # ellipse's metric: d = gap * rho / |(x / b, y / a)|.
        metric = np.hypot(x / np.float32(self.depth), y / half_height)
        return (rho_boundary - rho) * rho / np.maximum(metric, np.float32(1e-12))


def _smoothstep(x: np.ndarray, low: float, high: float) -> np.ndarray:
    t = np.clip((x - low) / (high - low), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _upsample(coarse: np.ndarray, shape_px: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of a smooth coarse field to exactly shape_px."""
    zoom = (shape_px[0] / coarse.shape[0], shape_px[1] / coarse.shape[1])
    out = ndimage.zoom(coarse, zoom, order=1, mode="nearest", grid_mode=True)
    if out.shape != tuple(shape_px):  # zoom rounds the output shape
        out = np.pad(out, [(0, max(0, n - m)) for n, m in zip(shape_px, out.shape)], mode="edge")
        out = out[: shape_px[0], : shape_px[1]]
    return out.astype(np.float32, copy=False)


def _density_field(
    rng: np.random.Generator,
    distance_mm_coarse: np.ndarray,
    coarse_spacing_mm: float,
    config: SynthConfig,
) -> np.ndarray:
    """Fibroglandular density in [0, 1] on the coarse grid: blobs shaped by low-pass noise."""
    rows, cols = distance_mm_coarse.shape
    rr, cc = np.mgrid[0:rows, 0:cols].astype(np.float32) * np.float32(coarse_spacing_mm)
    blobs = np.zeros((rows, cols), np.float32)
    breast_depth_mm = max(float(distance_mm_coarse.max()), 10.0)
    deep = np.flatnonzero(distance_mm_coarse.ravel() > 12.0)
    if not deep.size:
        deep = np.flatnonzero(distance_mm_coarse.ravel() > 0.0)
    for _ in range(_draw_count(rng, config.n_dense_regions_range) if deep.size else 0):
        r, c = np.array(np.unravel_index(rng.choice(deep), (rows, cols))) * coarse_spacing_mm
        # Sized to the breast (its deepest point below the skin), so that a
        # large breast gets large dense regions rather than many small ones.
        sigma_long = rng.uniform(0.1, 0.32) * breast_depth_mm
        sigma_short = sigma_long * rng.uniform(0.4, 0.8)
        # Glandular tissue fans out from the nipple towards the chest wall: mostly horizontal.
        angle = rng.normal(0.0, 0.5)
        du, dv = cc - c, rr - r
        along = du * math.cos(angle) + dv * math.sin(angle)
        across = -du * math.sin(angle) + dv * math.cos(angle)
        blobs += rng.uniform(0.5, 1.0) * np.exp(-0.5 * ((along / sigma_long) ** 2 + (across / sigma_short) ** 2))
    noise = power_law_noise(rng, (rows, cols), coarse_spacing_mm, beta=config.texture_beta, corner_per_mm=1 / 25.0)
    if blobs.max() > 1.0:
        blobs /= blobs.max()
    # Noise breaks up the blobs' edges and adds small islands of dense tissue.
    raw = blobs + 0.25 * noise
    density = expit((raw - 0.45) / 0.15)
    # A subcutaneous fat layer: no dense tissue right under the skin.
    return (density * _smoothstep(distance_mm_coarse, 3.0, 12.0)).astype(np.float32)


def _vessel_signal(
    rng: np.random.Generator,
    breast_mask: np.ndarray,
    distance_mm: np.ndarray,
    spacing_mm: float,
    amplitude: float,
) -> tuple[np.ndarray, tuple[slice, slice]] | None:
    """One meandering vessel: a tapering cylinder along a smooth random path.

    Returns its signal on its bounding box and the box, or None when the breast
    has no room for it.
    """
    rows, cols = breast_mask.shape
    candidates = np.flatnonzero((distance_mm[::8, ::8] > 8.0).ravel())
    if not candidates.size:
        return None
    r, c = np.array(np.unravel_index(rng.choice(candidates), distance_mm[::8, ::8].shape)) * 8
    length_mm = rng.uniform(20.0, 70.0)
    step_px = 0.5
    n_steps = int(length_mm / spacing_mm / step_px)
    # Heading wanders smoothly: integrated, low-passed random turns.
    heading0 = rng.uniform(0.0, 2 * np.pi)
    turns = ndimage.gaussian_filter1d(rng.normal(0.0, 1.0, n_steps), sigma=max(n_steps / 12, 1.0))
    turns *= rng.uniform(0.6, 1.4) / max(float(np.abs(turns).max()), 1e-9)
    heading = heading0 + turns
    path_r = r + np.cumsum(step_px * np.sin(heading))
    path_c = c + np.cumsum(step_px * np.cos(heading))
    width_start_mm = rng.uniform(0.6, 1.4)
    radius_px = 0.5 * np.linspace(width_start_mm, width_start_mm * rng.uniform(0.3, 0.7), n_steps) / spacing_mm

    margin = int(math.ceil(radius_px.max())) + 3
    r0 = max(int(np.floor(path_r.min())) - margin, 0)
    c0 = max(int(np.floor(path_c.min())) - margin, 0)
    r1 = min(int(np.ceil(path_r.max())) + margin + 1, rows)
    c1 = min(int(np.ceil(path_c.max())) + margin + 1, cols)
    if r1 - r0 < 3 or c1 - c0 < 3:
        return None
    box = (slice(r0, r1), slice(c0, c1))
    pr = np.round(path_r).astype(int) - r0
    pc = np.round(path_c).astype(int) - c0
    keep = (pr >= 0) & (pr < r1 - r0) & (pc >= 0) & (pc < c1 - c0)
    if not keep.any():
        return None
    centre_line = np.zeros((r1 - r0, c1 - c0), bool)
    centre_line[pr[keep], pc[keep]] = True
    radius_on_line = np.zeros(centre_line.shape, np.float32)
    radius_on_line[pr[keep], pc[keep]] = radius_px[keep]
    distance_px, (near_r, near_c) = ndimage.distance_transform_edt(~centre_line, return_indices=True)
    radius = radius_on_line[near_r, near_c]
    profile = np.sqrt(np.clip(1.0 - (distance_px / np.maximum(radius, 0.5)) ** 2, 0.0, None))
    # Slight blur: the centre line is rasterised to whole pixels.
    profile = ndimage.gaussian_filter(profile.astype(np.float32), 0.8)
    return (amplitude * profile * breast_mask[box]).astype(np.float32), box


def synthesize_background(rng: np.random.Generator, config: SynthConfig) -> tuple[np.ndarray, np.ndarray]:
    """A breast in a CC view without calcifications: (image float32, breast_mask bool).

    With config.laterality "random" the side is drawn here; `synthesize_case`
    resolves it first so that it knows which it got.
    """
    rows, cols = config.shape_px
    spacing = float(config.spacing_mm)
    laterality = config.laterality
    if laterality == "random":
        laterality = "L" if rng.uniform() < 0.5 else "R"

    outline = _BreastOutline(rng, config)
    row_idx = np.arange(rows, dtype=np.float32)[:, None]
    col_idx = np.arange(cols, dtype=np.float32)[None, :]
    distance_px = outline.signed_distance_px(row_idx, col_idx)
    breast_mask = distance_px >= 0
    distance_mm = distance_px * np.float32(spacing)
    # Partial-volume edge: one pixel wide ramp instead of a staircase.
    edge = np.clip(distance_px + 0.5, 0.0, 1.0)

    # Coarse grid (~0.5 mm) for the smooth fields.
    step = max(1, int(round(0.5 / spacing)))
    coarse_rows = np.arange(0, rows, step, dtype=np.float32)[:, None] + (step - 1) / 2
    coarse_cols = np.arange(0, cols, step, dtype=np.float32)[None, :] + (step - 1) / 2
    distance_mm_coarse = outline.signed_distance_px(coarse_rows, coarse_cols) * np.float32(spacing)
    density = _upsample(_density_field(rng, distance_mm_coarse, step * spacing, config), (rows, cols))

    # Projected thickness of the compressed breast: flat inside, falling over the
    # last centimetre or two towards the skin (a rounded edge).
    falloff_mm = _draw(rng, config.thickness_falloff_range_mm)
    edge_floor = rng.uniform(0.12, 0.22)
    depth = np.clip(distance_mm / np.float32(falloff_mm), 0.0, 1.0)
    thickness = np.float32(edge_floor) + np.float32(1 - edge_floor) * np.sqrt(1.0 - (1.0 - depth) ** 2)

    air_level = _draw(rng, config.air_level_range)
    fat_level = _draw(rng, config.fat_level_range)
    dense_level = _draw(rng, config.dense_level_range)
    texture_std = _draw(rng, config.texture_std_range)
    texture = power_law_noise(
        rng, (rows, cols), spacing, config.texture_beta,
        elongation_along_cols=_draw(rng, config.texture_anisotropy_range),
    )

    tissue = thickness * (
        np.float32(fat_level)
        + np.float32(dense_level) * density
        + np.float32(texture_std) * texture * (0.6 + 0.8 * density)
    )
    # Skin line: a thin band just inside the boundary, brighter than the fat under it.
    skin_mm = _draw(rng, config.skin_thickness_range_mm)
    skin_band = expit((np.float32(skin_mm) - distance_mm) / np.float32(0.12))
    tissue += np.float32(rng.uniform(0.25, 0.45) * fat_level) * skin_band

    for _ in range(_draw_count(rng, config.n_vessels_range)):
        vessel = _vessel_signal(rng, breast_mask, distance_mm, spacing, rng.uniform(0.8, 2.0) * texture_std)
        if vessel is not None:
            signal, box = vessel
            tissue[box] += signal * thickness[box]

    image = np.float32(air_level) + edge * tissue
    quantum_std = _draw(rng, config.quantum_noise_fraction_range) * texture_std
    # Air is nearly uniform: outside the breast a presentation image shows little noise.
    noise_std = np.float32(quantum_std) * (0.4 + 0.6 * edge)
    image += rng.standard_normal((rows, cols), dtype=np.float32) * noise_std

    if laterality == "R":
        image = np.ascontiguousarray(image[:, ::-1])
        breast_mask = np.ascontiguousarray(breast_mask[:, ::-1])
    logger.debug(
        "background %dx%d %s: breast %.0f%% of the image", rows, cols, laterality, 100 * breast_mask.mean()
    )
    return image.astype(np.float32, copy=False), breast_mask


def local_noise_std(
    image: np.ndarray,
    breast_mask: np.ndarray,
    spacing_mm: float | tuple[float, float] = 0.07,
    sigma_mm: float = LOCAL_NOISE_SIGMA_MM,
) -> float:
    """Robust std of the fine-scale background inside the breast (the contrast unit).

    High-pass = image minus its Gaussian low-pass (sigma 1 mm); its std is
    estimated as 1.4826 x the median absolute deviation, over breast pixels at
    least 3 sigma from the boundary (the skin edge would dominate otherwise),
    sampled on a sparse grid (the statistic does not need every pixel).
    """
    row_mm, col_mm = (spacing_mm, spacing_mm) if np.isscalar(spacing_mm) else spacing_mm  # type: ignore[misc]
    image = np.asarray(image, dtype=np.float32)
    breast_mask = np.asarray(breast_mask, dtype=bool)
    sigma_px = (sigma_mm / float(row_mm), sigma_mm / float(col_mm))
    high_pass = image - ndimage.gaussian_filter(image, sigma_px, truncate=3.0)
    stride = max(1, int(round(min(sigma_px) / 4)))
    sampled = high_pass[::stride, ::stride]
    mask = breast_mask[::stride, ::stride]
    interior = ndimage.binary_erosion(mask, iterations=int(math.ceil(3 * max(sigma_px) / stride)))
    if interior.sum() >= 100:
        mask = interior
    values = sampled[mask] if mask.sum() >= 100 else sampled.ravel()
    deviation = np.abs(values - np.median(values))
    return float(1.4826 * np.median(deviation))


# --- Calcifications ---------------------------------------------------------------


def insert_calcifications(
    image: np.ndarray,
    breast_mask: np.ndarray,
    spacing_mm: float | tuple[float, float],
    rng: np.random.Generator,
    specs: list[CalcificationSpec],
    noise_std: float | None = None,
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Add the calcifications of `specs` to a copy of `image`.

    Each adds contrast x `noise_std` at its peak (`noise_std` defaults to
    `local_noise_std(image, breast_mask)`). Returns (image float32,
    gt_mask uint8 in {0, 1}, calcification dicts with 1-based "id").
    """
    row_mm, col_mm = (spacing_mm, spacing_mm) if np.isscalar(spacing_mm) else spacing_mm  # type: ignore[misc]
    row_mm, col_mm = float(row_mm), float(col_mm)
    if noise_std is None:
        noise_std = local_noise_std(image, breast_mask, (row_mm, col_mm))
    out = np.array(image, dtype=np.float32, copy=True)
    labels = np.zeros(out.shape, np.int32)
    calcifications: list[dict[str, Any]] = []
    rows, cols = out.shape
    for spec in specs:
        signal, mask, (r0, c0) = render_calcification(spec, (row_mm, col_mm), rng)
        # Clip the patch to the image.
        pr0, pc0 = max(0, -r0), max(0, -c0)
        pr1 = min(signal.shape[0], rows - r0)
        pc1 = min(signal.shape[1], cols - c0)
        if pr1 <= pr0 or pc1 <= pc0:
            logger.warning("calcification at %s lies outside the image: skipped", spec.centre_px)
            continue
        box = (slice(r0 + pr0, r0 + pr1), slice(c0 + pc0, c0 + pc1))
        mask = mask[pr0:pr1, pc0:pc1]
        if not mask.any():
            logger.warning("calcification at %s has no pixel in the image: skipped", spec.centre_px)
            continue
        assert not labels[box][mask].any(), "two calcifications share ground-truth pixels"
        calcification_id = len(calcifications) + 1
        labels[box][mask] = calcification_id
        out[box] += signal[pr0:pr1, pc0:pc1] * np.float32(noise_std)
        mask_r, mask_c = np.nonzero(mask)
        calcifications.append(
            {
                "id": calcification_id,
                "centroid_px": [round(float(mask_r.mean() + r0 + pr0), 2), round(float(mask_c.mean() + c0 + pc0), 2)],
                "area_px": int(mask.sum()),
                "area_mm2": round(float(mask.sum() * row_mm * col_mm), 4),
                "diameter_mm": round(float(spec.diameter_mm), 4),
                "shape": spec.shape,
                "contrast": round(float(spec.contrast), 3),
                "peak_signal": round(float(spec.contrast * noise_std), 2),
                "cluster_id": spec.cluster_id,
            }
        )
    gt_mask = (labels > 0).astype(np.uint8)
    if calcifications:
        _, n_components = ndimage.label(gt_mask, structure=np.ones((3, 3)))
        if n_components != len(calcifications):
            logger.warning("%d calcifications but %d connected components in the ground truth",
                           len(calcifications), n_components)
    return out, gt_mask, calcifications


def describe_clusters(
    calcifications: list[dict[str, Any]], gt_mask: np.ndarray, spacing_mm: tuple[float, float]
) -> list[dict[str, Any]]:
    """Cluster dicts: members, centre (mean member centroid), radius_mm, bbox_px [r0, c0, r1, c1).

    radius_mm = largest member-centroid distance from the centre + 0.5 mm;
    bbox_px spans the members' ground-truth pixels, end-exclusive like a slice.
    """
    row_mm, col_mm = spacing_mm
    labels, _ = ndimage.label(gt_mask, structure=np.ones((3, 3)))
    clusters: list[dict[str, Any]] = []
    cluster_ids = sorted({c["cluster_id"] for c in calcifications if c["cluster_id"] is not None})
    for cluster_id in cluster_ids:
        members = [c for c in calcifications if c["cluster_id"] == cluster_id]
        centroids = np.array([m["centroid_px"] for m in members], dtype=float)
        centre = centroids.mean(axis=0)
        distance_mm = np.hypot((centroids[:, 0] - centre[0]) * row_mm, (centroids[:, 1] - centre[1]) * col_mm)
        # Bounding box of the member pixels, found through the components under the centroids.
        component_ids = {int(labels[int(round(r)), int(round(c))]) for r, c in centroids} - {0}
        member_pixels = np.isin(labels, list(component_ids)) if component_ids else np.zeros_like(gt_mask, bool)
        if member_pixels.any():
            rr = np.flatnonzero(member_pixels.any(axis=1))
            cc = np.flatnonzero(member_pixels.any(axis=0))
            bbox = [int(rr[0]), int(cc[0]), int(rr[-1]) + 1, int(cc[-1]) + 1]
        else:
            bbox = [int(centroids[:, 0].min()), int(centroids[:, 1].min()),
                    int(centroids[:, 0].max()) + 1, int(centroids[:, 1].max()) + 1]
        clusters.append(
            {
                "id": int(cluster_id),
                "members": [int(m["id"]) for m in members],
                "centre_px": [round(float(centre[0]), 2), round(float(centre[1]), 2)],
                "radius_mm": round(float(distance_mm.max() + 0.5), 3),
                "bbox_px": bbox,
            }
        )
    return clusters


def infer_laterality(breast_mask: np.ndarray) -> str:
    """"L" when the chest wall is on the left (our convention), as the pipeline decides it."""
    return "R" if chest_wall_on_right(breast_mask) else "L"


def _make_case(
    rng: np.random.Generator,
    background: np.ndarray,
    breast_mask: np.ndarray,
    config: SynthConfig,
    *,
    laterality: str,
    source: str,
    max_value: int,
) -> SynthCase:
    spacing = (float(config.spacing_mm), float(config.spacing_mm))
    specs = sample_calcification_specs(
        rng,
        breast_mask,
        spacing,
        n_clusters=_draw_count(rng, config.n_clusters_range),
        n_singles=_draw_count(rng, config.n_singles_range),
        contrast_range=config.contrast_range,
        skin_margin_mm=config.skin_margin_mm,
    )
    noise_std = local_noise_std(background, breast_mask, spacing)
    image, gt_mask, calcifications = insert_calcifications(
        background, breast_mask, spacing, rng, specs, noise_std=noise_std
    )
    pixels = np.clip(np.rint(image), 0, max_value).astype(np.uint16)
    if config.eight_bit:
        pixels = to_eight_bit(pixels, float(pixels.max(initial=1)))
    clusters = describe_clusters(calcifications, gt_mask, spacing)
    return SynthCase(
        image=pixels,
        gt_mask=gt_mask,
        breast_mask=np.asarray(breast_mask, dtype=bool),
        spacing_mm=spacing,
        laterality=laterality,
        calcifications=calcifications,
        clusters=clusters,
        source=source,
        local_noise_std=round(noise_std, 3),
        specs=specs,
    )


def synthesize_case(rng: np.random.Generator, config: SynthConfig = SynthConfig()) -> SynthCase:
    """A fully synthetic mammogram with calcifications and exact ground truth."""
    laterality = config.laterality
    if laterality == "random":
        laterality = "L" if rng.uniform() < 0.5 else "R"
    config = replace(config, laterality=laterality)
    if config.style == "ffdm":
        # The quantum noise comes from the photon counts of the processing, not the phantom's white noise.
        # Vendor processing boosts fine detail, so the phantom's texture starts fainter (matched to the
        # vendor samples' fine-scale noise, see ffdm.py).
        low, high = config.texture_std_range
        background, breast_mask = synthesize_background(rng, replace(
            config, quantum_noise_fraction_range=(0.0, 0.05), texture_std_range=(0.5 * low, 0.5 * high)))
        background = vendor_processing(background, breast_mask, float(config.spacing_mm), rng)
        return _make_case(rng, background, breast_mask, config, laterality=laterality, source="synthetic-ffdm",
                          max_value=4095)
    background, breast_mask = synthesize_background(rng, config)
    return _make_case(
        rng, background, breast_mask, config,
        laterality=laterality, source="synthetic", max_value=2**config.bits_stored - 1,
    )


def synthesize_on_background(
    rng: np.random.Generator,
    background_pixels: np.ndarray,
    breast_mask: np.ndarray,
    config: SynthConfig = SynthConfig(),
    *,
    laterality: str | None = None,
    source: str = "real-background",
) -> SynthCase:
    """Insert calcifications into a given background (already at config.spacing_mm,
    MONOCHROME2 so calcifications are bright). The image keeps its size and
    intensity scale (clipped to uint16); laterality is inferred from the mask
    when not given.
    """
    background = np.asarray(background_pixels, dtype=np.float32)
    breast_mask = np.asarray(breast_mask, dtype=bool)
    if background.shape != breast_mask.shape:
        raise ValueError(f"background {background.shape} and breast_mask {breast_mask.shape} differ in shape")
    if laterality is None:
        laterality = infer_laterality(breast_mask)
    return _make_case(
        rng, background, breast_mask, config, laterality=laterality, source=source, max_value=65535
    )
