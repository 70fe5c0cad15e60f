"""Write synthetic cases to disk and generate whole data sets.

Each case becomes three files next to each other:

    stem.dcm       the mammogram (MG, MONOCHROME2, uncompressed, spacing tags set)
    stem.gt.nrrd   the ground-truth mask (uint8, 1 = calcification), same grid
    stem.gt.json   the calcifications and clusters (see `case_to_json`)

Backgrounds come from `phantom.synthesize_background` or from real
mammograms (CBIS-DDSM digitised film) via `load_real_background`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from dataclasses import replace
from typing import Any, Iterable, NamedTuple, Sequence

import nrrd
import numpy as np
from skimage import transform
from tqdm import tqdm

from mcseg.io.dicom_write import write_mammogram_dicom
from mcseg.io.reader import read_mammogram
from mcseg.preprocess.breast import breast_mask
from mcseg.synth.calcifications import CONTRAST_BANDS
from mcseg.synth.phantom import (
    SynthCase,
    SynthConfig,
    infer_laterality,
    synthesize_case,
    synthesize_on_background,
)

logger = logging.getLogger(__name__)

MODES = ("synthetic", "real-background", "mixed")


# --- Writing ---------------------------------------------------------------------


def case_to_json(case: SynthCase, stem: str) -> dict[str, Any]:
    """The ground-truth record of a case (what goes into stem.gt.json)."""
    return {
        "image": f"{stem}.dcm",
        "mask": f"{stem}.gt.nrrd",
        "shape": [int(n) for n in case.image.shape],
        "spacing_mm": [float(v) for v in case.spacing_mm],
        "laterality": case.laterality,
        "source": case.source,
        "local_noise_std": float(case.local_noise_std),
        "contrast_unit": "peak added signal / local_noise_std (robust std of image minus 1 mm Gaussian low-pass in the breast)",
        "contrast_bands": {name: [lo, hi] for name, (lo, hi, _) in CONTRAST_BANDS.items()},
        "calcifications": case.calcifications,
        "clusters": case.clusters,
        **({"background_window_px": [int(v) for v in case.background_window_px]}
           if case.background_window_px is not None else {}),
    }


def background_findings_in_crop(case_doc: dict[str, Any], findings: list[dict[str, Any]],
                                background_spacing_mm: float) -> list[dict[str, Any]]:
    """``findings`` of a real background (``centre_px`` in its own pixel frame at
    ``background_spacing_mm``, ``radius_mm``) mapped into a case cut from it (``case_doc``: its gt.json,
    which records ``background_window_px``): those whose circle reaches into the crop, in its pixels."""
    window = case_doc.get("background_window_px")
    if window is None:
        raise ValueError(f"{case_doc.get('image')}: no background_window_px; regenerate the case")
    spacing = float(case_doc["spacing_mm"][0])
    rows, cols = case_doc["shape"]
    scale = background_spacing_mm / spacing
    out = []
    for finding in findings:
        # skimage.transform.rescale keeps pixel centres: x_new + 0.5 = (x_old + 0.5) * scale.
        r, c = ((v + 0.5) * scale - 0.5 - w for v, w in zip(finding["centre_px"], window))
        radius_px = float(finding["radius_mm"]) / spacing
        if -radius_px <= r < rows + radius_px and -radius_px <= c < cols + radius_px:
            out.append({**finding, "centre_px": [round(r, 2), round(c, 2)]})
    return out


def write_gt_nrrd(path: str | Path, gt_mask: np.ndarray, spacing_mm: tuple[float, float]) -> Path:
    """Write a 2-D uint8 mask as NRRD on the image's grid (origin 0, spacing (row_mm, col_mm)).

    The array is written in C order, so NRRD axis 0 (the fastest) is the
    column axis: its space direction is (col_mm, 0), that of the row axis (0, row_mm).
    ITK then reads size (cols, rows) and spacing (col_mm, row_mm).
    """
    row_mm, col_mm = (float(v) for v in spacing_mm)
    header = {
        "space dimension": 2,
        "space directions": np.array([[col_mm, 0.0], [0.0, row_mm]]),
        "space origin": np.array([0.0, 0.0]),
        "kinds": ["domain", "domain"],
        "encoding": "gzip",
    }
    path = Path(path)
    nrrd.write(str(path), np.ascontiguousarray(gt_mask, dtype=np.uint8), header, index_order="C")
    return path


def write_case(case: SynthCase, out_dir: str | Path, stem: str) -> dict[str, Path]:
    """Write stem.dcm, stem.gt.nrrd and stem.gt.json into out_dir; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # 14 bits stored covers synthetic images; digitised film needs the full 16.
    bits_stored = 14 if int(case.image.max(initial=0)) < 2**14 else 16
    image_path = write_mammogram_dicom(
        out_dir / f"{stem}.dcm",
        case.image,
        spacing_mm=case.spacing_mm,
        spacing_tag="both",
        modality="MG",
        photometric="MONOCHROME2",
        laterality=case.laterality,
        view="CC",
        bits_stored=bits_stored,
        patient_id=stem,
        series_description=f"mcseg synthetic ({case.source})",
        detector_type=case.detector_type,
    )
    mask_path = write_gt_nrrd(out_dir / f"{stem}.gt.nrrd", case.gt_mask, case.spacing_mm)
    json_path = out_dir / f"{stem}.gt.json"
    json_path.write_text(json.dumps(case_to_json(case, stem), indent=1))
    return {"image": image_path, "mask": mask_path, "json": json_path}


# --- Real backgrounds ------------------------------------------------------------


class RealBackground(NamedTuple):
    """A real mammogram resampled to the working pixel size."""

    image: np.ndarray  # float32, MONOCHROME2
    breast_mask: np.ndarray  # bool
    laterality: str | None  # from the DICOM tags, None when absent
    name: str
    detector_type: str | None = None  # DICOM DetectorType, which its crops carry (the anatomy is that detector's)


def read_background(
    dicom_path: str | Path,
    assumed_spacing_mm: float = 0.05,
    target_spacing_mm: float = 0.07,
) -> RealBackground:
    """Read a mammogram, bring it to target_spacing_mm and find its breast.

    The pixel size comes from ImagerPixelSpacing / PixelSpacing when present,
    else `assumed_spacing_mm` (CBIS-DDSM carries none). MONOCHROME1 is inverted
    so that calcifications are bright.
    """
    dicom_path = Path(dicom_path)
    mammo = read_mammogram(dicom_path, fallback_spacing_mm=assumed_spacing_mm)
    pixels = mammo.pixels
    row_mm, col_mm = mammo.spacing_mm
    scale = (row_mm / target_spacing_mm, col_mm / target_spacing_mm)
    if not np.allclose(scale, 1.0):
        pixels = transform.rescale(
            pixels, scale, order=1, anti_aliasing=min(scale) < 1, preserve_range=True
        ).astype(np.float32)
    # The project's own breast mask: the same one the pipeline uses.
    mask = breast_mask(pixels, target_spacing_mm)
    laterality = mammo.laterality
    return RealBackground(pixels, mask, laterality if laterality in ("L", "R") else None, dicom_path.name,
                          mammo.detector_type)


def random_breast_crop(
    image: np.ndarray,
    breast_mask: np.ndarray,
    crop_shape_px: tuple[int, int] | None,
    rng: np.random.Generator,
    min_breast_fraction: float = 0.6,
) -> tuple[np.ndarray, np.ndarray]:
    """A random crop_shape_px window with at least min_breast_fraction breast pixels.

    A dimension larger than the image is clipped to it; None keeps the whole
    image. When no window is breast enough, the most breast one is taken.
    """
    window = random_breast_window(breast_mask, crop_shape_px, rng, min_breast_fraction)
    return image[window].copy(), breast_mask[window].copy()


def random_breast_window(
    breast_mask: np.ndarray,
    crop_shape_px: tuple[int, int] | None,
    rng: np.random.Generator,
    min_breast_fraction: float = 0.6,
) -> tuple[slice, slice]:
    """The window :func:`random_breast_crop` cuts (the same draws from ``rng``)."""
    if crop_shape_px is None:
        return slice(0, breast_mask.shape[0]), slice(0, breast_mask.shape[1])
    rows, cols = breast_mask.shape
    crop_rows, crop_cols = min(crop_shape_px[0], rows), min(crop_shape_px[1], cols)
    if (crop_rows, crop_cols) != tuple(crop_shape_px):
        logger.warning("crop %s larger than the image %s: cropping %s", crop_shape_px, breast_mask.shape, (crop_rows, crop_cols))
    # Summed-area table: breast pixel count of every window, on a grid of top-left corners.
    table = np.zeros((rows + 1, cols + 1), np.int64)
    table[1:, 1:] = breast_mask.cumsum(0).cumsum(1)
    step = 8
    top = np.arange(0, rows - crop_rows + 1, step)
    left = np.arange(0, cols - crop_cols + 1, step)
    counts = (
        table[top[:, None] + crop_rows, left[None, :] + crop_cols]
        - table[top[:, None], left[None, :] + crop_cols]
        - table[top[:, None] + crop_rows, left[None, :]]
        + table[top[:, None], left[None, :]]
    )
    fraction = counts / float(crop_rows * crop_cols)
    valid = np.flatnonzero(fraction.ravel() >= min_breast_fraction)
    if valid.size:
        choice = rng.choice(valid)
    else:
        choice = int(np.argmax(fraction))
        logger.warning("no crop is %.0f%% breast; taking one with %.0f%%",
                       100 * min_breast_fraction, 100 * fraction.ravel()[choice])
    i, j = np.unravel_index(choice, fraction.shape)
    return slice(int(top[i]), int(top[i]) + crop_rows), slice(int(left[j]), int(left[j]) + crop_cols)


def load_real_background(
    dicom_path: str | Path,
    assumed_spacing_mm: float = 0.05,
    target_spacing_mm: float = 0.07,
    crop_shape_px: tuple[int, int] | None = (1400, 1000),
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A real mammogram at target_spacing_mm, cropped to a mostly-breast window: (float32 image, breast mask)."""
    rng = np.random.default_rng() if rng is None else rng
    background = read_background(dicom_path, assumed_spacing_mm, target_spacing_mm)
    return random_breast_crop(background.image, background.breast_mask, crop_shape_px, rng)


# --- Data sets ---------------------------------------------------------------------


def generate_dataset(
    out_dir: str | Path,
    n_images: int,
    seed: int,
    mode: str = "synthetic",
    backgrounds: Iterable[str | Path] = (),
    config: SynthConfig = SynthConfig(),
    progress: bool = True,
    assumed_spacing_mm: float = 0.05,
    prefix: str = "synth",
    *,
    real_share: float = 0.5,
    spacings_mm: Sequence[float] = (),
    ffdm_share: float = 0.0,
    eight_bit_share: float = 0.0,
) -> list[dict[str, Path]]:
    """Write n_images cases as {prefix}_0000.* ... into out_dir; return their paths.

    Image i uses np.random.default_rng([seed, i]), so any one image can be
    regenerated alone. mode "real-background" inserts the calcifications into a
    random crop (config.shape_px, at config.spacing_mm) of one of `backgrounds`;
    "mixed" makes each image real-background with probability `real_share`.

    The options that widen the set to what users have (each drawn per image, only when given,
    so sets made without them are unchanged):
    `spacings_mm`: the image's pixel size is one of these (the field of view of config.shape_px
    at config.spacing_mm is kept; a real background is never made finer than its own pixel);
    `ffdm_share`: a synthetic image is FFDM-like (`SynthConfig.style` "ffdm") with this probability;
    `eight_bit_share`: the image is stored as 8-bit values in 16 bits with this probability.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    backgrounds = [Path(p) for p in backgrounds]
    if mode != "synthetic" and not backgrounds:
        raise ValueError(f"mode {mode!r} needs at least one background DICOM")
    if any(not 0.0 <= v <= 1.0 for v in (real_share, ffdm_share, eight_bit_share)):
        raise ValueError("real_share, ffdm_share and eight_bit_share are probabilities in [0, 1]")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    field_mm = (config.shape_px[0] * config.spacing_mm, config.shape_px[1] * config.spacing_mm)
    # Decoding and resampling a film takes seconds: keep each one read, per pixel size.
    cache: dict[tuple[Path, float], RealBackground] = {}
    native_mm: dict[Path, float] = {}
    written: list[dict[str, Path]] = []
    for index in tqdm(range(n_images), desc="synthetic mammograms", disable=not progress, unit="image"):
        rng = np.random.default_rng([seed, index])
        use_real = mode == "real-background" or (mode == "mixed" and rng.uniform() < real_share)
        image_config = config
        if spacings_mm:
            image_config = _at_spacing(image_config, field_mm, float(spacings_mm[int(rng.integers(len(spacings_mm)))]))
        if eight_bit_share:
            image_config = replace(image_config, eight_bit=bool(rng.uniform() < eight_bit_share))
        if use_real:
            path = backgrounds[int(rng.integers(len(backgrounds)))]
            if spacings_mm:
                if path not in native_mm:
                    native_mm[path] = min(read_mammogram(path, fallback_spacing_mm=assumed_spacing_mm).spacing_mm)
                if image_config.spacing_mm < native_mm[path]:
                    image_config = _at_spacing(image_config, field_mm, float(native_mm[path]))
            key = (path, float(image_config.spacing_mm))
            if key not in cache:
                cache[key] = read_background(path, assumed_spacing_mm, image_config.spacing_mm)
            background = cache[key]
            window = random_breast_window(background.breast_mask, image_config.shape_px, rng)
            image, mask = background.image[window].copy(), background.breast_mask[window].copy()
            laterality = background.laterality or infer_laterality(background.breast_mask)
            case = synthesize_on_background(rng, image, mask, image_config, laterality=laterality, source=path.name)
            case.background_window_px = (window[0].start, window[1].start)
            case.detector_type = background.detector_type
        else:
            if ffdm_share:
                image_config = replace(image_config, style="ffdm" if rng.uniform() < ffdm_share else "phantom")
            case = synthesize_case(rng, image_config)
        written.append(write_case(case, out_dir, f"{prefix}_{index:04d}"))
    return written


def _at_spacing(config: SynthConfig, field_mm: tuple[float, float], spacing_mm: float) -> SynthConfig:
    """``config`` at another pixel size, keeping the field of view."""
    return replace(config, spacing_mm=spacing_mm,
                   shape_px=(int(round(field_mm[0] / spacing_mm)), int(round(field_mm[1] / spacing_mm))))


# --- Real negatives ------------------------------------------------------------------


def write_negative(source: str | Path, out_dir: str | Path, stem: str,
                   spacing_mm: float | None = None, eight_bit_in_16: bool = True,
                   masses: list[tuple[float, float, float]] | None = None) -> dict[str, Path]:
    """A real mammogram without calcifications as a training case: stem.dcm, an empty stem.gt.nrrd, stem.gt.json.

    The image is stored as MG DICOM with its pixel size (``spacing_mm`` for files that carry none,
    such as mini-MIAS PNGs at 0.2 mm); 8-bit sources are stored x 257 in 16 bits, as anonymised
    copies often come. With ``masses`` (row, col, radius in pixels: mini-MIAS's circles), the label
    holds those discs instead, and stem.gt.json lists them as masses.
    """
    mammo = read_mammogram(source, spacing_mm=spacing_mm)
    pixels = np.clip(np.rint(mammo.pixels), 0, 65535).astype(np.uint16)
    if eight_bit_in_16 and int(pixels.max(initial=0)) <= 255:
        pixels = pixels * np.uint16(257)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    laterality = mammo.laterality if mammo.laterality in ("L", "R") else None
    image_path = write_mammogram_dicom(
        out_dir / f"{stem}.dcm", pixels, spacing_mm=mammo.spacing_mm, spacing_tag="both", modality="MG",
        photometric="MONOCHROME2", laterality=laterality, view="MLO",
        bits_stored=16 if int(pixels.max(initial=0)) >= 2**14 else 14, patient_id=stem,
        series_description=f"mcseg real negative ({Path(source).name})")
    label = np.zeros(pixels.shape, np.uint8)
    rows, cols = np.ogrid[:pixels.shape[0], :pixels.shape[1]]
    for r, c, radius in masses or []:
        label[(rows - r) ** 2 + (cols - c) ** 2 <= radius ** 2] = 1
    mask_path = write_gt_nrrd(out_dir / f"{stem}.gt.nrrd", label, mammo.spacing_mm)
    json_path = out_dir / f"{stem}.gt.json"
    json_path.write_text(json.dumps({
        "image": f"{stem}.dcm", "mask": f"{stem}.gt.nrrd", "shape": [int(n) for n in pixels.shape],
        "spacing_mm": [float(v) for v in mammo.spacing_mm], "laterality": laterality,
        "source": f"real {'mass case' if masses else 'negative'}: {Path(source).name}", "calcifications": [],
        "clusters": [], **({"masses": [{"centre_px": [float(r), float(c)], "radius_px": float(radius)}
                                       for r, c, radius in masses]} if masses else {})}, indent=1))
    return {"image": image_path, "mask": mask_path, "json": json_path}
