"""Synthetic mammograms with microcalcifications and exact ground truth.

    calcifications  one calcification on a pixel grid (round, irregular, linear),
                    and the sampler of clusters and isolated calcifications
    phantom         the CC-view breast background, insertion, `SynthCase`
    dataset         writing cases (DICOM + NRRD mask + JSON) and whole data sets,
                    real (CBIS-DDSM film) backgrounds

Contrast is measured in units of `local_noise_std` of the background (see
`calcifications` for the faint / medium / obvious bands).
"""

from mcseg.synth.calcifications import (
    CONTRAST_BANDS,
    CalcificationSpec,
    render_calcification,
    sample_calcification_specs,
)
from mcseg.synth.dataset import (
    generate_dataset,
    load_real_background,
    read_background,
    write_case,
)
from mcseg.synth.phantom import (
    SynthCase,
    SynthConfig,
    insert_calcifications,
    local_noise_std,
    synthesize_background,
    synthesize_case,
    synthesize_on_background,
)

__all__ = [
    "CONTRAST_BANDS",
    "CalcificationSpec",
    "SynthCase",
    "SynthConfig",
    "generate_dataset",
    "insert_calcifications",
    "load_real_background",
    "local_noise_std",
    "read_background",
    "render_calcification",
    "sample_calcification_specs",
    "synthesize_background",
    "synthesize_case",
    "synthesize_on_background",
    "write_case",
]
