"""The plain-entropy score the active-learning experiment compares uncertain_c2c3 with."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mcseg.activelearning import entropy_score, score_image
from mcseg.io import read_mammogram
from mcseg.io.dicom_write import write_mammogram_dicom
from mcseg.pipeline import Pipeline
from mcseg.synth import SynthConfig, synthesize_case


def test_entropy_score_is_bounded_ranks_tiles_matches_the_scorer_and_is_zero_without_a_flagged_window(tmp_path):
    case = synthesize_case(np.random.default_rng(5), SynthConfig(shape_px=(400, 320), contrast_range=(3, 8)))
    mammo = read_mammogram(write_mammogram_dicom(tmp_path / "s.dcm", case.image, spacing_mm=(0.07, 0.07)))
    pipeline = Pipeline.from_weights()
    ten, one = entropy_score(pipeline, mammo), entropy_score(pipeline, mammo, top_k=1)
    # Faint calcifications in tissue leave some pixels undecided; entropy is at most 1 bit.
    assert 0.0 < ten <= one <= 1.0
    # The app's scorer computes it from the first of its views, in the same pass: the same number.
    assert score_image(pipeline, mammo).entropy == ten
    # Both score with the networks that serve the image (0.07 mm: the native ones, with the band classifier
    # since this phantom names no detector; 0.05 mm film: the 0.07 mm film networks; 0.12 mm: the coarse ones),
    # whose labels retrain those networks.
    assert pipeline.route_of(mammo.spacing_mm) == "native-band" and pipeline.for_input(mammo) is pipeline.native_band
    assert pipeline.native_band.segmentator is pipeline.segmentator and pipeline.training_route_of(mammo.spacing_mm) == "fine"
    film = read_mammogram(tmp_path / "s.dcm", spacing_mm=0.05)
    assert pipeline.for_input(film) is pipeline.fallback
    assert entropy_score(pipeline, film) == entropy_score(Pipeline.from_weights(coarse_dir=None), film)
    coarse = read_mammogram(tmp_path / "s.dcm", spacing_mm=0.12)
    assert entropy_score(pipeline, coarse) == entropy_score(pipeline.coarse, coarse)
    # A detector that flags no window leaves the segmentator nothing to be unsure about.
    served = pipeline.for_input(mammo)
    served.config = replace(served.config, detector_threshold=1.01)
    assert entropy_score(pipeline, mammo) == 0.0
