"""The OHIF viewer that the monailabel wheel ships, in a real headless Chromium (issue 18), against a
real Orthanc: the mammogram opened in OHIF's **MONAI Label** mode, `pipeline` run from its panel,
the DICOM Segmentation that the run stored in the study opened over the image; then the same SEG in
the basic viewer reached from OHIF's study list, and the TID 1500 SR's calcifications and clusters
drawn over the image. Skipped, with the reason, where Chromium cannot start."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
import requests
from conftest import DATA, ROOT, running_orthanc, running_server
from scipy import ndimage as ndi
from skimage import io as skio

IMAGE = DATA / "demo" / "demo_synthetic_0000.dcm"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Where the screenshots are kept as evidence (runs/ is not committed).
EVIDENCE = ROOT / "runs" / "ohif"
#: What OHIF 3.10's MONAI Label panel logs when a result cannot go into its labelmap (it writes only
#: into a volume labelmap; a single-frame projection image is shown in a stack viewport).
NO_VOLUME = "Volume Object is NOT In Cache"


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


def test_pipeline_from_the_monai_label_panel_shows_over_the_mammogram(browser, tmp_path):
    header = pydicom.dcmread(IMAGE, stop_before_pixels=True)
    study = str(header.StudyInstanceUID)
    with running_orthanc(tmp_path) as pacs:
        assert requests.post(f"{pacs}/instances", data=IMAGE.read_bytes(), timeout=30).ok
        with running_server(tmp_path, f"{pacs}/dicom-web", {"models": "pipeline", "train_after_labels": "0"}) as client:
            server = f"http://127.0.0.1:{client.port}"
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            console: list[str] = []
            errors: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            # The MONAI Label mode with one stack viewport (the mode's own MPR layout needs a volume).
            page.goto(f"{server}/ohif/monai-label?StudyInstanceUIDs={study}&hangingprotocolId=default", timeout=120_000)
            before = _settled_screenshot(page, tmp_path / "before.png")
            assert not _overlay(before).any()
            _dismiss_banner(page)
            # The panel's server (it defaults to port 8000 of the page's host), connect, run `pipeline`.
            page.locator("#monailabelServerURL").fill(f"{server}/")
            page.locator(".settingsTable button.actionButton").first.click()
            page.get_by_text("Auto-Segmentation", exact=True).first.click(timeout=60_000)
            page.get_by_role("button", name="Run").first.click(timeout=30_000)
            _wait_for(lambda: any(NO_VOLUME in line or "updated the segmentation" in line for line in console), 120,
                      page, tmp_path / "panel.png", console)
            # The run stored its SEG (and SR) in the study: reload the study, open the SEG over the image.
            segs = _series(pacs, study, "SEG")
            assert len(segs) == 1, segs
            page.reload(timeout=120_000)
            before = _settled_screenshot(page, tmp_path / "before.png")
            _open_seg(page)
            in_mode = _wait_for_overlay(page, tmp_path / "monai_label_mode.png")
            # OHIF warns (a toast) and picks a colour of its own where a segment states none.
            colour_warnings = page.get_by_text("RecommendedDisplayCIELabValue not found").count()

            # The same SEG from OHIF's study list in the basic viewer.
            page.goto(f"{server}/ohif/", timeout=120_000)
            page.get_by_text(str(header.PatientName), exact=True).first.click(timeout=60_000)
            page.get_by_role("button", name="Basic Viewer").first.click(timeout=30_000)
            basic_before = _settled_screenshot(page, tmp_path / "basic_before.png")
            _open_seg(page)
            basic = _wait_for_overlay(page, tmp_path / "basic_viewer.png")
            # The TID 1500 SR the run stored: OHIF draws each calcification and cluster it lists.
            console.clear()
            page.get_by_text("mcseg calcifications a", exact=False).first.dblclick(timeout=60_000)
            srs = _series(pacs, study, "SR")
            assert len(srs) == 1, srs
            sr = _instance(pacs, study, srs[0])
            content = json.dumps(sr.to_json_dict())
            listed = content.count("Individual Calcification") + content.count("Calcification Cluster")
            _wait_for(lambda: sum("Adding SR annotation" in line for line in console) >= listed, 60,
                      page, tmp_path / "sr.png", console)
            page.wait_for_timeout(2000)
            page.screenshot(path=str(tmp_path / "sr.png"))
            drawn = sum("Adding SR annotation" in line for line in console)
            page.close()
            seg = _instance(pacs, study, segs[0])
        EVIDENCE.mkdir(parents=True, exist_ok=True)
        for name in ("monai_label_mode.png", "basic_viewer.png", "sr.png"):
            shutil.copy(tmp_path / name, EVIDENCE / f"ohif_{name}")
    # The SEG is the run's: it references the mammogram, and its mask holds the calcifications.
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == header.SeriesInstanceUID
    calcifications = ndi.label(seg.pixel_array > 0, structure=np.ones((3, 3)))[1]
    assert calcifications >= 5, calcifications
    for picture, plain in ((in_mode, before), (basic, basic_before)):
        red, tissue = _overlay(picture), plain.mean(axis=2) > 60
        # Every calcification in the mask is a few red pixels on the screen (the image fills about
        # 560 px of the viewport for its 1400 rows: 1-4 screen pixels per calcification) ...
        assert red.sum() >= calcifications, (red.sum(), calcifications)
        # ... and they lie on the breast: where the same layout showed tissue before the SEG was opened.
        assert tissue[red].mean() > 0.9, tissue[red].mean()
    assert not [e for e in errors if "ImageOrientationPatient" in e], errors
    assert colour_warnings == 0
    # Every calcification and cluster of the SR became an annotation over the image (OHIF logs each).
    assert drawn == listed >= 5, (drawn, listed)


def _series(pacs: str, study: str, modality: str) -> list[str]:
    found = requests.get(f"{pacs}/dicom-web/studies/{study}/series", params={"Modality": modality}, timeout=30)
    return [s["0020000E"]["Value"][0] for s in found.json()] if found.status_code == 200 else []


def _instance(pacs: str, study: str, series: str) -> pydicom.Dataset:
    from dicomweb_client import DICOMwebClient

    return DICOMwebClient(f"{pacs}/dicom-web").retrieve_series(study, series)[0]


def _dismiss_banner(page) -> None:
    """OHIF's "for investigational use only" banner covers the bottom of the viewport."""
    try:
        page.get_by_role("button", name="Confirm and Hide").click(timeout=5_000)
    except Exception:  # already dismissed in this browser, or not shown by this OHIF build
        pass


def _open_seg(page) -> None:
    page.get_by_text("mcseg calcifications", exact=True).first.dblclick(timeout=60_000)
    page.get_by_role("button", name="Yes").click(timeout=60_000)


def _wait_for(condition, timeout_s: float, page, path: Path, console: list[str]) -> None:
    """Until ``condition()``; on a time-out a screenshot at ``path`` and the console's end say why."""
    deadline = time.time() + timeout_s
    while not condition():
        if time.time() > deadline:
            page.screenshot(path=str(path))
            raise AssertionError(f"timed out after {timeout_s} s; screenshot {path}; console: {console[-15:]}")
        page.wait_for_timeout(1000)  # not time.sleep: Playwright delivers the console events while it waits


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
