"""Marita et al.'s U-Net for calcifications (issue 19, item 2): ROIs centred on findings with
shifted copies, the pixel-weighted loss, a tiled map that is the network on each tile, and a short
training run that learns and writes what `mcseg evaluate` scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mcseg.baselines.unet_segmentation import (UNetSegmentation, finding_centres_px, positive_weight, rois_of_cases,
                                               rois_of_image, save_unet, train_unet, weighted_bce)
from mcseg.io.labels import read_label
from mcseg.io.reader import read_mammogram
from mcseg.networks.unet import CalcificationUNet
from mcseg.preprocess.frame import WorkingFrame
from mcseg.synth import SynthConfig, generate_dataset
from mcseg.training import find_cases


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unet") / "data"
    config = SynthConfig(shape_px=(500, 420), contrast_range=(8.0, 15.0), n_clusters_range=(1, 2),
                         n_singles_range=(1, 3))
    generate_dataset(folder, 6, seed=78, config=config, progress=False)
    return folder


def _frame(shape=(400, 360)) -> WorkingFrame:
    image = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    breast = np.ones(shape, bool)
    return WorkingFrame(image, breast, shape, (0.07, 0.07), (0.07, 0.07), False)


def test_rois_are_centred_on_findings_with_four_shifted_copies():
    frame = _frame()
    mask = np.zeros(frame.image.shape, bool)
    for r, c in [(100, 100), (104, 110), (300, 250), (200, 60), (6, 350)]:  # the first two: one finding group
        mask[r - 1:r + 2, c - 1:c + 2] = True
    rois = rois_of_image(frame, mask, np.random.default_rng(1), background=3)
    centres = finding_centres_px(mask)
    assert rois.centred.sum() == 4  # the calcification 10 px from another shares its ROI
    assert len(rois) == 4 * (1 + 4) + 3
    for x, y, (r0, c0) in zip(rois.x, rois.y, rois.corners_px):
        assert x.shape == y.shape == (1, 128, 128)
        assert 0 <= r0 <= 400 - 128 and 0 <= c0 <= 360 - 128
        np.testing.assert_array_equal(x[0], frame.image[r0:r0 + 128, c0:c0 + 128])
        np.testing.assert_array_equal(y[0], mask[r0:r0 + 128, c0:c0 + 128])
    finding_rois = [(k, corner) for k, corner in enumerate(rois.corners_px[:20])]
    for k, (r0, c0) in finding_rois:
        own = centres[[0, 1, 3, 4][k // 5]]  # raster order; centres[2] shares centres[1]'s ROI
        # Every copy of a finding's ROI still holds the finding (shifts up to a quarter of the ROI).
        assert r0 <= own[0] < r0 + 128 and c0 <= own[1] < c0 + 128
        if rois.centred[k] and 64 <= own[0] <= 400 - 64 and 64 <= own[1] <= 360 - 64:
            assert abs(r0 + 64 - own[0]) <= 1 and abs(c0 + 64 - own[1]) <= 1
    # The finding near the corner: the ROI is cropped as far as the border allows.
    np.testing.assert_allclose(centres[0], (6, 350))
    assert tuple(rois.corners_px[0]) == (0, 360 - 128)
    shifted = rois.corners_px[[6, 7, 8, 9]]
    assert len({tuple(c) for c in shifted}) > 1  # the copies really move


def test_the_loss_weighs_calcification_pixels_by_their_rarity():
    y = np.zeros((2, 1, 10, 10), np.uint8)
    y[0, 0, :2, :2] = 1  # 4 of 200 pixels
    assert positive_weight(y) == pytest.approx(7.0)  # sqrt(196 / 4)
    assert positive_weight(y, cap=5) == 5
    assert positive_weight(np.zeros_like(y)) == 1.0
    logits, target = torch.zeros(2, 1, 10, 10), torch.from_numpy(y).float()
    manual = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
    manual = (manual * (1 + 48 * target)).mean()
    torch.testing.assert_close(weighted_bce(logits, target, 49.0), manual)
    # Missing a calcification pixel costs more than a false one.
    assert weighted_bce(torch.full_like(logits, -3.0), target, 49.0) > weighted_bce(torch.full_like(logits, 3.0) *
                                                                                   (1 - target), target, 49.0) / 10


def test_the_tiled_map_is_the_network_on_each_tile_and_skips_tiles_without_breast():
    torch.manual_seed(0)
    net = CalcificationUNet().eval()
    image = np.random.default_rng(2).normal(size=(300, 270)).astype(np.float32)
    breast = np.zeros(image.shape, bool)
    breast[:, :140] = True  # the tiles of columns 256-383 hold no breast
    prob, tiles = UNetSegmentation(net).probability_map(image, breast)
    assert prob.shape == image.shape
    assert tiles == {"tiles": 9, "tiles_run": 6, "tile_px": 128}
    with torch.inference_mode():
        tile = torch.sigmoid(net(torch.from_numpy(image[128:256, 0:128].copy())[None, None]))[0, 0].numpy()
    np.testing.assert_allclose(prob[128:256, 0:128], tile, atol=1e-5)
    assert not prob[:, 140:].any()  # nothing outside the breast


def test_a_short_training_learns_and_the_model_segments_a_mammogram(data, tmp_path):
    rois = rois_of_cases(find_cases(data), progress=False)
    assert len(rois["train"]) and rois["train"].y.any() and len(rois["val"])
    result = train_unet(rois["train"], rois["val"], epochs=4, progress=False)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.validation["dice"] > 0.2  # held-out images' ROIs; an untrained network scores ~0.02
    path = save_unet(result, tmp_path / "unet.pt")
    model = UNetSegmentation.from_weights(path)
    case = find_cases(data)[0]
    mammo = read_mammogram(case.image_path)
    out = model.run(mammo)
    assert out.mask.shape == mammo.shape and out.mask.any()
    doc = out.to_json()
    assert doc["model"] == "marita_unet" and doc["tiles"]["tiles_run"] > 0
    strong = [c for c in doc["calcifications"] if c["in_mask"]]
    assert strong and all(c["score"] >= 0.5 for c in strong)
    assert all(c["score"] < 0.5 for c in doc["calcifications"] if not c["in_mask"])
    # The command line writes the output contract and the mask, which `mcseg evaluate` scores.
    from mcseg.cli import main

    stem = case.image_path.name[:-4]
    assert main(["unet", str(case.image_path), "-o", str(tmp_path / "pred"), "--weights", str(path),
                 "--no-progress"]) == 0
    written = json.loads((tmp_path / "pred" / f"{stem}.json").read_text())
    assert written["calcifications"] == doc["calcifications"]
    np.testing.assert_array_equal(read_label(tmp_path / "pred" / f"{stem}.mask.nrrd"), out.mask > 0)
    assert main(["evaluate", str(tmp_path / "pred"), "--truth", str(data), "-o", str(tmp_path / "report"),
                 "--bootstrap", "50"]) == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["overlap"]["dice_set"] > 0.1
    from mcseg.pipeline import DEFAULT_DETECTOR_WEIGHTS

    with pytest.raises(ValueError, match="does not hold"):
        UNetSegmentation.from_weights(DEFAULT_DETECTOR_WEIGHTS)


def test_dice_on_positive_tiles_leaves_out_false_positives_elsewhere():
    from mcseg.evaluation.overlap import Overlap

    truth = np.zeros((20, 20), bool)
    truth[2:4, 2:4] = True
    pred = truth.copy()
    pred[15:18, 15:18] = True  # a false positive in a tile without truth
    pred[6, 6] = True          # one in the truth's own tile (tiles of 10 px)
    assert Overlap.of(pred, truth).dice == pytest.approx(8 / (14 + 4))
    assert Overlap.on_positive_tiles(pred, truth, 10).dice == pytest.approx(8 / (5 + 4))
    assert Overlap.on_positive_tiles(pred, truth, 7).total == 5 + 4  # a padded last tile is no different


def test_mini_mias_mass_rows_become_discs_in_the_label(tmp_path):
    """`mcseg negatives --mias-masses`: a mass row's circle (y from the bottom) becomes a disc of the
    label; calcification rows and normal images get none."""
    from PIL import Image

    from mcseg.cli import main
    from mcseg.evaluation.truth import read_mias_masses

    info = tmp_path / "Info.txt"
    info.write_text("mdb901 G CIRC B 300 700 40\nmdb901 G CALC B 600 600 20\nmdb902 F NORM\n")
    assert read_mias_masses(info) == {"mdb901": [(324.0, 300.0, 40.0)]}
    pixels = np.zeros((1024, 1024), np.uint8)
    rows, cols = np.ogrid[:1024, :1024]
    pixels[(rows - 512) ** 2 + cols ** 2 <= 700 ** 2] = 120  # a breast against the left edge
    for ref in ("mdb901", "mdb902"):
        Image.fromarray(pixels).save(tmp_path / f"{ref}.png")
    out = tmp_path / "cases"
    assert main(["negatives", str(out), str(tmp_path / "mdb901.png"), str(tmp_path / "mdb902.png"), "--spacing-mm",
                 "0.2", "--prefix", "m_", "--mias-masses", str(info), "--no-progress"]) == 0
    label = read_label(out / "m_mdb901.gt.nrrd")
    assert label[324, 300] and label[324, 339] and not label[324, 341] and not label[600, 600 + 100]
    assert label.sum() == pytest.approx(np.pi * 40 ** 2, rel=0.02)
    assert json.loads((out / "m_mdb901.gt.json").read_text())["masses"] == [{"centre_px": [324.0, 300.0],
                                                                             "radius_px": 40.0}]
    assert not read_label(out / "m_mdb902.gt.nrrd").any()


def test_the_mass_unet_lists_masses_at_its_own_pixel_and_tile(data):
    torch.manual_seed(0)
    model = UNetSegmentation(CalcificationUNet(roi_px=256), working_spacing_mm=0.2, finding="mass")
    mammo = read_mammogram(find_cases(data)[0].image_path)
    out = model.run(mammo)
    doc = out.to_json()
    assert doc["finding"] == "mass" and doc["calcifications"] == [] and doc["clusters"] == []
    assert doc["tiles"]["tile_px"] == 256 and out.frame.spacing_mm == pytest.approx((0.2, 0.2), rel=0.02)
    assert out.mask.shape == mammo.shape
    for m in doc["masses"]:
        assert m["in_mask"] == (m["score"] >= 0.5)
        r0, c0, r1, c1 = m["bbox_px"]
        assert 0 <= r0 < r1 <= mammo.shape[0] + 1 and 0 <= c0 < c1 <= mammo.shape[1] + 1
    with pytest.raises(ValueError, match="finding"):
        UNetSegmentation(CalcificationUNet(), finding="tumour")
