"""End to end: the real MONAI Label server with apps/mc_segmentation, driven by its Python client.

One server for the whole module (starting it costs seconds); the steps run in
order, as a user in 3D Slicer would take them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
import requests
import SimpleITK as sitk
from conftest import DATA, make_studies, running_server, wait_for_training
from monailabel.client import MONAILabelClient
from monailabel.client.client import MONAILabelClientException
from scipy import ndimage as ndi

from mcseg.io.dicom_write import write_mammogram_dicom
from mcseg.patches import PatchStore

IMAGE = DATA / "demo" / "demo_synthetic_0000.dcm"      # synthetic, 0.07 mm pixels, 13 calcifications
TRUTH = DATA / "demo" / "demo_synthetic_0000.gt.nrrd"
UPLOAD = DATA / "demo" / "demo_synthetic_0001.dcm"
OTHER = DATA / "demo" / "demo_real_background_0000.dcm"  # a second, harder unlabelled image


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("server")
    studies = make_studies(root, [IMAGE, OTHER])
    with running_server(root, studies, {"train_after_labels": "2", "auto_train_models": "segmentator",
                                        "auto_train_steps": "20"}) as client:
        yield {"client": client, "root": root, "studies": studies}


def _found(mask: np.ndarray, truth: np.ndarray) -> tuple[int, int]:
    """(ground-truth calcifications touched by the mask, all of them)."""
    labels, n = ndi.label(truth)
    hit = set(np.unique(labels[(mask > 0) & (labels > 0)])) - {0}
    return len(hit), n


def _status(exc: MONAILabelClientException) -> int:
    return int(str(exc.msg).split("Status: ")[1].split(";")[0])


def test_info_lists_models_and_trainers(server):
    info = server["client"].info()
    assert {"pipeline", "detector", "segmentator", "luna_lozoya", "marita_unet", "marita_unet_masses",
            "cortina_svm", "cortina_resnet", "cortina_detector"} <= set(info["models"])
    assert {"detector", "segmentator", "luna_lozoya", "marita_unet", "cortina_svm",
            "cortina_resnet", "cortina_detector"} <= set(info["trainers"])
    assert "calcification" in info["labels"]
    assert info["datastore"]["total"] >= 2
    assert {"uncertain_c2c3", "entropy", "random", "first"} <= set(info["strategies"])
    assert "uncertain_c2c3" in info["scoring"]
    assert info["workload"]["workers"] == 1 and "scored_with_current_weights" in info["uncertain_c2c3_scoring"]
    # Before any retraining the bundled film, native and coarse networks serve the pixel bands; from 0.08 to
    # <0.11 mm the native ones alone serve digital detector images; from 0.06 mm the other inputs get the native
    # networks with their band classifier.
    assert [(r["from_mm"], r["below_mm"], r["inputs"], Path(r["weights"]).name, r["working_spacing_mm"])
            for r in info["routes"]] == [
        (0.0, 0.06, "any", "weights", 0.07), (0.06, 0.08, "digital detector", "native", 0.07),
        (0.06, 0.08, "other", "native", 0.07), (0.08, 0.11, "digital detector", "native", 0.07),
        (0.08, 0.11, "other", "native", 0.07), (0.11, None, "any", "coarse", 0.14)]


@pytest.mark.parametrize("ext", [".nrrd", ".nii.gz", ".seg.nrrd"])
def test_pipeline_label_lies_on_the_image(server, ext):
    client = server["client"]
    result_file, params = client.infer("pipeline", IMAGE.stem, {"result_extension": ext, "result_dtype": "uint8"})
    image, label = sitk.ReadImage(str(IMAGE)), sitk.ReadImage(result_file)
    assert label.GetPixelID() == sitk.sitkUInt8
    assert label.GetSize()[:2] == image.GetSize()[:2]
    np.testing.assert_allclose(label.GetSpacing()[:2], (0.07, 0.07), rtol=1e-6)
    np.testing.assert_allclose(label.GetSpacing()[:2], image.GetSpacing()[:2], rtol=1e-6)
    np.testing.assert_allclose(label.GetOrigin()[:2], image.GetOrigin()[:2], atol=1e-6)
    mask = sitk.GetArrayFromImage(label).reshape(image.GetSize()[1], image.GetSize()[0])
    found, total = _found(mask, sitk.GetArrayFromImage(sitk.ReadImage(str(TRUTH))))
    # Served by the native weights since 2026-12-07 (5 of 13 with the coarse weights before them, 10
    # with the 0.07 mm ones before those).
    assert found >= 0.35 * total, f"pipeline found {found} of {total} calcifications"
    assert params["label_names"] == {"calcification": 1}
    assert params["shape"] == [1400, 1000] and params["spacing_mm"] == [0.07, 0.07]
    strong = [c for c in params["calcifications"] if c["in_mask"]]
    assert strong and all(0 <= c["centroid_px"][0] < 1400 and 0 <= c["centroid_px"][1] < 1000 for c in strong)
    os.unlink(result_file)


def test_pipeline_can_mark_where_the_models_disagree(server):
    """uncertain_segment: value 2 on the sub-threshold candidates whose symmetry views disagree; never
    accepted back as an annotation."""
    client = server["client"]
    plain_file, plain = client.infer("pipeline", IMAGE.stem, {"result_extension": ".seg.nrrd"})
    result_file, params = client.infer("pipeline", IMAGE.stem, {"result_extension": ".seg.nrrd",
                                                                "uncertain_segment": True})
    assert params["label_names"] == {"calcification": 1, "uncertain": 2}
    label = sitk.ReadImage(result_file)
    assert label.GetMetaData("Segment1_Name") == "uncertain"
    values = sitk.GetArrayFromImage(label)
    assert set(np.unique(values)) <= {0, 1, 2}
    assert np.array_equal(values == 1, sitk.GetArrayFromImage(sitk.ReadImage(plain_file)) == 1)
    disagree = [c for c in params["calcifications"] if not c["in_mask"] and c["uncertainty"] >= 0.1]
    assert bool(disagree) == bool((values == 2).any())
    # A request may move the operating point: a stricter classifier threshold keeps fewer in the mask.
    strict_file, strict = client.infer("pipeline", IMAGE.stem, {"classifier_threshold": 0.999,
                                                                "cluster_threshold": 1.0})
    assert strict["settings"]["classifier_threshold"] == 0.999
    in_mask = sum(c["in_mask"] for c in params["calcifications"])
    assert sum(c["in_mask"] for c in strict["calcifications"]) < in_mask
    os.unlink(strict_file)
    # Submitted back with the uncertain segment still in it: refused with the reason.
    values[..., 5:9, 5:9] = 2
    marked = sitk.GetImageFromArray(values)
    marked.CopyInformation(label)
    sitk.WriteImage(marked, str(server["root"] / "marked.nii.gz"))
    with pytest.raises(MONAILabelClientException) as err:
        client.save_label(IMAGE.stem, str(server["root"] / "marked.nii.gz"), tag="final")
    assert _status(err.value) == 422 and "the 'uncertain' segment" in err.value.msg
    os.unlink(result_file)
    os.unlink(plain_file)


def test_detector_and_segmentator_inferers(server):
    client = server["client"]
    det_file, det = client.infer("detector", IMAGE.stem, {"result_extension": ".nrrd"})
    region = sitk.GetArrayFromImage(sitk.ReadImage(det_file))
    assert det["candidates"] and region.any()
    # The label is the flagged windows within the breast: every labelled pixel lies in a window, every
    # window holds labelled pixels, and the typical window is wholly labelled (a window over the
    # breast's edge keeps only its breast part; the native detector that serves this 0.07 mm image
    # flags many along the skin line: 41 of 95 windows here are less than half inside the breast).
    windows, inside = np.zeros(region.shape, bool), []
    for box in det["candidates"]:
        r0, c0, r1, c1 = box["bbox_px"]
        assert 0 <= r0 < r1 <= 1400 and 0 <= c0 < c1 <= 1000
        assert region[r0:r1, c0:c1].any()
        inside.append(region[r0:r1, c0:c1].mean())
        windows[r0:r1, c0:c1] = True
    assert np.median(inside) > 0.9
    assert not (region.astype(bool) & ~windows).any()
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(TRUTH)))
    found, total = _found(region, truth)
    assert found >= 0.8 * total, f"candidate regions cover {found} of {total} calcifications"

    roi = [300, 200, 800, 700]
    seg_file, seg = client.infer("segmentator", IMAGE.stem, {"roi_px": roi})
    mask = sitk.GetArrayFromImage(sitk.ReadImage(seg_file))
    outside = mask.copy()
    outside[roi[0]:roi[2], roi[1]:roi[3]] = 0
    assert not outside.any(), "the segmentator labelled pixels outside the requested region"
    assert seg["settings"]["roi_px"] == roi and seg["settings"]["used_detector"] is False
    for f in (det_file, seg_file):
        os.unlink(f)


def test_luna_lozoya_cluster_cnn_returns_a_label_on_the_image(server):
    """The seed baseline of Luna-Lozoya et al. through the server: windows of likely clusters as a label
    with the image's geometry, and the cluster candidates in the JSON."""
    client = server["client"]
    label_file, doc = client.infer("luna_lozoya", OTHER.stem, {"stride_px": 36})
    label, image = sitk.ReadImage(label_file), sitk.ReadImage(str(OTHER))
    assert label.GetSize()[:2] == image.GetSize()[:2]
    np.testing.assert_allclose(label.GetSpacing()[:2], image.GetSpacing()[:2], rtol=1e-6)
    np.testing.assert_allclose(label.GetOrigin()[:2], image.GetOrigin()[:2], atol=1e-6)
    mask = sitk.GetArrayFromImage(label).reshape(image.GetSize()[1], image.GetSize()[0])
    assert doc["model"] == "luna_lozoya" and doc["cluster_map"]["stride_px"] == 36
    assert doc["cluster_map"]["windows"] > 0 and doc["calcifications"] == []
    for cluster in doc["clusters"]:
        r0, c0, r1, c1 = cluster["bbox_px"]
        assert mask[r0:r1, c0:c1].any()  # the candidate lies over windows the label marks
    assert bool(doc["clusters"]) == bool(mask.any())
    os.unlink(label_file)
    with pytest.raises(MONAILabelClientException) as err:
        client.infer("luna_lozoya", OTHER.stem, {"stride_px": 0})
    assert _status(err.value) == 422 and "stride_px" in err.value.msg


def test_marita_unet_returns_a_calcification_label_and_the_output_contract(server):
    """The seed baseline of Marita et al. through the server: a calcification mask with the image's
    geometry, and calcifications whose strong ones lie on the mask."""
    client = server["client"]
    label_file, doc = client.infer("marita_unet", OTHER.stem, {})
    label, image = sitk.ReadImage(label_file), sitk.ReadImage(str(OTHER))
    assert label.GetSize()[:2] == image.GetSize()[:2]
    np.testing.assert_allclose(label.GetSpacing()[:2], image.GetSpacing()[:2], rtol=1e-6)
    mask = sitk.GetArrayFromImage(label).reshape(image.GetSize()[1], image.GetSize()[0])
    assert doc["model"] == "marita_unet" and doc["tiles"]["tiles_run"] > 0
    strong = [c for c in doc["calcifications"] if c["in_mask"]]
    assert bool(strong) == bool(mask.any())
    for calc in strong:
        r, c = (int(round(v)) for v in calc["centroid_px"])
        assert mask[max(r - 3, 0):r + 4, max(c - 3, 0):c + 4].any()
    os.unlink(label_file)
    # The paper's own finding, masses, at its own pixel (0.2 mm) and tile.
    label_file, doc = client.infer("marita_unet_masses", OTHER.stem, {})
    assert sitk.ReadImage(label_file).GetSize()[:2] == image.GetSize()[:2]
    assert doc["finding"] == "mass" and doc["calcifications"] == [] and isinstance(doc["masses"], list)
    assert doc["settings"]["working_spacing_mm"] == 0.2 and doc["tiles"]["tile_px"] == 256
    os.unlink(label_file)


def test_cortina_svm_cascade_returns_a_calcification_label(server):
    """Cortina et al.'s pipeline 1 through the server: a label on the image's geometry and the
    candidates the cascade kept, the strong ones on the mask."""
    client = server["client"]
    label_file, doc = client.infer("cortina_svm", OTHER.stem, {})
    label, image = sitk.ReadImage(label_file), sitk.ReadImage(str(OTHER))
    assert label.GetSize()[:2] == image.GetSize()[:2]
    mask = sitk.GetArrayFromImage(label).reshape(image.GetSize()[1], image.GetSize()[0])
    assert doc["model"] == "cortina_svm" and doc["candidates"]["proposed"] > 0
    strong = [c for c in doc["calcifications"] if c["in_mask"]]
    assert len(strong) == doc["candidates"]["in_mask"] and bool(strong) == bool(mask.any())
    for calc in strong:
        r, c = (int(round(v)) for v in calc["centroid_px"])
        assert mask[max(r - 8, 0):r + 9, max(c - 8, 0):c + 9].any()
    os.unlink(label_file)


@pytest.mark.parametrize("model", ["cortina_resnet", "cortina_detector"])
def test_cortina_deep_pipelines_return_a_calcification_label(server, model):
    """Cortina et al.'s pipelines 2 and 3 through the server on a real-background DICOM: a label on
    the image's geometry, detections (saliency peaks; detector boxes), the strong ones on the mask."""
    client = server["client"]
    label_file, doc = client.infer(model, OTHER.stem, {})
    label, image = sitk.ReadImage(label_file), sitk.ReadImage(str(OTHER))
    assert label.GetSize()[:2] == image.GetSize()[:2]
    np.testing.assert_allclose(label.GetSpacing()[:2], image.GetSpacing()[:2])
    mask = sitk.GetArrayFromImage(label).reshape(image.GetSize()[1], image.GetSize()[0])
    assert doc["model"] == model and doc["windows"] > 0
    strong = [c for c in doc["calcifications"] if c["in_mask"]]
    assert bool(strong) == bool(mask.any())
    for calc in strong:
        r, c = (int(round(v)) for v in calc["centroid_px"])
        assert mask[max(r - 8, 0):r + 9, max(c - 8, 0):c + 9].any()
    os.unlink(label_file)


def test_batch_infer_route_runs_mcseg_batch_and_saves_what_pipeline_returns(server):
    """MONAI Label's /batch/infer/pipeline goes through mcseg.batch (2 worker processes here) in
    MONAI Label's background task; the server answers meanwhile, and every image gets the label
    the pipeline inferer returns for it."""
    client = server["client"]
    url = client.get_server_url()
    started = requests.post(f"{url}/batch/infer/pipeline", params={"images": "all"},
                            json={"label_tag": "original", "max_workers": 2}, timeout=30)
    assert started.status_code == 200, started.text
    deadline, answered = time.time() + 300, 0
    while time.time() < deadline:
        info = requests.get(f"{url}/info/", timeout=10)
        answered += info.status_code == 200
        status = requests.get(f"{url}/batch/infer/", timeout=10).json()
        if status.get("status") not in ("SUBMITTED", "RUNNING"):
            break
        time.sleep(1)
    assert status.get("status") == "DONE", status
    assert answered >= 1
    # The labels were saved by MONAI Label's subprocess; the server's datastore picks them up
    # from the folder it watches.
    deadline = time.time() + 60
    while time.time() < deadline:
        objects = client.datastore()["objects"]
        if all("original" in objects[p.stem]["labels"] for p in (IMAGE, OTHER)):
            break
        time.sleep(1)
    for path in (IMAGE, OTHER):
        assert "original" in objects[path.stem]["labels"], (path.stem, status["details"][-5:])
        saved = sitk.ReadImage(str(server["studies"] / "labels" / "original" / f"{path.stem}.nrrd"))
        result_file, _ = client.infer("pipeline", path.stem, {"result_extension": ".nrrd"})
        direct = sitk.ReadImage(result_file)
        np.testing.assert_allclose(saved.GetSpacing()[:2], direct.GetSpacing()[:2], rtol=1e-6)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(saved).squeeze(),
                                      sitk.GetArrayFromImage(direct).squeeze())
        assert sitk.GetArrayFromImage(saved).any()
        os.unlink(result_file)


def test_bad_requests_get_4xx_and_server_keeps_serving(server, tmp_path):
    client = server["client"]
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    ct = write_mammogram_dicom(tmp_path / "ct.dcm", np.full((256, 256), 100, np.uint16), spacing_mm=(0.5, 0.5),
                               modality="CT")
    corrupt = tmp_path / "broken.dcm"
    corrupt.write_bytes(UPLOAD.read_bytes()[:5000])
    cases = [
        (lambda: client.infer("pipeline", "no_such_image", {}), 404, "not in the datastore"),
        (lambda: client.upload_image(str(text), "notes"), 422, "unknown image format"),
        (lambda: client.upload_image(str(ct), "ct"), 422, "CT"),
        (lambda: client.upload_image(str(corrupt), "broken"), 422, "upload rejected: broken"),
        (lambda: client.save_label("no_such_image", str(TRUTH), tag="final"), 404, "not in the datastore"),
        (lambda: client.infer("pipeline", IMAGE.stem, {"result_extension": ".jpg"}), 422, "result_extension"),
        (lambda: client.infer("pipeline", IMAGE.stem, {"classifier_threshold": "high"}), 422, "between 0 and 1"),
        (lambda: client.infer("pipeline", IMAGE.stem, {"cluster_threshold": 1.5}), 422, "cluster_threshold"),
    ]
    for call, status, words in cases:
        with pytest.raises(MONAILabelClientException) as err:
            call()
        assert _status(err.value) == status, err.value.msg
        assert words in err.value.msg
    assert not {"notes", "ct", "broken"} & set(client.datastore()["objects"]), "a rejected upload was stored"
    assert "pipeline" in client.info()["models"]


def _scores(client: MONAILabelClient) -> dict:
    objects = client.datastore()["objects"]
    return {i: objects[i]["image"]["info"].get("uncertain_c2c3") for i in (IMAGE.stem, OTHER.stem)}


def _resampled_upload(folder: Path, spacing_mm: float) -> tuple[Path, np.ndarray]:
    """UPLOAD (0.07 mm) resampled to ``spacing_mm`` as a DICOM, and its ground truth at that pixel."""
    zoom = 0.07 / spacing_mm
    pixels = pydicom.dcmread(UPLOAD).pixel_array.astype(np.float32)
    fine = np.clip(np.rint(ndi.zoom(pixels, zoom, order=1)), 0, 2 ** 14 - 1).astype(np.uint16)
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(UPLOAD.with_name(UPLOAD.stem + ".gt.nrrd"))))
    path = write_mammogram_dicom(folder / f"upload_{spacing_mm}mm.dcm", fine, spacing_mm=(spacing_mm, spacing_mm))
    return Path(path), ndi.zoom(truth, zoom, order=0)


def _wait_for_scores(client: MONAILabelClient, model_path: str | None = None, timeout_s: float = 300) -> dict:
    """Until the background scorer has scored every unlabelled image (with ``model_path`` in use)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        progress = client.info()["uncertain_c2c3_scoring"]
        other = _scores(client)[OTHER.stem]  # unlabelled throughout the module
        done = progress["scored_with_current_weights"] == progress["unlabelled"]
        if done and (model_path is None or (other and model_path in other["model"])):
            return progress
        time.sleep(1)
    raise AssertionError(f"background scoring did not finish: {client.info()['uncertain_c2c3_scoring']}")


def test_next_sample_uncertain_c2c3(server):
    client = server["client"]
    # It answers at once from the scores there are, whether the background scorer is done or not
    # (before, it scored every unscored image inside the request: 10-20 s for these two).
    started = time.perf_counter()
    first = client.next_sample("uncertain_c2c3", {})
    assert time.perf_counter() - started < 1.0  # while the background scorer computes beside it
    assert first["id"] in (IMAGE.stem, OTHER.stem) and first["scored"] + first["stale"] + first["unscored"] == 2
    progress = _wait_for_scores(client)
    assert progress["unlabelled"] == 2 and not progress["failed"]
    sample = client.next_sample("uncertain_c2c3", {})
    assert sample["scored"] == 2 and sample["score_is_current"] is True
    rows, cols = sitk.ReadImage(sample["path"]).GetSize()[1::-1]
    assert sample["patches"] and {p["patch_class"] for p in sample["patches"]} <= {"C2", "C3"}
    for p in sample["patches"]:
        r0, c0, r1, c1 = p["bbox_px"]
        assert 0 <= r0 < r1 <= rows and 0 <= c0 < c1 <= cols, p
        assert p["bbox_mm"][2] == pytest.approx(r1 * 0.07, abs=0.01) and 0 <= p["uncertainty"] <= 1
    scores = _scores(client)
    assert sample["id"] == max(scores, key=lambda i: scores[i]["score"])
    # The plain-entropy strategy ranks the same stored entries by their entropy, computed in the same pass.
    by_entropy = client.next_sample("entropy", {})
    assert by_entropy["scored"] == 2
    assert all(0 < scores[i]["entropy"] <= 1 for i in scores)
    assert by_entropy["id"] == max(scores, key=lambda i: scores[i]["entropy"])
    assert by_entropy["score"] == scores[by_entropy["id"]]["entropy"]


def test_labels_round_trip_then_training_by_itself_and_on_request(server):
    """Upload, segment, correct and save two labels (K = 2): the second starts a training run,
    whose weights the next inference uses and whose stats the panel shows."""
    client = server["client"]
    _wait_for_scores(client)  # the scores the new weights must replace
    scores_before = _scores(client)
    # 1. An uploaded image, segmented, corrected (here: the ground truth) and saved. It is a 0.1 mm
    # image (the second demo phantom resampled; no detector named), which the native networks with their
    # band classifier serve; its label retrains the coarse networks, which serve it once retrained; IMAGE's,
    # at 0.07 mm, retrains the 0.07 mm networks (mcseg.training.routes).
    upload, truth = _resampled_upload(server["root"], 0.1)
    image_id = client.upload_image(str(upload), "uploaded")["image"]
    assert image_id == "uploaded"
    assert client.datastore()["objects"]["uploaded"]["image"]["info"]["spacing_mm"] == [0.1, 0.1]
    result_file, params = client.infer("pipeline", "uploaded", {"result_extension": ".nii.gz"})
    assert params["weights"]["segmentator"]["path"].endswith("mcseg/weights/native/segmentator.pt")
    assert params["settings"]["mask_threshold"] == 0.7663  # the band classifier's operating point
    mask = sitk.GetArrayFromImage(sitk.ReadImage(result_file))
    assert mask.shape == truth.shape
    found, total = _found(mask, truth)
    assert found >= 0.5 * total, f"found {found} of {total} on the uploaded image"
    label = server["root"] / "uploaded_label.nii.gz"
    corrected = sitk.GetImageFromArray(truth.astype(np.uint8))
    corrected.CopyInformation(sitk.ReadImage(result_file))
    sitk.WriteImage(sitk.JoinSeries(corrected), str(label))
    saved = client.save_label("uploaded", str(label), tag="final")
    assert saved["labels_since_training"] == 1 and saved["training_started"] is False
    assert saved["patches_stored"]["C1"] > 0 and saved["route"] == "coarse"
    stored_upload = Path(server["studies"]) / "labels" / "final" / "uploaded.nii.gz"
    assert stored_upload.is_file()
    os.unlink(result_file)

    # A label of the wrong size is refused, and the one saved before is kept byte for byte.
    before = stored_upload.read_bytes()
    small = server["root"] / "small.nii.gz"
    sitk.WriteImage(sitk.Image(10, 10, sitk.sitkUInt8), str(small))
    with pytest.raises(MONAILabelClientException) as err:
        client.save_label("uploaded", str(small), tag="final")
    assert _status(err.value) == 422 and "10 x 10" in err.value.msg
    assert stored_upload.read_bytes() == before

    # 2. 3D Slicer saves a segmentation of the 2D image as a one-slice NIfTI volume.
    truth_image = sitk.ReadImage(str(TRUTH))
    slicer_label = server["root"] / "slicer_label.nii.gz"
    sitk.WriteImage(sitk.JoinSeries(truth_image), str(slicer_label))
    model = server["root"] / "model" / "segmentator.pt"
    coarse_model = server["root"] / "model" / "coarse" / "segmentator.pt"
    assert not model.exists() and not coarse_model.exists()
    saved = client.save_label(IMAGE.stem, str(slicer_label), tag="final")
    assert saved["label"] == IMAGE.stem and saved["training_started"] is True  # K = 2 labels reached
    assert saved["route"] == "fine"
    stored = Path(server["studies"]) / "labels" / "final" / f"{IMAGE.stem}.nii.gz"
    assert stored.is_file()
    assert client.datastore()["objects"][IMAGE.stem]["labels"]["final"]["info"]["calcification_pixels"] > 0

    status = wait_for_training(client)
    assert status["status"] == "DONE", "\n".join(status.get("details", []))
    assert model.is_file() and coarse_model.is_file(), "training did not publish both routes' segmentators"
    info = client.info()
    all_stats = info["train_stats"]["segmentator"]
    assert all_stats["labelled_images"] == 2 and set(all_stats["routes"]) == {"fine", "coarse"}, all_stats
    # /info/ says which networks serve now: the site's retrained ones, each in the band its labels came from.
    served = {Path(r["weights"]) for r in info["routes"]}
    assert {model.parent, coarse_model.parent} <= served, info["routes"]
    assert all_stats["published"] == [str(model), str(coarse_model)]
    # The uploaded image's label retrained the coarse networks: they serve it now (a saved label changes
    # what serves its image), not the native ones that served it before.
    upload_file, upload_params = client.infer("pipeline", "uploaded", {})
    assert upload_params["weights"]["segmentator"]["path"] == str(coarse_model)
    os.unlink(upload_file)
    for route, image in (("fine", IMAGE.stem), ("coarse", "uploaded")):
        stats = all_stats["routes"][route]
        assert stats["route"] == route and stats["steps"] == 20 and stats["labelled_images"] == 1
        # stored when its label was saved; read again only where its split in its route differs
        assert stats["store"]["added"] in ([], [image]), stats["store"]
        assert len(stats["store"]["added"]) + stats["store"]["unchanged"] == 1, stats["store"]
        assert set(stats["patch_validation"]["error_rate_pct"]) == {"C1", "C2", "C3", "C4"}
    # Each route's patch store holds its own image, at its own working pixel.
    for store, image in ((server["root"] / "model" / "train", IMAGE.stem),
                         (server["root"] / "model" / "train" / "coarse", "uploaded")):
        assert PatchStore(next(store.glob("patches-*px.sqlite"))).image_ids() == [image]
    stats = all_stats["routes"]["fine"]
    # The background scorer re-scores the image still unlabelled with the new weights: OTHER is 0.07 mm,
    # which the 0.07 mm networks serve again now that a 0.07 mm label has retrained them.
    _wait_for_scores(client, str(model))
    after = client.datastore()["objects"][OTHER.stem]["image"]["info"]["uncertain_c2c3"]
    before_score = scores_before[OTHER.stem]
    assert after["model"] != before_score["model"] and str(model) in after["model"]
    assert after["ts"] >= before_score["ts"]

    # The candidate classifier was refitted for the new networks on the same labels, kept beside them
    # only if its rule said so; the inference uses it exactly then (the bundled one belongs to the
    # bundled networks).
    refit = stats["candidate_classifier"]
    assert refit["images"] == 1 and refit["candidates"] > 0, refit
    assert (server["root"] / "model" / "candidate_classifier.npz").is_file() == refit["adopted"], refit
    result_file, params = client.infer("pipeline", IMAGE.stem, {})
    assert params["weights"]["segmentator"]["path"] == str(model) and "outline" not in params["settings"]
    assert params["weights"]["segmentator"]["labelled_spacing_mm"] == [0.07, 0.07]
    # A 0.05 mm image (film, an unlike kind) is left to the bundled 0.07 mm networks, which have seen it.
    film, _ = _resampled_upload(server["root"], 0.05)
    client.upload_image(str(film), "film")
    film_file, film_params = client.infer("pipeline", "film", {})
    assert film_params["weights"]["segmentator"]["path"].endswith("mcseg/weights/segmentator.pt")
    os.unlink(film_file)
    assert ("candidate_classifier" in params["weights"]) == refit["adopted"], refit
    assert sitk.ReadImage(result_file).GetSize() == truth_image.GetSize()
    # The Dice in the train stats is the Dice of what the new weights segment.
    new_mask = sitk.GetArrayFromImage(sitk.ReadImage(result_file)).reshape(1400, 1000)
    expected = 2 * ((new_mask > 0) & (sitk.GetArrayFromImage(truth_image) > 0)).sum() / max(
        (new_mask > 0).sum() + (sitk.GetArrayFromImage(truth_image) > 0).sum(), 1)
    assert stats["image_validation"]["per_image"][IMAGE.stem] == pytest.approx(expected, abs=1e-4)
    os.unlink(result_file)

    # 3. A short training run asked for by the client, in 2 processes under torchrun (gloo ranks here;
    # on a server with GPUs, MONAI Label's multi_gpu switch starts one per GPU).
    detector = server["root"] / "model" / "detector.pt"
    client.train_start("detector", {"max_steps": 10, "validate_every": 5, "dice_images": 1, "processes": 2,
                                    "batch_size": 64})
    status = wait_for_training(client)
    assert status["status"] == "DONE", "\n".join(status.get("details", []))
    assert detector.is_file() and (server["root"] / "model" / "coarse" / "detector.pt").is_file()
    stats = client.info()["train_stats"]["detector"]
    assert set(stats["routes"]) == {"fine", "coarse"}, stats
    assert all(s["processes"] == 2 and s["steps"] == 10 for s in stats["routes"].values()), stats
    result_file, params = client.infer("pipeline", IMAGE.stem, {})
    assert params["weights"]["detector"]["path"] == str(detector)
    os.unlink(result_file)

    # 4. Luna-Lozoya's cluster CNN fine-tuned on the same two labels in 2 processes under torchrun (the
    # baselines' trainers take the same switch), then served with its new weights.
    cluster_cnn = server["root"] / "model" / "cluster_cnn.pt"
    client.train_start("luna_lozoya", {"epochs": 1, "processes": 2})
    status = wait_for_training(client)
    assert status["status"] == "DONE", "\n".join(status.get("details", []))
    assert cluster_cnn.is_file()
    stats = client.info()["train_stats"]["luna_lozoya"]
    assert stats["labelled_images"] == 2 and stats["patches"]["train"]["positives"] > 0, stats
    assert stats["processes"] == 2 and stats["ranks"] == 2 and stats["best_epoch"] == 1, stats
    result_file, params = client.infer("luna_lozoya", IMAGE.stem, {})
    assert params["settings"]["weights"] == str(cluster_cnn)
    os.unlink(result_file)

    # 5. Marita's U-Net fine-tuned on the same labels, then served with its new weights; a bad option is a 422.
    with pytest.raises(MONAILabelClientException) as err:
        client.train_start("marita_unet", {"epochs": 0})
    assert _status(err.value) == 422 and "epochs" in err.value.msg
    unet = server["root"] / "model" / "unet.pt"
    client.train_start("marita_unet", {"epochs": 1})
    status = wait_for_training(client)
    assert status["status"] == "DONE", "\n".join(status.get("details", []))
    assert unet.is_file()
    stats = client.info()["train_stats"]["marita_unet"]
    assert stats["labelled_images"] == 2 and stats["rois"]["train"] > 0, stats
    result_file, params = client.infer("marita_unet", IMAGE.stem, {})
    assert params["weights"]["path"] == str(unet)
    os.unlink(result_file)

    # 6. Cortina's SVM cascade refitted on the same labels, then served; a bad option is a 422.
    with pytest.raises(MONAILabelClientException) as err:
        client.train_start("cortina_svm", {"candidates": "hough"})
    assert _status(err.value) == 422 and "candidates" in err.value.msg
    with pytest.raises(MONAILabelClientException) as err:  # scikit-learn: one process only
        client.train_start("cortina_svm", {"processes": 2})
    assert _status(err.value) == 422 and "one process" in err.value.msg
    cascade = server["root"] / "model" / "cortina_svm.npz"
    client.train_start("cortina_svm", {})
    status = wait_for_training(client)
    assert status["status"] == "DONE", "\n".join(status.get("details", []))
    assert cascade.is_file()
    stats = client.info()["train_stats"]["cortina_svm"]
    assert stats["labelled_images"] == 2 and stats["candidates"]["train"]["positives"] > 0, stats
    result_file, params = client.infer("cortina_svm", IMAGE.stem, {})
    assert params["weights"]["path"] == str(cascade)
    os.unlink(result_file)

    # 7. Cortina's ResNet classifier trained on the same labels (a short run), then served.
    with pytest.raises(MONAILabelClientException) as err:
        client.train_start("cortina_resnet", {"epochs": 0})
    assert _status(err.value) == 422 and "epochs" in err.value.msg
    resnet = server["root"] / "model" / "cortina_resnet.pt"
    client.train_start("cortina_resnet", {"epochs": 1, "steps_per_epoch": 20})
    status = wait_for_training(client)
    assert status["status"] == "DONE", "\n".join(status.get("details", []))
    assert resnet.is_file()
    stats = client.info()["train_stats"]["cortina_resnet"]
    assert stats["labelled_images"] == 2 and stats["patches"]["train"]["positives"] > 0, stats
    result_file, params = client.infer("cortina_resnet", IMAGE.stem, {})
    assert params["weights"]["path"] == str(resnet)
    os.unlink(result_file)
