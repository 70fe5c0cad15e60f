"""The second-stage candidate classifier: its features, its file, its place in the pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA

from mcseg.defaults import PipelineConfig
from mcseg.fp_reduction import FEATURE_NAMES, CandidateClassifier, ClassifierError, candidate_features
from mcseg.io import read_mammogram
from mcseg.pipeline import Pipeline
from mcseg.training.candidate_classifier import Harvest, fit_classifier

SPACING = 0.07


def _image_with_blob_and_line(rng):
    image = rng.normal(0, 1, (200, 200)).astype(np.float32)
    yy, xx = np.mgrid[:200, :200]
    image += 8 * np.exp(-((yy - 60) ** 2 + (xx - 60) ** 2) / (2 * 2.0 ** 2))       # a 0.3 mm blob
    image += 8 * np.exp(-((xx - 140) ** 2) / (2 * 2.0 ** 2)) * (yy > 100)             # a vertical line
    return image


def test_features_tell_a_blob_from_a_line():
    rng = np.random.default_rng(0)
    image = _image_with_blob_and_line(rng)
    breast = np.ones(image.shape, bool)
    prob = np.zeros(image.shape, np.float32)
    peaks = np.array([[60, 60], [150, 140], [30, 170]])          # blob, line, plain background
    prob[peaks[:, 0], peaks[:, 1]] = 0.9
    f = candidate_features(image, breast, prob, None, peaks, np.array([0.9, 0.9, 0.9]), np.array([20, 20, 1]),
                           SPACING, 0.1)
    assert f.shape == (3, len(FEATURE_NAMES)) and f.dtype == np.float32
    col = {name: f[:, i] for i, name in enumerate(FEATURE_NAMES)}
    # A blob's two Hessian eigenvalues are alike (ratio near 1), a line's are not (near 0).
    assert col["hessian_ratio_0.14"][0] > 0.6 and abs(col["hessian_ratio_0.14"][1]) < 0.3
    assert col["cnr"][0] > 5 and col["cnr"][2] < 4
    assert col["input_spacing_mm"].tolist() == pytest.approx([0.1] * 3)
    assert col["neighbours_10mm"][0] == pytest.approx(np.log1p(2))   # 2 other candidates within 10 mm


def test_candidates_at_the_image_edge_give_finite_features():
    image = np.zeros((50, 50), np.float32)
    f = candidate_features(image, np.zeros((50, 50), bool), np.zeros((50, 50), np.float32), None,
                           np.array([[0, 0], [49, 49]]), np.array([0.2, 0.3]), np.array([1, 1]), SPACING, 0.07)
    assert np.isfinite(f).all()


def _toy_harvest(rng, images=40):
    """Candidates whose truth depends on two features jointly (score alone ranks them poorly)."""
    rows, hits, image, ids = [], [], [], []
    for i in range(images):
        n = 60
        x = rng.normal(0, 1, (n, len(FEATURE_NAMES))).astype(np.float32)
        truth = rng.uniform(size=n) < 0.1
        x[truth, FEATURE_NAMES.index("cnr")] += 3.0
        x[:, 0] = rng.uniform(0.1, 1.0, n)                        # the segmentator score: uninformative
        rows.append(x), hits.append(truth), image.append(np.full(n, i)), ids.append(f"img{i:03d}.dcm")
    hits_all = np.concatenate(hits)
    return Harvest(np.concatenate(rows), hits_all, np.concatenate(image), ids,
                   np.array([h.sum() for h in hits]))


def test_fit_learns_what_the_score_misses_and_the_file_round_trips(tmp_path):
    harvest = _toy_harvest(np.random.default_rng(1))
    clf, report = fit_classifier(harvest, on_message=lambda m: None)
    sens = report["validation"]["sensitivity_at_1_fppi"]
    assert sens["classifier"] > sens["segmentator_score"] + 0.3 and report["adopt"]
    assert 0 < clf.operating_threshold < 1
    path = clf.save(tmp_path / "candidate_classifier.npz")
    again = CandidateClassifier.load(path)
    np.testing.assert_allclose(again.predict(harvest.features[:50]), clf.predict(harvest.features[:50]), rtol=1e-6)
    assert again.operating_threshold == clf.operating_threshold


def test_the_operating_threshold_is_one_false_positive_per_typical_mammogram():
    """Validation crops of a quarter of a typical breast area: a quarter of a false positive per crop,
    so a higher threshold than one per crop; without recorded areas, one per image as before."""
    from mcseg.defaults import TYPICAL_BREAST_AREA_CM2
    from mcseg.training.candidate_classifier import calibration

    harvest = _toy_harvest(np.random.default_rng(1))
    per_image, report_a = fit_classifier(harvest, on_message=lambda m: None)
    assert report_a["calibration"]["fp_per_image"] == 1.0
    harvest.breast_cm2 = np.full(len(harvest.ids), TYPICAL_BREAST_AREA_CM2 / 4)
    per_area, report_b = fit_classifier(harvest, on_message=lambda m: None)
    assert report_b["calibration"]["fp_per_image"] == 0.25
    assert per_area.operating_threshold > per_image.operating_threshold
    assert calibration(harvest, np.arange(2))["fp_per_typical_mammogram"] == 1.0


def test_the_classifier_says_how_its_candidates_are_listed(tmp_path):
    """A harvest of peak candidates yields a classifier that records the separation; a pipeline that
    loads it lists peaks, unless the caller set the kind; one fitted by region leaves it unset."""
    from mcseg.fp_reduction import PEAK_SEPARATION_META

    harvest = _toy_harvest(np.random.default_rng(1))
    by_region, _ = fit_classifier(harvest, on_message=lambda m: None)
    assert PEAK_SEPARATION_META not in by_region.meta
    harvest.peak_separation_mm = 0.28
    harvest.save(tmp_path / "candidates.npz")
    assert Harvest.load(tmp_path / "candidates.npz").peak_separation_mm == 0.28
    by_peak, _ = fit_classifier(harvest, on_message=lambda m: None)
    path = by_peak.save(tmp_path / "candidate_classifier.npz")
    base = Pipeline.from_weights(classifier_path=None)
    assert base.config.candidate_peak_separation_mm is None
    loaded = Pipeline.from_weights(classifier_path=path, coarse_dir=None)
    assert loaded.config.candidate_peak_separation_mm == 0.28
    assert loaded.weights["candidate_classifier"][PEAK_SEPARATION_META] == 0.28
    told = Pipeline(base.detector, base.segmentator, base.config.with_(candidate_peak_separation_mm=0.5), {},
                    CandidateClassifier.load(path))
    assert told.config.candidate_peak_separation_mm == 0.5
    assert Pipeline(base.detector, base.segmentator, base.config, {}, by_region).config.candidate_peak_separation_mm \
        is None


def test_the_classifier_says_how_many_symmetry_views_its_scores_averaged(tmp_path):
    """Its features (the score, the views' spread) depend on the views: a pipeline that loads a
    classifier fitted on 2-view candidates averages 2 unless told otherwise; none recorded: 8.
    Likewise the segmentator threshold its candidates were listed at."""
    from mcseg.defaults import SEGMENTATOR_SYMMETRIES
    from mcseg.fp_reduction import SYMMETRIES_META

    harvest = _toy_harvest(np.random.default_rng(1))
    unrecorded, _ = fit_classifier(harvest, on_message=lambda m: None)
    assert SYMMETRIES_META not in unrecorded.meta
    harvest.symmetries, harvest.listing_threshold = 2, 0.7
    harvest.save(tmp_path / "candidates.npz")
    again = Harvest.load(tmp_path / "candidates.npz")
    assert (again.symmetries, again.listing_threshold) == (2, 0.7)
    two, _ = fit_classifier(harvest, on_message=lambda m: None)
    path = two.save(tmp_path / "candidate_classifier.npz")
    loaded = Pipeline.from_weights(classifier_path=path, coarse_dir=None)
    assert loaded.config.segmentator_symmetries == 2
    assert loaded.config.operating_threshold == 0.7  # candidates listed as in the fit
    assert loaded.weights["candidate_classifier"][SYMMETRIES_META] == 2
    told = Pipeline.from_weights(config=PipelineConfig(segmentator_symmetries=4), classifier_path=path, coarse_dir=None)
    assert told.config.segmentator_symmetries == 4
    alone = Pipeline.from_weights(config=PipelineConfig(use_candidate_classifier=False), classifier_path=path,
                                  coarse_dir=None)
    assert alone.config.segmentator_symmetries == SEGMENTATOR_SYMMETRIES
    assert Pipeline.from_weights(classifier_path=unrecorded.save(tmp_path / "c8.npz"), coarse_dir=None).config \
        .segmentator_symmetries == SEGMENTATOR_SYMMETRIES


def test_a_classifier_for_other_features_is_refused(tmp_path):
    clf = CandidateClassifier(np.zeros(3), np.ones(3), [np.ones((3, 1))], [np.zeros(1)], 0.5, ("a", "b", "c"))
    clf.save(tmp_path / "c.npz")
    with pytest.raises(ClassifierError, match="other features"):
        CandidateClassifier.load(tmp_path / "c.npz")
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(ClassifierError):
        CandidateClassifier.load(tmp_path / "bad.npz")


def test_pipeline_rescoring_by_a_monotone_classifier_keeps_the_calcifications():
    """A classifier that is a steep monotone function of the segmentator score, with its threshold at the
    operating threshold's image, must put exactly the same calcifications in the mask."""
    # The operating threshold deciding alone (explicit: the calibration's decision thresholds step aside).
    t = Pipeline.from_weights(classifier_path=None, coarse_dir=None).config.operating_threshold
    base = Pipeline.from_weights(config=PipelineConfig(operating_threshold=t), classifier_path=None, coarse_dir=None)
    assert base.score_decision is None
    k = len(FEATURE_NAMES)
    mean, scale = np.zeros(k), np.ones(k)
    w = np.zeros((k, 1))
    w[0, 0] = 200.0
    clf = CandidateClassifier(mean, scale, [w], [np.array([-200.0 * t])], operating_threshold=0.5)
    rescored = Pipeline(base.detector, base.segmentator, base.config, base.weights, clf)
    mammo = read_mammogram(DATA / "demo" / "demo_synthetic_0001.dcm")
    a, b = base.run(mammo), rescored.run(mammo)
    in_a = sorted(tuple(c["centroid_px"]) for c in a.calcifications if c["in_mask"])
    in_b = sorted(tuple(c["centroid_px"]) for c in b.calcifications if c["in_mask"])
    assert in_a == in_b and len(in_a) > 5
    assert all("segmentator_score" in c for c in b.calcifications)
    assert [c["score"] for c in b.calcifications] == sorted((c["score"] for c in b.calcifications), reverse=True)
    inter = np.logical_and(a.mask, b.mask).sum()
    assert 2 * inter / (a.mask.sum() + b.mask.sum()) > 0.97
    assert b.weights["candidate_classifier"]["operating_threshold"] == 0.5


def test_a_site_can_move_the_classifier_threshold():
    """--classifier-threshold: lower puts more of the same candidates in the mask, higher fewer."""
    mammo = read_mammogram(DATA / "demo" / "demo_synthetic_0001.dcm")
    counts = {}
    for threshold in (None, 0.05, 0.999):
        pipeline = Pipeline.from_weights(config=PipelineConfig(classifier_threshold=threshold))
        result = pipeline.run(mammo)
        counts[threshold] = sum(c["in_mask"] for c in result.calcifications)
        assert result.settings["classifier_threshold"] == threshold
    assert counts[0.05] > counts[None] > counts[0.999], counts


def test_clustered_candidates_join_the_mask_from_the_lower_bar():
    """With a strict operating threshold, candidates above the cluster threshold join the mask only
    where they form a cluster: more in the mask than without, and every added one in a cluster."""
    mammo = read_mammogram(DATA / "demo" / "demo_synthetic_0001.dcm")
    runs = {}
    for cluster_threshold in (1.0, 0.05):
        config = PipelineConfig(classifier_threshold=0.999, cluster_threshold=cluster_threshold)
        runs[cluster_threshold] = Pipeline.from_weights(config=config).run(mammo)
    strict = {c["id"] for c in runs[1.0].calcifications if c["in_mask"]}
    lenient = runs[0.05]
    added = {c["id"] for c in lenient.calcifications if c["in_mask"]} - strict
    assert added, "the demo image's clusters should bring weaker members in"
    clustered = {m for cl in lenient.clusters for m in cl["members"]}
    assert added <= clustered
    weak_alone = [c for c in lenient.calcifications if c["score"] >= 0.05 and c["id"] not in clustered]
    assert weak_alone and not any(c["in_mask"] for c in weak_alone if c["score"] < 0.999)


def test_a_decision_view_shares_the_networks_and_leaves_the_pipeline_as_it_was():
    """with_decisions: another operating point for one request, the same as a pipeline built with it."""
    mammo = read_mammogram(DATA / "demo" / "demo_synthetic_0001.dcm")
    base = Pipeline.from_weights()
    view = base.with_decisions(classifier_threshold=0.999, cluster_threshold=None)
    assert view.segmentator is base.segmentator and view.dense_runner() is base.dense_runner()
    assert base.config.classifier_threshold is None and view.config.classifier_threshold == 0.999
    assert base.with_decisions(classifier_threshold=None) is base
    built = Pipeline.from_weights(config=PipelineConfig(classifier_threshold=0.999)).run(mammo)
    assert np.array_equal(view.run(mammo).mask, built.mask)
    with pytest.raises(ValueError, match="not decision settings"):
        base.with_decisions(operating_threshold=0.1)


def test_a_classifier_is_harvested_from_the_networks_it_is_fitted_to(tmp_path):
    """`mcseg train-classifier` with the bundled 0.07 mm networks harvests 0.07 mm images with those
    networks, not with the coarse ones the bundled pipeline routes such inputs to (it did until
    2026-12-07, once 0.06 mm and coarser went to the coarse weights)."""
    from mcseg.synth import SynthConfig, generate_dataset
    from mcseg.training import find_cases
    from mcseg.training.candidate_classifier import harvest, train_candidate_classifier

    data = tmp_path / "data"
    generate_dataset(data, 2, seed=12, config=SynthConfig(shape_px=(360, 300), contrast_range=(6.0, 15.0)),
                     progress=False)
    try:
        train_candidate_classifier([data], tmp_path / "out", progress=False, on_message=lambda m: None)
    except ValueError:
        pass  # two small images may be too few to fit; the harvest is cached before the fit
    cached = Harvest.load(tmp_path / "out" / "candidates.npz")
    cases = find_cases(data)
    fine = harvest(Pipeline.from_weights(classifier_path=None, coarse_dir=None), cases, progress=False)
    routed = harvest(Pipeline.from_weights(classifier_path=None), cases, progress=False)
    assert cached.features.shape == fine.features.shape and np.allclose(cached.features, fine.features)
    assert routed.features.shape != fine.features.shape or not np.allclose(routed.features, fine.features)
