"""The hospital path against a real Orthanc PACS over DICOMweb (issue 18): MG series listed (not CT),
an image fetched on demand, `pipeline` run on it, its SEG and TID 1500 SR stored back in the study,
read back with pydicom/highdicom; a saved final label becomes a SEG series too; bad PACS input gets a
clear answer while the server keeps serving."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import requests
import SimpleITK as sitk
from conftest import APP, DATA, VENDOR, free_port, running_orthanc, running_server, wait_for_training
from pydicom.uid import generate_uid

from mcseg.io.dicom_write import write_mammogram_dicom

IMAGE = DATA / "demo" / "demo_synthetic_0000.dcm"
TRUTH = DATA / "demo" / "demo_synthetic_0000.gt.nrrd"
SIEMENS = VENDOR / "OutOfBoundsOverlay.dcm"


def _upload(pacs: str, path: Path) -> None:
    answer = requests.post(f"{pacs}/instances", data=path.read_bytes(), timeout=30)
    assert answer.ok and answer.json()["Status"] in ("Success", "AlreadyStored"), answer.text


def _series(pacs: str, study: str, modality: str) -> list[dict]:
    found = requests.get(f"{pacs}/dicom-web/studies/{study}/series", params={"Modality": modality}, timeout=30)
    return found.json() if found.status_code == 200 else []


def _instances(pacs: str, study: str, series: str) -> list[pydicom.Dataset]:
    from dicomweb_client import DICOMwebClient

    return DICOMwebClient(f"{pacs}/dicom-web").retrieve_series(study, series)


def _corpus(root: Path) -> dict[str, Path]:
    ct = write_mammogram_dicom(root / "ct.dcm", np.zeros((300, 300), np.uint16), spacing_mm=(0.5, 0.5), modality="CT")
    broken = pydicom.dcmread(DATA / "demo" / "demo_synthetic_0001.dcm")
    broken.SeriesInstanceUID, broken.SOPInstanceUID = generate_uid(), generate_uid()
    broken.file_meta.MediaStorageSOPInstanceUID = broken.SOPInstanceUID
    broken.PixelData = broken.PixelData[:5000]  # the header promises far more
    broken.save_as(root / "broken.dcm")
    return {"image": IMAGE, "siemens": SIEMENS, "ct": ct, "broken": root / "broken.dcm"}


def test_pacs_round_trip(tmp_path):
    files = _corpus(tmp_path)
    headers = {name: pydicom.dcmread(path, stop_before_pixels=True) for name, path in files.items()}
    series = {name: str(ds.SeriesInstanceUID) for name, ds in headers.items()}
    with running_orthanc(tmp_path) as pacs:
        for path in files.values():
            _upload(pacs, path)
        with running_server(tmp_path, f"{pacs}/dicom-web", {"models": "pipeline,segmentator", "train_after_labels": "1",
                                                            "auto_train_models": "segmentator", "auto_train_steps": "5",
                                                            "dicomweb_cache_images": "2"}) as client:
            url = f"http://127.0.0.1:{client.port}"
            # Only the MG series are images; the CT is never offered.
            stats = requests.get(f"{url}/datastore/", params={"output": "stats"}, timeout=30).json()
            assert stats["total"] == 3, stats
            offered = {client.next_sample(strategy, {})["id"] for strategy in ("uncertain_c2c3", "first", "random")}
            assert offered <= {series["image"], series["siemens"], series["broken"]} and offered
            result_file, params = client.infer("pipeline", series["image"], {"result_extension": ".nrrd"})
            found = [c for c in params["calcifications"] if c["in_mask"]]
            assert len(found) >= 5 and "error" not in params["pacs"], params.get("pacs")

            # The SEG and the SR are in the image's study.
            study = str(headers["image"].StudyInstanceUID)
            segs = {s["0020000E"]["Value"][0] for s in _series(pacs, study, "SEG")}
            srs = {s["0020000E"]["Value"][0] for s in _series(pacs, study, "SR")}
            assert params["pacs"]["seg_series"] in segs and params["pacs"]["sr_series"] in srs
            seg = _instances(pacs, study, params["pacs"]["seg_series"])[0]
            label = sitk.GetArrayFromImage(sitk.ReadImage(result_file))
            label = label.reshape(label.shape[-2:])
            assert (int(seg.Rows), int(seg.Columns)) == label.shape == (int(headers["image"].Rows),
                                                                         int(headers["image"].Columns))
            referenced = seg.ReferencedSeriesSequence[0]
            assert referenced.SeriesInstanceUID == series["image"]
            assert referenced.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == headers["image"].SOPInstanceUID
            assert seg.SegmentSequence[0].SegmentLabel == "calcification"
            assert seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeValue == "129770007"
            assert np.array_equal(seg.pixel_array.reshape(label.shape) > 0, label > 0)  # pixel for pixel
            sr = _instances(pacs, study, params["pacs"]["sr_series"])[0]
            content = json.dumps(sr.to_json_dict())
            assert content.count("Individual Calcification") == len(found)
            assert content.count("Calcification Cluster") == len(params["clusters"])

            # A final label saved from the client goes to the PACS as its own SEG series.
            slicer_label = tmp_path / "label.nii.gz"
            sitk.WriteImage(sitk.JoinSeries(sitk.ReadImage(str(TRUTH))), str(slicer_label))
            saved = client.save_label(series["image"], str(slicer_label), tag="final")
            # It feeds the patch store and starts the automatic training (after 1 label here), as in a
            # folder; the training run reads the label back through the PACS datastore.
            assert saved["labels_since_training"] == 1 and saved["training_started"] is True, saved
            assert saved["patches_stored"] and sum(saved["patches_stored"].values()) > 0, saved
            status = wait_for_training(client)
            assert status["status"] == "DONE", "\n".join(status.get("details", []))
            stats = client.info()["train_stats"]["segmentator"]
            # The image is 0.07 mm: its label retrains the 0.07 mm networks (mcseg.training.routes).
            assert stats["labelled_images"] == 1 and stats["routes"]["fine"]["steps"] == 5, stats
            assert (tmp_path / "model" / "segmentator.pt").is_file()
            finals = [s for s in _series(pacs, study, "SEG") if s.get("0008103E", {}).get("Value") == ["mcseg final label"]]
            assert len(finals) == 1
            final = _instances(pacs, study, finals[0]["0020000E"]["Value"][0])[0]
            truth = sitk.GetArrayFromImage(sitk.ReadImage(str(TRUTH)))
            assert np.array_equal(final.pixel_array.reshape(truth.shape) > 0, truth > 0)

            # Bad PACS input: an undecodable image is a 422 with the reason, and the server keeps serving.
            answer = requests.post(f"{url}/infer/pipeline", params={"image": series["broken"]}, timeout=120)
            assert answer.status_code == 422 and "pixel data" in answer.text.lower(), answer.text
            answer = requests.post(f"{url}/infer/pipeline", params={"image": series["ct"]}, timeout=60)
            assert answer.status_code == 404, answer.text  # the CT series is not an image of this app
            assert requests.get(f"{url}/info/", timeout=10).ok


def test_an_unreachable_pacs_is_a_clear_error_at_start(tmp_path):
    port = free_port()  # nothing listens there
    proc = subprocess.run(
        [sys.executable, "-m", "monailabel.main", "start_server", "--app", str(APP), "--studies",
         f"http://127.0.0.1:{port}/dicom-web", "--host", "127.0.0.1", "--port", str(free_port())],
        capture_output=True, text=True, timeout=180,
        env={**__import__("os").environ, "MONAI_LABEL_SESSION_PATH": str(tmp_path / "s"),
             "MONAI_LABEL_TRACKING_ENABLED": "false"})
    assert proc.returncode != 0
    assert f"the DICOMweb server at http://127.0.0.1:{port}/dicom-web does not answer" in proc.stdout + proc.stderr


def test_final_labels_come_back_from_the_pacs_for_training(tmp_path, monkeypatch):
    """The datastore on its own: a final label saved as a SEG is found and fetched again when the
    cache lost it (what MONAI Label's training list reads), and the cache keeps to its bound."""
    monkeypatch.syspath_prepend(str(APP))
    from lib.dicomweb import MammographyDICOMwebDatastore

    files = _corpus(tmp_path)
    headers = {name: pydicom.dcmread(path, stop_before_pixels=True) for name, path in files.items()}
    with running_orthanc(tmp_path) as pacs:
        for name in ("image", "siemens", "broken"):
            _upload(pacs, files[name])
        store = MammographyDICOMwebDatastore(f"{pacs}/dicom-web", cache_path=str(tmp_path / "cache"), cache_images=2)
        image = str(headers["image"].SeriesInstanceUID)
        assert sorted(store.list_images()) == sorted(str(headers[n].SeriesInstanceUID)
                                                     for n in ("image", "siemens", "broken"))
        path = store.get_image_uri(image)
        assert pydicom.dcmread(path).SOPInstanceUID == headers["image"].SOPInstanceUID
        label = tmp_path / "label.nii.gz"
        sitk.WriteImage(sitk.JoinSeries(sitk.ReadImage(str(TRUTH))), str(label))
        store.save_label(image, str(label), "final", {})
        # The cache forgets the label (another server, a wiped cache): the PACS still has it.
        local = Path(store.get_label_uri(image, "final"))
        local.unlink()
        store._datastore.objects[image].labels.pop("final")
        assert store.get_labeled_images() == [image]
        pairs = store.datalist()
        fetched = sitk.GetArrayFromImage(sitk.ReadImage(pairs[0]["label"]))
        truth = sitk.GetArrayFromImage(sitk.ReadImage(str(TRUTH)))
        assert np.array_equal(fetched.reshape(truth.shape), truth)
        # Bounded cache: fetching two more images drops the oldest unlabelled one, never the labelled.
        for name in ("siemens", "broken"):
            store.get_image_uri(str(headers[name].SeriesInstanceUID))
        cached = set(store._datastore.objects)
        assert image in cached and len(cached) <= 2
