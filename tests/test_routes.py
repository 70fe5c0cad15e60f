"""Which networks a saved label retrains, and which then serve its inputs (mcseg.training.routes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA

from mcseg.io.dicom_write import write_mammogram_dicom
import torch

from mcseg.defaults import (COARSE_INPUT_MIN_SPACING_MM, NATIVE_ALONE_BELOW_MM, RETRAINED_FINE_MAX_SPACING_MM,
                            PipelineConfig)
from mcseg.pipeline import (DEFAULT_COARSE_WEIGHTS_DIR, DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS,
                            LABELLED_SPACING_META, Pipeline)
from mcseg.training import LabelledCase
from mcseg.training import routes
from mcseg.training.routes import cases_by_route, pixel_sizes, route_workspace, spacing_range_mm


def _case(folder, name: str, spacing_mm: float) -> LabelledCase:
    pixels = np.random.default_rng(0).integers(1000, 3000, (300, 200)).astype(np.uint16)
    image = write_mammogram_dicom(folder / f"{name}.dcm", pixels, spacing_mm=(spacing_mm, spacing_mm))
    return LabelledCase(name, image, folder / f"{name}.label.nrrd")


def test_labels_go_to_the_networks_they_retrain_and_the_pixel_sizes_are_remembered(tmp_path, monkeypatch):
    film, ffdm = _case(tmp_path, "film", 0.05), _case(tmp_path, "ffdm", 0.07)
    native, downsampled = _case(tmp_path, "native", 0.085), _case(tmp_path, "down", 0.14)
    cases = [ffdm, film, native, downsampled]
    pipeline = Pipeline.from_weights()
    cache = tmp_path / "train" / "pixel_sizes.json"
    cache.parent.mkdir()
    sizes = pixel_sizes(cases, cache_path=cache)
    assert sizes == {"film": (0.05, 0.05), "ffdm": (0.07, 0.07), "native": (0.085, 0.085), "down": (0.14, 0.14)}
    # Below RETRAINED_FINE_MAX_SPACING_MM (0.08 mm) the 0.07 mm networks, from there on the coarse ones.
    by_route = cases_by_route(pipeline, cases, sizes)
    assert by_route == {"fine": [ffdm, film], "coarse": [native, downsampled]}
    assert list(by_route) == ["fine", "coarse"] and pipeline.route_of((0.07, 0.07), digital_detector=True) == "fine"
    assert pipeline.route_of((0.07, 0.07)) == "native-band"  # no detector named: the band classifier ranks it
    assert spacing_range_mm(by_route["fine"], sizes) == [0.05, 0.07]
    assert sorted(v["spacing_mm"][0] for v in json.loads(cache.read_text()).values()) == [0.05, 0.07, 0.085, 0.14]

    # The second run reads no image: the sizes come from the cache while the files are unchanged ...
    def no_read(*args, **kwargs):
        raise AssertionError("read an image whose pixel size was cached")

    monkeypatch.setattr(routes, "read_mammogram", no_read)
    assert pixel_sizes(cases, cache_path=cache) == sizes
    # ... and a file that changed is read again.
    _case(tmp_path, "film", 0.1)
    with pytest.raises(AssertionError, match="cached"):
        pixel_sizes([film], cache_path=cache)
    monkeypatch.undo()
    assert cases_by_route(pipeline, [film], pixel_sizes([film], cache_path=cache)) == {"coarse": [film]}

    # The server's pixel size override and the site's edge decide too.
    assert pixel_sizes([ffdm, film], spacing_mm=0.05) == {"ffdm": (0.05, 0.05), "film": (0.05, 0.05)}
    edge = Pipeline.from_weights(config=pipeline.given_config.with_(coarse_input_min_spacing_mm=0.1))
    assert cases_by_route(edge, [native, downsampled], sizes) == {"fine": [native], "coarse": [downsampled]}
    # Without coarse networks every label trains the fine ones; an unreadable image goes there too
    # (its patch store then says why it skipped it).
    assert cases_by_route(Pipeline.from_weights(coarse_dir=None), [ffdm, downsampled], sizes) == \
        {"fine": [ffdm, downsampled]}
    (tmp_path / "down.dcm").write_bytes(b"not a mammogram")
    unread = pixel_sizes([downsampled])
    assert unread == {"down": None} and cases_by_route(pipeline, [downsampled], unread) == {"fine": [downsampled]}
    assert spacing_range_mm([downsampled], unread) is None
    assert route_workspace(tmp_path, "fine") == tmp_path and route_workspace(tmp_path, "coarse") == tmp_path / "coarse"


def test_retrained_on_native_ffdm_labels_the_fine_networks_serve_those_inputs_again(tmp_path):
    """Once the 0.07 mm segmentator has been retrained on 0.06-0.08 mm labels, those inputs go to it."""
    ckpt = torch.load(DEFAULT_SEGMENTATOR_WEIGHTS, map_location="cpu", weights_only=True)
    coarse = (DEFAULT_COARSE_WEIGHTS_DIR / "detector.pt", DEFAULT_COARSE_WEIGHTS_DIR / "segmentator.pt")
    served = {}
    for labelled in ([0.05, 0.05], [0.05, 0.07], None):
        path = tmp_path / f"segmentator-{labelled}.pt"
        torch.save(ckpt | ({LABELLED_SPACING_META: labelled} if labelled else {}), path)
        routed = Pipeline.from_weights(DEFAULT_DETECTOR_WEIGHTS, path, coarse_weights=coarse)
        served[str(labelled)] = [routed.route_of((s, s)) for s in (0.05, 0.07, 0.085, 0.14)]
        assert routed.coarse_from_mm() == (RETRAINED_FINE_MAX_SPACING_MM if labelled == [0.05, 0.07]
                                           else COARSE_INPUT_MIN_SPACING_MM)
    assert served == {"[0.05, 0.05]": ["fine", "coarse", "coarse", "coarse"],   # film labels only
                      "[0.05, 0.07]": ["fine", "fine", "coarse", "coarse"],     # native 0.07 mm labels too
                      "None": ["fine", "coarse", "coarse", "coarse"]}


def test_a_sites_labels_of_detector_pixels_take_them_from_the_native_networks_alone(tmp_path):
    """GE and Siemens labels (0.08 to <0.11 mm) retrain the coarse networks; once they have, those networks
    serve that band's detector images too, instead of the native networks alone that their labels never
    touched. Labels of coarser copies only leave the band as it was."""
    ckpt = torch.load(DEFAULT_COARSE_WEIGHTS_DIR / "segmentator.pt", map_location="cpu", weights_only=True)
    bundled = Pipeline.from_weights()
    assert bundled.training_route_of((0.094, 0.094)) == "coarse"
    assert bundled.route_of((0.094, 0.094), digital_detector=True) == "native-alone"
    for labelled, route in (([0.085, 0.094], "coarse"), ([0.14, 0.14], "native-alone")):
        path = tmp_path / f"coarse-{labelled}.pt"
        torch.save(ckpt | {LABELLED_SPACING_META: labelled}, path)
        routed = Pipeline.from_weights(coarse_weights=(DEFAULT_COARSE_WEIGHTS_DIR / "detector.pt", path))
        assert routed.route_of((0.094, 0.094), digital_detector=True) == route
        assert routed.route_of((0.094, 0.094)) == ("coarse" if route == "coarse" else "native-band")
        assert routed.route_of((0.07, 0.07), digital_detector=True) == "fine"


def test_inputs_unlike_a_sites_labels_stay_with_the_bundled_networks(tmp_path):
    """Retrained on 0.07 mm FFDM labels only, the 0.07 mm networks leave film (finer than 0.06 mm) to the
    bundled ones; retrained on both kinds, they serve both."""
    from mcseg.io import read_mammogram

    ckpt = torch.load(DEFAULT_SEGMENTATOR_WEIGHTS, map_location="cpu", weights_only=True)
    coarse = (DEFAULT_COARSE_WEIGHTS_DIR / "detector.pt", DEFAULT_COARSE_WEIGHTS_DIR / "segmentator.pt")
    bundled = (DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS)
    image = _case(tmp_path, "image", 0.07).image_path
    for labelled, film_served_by_bundled in (([0.07, 0.07], True), ([0.05, 0.07], False)):
        path = tmp_path / f"segmentator-{labelled}.pt"
        torch.save(ckpt | {LABELLED_SPACING_META: labelled}, path)
        routed = Pipeline.from_weights(DEFAULT_DETECTOR_WEIGHTS, path, coarse_weights=coarse, fallback_weights=bundled)
        film, ffdm, native = (read_mammogram(image, spacing_mm=mm) for mm in (0.05, 0.07, 0.085))
        assert routed.covers(ffdm.spacing_mm) and routed.covers(film.spacing_mm) != film_served_by_bundled
        assert routed.for_input(ffdm) is routed and routed.for_input(native) is routed.coarse
        assert (routed.for_input(film) is routed.fallback) == film_served_by_bundled
        result = routed.run(film)
        assert result.weights["segmentator"]["path"] == str(DEFAULT_SEGMENTATOR_WEIGHTS if film_served_by_bundled
                                                           else path)
        assert "outline" not in result.settings
    # Weights with no record of site labels (the bundled 0.07 mm ones, or given on the command line) cover
    # every input; the bundled native networks record theirs and leave film to the 0.07 mm ones.
    film_networks = Pipeline.from_weights(coarse_dir=None)
    assert film_networks.covers((0.05, 0.05)) and film_networks.covers((0.2, 0.2))
    assert not Pipeline.from_weights().covers((0.05, 0.05)) and Pipeline.from_weights().covers((0.07, 0.07))


def test_named_coarse_weights_serve_beside_retrained_fine_ones(tmp_path):
    """The app names both routes' files; retrained fine networks no longer switch the routing off."""
    import shutil

    from mcseg.pipeline import DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS

    for path in (DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS):
        shutil.copy(path, tmp_path / path.name)
    retrained = (tmp_path / "detector.pt", tmp_path / "segmentator.pt")
    assert Pipeline.from_weights(*retrained).coarse is None  # the library's default: as before
    coarse = (DEFAULT_COARSE_WEIGHTS_DIR / "detector.pt", DEFAULT_COARSE_WEIGHTS_DIR / "segmentator.pt")
    routed = Pipeline.from_weights(*retrained, coarse_weights=coarse)
    assert routed.coarse is not None and routed.coarse.weights["segmentator"]["path"] == str(coarse[1])
    assert routed.route_of((0.07, 0.07)) == "coarse" and routed.route_of((0.05, 0.05)) == "fine"
    forced = Pipeline.from_weights(*retrained, routed.given_config.with_(working_spacing_mm=0.07), coarse_weights=coarse)
    assert forced.coarse is None and forced.route_of((0.07, 0.07)) == "fine"


def test_rehearsal_images_of_the_labels_band_made_once(tmp_path):
    from mcseg.defaults import REHEARSAL_SPACINGS_MM
    from mcseg.io.reader import read_mammogram
    from mcseg.training.rehearsal import rehearsal_band, rehearsal_cases

    assert rehearsal_band("coarse", [0.05, 0.05]) == "coarse"
    assert rehearsal_band("fine", [0.07, 0.07]) == "native" and rehearsal_band("fine", [0.05, 0.07]) == "film"
    assert rehearsal_band("fine", None) == "film"
    assert rehearsal_cases(tmp_path, "native", 0) == []
    cases = rehearsal_cases(tmp_path, "native", 2)
    assert [c.image_id for c in cases] == ["mcseg-rehearsal_0000.dcm", "mcseg-rehearsal_0001.dcm"]
    for case in cases:
        assert read_mammogram(case.image_path).spacing_mm[0] in REHEARSAL_SPACINGS_MM["native"]
        assert case.label_path.is_file()
    made = [c.image_path.stat().st_mtime_ns for c in cases]
    assert [c.image_path.stat().st_mtime_ns for c in rehearsal_cases(tmp_path, "native", 2)] == made  # not remade
    with pytest.raises(ValueError, match="band must be one of"):
        rehearsal_cases(tmp_path, "mammoth", 2)


def test_bundled_pipeline_serves_native_ffdm_with_the_native_networks(tmp_path):
    """Film below 0.06 mm: the bundled 0.07 mm networks; native FFDM 0.06-0.08 mm: the native networks
    (benchmarks/choose_native_networks.py); 0.08 to <0.11 mm: the native ones too (alone for a detector
    image, with the band classifier otherwise); 0.11 mm and coarser: the coarse ones. The way back
    (coarse_from_mm 0.08) and a pipeline without coarse networks keep the 0.07 mm networks."""
    from mcseg.io.reader import read_mammogram
    from mcseg.pipeline import DEFAULT_NATIVE_WEIGHTS_DIR
    from mcseg.training.routes import publish_native_partner, start_weights

    pipeline = Pipeline.from_weights()
    served = {mm: pipeline.for_input(read_mammogram(_case(tmp_path, f"i{mm}", mm).image_path)).weights["segmentator"]["path"]
              for mm in (0.05, 0.07, 0.1, 0.12)}
    assert served == {0.05: str(DEFAULT_SEGMENTATOR_WEIGHTS), 0.07: str(DEFAULT_NATIVE_WEIGHTS_DIR / "segmentator.pt"),
                      0.1: str(DEFAULT_NATIVE_WEIGHTS_DIR / "segmentator.pt"),
                      0.12: str(DEFAULT_COARSE_WEIGHTS_DIR / "segmentator.pt")}
    assert pipeline.coarse_from_mm() == RETRAINED_FINE_MAX_SPACING_MM
    way_back = Pipeline.from_weights(config=PipelineConfig(coarse_input_min_spacing_mm=0.08))
    assert way_back.weights["segmentator"]["path"] == str(DEFAULT_SEGMENTATOR_WEIGHTS) and way_back.fallback is None
    assert Pipeline.from_weights(coarse_dir=None).weights["segmentator"]["path"] == str(DEFAULT_SEGMENTATOR_WEIGHTS)
    # A site's native FFDM labels retrain the native pair; its film labels the film networks.
    models = tmp_path / "model"
    assert start_weights(models, "segmentator", "fine", [0.07, 0.07]) == DEFAULT_NATIVE_WEIGHTS_DIR / "segmentator.pt"
    assert start_weights(models, "segmentator", "fine", [0.05, 0.07]) == DEFAULT_SEGMENTATOR_WEIGHTS
    assert start_weights(models, "detector", "coarse", [0.1, 0.1]) == DEFAULT_COARSE_WEIGHTS_DIR / "detector.pt"
    written = publish_native_partner(models, "segmentator")
    assert written == models / "detector.pt"
    assert written.read_bytes() == (DEFAULT_NATIVE_WEIGHTS_DIR / "detector.pt").read_bytes()
    assert publish_native_partner(models, "segmentator") is None  # the site's own is never replaced
    assert start_weights(models, "detector", "fine", [0.07, 0.07]) == written


DEMO = DATA / "demo" / "demo_synthetic_0001.dcm"


def test_the_routes_of_the_bundled_pipeline_and_mcseg_weights(tmp_path, capsys):
    """Pipeline.routes lists the three bands of the bundled weights (film, native, coarse) with what
    serves each; ``mcseg weights`` prints them and each image's networks, and reports an unreadable file."""
    from mcseg.cli import main as cli_main
    from mcseg.pipeline import DEFAULT_COARSE_WEIGHTS_DIR, DEFAULT_NATIVE_WEIGHTS_DIR, WEIGHTS_DIR

    routes = Pipeline.from_weights().routes()
    native_from, native_to = COARSE_INPUT_MIN_SPACING_MM, RETRAINED_FINE_MAX_SPACING_MM
    assert [(r["from_mm"], r["below_mm"], r["inputs"]) for r in routes] == [
        (0.0, native_from, "any"), (native_from, native_to, "digital detector"), (native_from, native_to, "other"),
        (native_to, NATIVE_ALONE_BELOW_MM, "digital detector"), (native_to, NATIVE_ALONE_BELOW_MM, "other"),
        (NATIVE_ALONE_BELOW_MM, None, "any")]
    assert [Path(r["segmentator"]).parent for r in routes] == [WEIGHTS_DIR] + [DEFAULT_NATIVE_WEIGHTS_DIR] * 4 \
        + [DEFAULT_COARSE_WEIGHTS_DIR]
    assert [r["working_spacing_mm"] for r in routes] == [0.07, 0.07, 0.07, 0.07, 0.07, 0.14]
    # The other inputs from 0.06 mm: the native networks with the band classifier (the thirteenth and seventeenth
    # rules); detector images of 0.06-0.08 mm keep the native classifier.
    assert routes[2]["pipeline"] is routes[4]["pipeline"]
    assert routes[4]["candidate_classifier"] and routes[4]["pipeline"].classifier.operating_threshold == 0.7663
    assert routes[1]["pipeline"].classifier.operating_threshold != 0.7663
    # Moving the coarse edge to 0.08 mm gives the film networks below it: two bands.
    moved = Pipeline.from_weights(config=PipelineConfig(coarse_input_min_spacing_mm=0.08)).routes()
    assert [Path(r["segmentator"]).parent for r in moved] == [WEIGHTS_DIR, DEFAULT_COARSE_WEIGHTS_DIR]

    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not a dicom")
    assert cli_main(["weights", str(DEMO), str(bad)]) == 2
    out, err = capsys.readouterr()
    assert "0.06 to <0.08 mm, detector    mcseg/weights/native" in out
    assert "0.06 to <0.08 mm, other       mcseg/weights/native" in out
    assert "0.11 mm and coarser           mcseg/weights/coarse" in out
    assert f"{DEMO}: 0.07 x 0.07 mm (PixelSpacing) -> mcseg/weights/native at 0.07 mm" in out
    assert f"{bad}: error" in err


def test_native_ge_and_siemens_pixels_of_a_digital_detector_go_to_the_native_networks_alone(tmp_path, capsys):
    """With native_alone_below_mm 0.11, native FFDM of 0.08 to <0.11 mm whose header names a digital detector
    (DetectorType) goes to the native networks without a classifier, at their own calibrated decision
    threshold, upsampled to 0.07 mm; the same pixels without that record (digitised film, a PNG, a phantom)
    stay with the coarse weights unless native_alone_inputs is "all"; coarser inputs stay with the coarse
    weights, finer ones with theirs."""
    from mcseg.cli import main as cli_main
    from mcseg.defaults import NATIVE_ALONE_DECISION_THRESHOLD
    from mcseg.io import read_mammogram
    from mcseg.pipeline import DEFAULT_NATIVE_WEIGHTS_DIR

    assert Pipeline.from_weights(config=PipelineConfig(native_alone_inputs="none")).native_alone is None
    pipeline = Pipeline.from_weights(config=PipelineConfig(native_alone_below_mm=0.11, native_band_classifier=False))
    assert [(r["from_mm"], r["below_mm"], r["inputs"], r["candidate_classifier"]) for r in pipeline.routes()] == [
        (0.0, COARSE_INPUT_MIN_SPACING_MM, "any", True),
        (COARSE_INPUT_MIN_SPACING_MM, RETRAINED_FINE_MAX_SPACING_MM, "any", True),
        (RETRAINED_FINE_MAX_SPACING_MM, 0.11, "digital detector", False),
        (RETRAINED_FINE_MAX_SPACING_MM, 0.11, "other", True), (0.11, None, "any", True)]
    alone = pipeline.served_at((0.094, 0.094), digital_detector=True)
    assert alone is pipeline.native_alone and alone.classifier is None
    assert alone.score_decision[0] == NATIVE_ALONE_DECISION_THRESHOLD
    assert pipeline.served_at((0.094, 0.094)) is pipeline.coarse  # no detector named: film, PNG, phantom
    assert pipeline.served_at((0.12, 0.12), True) is pipeline.coarse and pipeline.served_at((0.07, 0.07), True) is pipeline

    pixels = read_mammogram(DEMO).pixels[300:800, 200:700].astype(np.uint16)
    ge_like = write_mammogram_dicom(tmp_path / "ge_like.dcm", pixels, spacing_mm=(0.094, 0.094),
                                    detector_type="SCINTILLATOR")
    film_like = write_mammogram_dicom(tmp_path / "film_like.dcm", pixels, spacing_mm=(0.094, 0.094), detector_type="FILM")
    assert read_mammogram(ge_like).digital_detector and not read_mammogram(film_like).digital_detector
    assert pipeline.for_input(read_mammogram(film_like)) is pipeline.coarse
    # By default those other inputs go to the native networks with the band classifier.
    banded = Pipeline.from_weights()
    assert banded.for_input(read_mammogram(film_like)) is banded.native_band
    assert banded.for_input(read_mammogram(ge_like)) is banded.native_alone
    assert banded.native_band.segmentator is banded.segmentator  # one copy of the networks
    every = Pipeline.from_weights(config=PipelineConfig(native_alone_below_mm=0.11, native_alone_inputs="all"))
    assert every.for_input(read_mammogram(film_like)) is every.native_alone
    result = pipeline.run(read_mammogram(ge_like))
    assert Path(result.weights["segmentator"]["path"]).parent == DEFAULT_NATIVE_WEIGHTS_DIR
    assert result.frame.spacing_mm[0] == pytest.approx(0.07, abs=0.002)
    assert result.settings["use_candidate_classifier"] is False and result.settings["native_alone_below_mm"] == 0.11
    assert result.mammogram.describe_input()["detector_type"] == "SCINTILLATOR"
    above = [c for c in result.calcifications if c["segmentator_score"] >= NATIVE_ALONE_DECISION_THRESHOLD]
    assert above and all(c["in_mask"] for c in above)  # below it only cluster members may join the mask
    assert any(not c["in_mask"] for c in result.calcifications)
    # Reported on the coarse classifier's scale (the twelfth rule): its decision threshold meets the coarse
    # operating threshold, and the order of the candidates is the segmentator's.
    coarse_operating = pipeline.coarse.classifier.operating_threshold
    assert result.settings["mask_threshold"] == pytest.approx(coarse_operating, abs=1e-4)
    assert all((c["score"] >= coarse_operating - 1e-4) == (c["segmentator_score"] >= NATIVE_ALONE_DECISION_THRESHOLD)
               for c in result.calcifications)
    by_score = sorted(result.calcifications, key=lambda c: -c["score"])
    assert [c["segmentator_score"] for c in by_score] == sorted((c["segmentator_score"] for c in by_score), reverse=True)

    assert cli_main(["weights", "--native-alone-below-mm", "0.11", "--no-native-band-classifier", str(ge_like),
                     str(film_like)]) == 0
    out = capsys.readouterr().out
    assert "0.08 to <0.11 mm, detector    mcseg/weights/native" in out
    assert "0.08 to <0.11 mm, other       mcseg/weights/coarse" in out
    assert f"{ge_like}: 0.094 x 0.094 mm (PixelSpacing, DetectorType SCINTILLATOR) -> mcseg/weights/native" in out
    assert f"{film_like}: 0.094 x 0.094 mm (PixelSpacing, DetectorType FILM) -> mcseg/weights/coarse" in out
    with pytest.raises(SystemExit):
        cli_main(["weights", "--native-alone-below-mm", "0.08"])  # the band would be empty
    assert "must lie above" in capsys.readouterr().err


def test_crops_of_a_real_background_carry_its_detector_and_phantoms_none(tmp_path):
    """The generator's crops of a real mammogram keep its DetectorType (the anatomy and noise are that
    detector's), so the pipeline routes them as it would the original; its phantoms name no detector."""
    import pydicom

    from mcseg.io import read_mammogram
    from mcseg.synth import SynthConfig, generate_dataset

    pixels = read_mammogram(DEMO).pixels.astype(np.uint16)
    background = write_mammogram_dicom(tmp_path / "detector.dcm", pixels, spacing_mm=(0.07, 0.07), detector_type="DIRECT")
    config = SynthConfig(shape_px=(300, 240), n_clusters_range=(1, 1))
    crop = generate_dataset(tmp_path / "crops", 1, 3, mode="real-background", backgrounds=[background], config=config,
                            progress=False)[0]["image"]
    phantom = generate_dataset(tmp_path / "phantoms", 1, 3, config=config, progress=False)[0]["image"]
    assert pydicom.dcmread(crop).DetectorType == "DIRECT" and read_mammogram(crop).digital_detector
    assert "DetectorType" not in pydicom.dcmread(phantom) and not read_mammogram(phantom).digital_detector
