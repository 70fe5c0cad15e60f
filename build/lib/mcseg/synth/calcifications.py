"""Single microcalcifications rendered on a pixel grid, with exact ground truth.

Coordinates are in pixels of the target image, (row, col), with the centre of
pixel (i, j) at (i, j). Sizes are in millimetres and converted with the image's
(row_mm, col_mm) pixel spacing, so the same spec renders at any resolution.

Contrast scale. A calcification's `contrast` is the peak of its added signal
(after the point-spread function) in units of the background's *local
fine-scale noise std*, `mcseg.synth.phantom.local_noise_std`: the robust std of
the image minus its 1 mm Gaussian low-pass inside the breast. The default mix
(`CONTRAST_BANDS`) is 20% faint (1.5-3), 50% medium (3-6) and 30% obvious
(6-15); `contrast_range=(lo, hi)` replaces it with a uniform draw in [lo, hi].
"""

from __future__ import annotations

import logging
import copy
import math
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
from scipy import ndimage

logger = logging.getLogger(__name__)

SHAPES = ("round", "irregular", "linear")
#: Shape mix of sampled calcifications (round, irregular/pleomorphic, linear).
SHAPE_PROBABILITIES = {"round": 0.45, "irregular": 0.35, "linear": 0.20}
#: Contrast bands: name -> (low, high, probability), in local-noise-std units.
CONTRAST_BANDS: dict[str, tuple[float, float, float]] = {
    "faint": (1.5, 3.0, 0.20),
    "medium": (3.0, 6.0, 0.50),
    "obvious": (6.0, 15.0, 0.30),
}
DIAMETER_RANGE_MM = (0.1, 1.0)
LINEAR_WIDTH_RANGE_MM = (0.1, 0.3)
LINEAR_ELONGATION_RANGE = (2.0, 5.0)
#: Exponent > 1 of the log-uniform diameter draw: pushes mass to the small end
#: (about 79% of diameters fall below 0.5 mm, against 70% for plain log-uniform).
DIAMETER_SMALL_BIAS = 1.5

SUPERSAMPLING = 4
#: Gaussian point-spread function, sigma in pixel widths; it approximates the
#: detector's MTF (unsharpness of the scintillator / pixel aperture).
PSF_SIGMA_PX = 0.6
PATCH_MARGIN_PX = 3


@dataclass
class CalcificationSpec:
    """One microcalcification to render.

    `diameter_mm` is the largest extent: the diameter of a round one, twice the
    largest radius of an irregular one, the length of a linear one (whose width
    is diameter_mm / elongation). So two specs never overlap when their centres
    are more than (d1 + d2) / 2 apart.
    """

    centre_px: tuple[float, float]
    diameter_mm: float
    shape: str = "round"
    #: Peak added signal after the PSF, in units of the background's local_noise_std.
    contrast: float = 5.0
    orientation_rad: float = 0.0
    elongation: float = 1.0
    cluster_id: int | None = None
    #: Bend of a linear one: curvature of its centre line (1/mm); 0 = straight.
    curvature_per_mm: float = 0.0

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, not {self.shape!r}")
        if self.diameter_mm <= 0:
            raise ValueError(f"diameter_mm must be positive, got {self.diameter_mm}")
        if self.shape == "linear" and self.elongation < 1:
            raise ValueError("a linear calcification needs elongation >= 1 (length / width)")

    @property
    def width_mm(self) -> float:
        """Width across a linear calcification; the diameter for the other shapes."""
        return self.diameter_mm / self.elongation if self.shape == "linear" else self.diameter_mm

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _as_spacing(spacing_mm: float | tuple[float, float]) -> tuple[float, float]:
    if np.isscalar(spacing_mm):
        return float(spacing_mm), float(spacing_mm)  # type: ignore[arg-type]
    row_mm, col_mm = spacing_mm  # type: ignore[misc]
    return float(row_mm), float(col_mm)


def _irregular_radius_fn(rng: np.random.Generator, radius_mm: float) -> Callable[[np.ndarray], np.ndarray]:
    """A lobulated ("pleomorphic") outline: radius(angle) from random harmonics 2-5, max = radius_mm."""
    orders = np.arange(2, 6)
    amplitudes = rng.uniform(0.0, 0.22, size=orders.size) / np.sqrt(orders - 1)
    phases = rng.uniform(0.0, 2 * np.pi, size=orders.size)

    def modulation(angle: np.ndarray) -> np.ndarray:
        angle = np.asarray(angle)[..., None]
        return 1.0 + (amplitudes * np.cos(orders * angle + phases)).sum(-1)

    samples = modulation(np.linspace(0.0, 2 * np.pi, 720, endpoint=False))
    low, high = float(samples.min()), float(samples.max())
    # Keep it a blob, not a star: pull the narrowest lobe to >= 45% of the widest.
    squeeze = min(1.0, 0.55 * high / (high - low)) if high > low else 1.0

    def radius_at(angle: np.ndarray) -> np.ndarray:
        return radius_mm * (high - (high - modulation(angle)) * squeeze) / high

    return radius_at


def render_calcification(
    spec: CalcificationSpec,
    spacing_mm: float | tuple[float, float],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Render one calcification into a small patch.

    Returns (signal_patch float32, mask_patch bool, top_left (row, col)) where
    the patch covers the calcification's bounding box plus PATCH_MARGIN_PX.
    The mask holds the pixels at least half covered by the shape (at least the
    pixel under the centre); the signal is the coverage-weighted projected
    thickness, blurred by the PSF and scaled so that its peak equals
    `spec.contrast` (in local-noise-std units: multiply by the background's
    `local_noise_std` to get intensity). `top_left` may be negative near an
    image edge; the caller clips.
    """
    row_mm, col_mm = _as_spacing(spacing_mm)
    centre_r, centre_c = (float(v) for v in spec.centre_px)
    radius_mm = spec.diameter_mm / 2.0
    # The bent rod's ends reach ~2% beyond half its length.
    reach_mm = radius_mm * (1.03 if spec.shape == "linear" else 1.0)
    half_rows = reach_mm / row_mm + PATCH_MARGIN_PX
    half_cols = reach_mm / col_mm + PATCH_MARGIN_PX
    r0 = int(math.floor(centre_r - half_rows))
    c0 = int(math.floor(centre_c - half_cols))
    n_rows = int(math.ceil(centre_r + half_rows)) - r0 + 1
    n_cols = int(math.ceil(centre_c + half_cols)) - c0 + 1

    s = SUPERSAMPLING
    # Sub-pixel sample centres, in image pixel coordinates, then mm from the centre.
    sub_r = r0 + (np.arange(n_rows * s) + 0.5) / s - 0.5
    sub_c = c0 + (np.arange(n_cols * s) + 0.5) / s - 0.5
    dy = ((sub_r - centre_r) * row_mm)[:, None]
    dx = ((sub_c - centre_c) * col_mm)[None, :]
    # Rotate into the calcification's frame: u along its orientation, v across.
    cos_o, sin_o = math.cos(spec.orientation_rad), math.sin(spec.orientation_rad)
    u = dx * cos_o + dy * sin_o
    v = -dx * sin_o + dy * cos_o

    if spec.shape == "round":
        rho = np.sqrt(u**2 + v**2) / radius_mm
    elif spec.shape == "irregular":
        radius_at = _irregular_radius_fn(rng, radius_mm)
        rho = np.sqrt(u**2 + v**2) / radius_at(np.arctan2(v, u))
    else:  # linear: a capsule (rod with rounded ends) around a slightly bent centre line
        half_width = spec.width_mm / 2.0
        half_core = max(radius_mm - half_width, 0.0)
        u_core = np.clip(u, -half_core, half_core)
        # Parabolic bend, shifted so the centre line's mean offset is zero.
        bend = 0.5 * spec.curvature_per_mm * (u_core**2 - radius_mm**2 / 3.0)
        rho = np.sqrt((u - u_core) ** 2 + (v - bend) ** 2) / half_width
    # Projected thickness of a sphere / cylinder: sqrt(1 - (r/R)^2) inside.
    thickness = np.sqrt(np.clip(1.0 - rho**2, 0.0, None))
    inside = rho <= 1.0

    coverage = inside.reshape(n_rows, s, n_cols, s).mean(axis=(1, 3))
    thickness_px = thickness.reshape(n_rows, s, n_cols, s).mean(axis=(1, 3))
    mask = coverage >= 0.5
    centre_pixel = (int(round(centre_r)) - r0, int(round(centre_c)) - c0)
    if not mask.any():
        mask[centre_pixel] = True
    if not thickness_px.any():  # a shape thinner than the subsampling: a point source
        thickness_px[centre_pixel] = 1.0 / s**2

    signal = ndimage.gaussian_filter(thickness_px, PSF_SIGMA_PX, mode="constant")
    peak = float(signal.max())
    if peak > 0:
        signal *= spec.contrast / peak
    return signal.astype(np.float32), mask, (r0, c0)


# --- Sampling -----------------------------------------------------------------


def sample_contrast(
    rng: np.random.Generator, size: int, contrast_range: tuple[float, float] | None = None
) -> np.ndarray:
    """Contrasts in local-noise-std units: the CONTRAST_BANDS mix, or uniform in contrast_range."""
    if contrast_range is not None:
        low, high = contrast_range
        if not 0 < low <= high:
            raise ValueError(f"contrast_range must satisfy 0 < low <= high, got {contrast_range}")
        return rng.uniform(low, high, size)
    bands = np.array([(lo, hi) for lo, hi, _ in CONTRAST_BANDS.values()])
    weights = np.array([p for *_, p in CONTRAST_BANDS.values()])
    band = rng.choice(len(bands), size=size, p=weights / weights.sum())
    return rng.uniform(bands[band, 0], bands[band, 1])


def sample_diameter_mm(
    rng: np.random.Generator, size: int, diameter_range_mm: tuple[float, float] = DIAMETER_RANGE_MM
) -> np.ndarray:
    """Log-uniform diameters, biased towards the small end by DIAMETER_SMALL_BIAS."""
    low, high = diameter_range_mm
    fraction = rng.uniform(0.0, 1.0, size) ** DIAMETER_SMALL_BIAS
    return low * (high / low) ** fraction


def _draw_spec_shape(
    rng: np.random.Generator,
    diameter_range_mm: tuple[float, float],
    orientation_rad: float | None = None,
) -> dict[str, Any]:
    """Shape, size and orientation of one calcification (no position, no contrast)."""
    shapes = list(SHAPE_PROBABILITIES)
    p = np.array([SHAPE_PROBABILITIES[k] for k in shapes])
    shape = shapes[rng.choice(len(shapes), p=p / p.sum())]
    if orientation_rad is None:
        orientation_rad = float(rng.uniform(0.0, np.pi))
    if shape == "linear":
        # Width first, then length = width * elongation, capped at the largest diameter.
        width_mm = float(np.exp(rng.uniform(*np.log(LINEAR_WIDTH_RANGE_MM))))
        elongation = float(rng.uniform(*LINEAR_ELONGATION_RANGE))
        length_mm = min(width_mm * elongation, diameter_range_mm[1])
        elongation = max(length_mm / width_mm, 1.0)
        # Sag of the bent centre line: at most ~8% of the length.
        sag_mm = rng.uniform(-0.08, 0.08) * length_mm
        return dict(
            shape=shape,
            diameter_mm=length_mm,
            elongation=elongation,
            orientation_rad=orientation_rad,
            curvature_per_mm=8.0 * sag_mm / length_mm**2,
        )
    diameter_mm = float(sample_diameter_mm(rng, 1, diameter_range_mm)[0])
    return dict(shape=shape, diameter_mm=diameter_mm, elongation=1.0, orientation_rad=orientation_rad)


class _Placement:
    """Allowed region (far enough from skin and image edge) and the placed calcifications."""

    def __init__(self, breast_mask: np.ndarray, spacing_mm: tuple[float, float], skin_margin_mm: float):
        self.shape = breast_mask.shape
        self.row_mm, self.col_mm = spacing_mm
        # Distance map on a coarse grid (~0.35 mm) keeps this cheap on 13 Mpx images;
        # one coarse cell of slack keeps the decision conservative.
        self.step = max(1, int(round(0.35 / min(spacing_mm))))
        coarse = breast_mask[:: self.step, :: self.step]
        # Zero padding: the image edge counts as a boundary too, so no patch is cut.
        padded = np.pad(coarse, 1, constant_values=False)
        sampling = (self.row_mm * self.step, self.col_mm * self.step)
        distance_mm = ndimage.distance_transform_edt(padded, sampling=sampling)[1:-1, 1:-1]
        self.distance_mm = distance_mm - math.hypot(*sampling)
        self.skin_margin_mm = skin_margin_mm
        self.centres_mm = np.zeros((0, 2))
        self.radii_mm = np.zeros(0)

    def allowed_cells(self, extra_margin_mm: float = 0.0) -> np.ndarray:
        return np.flatnonzero(self.distance_mm.ravel() >= self.skin_margin_mm + extra_margin_mm)

    def random_point_px(self, rng: np.random.Generator, cells: np.ndarray) -> np.ndarray:
        cell = rng.choice(cells)
        r, c = np.unravel_index(cell, self.distance_mm.shape)
        jitter = rng.uniform(-0.5, 0.5, 2) * self.step
        return np.array([r * self.step, c * self.step], dtype=float) + jitter

    def inside(self, point_px: np.ndarray, extra_margin_mm: float = 0.0) -> bool:
        r, c = np.round(np.asarray(point_px) / self.step).astype(int)
        if not (0 <= r < self.distance_mm.shape[0] and 0 <= c < self.distance_mm.shape[1]):
            return False
        return bool(self.distance_mm[r, c] >= self.skin_margin_mm + extra_margin_mm)

    def to_mm(self, point_px: np.ndarray) -> np.ndarray:
        return np.asarray(point_px, dtype=float) * (self.row_mm, self.col_mm)

    def clearance_ok(self, point_px: np.ndarray, radius_mm: float, gap_mm: float) -> bool:
        if not self.radii_mm.size:
            return True
        distance = np.hypot(*(self.centres_mm - self.to_mm(point_px)).T)
        return bool(np.all(distance >= self.radii_mm + radius_mm + gap_mm))

    def add(self, point_px: np.ndarray, radius_mm: float) -> None:
        self.centres_mm = np.vstack([self.centres_mm, self.to_mm(point_px)])
        self.radii_mm = np.append(self.radii_mm, radius_mm)


def sample_calcification_specs(
    rng: np.random.Generator,
    breast_mask: np.ndarray,
    spacing_mm: float | tuple[float, float],
    n_clusters: int,
    n_singles: int,
    *,
    contrast_range: tuple[float, float] | None = None,
    cluster_size_range: tuple[int, int] = (6, 15),
    cluster_radius_range_mm: tuple[float, float] = (2.0, 5.5),
    diameter_range_mm: tuple[float, float] = DIAMETER_RANGE_MM,
    skin_margin_mm: float = 3.0,
    min_gap_mm: float = 0.15,
    min_gap_px: float = 3.0,
    cluster_clearance_mm: float = 6.0,
    max_attempts: int = 30,
) -> list[CalcificationSpec]:
    """Draw clusters and isolated calcifications inside the breast.

    Each cluster has 6-15 members whose centres fall in a disc of radius 2-5.5 mm
    (so more than 5 per cm^2, the radiological definition), members at least
    `skin_margin_mm` from the breast boundary (and from the image edge). No two
    calcifications come closer than (d1 + d2) / 2 + gap, where the gap is
    max(min_gap_mm, min_gap_px pixels) so that their masks never touch.
    Singles stay `cluster_clearance_mm` away from every clustered calcification
    and clusters as far from each other, so that cluster membership is
    unambiguous. Cluster ids are 1-based. Fewer are returned (with a warning)
    when the breast is too small to hold them.
    """
    breast_mask = np.asarray(breast_mask, dtype=bool)
    spacing = _as_spacing(spacing_mm)
    gap_mm = max(min_gap_mm, min_gap_px * max(spacing))
    place = _Placement(breast_mask, spacing, skin_margin_mm)
    specs: list[CalcificationSpec] = []
    if not place.allowed_cells().size:
        logger.warning("no breast pixel is %.1f mm from the boundary: no calcifications", skin_margin_mm)
        return specs

    cluster_centres_mm: list[np.ndarray] = []
    cluster_radii_mm: list[float] = []
    for cluster_index in range(n_clusters):
        cluster_id = cluster_index + 1
        placed = False
        for _ in range(max_attempts):
            radius_mm = float(rng.uniform(*cluster_radius_range_mm))
            cells = place.allowed_cells(extra_margin_mm=0.5 * radius_mm)
            if not cells.size:
                continue
            centre_px = place.random_point_px(rng, cells)
            centre_mm = place.to_mm(centre_px)
            if any(
                np.hypot(*(centre_mm - other)) < radius_mm + other_radius + cluster_clearance_mm
                for other, other_radius in zip(cluster_centres_mm, cluster_radii_mm)
            ):
                continue
            n_members = int(rng.integers(cluster_size_range[0], cluster_size_range[1] + 1))
            # Calcifications of one cluster often follow a duct: share a direction.
            cluster_orientation = float(rng.uniform(0.0, np.pi))
            drafts = [
                _draw_spec_shape(rng, diameter_range_mm, cluster_orientation + rng.normal(0.0, 0.35))
                for _ in range(n_members)
            ]
            drafts.sort(key=lambda d: -d["diameter_mm"])  # big ones first: they are hardest to fit
            # Place members in a copy, adopted only if the cluster is complete.
            trial = copy.copy(place)
            members: list[CalcificationSpec] = []
            for draft in drafts:
                for _ in range(60):
                    # Uniform in the disc.
                    r = radius_mm * math.sqrt(rng.uniform())
                    a = rng.uniform(0.0, 2 * np.pi)
                    point_mm = centre_mm + r * np.array([math.sin(a), math.cos(a)])
                    point_px = point_mm / spacing
                    if trial.inside(point_px) and trial.clearance_ok(point_px, draft["diameter_mm"] / 2, gap_mm):
                        trial.add(point_px, draft["diameter_mm"] / 2)
                        members.append(
                            CalcificationSpec(centre_px=(float(point_px[0]), float(point_px[1])),
                                              cluster_id=cluster_id, **draft)
                        )
                        break
            if len(members) >= cluster_size_range[0]:
                place = trial
                for spec, contrast in zip(members, sample_contrast(rng, len(members), contrast_range)):
                    spec.contrast = float(contrast)
                specs.extend(members)
                cluster_centres_mm.append(centre_mm)
                cluster_radii_mm.append(radius_mm)
                placed = True
                break
        if not placed:
            logger.warning("could not place cluster %d of %d in the breast", cluster_id, n_clusters)

    clustered_mm = place.centres_mm.copy()
    cells = place.allowed_cells()
    n_placed_singles = 0
    for _ in range(n_singles):
        draft = _draw_spec_shape(rng, diameter_range_mm)
        for _ in range(100):
            point_px = place.random_point_px(rng, cells)
            if clustered_mm.size and np.min(np.hypot(*(clustered_mm - place.to_mm(point_px)).T)) < cluster_clearance_mm:
                continue
            if place.clearance_ok(point_px, draft["diameter_mm"] / 2, gap_mm):
                place.add(point_px, draft["diameter_mm"] / 2)
                specs.append(
                    CalcificationSpec(
                        centre_px=(float(point_px[0]), float(point_px[1])),
                        contrast=float(sample_contrast(rng, 1, contrast_range)[0]),
                        cluster_id=None,
                        **draft,
                    )
                )
                n_placed_singles += 1
                break
    if n_placed_singles < n_singles:
        logger.warning("placed %d of %d isolated calcifications", n_placed_singles, n_singles)
    return specs
