"""The OHIF viewer that the monailabel wheel ships, in a real headless Chromium (issue 18): the
mammogram opened from the study list of a real Orthanc, `pipeline` run through the server, and its
DICOM Segmentation shown over the image. Skipped, with the reason, where Chromium cannot start."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
import requests
from conftest import DATA, ROOT, running_orthanc, running_server
from skimage import io as skio

IMAGE = DATA / "demo" / "demo_synthetic_0000.dcm"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Where the screenshots are kept as evidence (runs/ is not committed).
EVIDENCE = ROOT / "runs" / "ohif"


def _overlay(picture: np.ndarray) -> np.ndarray:
    """Pixels of OHIF's first segment colour (red) in a screenshot."""
    r, g, b = (picture[..., i].astype(int) for i in range(3))
    return (r > 170) & (g < 100) & (b < 100)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (scripts/setup.sh)")
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium; .ci/run installs it)")
    with sync_api.sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"])
        except Exception as exc:  # no display libraries, a sandbox refused, ...
            pytest.skip(f"Chromium at {CHROMIUM} cannot start here: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()


def test_ohif_shows_the_pipeline_segmentation_over_the_mammogram(browser, tmp_path):
    header = pydicom.dcmread(IMAGE, stop_before_pixels=True)
    with running_orthanc(tmp_path) as pacs:
        assert requests.post(f"{pacs}/instances", data=IMAGE.read_bytes(), timeout=30).ok
        with running_server(tmp_path, f"{pacs}/dicom-web", {"models": "pipeline", "train_after_labels": "0"}) as client:
            _, params = client.infer("pipeline", str(header.SeriesInstanceUID), {"result_extension": ".nrrd"})
            assert "seg_series" in params["pacs"], params["pacs"]
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            # The study list (Orthanc's studies through MONAI Label's DICOMweb proxy) -> the basic viewer.
            page.goto(f"http://127.0.0.1:{client.port}/ohif/", timeout=120_000)
            page.get_by_text(str(header.PatientName), exact=True).first.click(timeout=60_000)
            page.get_by_role("button", name="Basic Viewer").first.click(timeout=30_000)
            page.get_by_text("mcseg calcifications", exact=True).first.wait_for(timeout=60_000)
            before = _settled_screenshot(page, tmp_path / "before.png")
            assert not _overlay(before).any()
            # Open the SEG series the pipeline stored in the study.
            page.get_by_text("mcseg calcifications", exact=True).first.dblclick()
            page.get_by_role("button", name="Yes").click(timeout=60_000)
            after = _wait_for_overlay(page, tmp_path / "after.png")
            EVIDENCE.mkdir(parents=True, exist_ok=True)
            shutil.copy(tmp_path / "after.png", EVIDENCE / "ohif_pipeline_seg.png")
            page.close()
    red = _overlay(after)
    found = [c for c in params["calcifications"] if c["in_mask"]]
    # Every calcification in the mask is a few red pixels on the screen (the image fills about 560 px
    # of the viewport for its 1400 rows, so a calcification of 3-20 image pixels covers 1-4 screen pixels).
    assert red.sum() >= len(found), (red.sum(), len(found))
    # ... and they lie on the breast: where the screenshot before the SEG was opened shows tissue.
    tissue = before[..., :3].mean(axis=2) > 60
    assert tissue[red].mean() > 0.9, tissue[red].mean()
    assert not [e for e in errors if "ImageOrientationPatient" in e], errors


def _settled_screenshot(page, path: Path, timeout_s: float = 60) -> np.ndarray:
    """A screenshot once the viewport has drawn the mammogram (enough bright pixels)."""
    deadline = time.time() + timeout_s
    while True:
        page.screenshot(path=str(path))
        picture = skio.imread(path)[..., :3]
        if (picture.mean(axis=2) > 60).sum() > 50_000 or time.time() > deadline:
            return picture
        time.sleep(1)


def _wait_for_overlay(page, path: Path, timeout_s: float = 60) -> np.ndarray:
    deadline = time.time() + timeout_s
    while True:
        page.screenshot(path=str(path))
        picture = skio.imread(path)[..., :3]
        if _overlay(picture).sum() > 10 or time.time() > deadline:
            return picture
        time.sleep(1)
