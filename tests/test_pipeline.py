"""The pipeline with the bundled default weights: output contract, geometry, orientation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import CBIS_DICOM, DATA

from mcseg.cli import main as cli_main
from mcseg.evaluation import match_listed, pixel_dice
from mcseg.io import read_mammogram
from mcseg.io.dicom_write import write_mammogram_dicom
from mcseg.pipeline import Pipeline
from mcseg.preprocess import breast_mask
from mcseg.defaults import OPERATING_THRESHOLD, WORKING_SPACING_MM, PipelineConfig
from mcseg.io import read_label

DEMO = DATA / "demo" / "demo_synthetic_0001.dcm"
DEMO_TRUTH = DATA / "demo" / "demo_synthetic_0001.gt.nrrd"


@pytest.fixture(scope="module")
def pipeline():
    """The 0.07 mm weights. They serve film and inputs finer than 0.06 mm by default, and every
    input of a site that moves the coarse edge; the demo image (0.07 mm) goes to the coarse weights
    by default, which test_coarse_weights_serve_coarse_inputs and the CLI contract cover."""
    return Pipeline.from_weights(coarse_dir=None)


@pytest.fixture(scope="module")
def demo_result(pipeline):
    return pipeline.run(read_mammogram(DEMO))


def test_breast_mask_on_real_film():
    m = read_mammogram(CBIS_DICOM)
    breast = breast_mask(m.pixels, m.spacing_mm[0])
    assert 0.15 < breast.mean() < 0.45
    # Right breast: the chest wall is the right edge, the breast leans on it.
    assert breast[:, -5:].mean() > 0.4 and breast[:, :5].mean() == 0
    # The burnt-in "RCC" label (top left) and the film borders are not breast.
    assert not breast[:600, :900].any()
    assert not breast[-20:, :].any() and not breast[:20, :].any()


def test_output_contract(tmp_path, demo_result):
    assert cli_main(["segment", str(DEMO), "-o", str(tmp_path), "--no-progress"]) == 0
    doc = json.loads((tmp_path / "demo_synthetic_0001.json").read_text())
    assert doc["image"] == "demo_synthetic_0001.dcm"
    assert doc["shape"] == [1400, 1000] and doc["spacing_mm"] == [0.07, 0.07]
    assert doc["calcifications"] and isinstance(doc["seconds"], float)
    for c in doc["calcifications"]:
        assert set(c) >= {"id", "centroid_px", "area_mm2", "score"}
        assert 0 <= c["centroid_px"][0] < 1400 and 0 <= c["centroid_px"][1] < 1000
        # score: the candidate classifier's probability; the segmentator's own reaches the candidate threshold
        assert 0 <= c["score"] <= 1 and 0.1 <= c["segmentator_score"] <= 1 and c["area_mm2"] > 0
    ids = {c["id"] for c in doc["calcifications"]}
    assert doc["clusters"], "the demo image holds a cluster; none was reported"
    for k in doc["clusters"]:
        assert set(k) >= {"id", "members", "centroid_px", "bbox_px", "score"}
        assert len(k["members"]) >= 6 and set(k["members"]) <= ids
        r0, c0, r1, c1 = k["bbox_px"]
        assert r0 <= k["centroid_px"][0] <= r1 and c0 <= k["centroid_px"][1] <= c1
    assert doc["input"]["spacing_source"] == "PixelSpacing"
    assert "detector" in doc["weights"] and "segmentator" in doc["weights"]
    # The mask lies on the image: same size, spacing, origin as ITK reads the DICOM.
    mask = sitk.ReadImage(str(tmp_path / "demo_synthetic_0001.mask.nrrd"))
    image = sitk.ReadImage(str(DEMO))
    assert mask.GetSize() == image.GetSize()[:2]
    assert mask.GetSpacing() == pytest.approx(image.GetSpacing()[:2])
    assert mask.GetOrigin() == pytest.approx(image.GetOrigin()[:2])
    assert mask.GetPixelID() == sitk.sitkUInt8
    arr = sitk.GetArrayFromImage(mask)
    in_mask = [c for c in doc["calcifications"] if c["in_mask"]]
    assert len(in_mask) >= 10 and not all(c["in_mask"] for c in doc["calcifications"])
    assert int(arr.max()) == 1 and arr.sum() > 0
    for c in in_mask[:10]:
        r, col = np.round(c["centroid_px"]).astype(int)
        assert arr[max(r - 2, 0) : r + 3, max(col - 2, 0) : col + 3].any()


def test_every_calcification_says_how_much_the_views_disagree(demo_result):
    calcs = demo_result.calcifications
    u = np.array([c["uncertainty"] for c in calcs])
    score = np.array([c.get("segmentator_score", c["score"]) for c in calcs])
    assert ((0 <= u) & (u <= 0.5)).all()
    # Measured on this image: median 0.001 for scores above 0.95, 0.095 for scores of 0.2-0.6.
    assert np.median(u[score > 0.95]) < 0.02 < np.median(u[(score > 0.2) & (score < 0.6)])


def test_weights_fill_unset_settings_and_explicit_ones_win():
    from mcseg.fp_reduction import LISTING_THRESHOLD_META

    # The networks alone decide at the segmentator's calibrated threshold; with the candidate
    # classifier, candidates are listed at the threshold recorded in its fit.
    bundled = Pipeline.from_weights(config=PipelineConfig(use_candidate_classifier=False))
    calibrated = bundled.weights["segmentator"]["operating_threshold"]
    assert calibrated != OPERATING_THRESHOLD
    assert bundled.config.operating_threshold == calibrated
    listing = Pipeline.from_weights()
    recorded = listing.weights["candidate_classifier"][LISTING_THRESHOLD_META]
    assert listing.config.operating_threshold == recorded
    assert bundled.config.working_spacing_mm == WORKING_SPACING_MM
    # A value equal to the default is still an explicit choice.
    explicit = Pipeline.from_weights(config=PipelineConfig(operating_threshold=OPERATING_THRESHOLD,
                                                           working_spacing_mm=0.1))
    assert explicit.config.operating_threshold == OPERATING_THRESHOLD
    assert explicit.config.working_spacing_mm == 0.1
    from mcseg.cli import _pipeline_from_args, build_parser

    args = build_parser().parse_args(["segment", "x.dcm", "--operating-threshold", str(OPERATING_THRESHOLD)])
    assert _pipeline_from_args(args).config.operating_threshold == OPERATING_THRESHOLD
    args = build_parser().parse_args(["segment", "x.dcm"])
    assert _pipeline_from_args(args).config.operating_threshold == recorded
    args = build_parser().parse_args(["segment", "x.dcm", "--no-candidate-classifier"])
    assert _pipeline_from_args(args).config.operating_threshold == calibrated


def test_the_networks_alone_decide_at_their_calibrated_decision_thresholds(tmp_path):
    """With decision thresholds in the segmentator's calibration and no classifier, a candidate is in
    the mask when its score reaches the decision threshold, or the cluster threshold inside a
    cluster; the operating threshold still lists and outlines; an explicit one decides alone."""
    import torch

    from mcseg.pipeline import (CLUSTER_THRESHOLD_KEY, DECISION_THRESHOLD_KEY, DEFAULT_DETECTOR_WEIGHTS,
                                DEFAULT_SEGMENTATOR_WEIGHTS)

    mammo = read_mammogram(DEMO)
    ckpt = torch.load(DEFAULT_SEGMENTATOR_WEIGHTS, map_location="cpu", weights_only=True)
    # The operating threshold deciding alone (an explicit value; the bundled calibration may hold decisions).
    plain = Pipeline.from_weights(config=PipelineConfig(use_candidate_classifier=False,
                                                        operating_threshold=ckpt["operating_threshold"]),
                                  coarse_dir=None).run(mammo)
    assert plain.settings["operating_threshold"] == ckpt["operating_threshold"]
    scores = np.array([c["score"] for c in plain.calcifications])
    listed = scores[[c["in_mask"] for c in plain.calcifications]]
    decision = float(np.quantile(listed, 0.5))       # half the mask's calcifications fall under it
    cluster = float(np.quantile(listed, 0.1))
    ckpt["calibration"] = dict(ckpt.get("calibration") or {}) | {DECISION_THRESHOLD_KEY: decision,
                                                                 CLUSTER_THRESHOLD_KEY: cluster}
    torch.save(ckpt, tmp_path / "segmentator.pt")
    pipe = Pipeline.from_weights(DEFAULT_DETECTOR_WEIGHTS, tmp_path / "segmentator.pt", coarse_dir=None)
    assert pipe.classifier is None and pipe.score_decision == (decision, cluster)
    decided = pipe.run(mammo)
    assert [c["score"] for c in decided.calcifications] == scores.tolist()  # listed as before
    in_mask = [c for c in decided.calcifications if c["in_mask"]]
    assert 0 < len(in_mask) < len(listed)
    assert all(c["in_mask"] for c in decided.calcifications if c["score"] >= decision)
    clustered = {m for cl in decided.clusters for m in cl["members"]}
    assert all(c["id"] in clustered and c["score"] >= cluster for c in in_mask if c["score"] < decision)
    assert decided.mask.sum() == round(sum(c["area_mm2"] for c in in_mask) / 0.07**2)
    assert decided.mask.sum() < plain.mask.sum()
    told = Pipeline.from_weights(DEFAULT_DETECTOR_WEIGHTS, tmp_path / "segmentator.pt",
                                 PipelineConfig(operating_threshold=0.5), coarse_dir=None)
    assert told.score_decision is None


def test_default_weights_find_the_demo_calcifications(demo_result):
    truth = read_label(DEMO_TRUTH)
    match = match_listed(demo_result.calcifications, truth, (0.07, 0.07), in_mask_only=True)
    # Measured with the bundled weights: 20 of 30 found, 3 false positives.
    assert match.hits.sum() / match.n_truth >= 0.6
    assert (~match.hits).sum() <= 5


def test_the_mask_is_the_calcifications_it_lists(demo_result):
    """Each calcification in the mask has its own pixels there and no others: a weak candidate the
    classifier promotes is outlined around its peak, not over the low-level blob it was found in
    (before, one such blob gave a "calcification" of 4.3 mm^2 here, 868 listed pixels for 578 in the
    mask, and on the other demo image 36 specks in the mask that no listed calcification owned)."""
    in_mask = [c for c in demo_result.calcifications if c["in_mask"]]
    assert demo_result.frame.spacing_mm == demo_result.mammogram.spacing_mm == (0.07, 0.07)
    assert demo_result.mask.sum() == round(sum(c["area_mm2"] for c in in_mask) / 0.07**2)
    assert max(c["area_mm2"] for c in in_mask) < 1.0


def test_time_budget_cuts_the_symmetry_views_and_says_so(demo_result):
    """With the budget spent before the segmentator, only the first view runs: the result is the
    single-view pipeline's, and the JSON says 1 of 8 views ran (8 of 8 without a budget)."""
    assert demo_result.to_json()["symmetry_views"] == {"run": 8, "of": 8}
    budget = Pipeline.from_weights(config=PipelineConfig(time_budget_s=0.0), coarse_dir=None).run(read_mammogram(DEMO))
    one_view = Pipeline.from_weights(config=PipelineConfig(segmentator_symmetries=1),
                                     coarse_dir=None).run(read_mammogram(DEMO))
    doc = budget.to_json()
    assert doc["symmetry_views"] == {"run": 1, "of": 8} and doc["settings"]["time_budget_s"] == 0.0
    assert np.array_equal(budget.mask, one_view.mask)
    assert [c["score"] for c in budget.calcifications] == [c["score"] for c in one_view.calcifications]


def test_mirrored_image_gives_mirrored_result(tmp_path, pipeline, demo_result):
    m = read_mammogram(DEMO)
    path = write_mammogram_dicom(tmp_path / "mirror.dcm", m.pixels[:, ::-1].astype(np.uint16),
                                 spacing_mm=(0.07, 0.07))
    mirrored = pipeline.run(read_mammogram(path))
    assert mirrored.frame.flipped != demo_result.frame.flipped
    # Compared on the calcification pixels: the background alone agrees at 99.9%.
    assert demo_result.mask.sum() > 100
    assert pixel_dice(mirrored.mask[:, ::-1], demo_result.mask) > 0.99


def test_resampled_input_maps_back(tmp_path, pipeline):
    # The same anatomy stored at 0.05 mm: results come back in the input's pixels.
    from mcseg.synth import SynthConfig, synthesize_case

    case = synthesize_case(np.random.default_rng(11), SynthConfig(shape_px=(1000, 800), spacing_mm=0.05,
                                                                  contrast_range=(6, 15)))
    path = write_mammogram_dicom(tmp_path / "fine.dcm", case.image, spacing_mm=(0.05, 0.05))
    result = pipeline.run(read_mammogram(path))
    assert result.mask.shape == (1000, 800)
    assert result.frame.image.shape == (714, 571)
    match = match_listed(result.calcifications, case.gt_mask > 0, (0.05, 0.05), in_mask_only=True)
    assert match.hits.sum() / match.n_truth >= 0.6


def test_cli_reports_bad_input_and_continues(tmp_path, capsys):
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    code = cli_main(["segment", str(bad), str(DEMO), "-o", str(tmp_path / "out"), "--no-progress"])
    assert code == 2
    assert "bad.dcm" in capsys.readouterr().err
    assert (tmp_path / "out" / "demo_synthetic_0001.json").is_file()


def test_real_film_runs_with_fallback_spacing(pipeline):
    result = pipeline.run(read_mammogram(CBIS_DICOM))
    doc = result.to_json()
    assert doc["input"]["spacing_source"] == "fallback"
    assert any("assumed 0.05 mm" in a for a in doc["input"]["assumptions"])
    assert doc["working_frame"]["flipped_left_right"] is True
    assert result.mask.shape == (4688, 2592)


def test_device_is_chosen_and_a_missing_one_is_a_clear_error(capsys):
    import torch

    from mcseg.cli import main
    from mcseg.pipeline import DeviceError, resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(DeviceError, match="not a device name"):
        resolve_device("gpu please")
    if not torch.cuda.is_available():
        assert main(["segment", str(DEMO), "--device", "cuda", "-o", "/tmp/never", "--no-progress"]) == 2
        assert "no CUDA device" in capsys.readouterr().err


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="no CUDA device here")
def test_cuda_path_gives_the_cpu_decisions():
    from mcseg.io import read_mammogram
    from mcseg.pipeline import Pipeline

    mammo = read_mammogram(DEMO)
    cpu = Pipeline.from_weights(config=PipelineConfig(device="cpu")).run(mammo)
    gpu = Pipeline.from_weights(config=PipelineConfig(device="cuda")).run(mammo)
    assert (cpu.mask != gpu.mask).mean() < 1e-5
    assert len([c for c in cpu.calcifications if c["in_mask"]]) == len([c for c in gpu.calcifications if c["in_mask"]])


def test_coarse_weights_serve_coarse_inputs(tmp_path):
    """Inputs of 0.06 mm and coarser go to the coarse-pixel networks, finer ones (film at 0.05 mm)
    stay at 0.07 mm; a site can move the edge; retrained networks or a forced working pixel serve
    every input themselves."""
    import torch

    from mcseg.defaults import COARSE_WORKING_SPACING_MM
    from mcseg.pipeline import DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS

    coarse = tmp_path / "coarse"
    coarse.mkdir()
    for path in (DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS):
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        ckpt["working_spacing_mm"] = COARSE_WORKING_SPACING_MM
        ckpt["operating_threshold"] = 0.77
        torch.save(ckpt, coarse / path.name)
    routed = Pipeline.from_weights(coarse_dir=coarse)
    assert routed.coarse.config.working_spacing_mm == COARSE_WORKING_SPACING_MM
    assert routed.coarse.config.operating_threshold == 0.77 and routed.coarse.coarse is None
    mammo = read_mammogram(DEMO)
    fine = routed.run(read_mammogram(DEMO, spacing_mm=0.05))
    assert fine.frame.spacing_mm == pytest.approx((WORKING_SPACING_MM, WORKING_SPACING_MM), abs=1e-4)
    # The same image declared at 0.14 mm: served by the coarse networks at their own pixel.
    coarse_result = routed.run(read_mammogram(DEMO, spacing_mm=0.14))
    assert coarse_result.frame.spacing_mm == (COARSE_WORKING_SPACING_MM, COARSE_WORKING_SPACING_MM)
    assert coarse_result.frame.image.shape == mammo.shape  # no resampling at its own pixel
    assert coarse_result.mask.shape == mammo.shape and coarse_result.to_json()["working_frame"]["working_spacing_mm"] \
        == [COARSE_WORKING_SPACING_MM, COARSE_WORKING_SPACING_MM]
    assert coarse_result.settings["operating_threshold"] == 0.77
    # The bands: 0.12 mm goes to the coarse networks, 0.085 mm without a detector record to the native ones
    # with their band classifier (or, without it, to the coarse ones), a native 0.07 mm detector to the native
    # ones with their own classifier (the bundled pipeline is theirs), 0.055 mm film to the bundled 0.07 mm ones (its fallback), unless
    # the site moves the edge (--coarse-from-mm).
    assert routed.for_input(read_mammogram(DEMO, spacing_mm=0.12)) is routed.coarse
    assert routed.for_input(read_mammogram(DEMO, spacing_mm=0.085)) is routed.native_band
    unbanded = Pipeline.from_weights(config=PipelineConfig(native_band_classifier=False), coarse_dir=coarse)
    assert unbanded.for_input(read_mammogram(DEMO, spacing_mm=0.085)) is unbanded.coarse
    # At 0.07 mm: the demo phantom names no detector, so the native networks with the band classifier (the
    # seventeenth rule); a detector image, the native networks with their own classifier.
    assert routed.for_input(mammo) is routed.native_band and "native" in routed.weights["segmentator"]["path"]
    assert routed.served_at((0.07, 0.07), digital_detector=True) is routed
    assert routed.for_input(read_mammogram(DEMO, spacing_mm=0.055)) is routed.fallback
    edge = Pipeline.from_weights(config=PipelineConfig(coarse_input_min_spacing_mm=0.08), coarse_dir=coarse)
    assert edge.for_input(mammo) is edge and edge.for_input(read_mammogram(DEMO, spacing_mm=0.085)) is edge.coarse
    from mcseg.cli import _pipeline_from_args, build_parser

    args = build_parser().parse_args(["segment", "x.dcm", "--coarse-from-mm", "0.08"])
    assert _pipeline_from_args(args).for_input(mammo).config.working_spacing_mm == WORKING_SPACING_MM
    for bad in ("-1", "0", "5", "x"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["segment", "x.dcm", "--coarse-from-mm", bad])
    assert str(coarse) in coarse_result.weights["segmentator"]["path"]
    # A forced working pixel or networks other than the bundled ones: no routing.
    assert Pipeline.from_weights(config=PipelineConfig(working_spacing_mm=0.07)).coarse is None
    assert Pipeline.from_weights(coarse / "detector.pt", coarse / "segmentator.pt").coarse is None
    assert Pipeline.from_weights(coarse_dir=None).coarse is None
    # The shipped coarse weights: the bundled pipeline routes to them, with their own classifier.
    shipped = Pipeline.from_weights().coarse
    assert shipped is not None and shipped.config.working_spacing_mm == COARSE_WORKING_SPACING_MM
    assert shipped.classifier is not None and "coarse" in shipped.weights["segmentator"]["path"]


def test_onnxruntime_backend_makes_the_same_decisions(pipeline, demo_result):
    """ONNX Runtime runs the networks by default on a CPU: the same flagged windows, mask and
    calcifications as PyTorch's, scores equal to 1e-4."""
    from mcseg.networks.onnx_dense import onnxruntime_available
    from mcseg.pipeline import DeviceError

    if not onnxruntime_available():
        pytest.skip("onnxruntime is not installed (it is in requirements.txt)")
    assert pipeline.backend == "onnxruntime" and demo_result.settings["inference_backend"] == "onnxruntime"
    torch_pipeline = Pipeline.from_weights(config=PipelineConfig(backend="torch"), coarse_dir=None)
    reference = torch_pipeline.run(read_mammogram(DEMO))
    assert reference.settings["inference_backend"] == "torch"
    # The detector: the same windows flagged, scores equal to 1e-5.
    assert np.array_equal(reference.detector.flagged, demo_result.detector.flagged)
    assert np.abs(reference.detector.scores - demo_result.detector.scores).max() < 1e-5
    assert np.array_equal(reference.mask, demo_result.mask)
    ours, theirs = demo_result.calcifications, reference.calcifications
    assert len(ours) == len(theirs) > 100
    assert [c["in_mask"] for c in ours] == [c["in_mask"] for c in theirs]
    assert [c["centroid_px"] for c in ours] == [c["centroid_px"] for c in theirs]
    assert max(abs(a["score"] - b["score"]) for a, b in zip(ours, theirs)) <= 1e-4
    with pytest.raises(DeviceError, match="backend"):
        Pipeline.from_weights(config=PipelineConfig(backend="tensorrt"))


def test_onnxruntime_sessions_can_be_built_from_several_threads():
    """The server builds sessions in its inference worker and its background scorer at once;
    torch.onnx.export alone fails then ("in_onnx_export must be True")."""
    from concurrent.futures import ThreadPoolExecutor

    from mcseg.networks.onnx_dense import OnnxDenseRunner, OnnxWindowRunner, onnxruntime_available
    from mcseg.pipeline import DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS, load_network

    if not onnxruntime_available():
        pytest.skip("onnxruntime is not installed (it is in requirements.txt)")
    detector, _ = load_network(DEFAULT_DETECTOR_WEIGHTS, "detector")
    segmentator, _ = load_network(DEFAULT_SEGMENTATOR_WEIGHTS, "segmentator")
    jobs = [(OnnxWindowRunner, detector), (OnnxDenseRunner, segmentator)] * 3
    with ThreadPoolExecutor(len(jobs)) as pool:
        runners = list(pool.map(lambda job: job[0](job[1]), jobs))
    patches = np.random.default_rng(0).normal(size=(4, 1, 49, 49)).astype(np.float32)
    assert np.allclose(runners[0](patches), runners[2](patches))


def _magnified(tmp_path, factor: float):
    """The demo image as a magnification view would record it: every length ``factor`` times larger
    at the detector, ImagerPixelSpacing still the detector's 0.07 mm, the factor in its tag."""
    import pydicom
    from scipy import ndimage as ndi

    source = read_mammogram(DEMO)
    pixels = np.clip(ndi.zoom(source.pixels, factor, order=1), 0, 65535).astype(np.uint16)
    truth = ndi.zoom(read_label(DEMO_TRUTH).astype(np.uint8), factor, order=0)
    path = write_mammogram_dicom(tmp_path / f"mag{factor}.dcm", pixels, spacing_mm=(0.07, 0.07),
                                 spacing_tag="ImagerPixelSpacing", modality="MG", photometric="MONOCHROME2")
    ds = pydicom.dcmread(path)
    ds.EstimatedRadiographicMagnificationFactor = f"{factor:g}"
    ds.save_as(path)
    return path, truth


def test_a_magnification_view_is_measured_and_served_at_the_breast(tmp_path):
    """Magnification views are how calcifications are worked up. Read at the detector's pixel they
    reach the networks 1.8 times larger than anything they were trained on; read at the breast's
    (ImagerPixelSpacing / factor) they are resampled back to their physical size."""
    path, truth = _magnified(tmp_path, 1.8)
    mammo = read_mammogram(path)
    assert mammo.spacing_mm == pytest.approx((0.07 / 1.8, 0.07 / 1.8))
    assert mammo.spacing_source == "ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor"
    assert any("magnification view" in note for note in mammo.assumptions)
    result = Pipeline.from_weights().run(mammo)
    match = match_listed(result.calcifications, truth > 0, mammo.spacing_mm, in_mask_only=True)
    # Measured: 23 of 30 found, 1 false positive (the demo image itself: 26 and 1); read at the
    # detector's 0.07 mm instead (spacing_mm=0.07), 20 of 30 and 4 false positives.
    assert match.hits.sum() / match.n_truth >= 0.6 and (~match.hits).sum() <= 3
    # A contact view's small factor keeps the detector's pixel (the note says so); a nonsense one is refused.
    path, _ = _magnified(tmp_path, 1.05)
    contact = read_mammogram(path)
    assert contact.spacing_mm == pytest.approx((0.07, 0.07)) and contact.spacing_source == "ImagerPixelSpacing"
    assert any("not corrected for magnification" in note for note in contact.assumptions)
    import pydicom

    from mcseg.io.errors import PixelSizeError

    ds = pydicom.dcmread(path)
    ds.EstimatedRadiographicMagnificationFactor = "0.5"
    ds.save_as(path)
    with pytest.raises(PixelSizeError, match="EstimatedRadiographicMagnificationFactor 0.5"):
        read_mammogram(path)


def test_the_fine_outline_redraws_what_the_coarse_weights_found():
    """A 0.085 mm input served by the coarse weights (as every such input was until the thirteenth rule of
    choose_native_networks.py; still so with --no-native-band-classifier): with the fine outline the 0.07 mm
    segmentator redraws each kept calcification: the same calcifications, scores and clusters, a mask
    nearer the truth, and areas that add up to it."""
    mammo = read_mammogram(DEMO, spacing_mm=0.085)
    coarse = Pipeline.from_weights(config=PipelineConfig(fine_outline=False, native_band_classifier=False)).run(mammo)
    fine = Pipeline.from_weights(config=PipelineConfig(fine_outline=True, native_band_classifier=False)).run(mammo)
    assert coarse.frame.spacing_mm == fine.frame.spacing_mm == pytest.approx((0.14, 0.14), abs=1e-3)
    strip = lambda calcs: [{k: v for k, v in c.items() if k != "area_mm2"} for c in calcs]  # noqa: E731
    assert strip(fine.calcifications) == strip(coarse.calcifications) and fine.clusters == coarse.clusters
    assert "outline" in fine.settings and "outline" not in coarse.settings
    in_mask = [c for c in fine.calcifications if c["in_mask"]]
    # The areas are measured at the outline's 0.07 mm pixel, the mask drawn at the input's 0.085 mm one.
    assert fine.mask.sum() == pytest.approx(sum(c["area_mm2"] for c in in_mask) / 0.085**2, rel=0.1)
    truth = read_label(DEMO_TRUTH)
    # Measured: Dice 0.620 with the coarse outline, 0.698 with the fine one.
    assert pixel_dice(fine.mask, truth) > pixel_dice(coarse.mask, truth) + 0.05
    # A 0.12 mm copy is outlined finely too (the second rule of choose_outline.py); one at the coarse networks'
    # own 0.14 mm keeps their outline (the third), as do inputs coarser than FINE_OUTLINE_MAX_SPACING_MM.
    from mcseg.defaults import FINE_OUTLINE_MAX_SPACING_MM

    outlined = Pipeline.from_weights(config=PipelineConfig(fine_outline=True))
    assert "outline" in outlined.run(read_mammogram(DEMO, spacing_mm=0.12)).settings
    assert "outline" not in outlined.run(read_mammogram(DEMO, spacing_mm=0.14)).settings
    coarser = read_mammogram(DEMO, spacing_mm=FINE_OUTLINE_MAX_SPACING_MM + 0.05)
    assert "outline" not in outlined.run(coarser).settings


def test_an_outline_threshold_draws_tighter_masks_of_the_same_calcifications():
    """``outline_threshold`` draws each kept calcification at a higher score: the same calcifications,
    scores and clusters, a mask inside the operating threshold's with every kept calcification still in
    it, smaller areas; the fine outline of a 0.085 mm input starts from the operating threshold's mask,
    so it does not move."""
    mammo = read_mammogram(DEMO, spacing_mm=0.14)  # the coarse weights outline it themselves
    plain = Pipeline.from_weights().run(mammo)
    tight = Pipeline.from_weights(config=PipelineConfig(outline_threshold=0.99)).run(mammo)
    strip = lambda calcs: [{k: v for k, v in c.items() if k != "area_mm2"} for c in calcs]  # noqa: E731
    assert strip(tight.calcifications) == strip(plain.calcifications) and tight.clusters == plain.clusters
    assert not (tight.mask.astype(bool) & ~plain.mask.astype(bool)).any()
    assert 0 < tight.mask.sum() < plain.mask.sum()
    kept = [c for c in tight.calcifications if c["in_mask"]]
    assert kept and all(tight.mask[round(c["centroid_px"][0]) - 3:round(c["centroid_px"][0]) + 4,
                                   round(c["centroid_px"][1]) - 3:round(c["centroid_px"][1]) + 4].any() for c in kept)
    assert sum(c["area_mm2"] for c in kept) < sum(c["area_mm2"] for c in plain.calcifications if c["in_mask"])
    native = read_mammogram(DEMO, spacing_mm=0.085)  # served by the coarse weights, outlined finely
    unbanded = PipelineConfig(native_band_classifier=False)
    assert np.array_equal(Pipeline.from_weights(config=unbanded.with_(outline_threshold=0.99)).run(native).mask,
                          Pipeline.from_weights(config=unbanded).run(native).mask)


def test_the_native_networks_alone_decide_at_their_own_decision_threshold():
    """The native segmentator was retrained from the 0.07 mm one; its decision threshold for the networks
    alone is its own (recalibrate_segmentators.py --native), not the one it was retrained from, whose
    mask flooded real anatomy (vendor-0.07mm Dice 0.057). A native 0.07 mm input is served by it."""
    from mcseg.pipeline import DEFAULT_NATIVE_WEIGHTS_DIR, DEFAULT_SEGMENTATOR_WEIGHTS, load_network

    native = load_network(DEFAULT_NATIVE_WEIGHTS_DIR / "segmentator.pt", "segmentator")[1]["calibration"]
    film = load_network(DEFAULT_SEGMENTATOR_WEIGHTS, "segmentator")[1]["calibration"]
    assert "--native" in native["decisions_calibrated_on"]
    assert native["decision_threshold"] > film["decision_threshold"]
    assert native["cluster_threshold"] == native["operating_threshold"]
    alone = Pipeline.from_weights(config=PipelineConfig(use_candidate_classifier=False))
    assert alone.for_input(read_mammogram(DEMO)) is alone  # the native pipeline serves 0.07 mm
    assert alone.score_decision == (native["decision_threshold"], native["cluster_threshold"])


def test_flat_areas_are_found_in_blocks_and_never_in_noise():
    from mcseg.preprocess.flat import flat_mask

    rng = np.random.default_rng(0)
    image = rng.integers(0, 4096, (400, 300)).astype(np.float32)
    image[100:200, 50:150] = 0.0  # e.g. a vendor's black background inside the skin margin
    flat = flat_mask(image, 0.07)
    assert flat[110:190, 60:140].all()          # its inside, up to a block's side at the edges
    assert not flat[:95].any() and not flat[205:].any() and not flat[:, 155:].any()
    within = np.zeros_like(flat)
    within[250:, :] = True                        # looked for in the breast's bounding box only
    assert not flat_mask(image, 0.07, within).any()


def test_a_flat_area_inside_the_breast_holds_no_calcification(tmp_path, monkeypatch):
    """The segmentators were never trained on a flat patch and score one 0.97-0.99: a flat area inside
    the breast mask (a vendor's black background in the skin margin, a crop's padding, a region clipped
    by an 8-bit copy) became one calcification of hundreds of mm^2. The segmentator is not run there."""
    from scipy import ndimage as ndi

    from mcseg.pipeline import DEFAULT_NATIVE_WEIGHTS_DIR
    import mcseg.preprocess.frame as frame_module

    mammo = read_mammogram(DEMO)
    inside = ndi.binary_erosion(breast_mask(mammo.pixels, 0.07), iterations=200)
    r, c = np.argwhere(inside)[int(inside.sum()) // 2]
    square = (slice(r - 120, r + 120), slice(c - 120, c + 120))  # 17 mm, deep in the breast
    pixels = mammo.pixels.copy()
    pixels[square] = np.median(pixels[square])  # clipped flat, at the tissue's own level
    path = tmp_path / "flat.dcm"
    write_mammogram_dicom(path, pixels.astype(np.uint16), spacing_mm=mammo.spacing_mm)
    alone = Pipeline.from_weights(DEFAULT_NATIVE_WEIGHTS_DIR / "detector.pt",
                                  DEFAULT_NATIVE_WEIGHTS_DIR / "segmentator.pt", classifier_path=None,
                                  coarse_dir=None, native_dir=None)

    def in_square(result, margin_px=0):
        return [x for x in result.calcifications
                if r - 120 + margin_px <= x["centroid_px"][0] < r + 120 - margin_px
                and c - 120 + margin_px <= x["centroid_px"][1] < c + 120 - margin_px]

    guarded = alone.run(read_mammogram(path))
    assert guarded.frame.flat.sum() > 200 * 200
    assert not in_square(guarded, margin_px=15)  # at its edge the tissue's own edge may be listed
    assert all(x["area_mm2"] < 5 for x in in_square(guarded))
    monkeypatch.setattr(frame_module, "flat_mask", lambda pixels, spacing_mm, within=None: np.zeros(pixels.shape, bool))
    unguarded = alone.run(read_mammogram(path))  # as before: the square is one big, confident "calcification"
    assert any(x["area_mm2"] > 50 and x["score"] > 0.9 for x in in_square(unguarded, margin_px=15))
