"""What widens the training data towards real inputs (issue 15): the FFDM-like look, pixel-size and
8-bit variation, real negatives, starting training from given weights, and the preview picture."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage
import SimpleITK as sitk
import torch
from skimage import io as skio

from mcseg.cli import main
from mcseg.io import read_label, read_mammogram
from mcseg.pipeline import load_network
from mcseg.preprocess.breast import breast_mask
from mcseg.synth import SynthConfig, generate_dataset, local_noise_std, synthesize_case
from mcseg.synth.dataset import background_findings_in_crop
from mcseg.synth.ffdm import to_eight_bit, vendor_processing
from mcseg.synth.phantom import synthesize_background

from conftest import DATA, ROOT, VENDOR

DEMO_FILM = DATA / "demo" / "cbis-ddsm_P_00820_RIGHT_CC.dcm"

SMALL = SynthConfig(shape_px=(400, 300), contrast_range=(6.0, 15.0))


def test_ffdm_look_has_signal_dependent_noise_and_a_vendor_like_range():
    rng = np.random.default_rng(3)
    config = SynthConfig(shape_px=(600, 450), quantum_noise_fraction_range=(0.0, 0.0))
    background, mask = synthesize_background(rng, config)
    processed = vendor_processing(background, mask, 0.07, rng)
    assert processed.shape == background.shape and processed.dtype == np.float32
    assert 0 <= processed.min() and processed.max() <= 4095
    assert processed[mask].mean() > 3 * processed[~mask].mean()  # breast bright on dark air
    median = float(np.median(processed[mask]))
    # The three vendor samples' fine-scale noise is 0.095-0.12 of the breast median: the look stays near it.
    assert 0.03 < local_noise_std(processed, mask, 0.07) / median < 0.3
    # Quantum noise after the log is strongest where few photons arrive (dense tissue, bright here):
    # a breast-wide ramp from fat to dense tissue is noisier at its dense end.
    ramp_mask = np.zeros((300, 400), bool)
    ramp_mask[20:280, 20:380] = True
    ramp = np.where(ramp_mask, np.linspace(1000, 4000, 400, dtype=np.float32)[None, :], 300.0).astype(np.float32)
    out = vendor_processing(ramp, ramp_mask, 0.07, np.random.default_rng(4))
    high_pass = out - ndimage.uniform_filter(out, 9)
    fatty, dense = high_pass[40:260, 40:120], high_pass[40:260, 280:360]
    assert dense.std() > 1.3 * fatty.std()


def test_eight_bit_copies_are_multiples_of_257():
    pixels = to_eight_bit(np.array([[0, 1000, 4095]]), 4095)
    assert pixels.dtype == np.uint16 and (pixels % 257 == 0).all() and pixels.max() == 65535
    case = synthesize_case(np.random.default_rng(1), SynthConfig(shape_px=(300, 250), eight_bit=True, style="ffdm"))
    assert (case.image % 257 == 0).all() and case.calcifications


def test_pixel_sizes_keep_the_field_of_view_and_are_recorded(tmp_path):
    generate_dataset(tmp_path, 4, seed=2, config=SMALL, progress=False, spacings_mm=(0.07, 0.14),
                     ffdm_share=0.5, eight_bit_share=0.5)
    seen = set()
    for gt in sorted(tmp_path.glob("*.gt.json")):
        doc = json.loads(gt.read_text())
        spacing = doc["spacing_mm"][0]
        seen.add(spacing)
        assert doc["shape"] == [round(400 * 0.07 / spacing), round(300 * 0.07 / spacing)]
        mammo = read_mammogram(tmp_path / doc["image"])
        assert mammo.spacing_mm == pytest.approx((spacing, spacing))
        assert read_label(tmp_path / doc["mask"]).shape == mammo.shape
    assert seen == {0.07, 0.14}
    # Without the new options the same call makes the same images as before (seeded sets stay reproducible).
    a, b = tmp_path / "a", tmp_path / "b"
    generate_dataset(a, 1, seed=2, config=SMALL, progress=False)
    generate_dataset(b, 1, seed=2, config=SMALL, progress=False, ffdm_share=0.0, eight_bit_share=0.0)
    assert np.array_equal(read_mammogram(a / "synth_0000.dcm").pixels, read_mammogram(b / "synth_0000.dcm").pixels)


def test_a_real_background_is_never_made_finer_than_its_own_pixel(tmp_path):
    generate_dataset(tmp_path, 1, seed=3, mode="real-background", backgrounds=[VENDOR / "OutOfBoundsOverlay.dcm"],
                     config=SMALL, progress=False, spacings_mm=(0.05,))
    doc = json.loads((tmp_path / "synth_0000.gt.json").read_text())
    assert doc["spacing_mm"][0] == pytest.approx(0.085)  # the Siemens file's own ImagerPixelSpacing


def test_a_vendor_files_own_calcification_is_mapped_into_each_crop_cut_from_it(tmp_path):
    """The ffdm-like set's ignore circles: a real calcification of the Siemens file (reviewed in
    background_findings.json) must land on the same bright spot in a crop at the file's pixel and in a
    0.14 mm copy, wherever the crop was cut."""
    findings = json.loads((VENDOR / "background_findings.json").read_text())["files"]["OutOfBoundsOverlay.dcm"]
    cluster = findings["findings"][0]  # the biopsy target's cluster, the brightest spots of the file
    for spacing, seed in ((0.085, 9203), (0.14, 9204)):
        generate_dataset(tmp_path, 1, seed, mode="real-background", backgrounds=[VENDOR / "OutOfBoundsOverlay.dcm"],
                         config=SynthConfig(contrast_range=(2.0, 20.0)), progress=False, spacings_mm=(spacing,),
                         prefix=f"s{seed}")  # as the ffdm-like set cuts them
        doc = json.loads((tmp_path / f"s{seed}_0000.gt.json").read_text())
        assert doc["spacing_mm"][0] == pytest.approx(spacing) and len(doc["background_window_px"]) == 2
        mapped = background_findings_in_crop(doc, [cluster], findings["spacing_mm"])
        assert len(mapped) == 1 and doc["background_window_px"][1] > 0, doc["background_window_px"]
        pixels = read_mammogram(tmp_path / doc["image"]).pixels
        gt = read_label(tmp_path / doc["mask"]) > 0
        r, c = (int(round(v)) for v in mapped[0]["centre_px"])
        radius = int(cluster["radius_mm"] / spacing)
        detail = pixels - ndimage.gaussian_filter(pixels, 1.0 / spacing)
        noise = 1.4826 * np.median(np.abs(detail - np.median(detail)))
        inside = np.zeros(pixels.shape, bool)
        inside[max(r - radius, 0): r + radius + 1, max(c - radius, 0): c + radius + 1] = True
        # A real calcification there, not an inserted one: the brightest detail is far above the
        # noise, and it stays so away from the generator's calcifications.
        assert detail[inside & ~ndimage.binary_dilation(gt, iterations=3)].max() > 8 * noise
        # Moved 5 mm off, the circle lands on plain tissue.
        off = np.roll(inside, int(5 / spacing), axis=1)
        assert detail[off & ~ndimage.binary_dilation(gt, iterations=3)].max() < detail[inside].max() / 2


def test_the_reviewed_calcifications_of_the_bundled_cbis_film_lie_on_bright_spots():
    """The real-background and cbis-negatives sets' ignore circles (benchmarks/cbis_background_findings.json)
    are in the film's own pixel frame at the 0.05 mm fallback: on the bundled film (P_00820 RIGHT CC,
    1-282 there) each circle holds a spot well above the noise, brighter than anything in the same
    circle moved 5 mm in any of four directions (a swapped axis or a wrong scale would miss them)."""
    review = json.loads((ROOT / "benchmarks" / "cbis_background_findings.json").read_text())
    entry = review["files"]["1-282.dcm"]
    film = read_mammogram(DEMO_FILM, spacing_mm=entry["spacing_mm"])
    pixels, spacing = film.pixels.astype(np.float32), entry["spacing_mm"]
    detail = pixels - ndimage.gaussian_filter(pixels, 1.0 / spacing)
    breast = breast_mask(pixels, spacing)
    noise = 1.4826 * np.median(np.abs(detail[breast] - np.median(detail[breast])))
    step = int(5 / spacing)
    assert len(entry["findings"]) >= 5
    for finding in entry["findings"]:
        r, c = (int(round(v)) for v in finding["centre_px"])
        radius = int(finding["radius_mm"] / spacing)

        def peak(dr: int, dc: int) -> float:
            return float(detail[r + dr - radius: r + dr + radius + 1, c + dc - radius: c + dc + radius + 1].max())

        inside = peak(0, 0)
        assert inside > 5 * noise, finding["kind"]
        assert inside > max(peak(dr, dc) for dr, dc in ((0, step), (0, -step), (step, 0), (-step, 0))), finding["kind"]


def test_an_image_without_background_is_breast_all_over():
    """A crop inside the breast (a spot or magnification view has no air either) keeps its fatty
    tissue: the breast mask used to threshold the fat away as if it were background. The whole
    mammogram still has its background found."""
    mammo = read_mammogram(VENDOR / "GH133.dcm")
    pixels, spacing = mammo.pixels.astype(np.float32), mammo.spacing_mm[0]
    whole = breast_mask(pixels, spacing)
    assert 0.2 < whole.mean() < 0.4  # the breast of this MLO, not the air beside it
    # The window of the ffdm-like set's first GE crop (98 x 70 mm at the file's pixel), fat and dense.
    r0, c0 = 808, 1440
    crop = pixels[r0:r0 + int(round(98 / spacing)), c0:c0 + int(round(70 / spacing))]
    assert whole[r0:r0 + crop.shape[0], c0:c0 + crop.shape[1]].mean() > 0.95
    assert breast_mask(crop, spacing).all()
    # What the old threshold kept of it: the dense part only.
    from skimage.filters import threshold_multiotsu
    assert (crop > threshold_multiotsu(crop, classes=3)[0]).mean() < 0.8


def test_negatives_command_writes_real_images_with_empty_labels(tmp_path, capsys):
    source = DATA / "demo" / "demo_synthetic_0000.dcm"
    assert main(["negatives", str(tmp_path), str(source), "--prefix", "neg_", "--no-progress"]) == 0
    image, label = tmp_path / "neg_demo_synthetic_0000.dcm", tmp_path / "neg_demo_synthetic_0000.gt.nrrd"
    mammo, original = read_mammogram(image), read_mammogram(source)
    assert np.array_equal(mammo.pixels, original.pixels) and mammo.spacing_mm == original.spacing_mm
    mask = sitk.ReadImage(str(label))
    assert sitk.GetArrayFromImage(mask).shape == mammo.shape and not sitk.GetArrayFromImage(mask).any()


def test_train_init_from_starts_from_the_given_weights(tmp_path, capsys):
    data = tmp_path / "data"
    generate_dataset(data, 2, seed=5, config=SynthConfig(shape_px=(320, 280), contrast_range=(6.0, 15.0)),
                     progress=False)
    weights = DATA.parent / "weights"
    code = main(["train", str(data), "-o", str(tmp_path / "run"), "--init-from", str(weights), "--steps", "1",
                 "--validate-every", "1", "--batch-size", "8", "--mining-rounds", "0", "--calibrate-fppi", "0",
                 "--no-progress"])
    assert code == 0, capsys.readouterr().err
    start = torch.load(weights / "segmentator.pt", weights_only=True)["state_dict"]
    after = torch.load(tmp_path / "run" / "segmentator.pt", weights_only=True)
    assert after["initialised_from"] == str(weights)
    # One Adam step at the fine-tuning rate moves each learned weight by about the rate (5e-4) from the
    # given ones; from random weights they would differ by far more (batch-norm statistics left aside).
    differences = [float((after["state_dict"][k] - v).abs().max()) for k, v in start.items()
                   if v.is_floating_point() and "running" not in k]
    assert 0 < max(differences) < 0.01
    assert main(["train", str(data), "-o", str(tmp_path / "run2"), "--init-from", str(tmp_path), "--steps", "1",
                 "--no-progress"]) == 2
    assert "no detector.pt" in capsys.readouterr().err


def test_train_takes_the_networks_widths_and_refuses_init_from_another_architecture(tmp_path, capsys):
    data = tmp_path / "data"
    generate_dataset(data, 2, seed=5, config=SynthConfig(shape_px=(320, 280), contrast_range=(6.0, 15.0)),
                     progress=False)
    wide = ["16", "32", "32", "32", "64", "64"]
    code = main(["train", str(data), "-o", str(tmp_path / "run"), "--role", "segmentator", "--segmentator-channels",
                 *wide, "--steps", "1", "--validate-every", "1", "--batch-size", "8", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    model, _ = load_network(tmp_path / "run" / "segmentator.pt", "segmentator")
    assert model.config.conv_channels == (16, 32, 32, 32, 64, 64) and model.blocks[0].conv.out_channels == 16
    # The bundled weights are the default widths: fine-tuning them into wider ones cannot work.
    code = main(["train", str(data), "-o", str(tmp_path / "run2"), "--init-from", str(DATA.parent / "weights"),
                 "--segmentator-channels", *wide, "--steps", "1", "--no-progress"])
    assert code == 2 and "another architecture" in capsys.readouterr().err


def test_segment_preview_draws_the_found_calcifications(tmp_path, capsys):
    image = DATA / "demo" / "demo_synthetic_0001.dcm"
    assert main(["segment", str(image), "-o", str(tmp_path), "--preview", "--no-progress"]) == 0
    doc = json.loads((tmp_path / "demo_synthetic_0001.json").read_text())
    found = [c for c in doc["calcifications"] if c["in_mask"]]
    assert found and doc["clusters"]
    picture = skio.imread(tmp_path / "demo_synthetic_0001.preview.png")[..., :3].astype(int)
    assert picture.shape[0] >= 800 and picture.shape[1] > picture.shape[0]  # overview and inset side by side
    red = (picture[..., 0] > 200) & (picture[..., 1] < 60) & (picture[..., 2] < 60)
    cyan = (picture[..., 0] < 60) & (picture[..., 1] > 200) & (picture[..., 2] > 200)
    assert red.sum() > 50 and cyan.sum() > 20  # rings and outlines; the cluster's box


def _without_timings(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in ("seconds", "timings_s")}


def test_two_workers_write_what_one_writes_and_a_rerun_resumes(tmp_path, capsys):
    data = tmp_path / "data"
    generate_dataset(data, 3, seed=8, config=SynthConfig(shape_px=(360, 300), contrast_range=(6.0, 15.0)),
                     progress=False)
    one, two = tmp_path / "one", tmp_path / "two"
    # One thread per worker on both sides: across thread counts PyTorch may change a last float bit.
    assert main(["segment", str(data), "-o", str(one), "--threads", "1", "--no-progress"]) == 0
    assert main(["segment", str(data), "-o", str(two), "--workers", "2", "--threads", "1", "--no-progress"]) == 0
    stems = sorted(p.name[: -len(".json")] for p in one.glob("*.json"))
    assert len(stems) == 3 and stems == sorted(p.name[: -len(".json")] for p in two.glob("*.json"))
    for stem in stems:
        a, b = (json.loads((d / f"{stem}.json").read_text()) for d in (one, two))
        assert _without_timings(a) == _without_timings(b)
        assert (one / f"{stem}.mask.nrrd").read_bytes() == (two / f"{stem}.mask.nrrd").read_bytes()
    capsys.readouterr()
    # A second run into the same folder skips what is done, unless told to overwrite.
    (two / f"{stems[0]}.json").unlink()
    before = (two / f"{stems[1]}.json").stat().st_mtime_ns
    assert main(["segment", str(data), "-o", str(two), "--workers", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "skipped 2 image(s)" in out and stems[0] in out
    assert (two / f"{stems[0]}.json").is_file() and (two / f"{stems[1]}.json").stat().st_mtime_ns == before
    assert main(["segment", str(data), "-o", str(two), "--overwrite", "--no-progress"]) == 0
    assert (two / f"{stems[1]}.json").stat().st_mtime_ns != before
