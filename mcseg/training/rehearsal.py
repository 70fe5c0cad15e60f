"""Rehearsal images for a site's retraining: what the bundled networks knew, kept in view.

Retrained on one site's labels alone, the networks and their candidate classifier forget the images
unlike the site's (benchmarks/site_retraining.py). The generator's phantoms with synthetic
calcifications, at the pixel sizes of the band being retrained, are mixed into the patch store and
into the classifier's refit. They are generated once per workspace, band and count (a fixed seed, so
every retraining rehearses the same images) and named apart from any site image.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mcseg.defaults import COARSE_INPUT_MIN_SPACING_MM, REHEARSAL_SPACINGS_MM
from mcseg.synth import SynthConfig, generate_dataset
from mcseg.training.data import LabelledCase, find_cases

#: A fixed seed: the same rehearsal images on every retraining of a workspace.
REHEARSAL_SEED = 5101
REHEARSAL_PREFIX = "mcseg-rehearsal"


def rehearsal_band(route: str, labelled_spacing_mm: list[float] | None) -> str:
    """``coarse`` for the coarse networks; for the 0.07 mm ones ``native`` where the site's labels are
    native FFDM (COARSE_INPUT_MIN_SPACING_MM and coarser), else ``film``."""
    if route == "coarse":
        return "coarse"
    return "native" if labelled_spacing_mm and min(labelled_spacing_mm) >= COARSE_INPUT_MIN_SPACING_MM else "film"


def rehearsal_cases(workspace: str | Path, band: str, images: int, progress: bool = False) -> list[LabelledCase]:
    """``images`` labelled phantoms of ``band`` in ``workspace/rehearsal-<band>-<images>`` (made on first use)."""
    if images <= 0:
        return []
    if band not in REHEARSAL_SPACINGS_MM:
        raise ValueError(f"band must be one of {sorted(REHEARSAL_SPACINGS_MM)}, not {band!r}")
    folder = Path(workspace) / f"rehearsal-{band}-{images}"
    if not (folder / "done").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        # FFDM-like phantoms, 30% as 8-bit copies, contrast evenly 2-20 times the local noise: the
        # recipe of the classifier folders (scripts/train_fine_classifier.sh, train_coarse_classifier.sh)
        generate_dataset(folder, images, REHEARSAL_SEED, config=SynthConfig(contrast_range=(2.0, 20.0)),
                         progress=progress, prefix=REHEARSAL_PREFIX, spacings_mm=REHEARSAL_SPACINGS_MM[band],
                         ffdm_share=0.8, eight_bit_share=0.3)
        (folder / "done").touch()
    return find_cases(folder)
