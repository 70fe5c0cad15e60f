"""Cortina et al.'s pipeline 3 (issue 19, item 5): the sliding-window CNN detector (MONAI's RetinaNet
over the pipeline 2 backbone): its shapes and anchors, windows and augmentation, its AP, and a short
training run from the bundled backbone that `mcseg evaluate` scores."""

from __future__ import annotations

import json

import numpy as np
import torch

from mcseg.baselines.cortina.detection import (_augment, average_precision, build_detector, standardise,
                                               truth_boxes, window_tops)
from mcseg.defaults import CORTINA_DETECTOR_BOX_PX, CORTINA_DETECTOR_PATCH_PX
from mcseg.synth import SynthConfig, generate_dataset
from mcseg.training import find_cases


def test_detector_shapes_and_one_14px_anchor_per_position():
    """Pyramid levels at strides 2, 4 and 8 over a 224 px window, one square 14 px anchor at each
    position; in evaluation it returns boxes and scores inside the window."""
    detector = build_detector()
    assert detector.network.num_anchors == 1
    # The pipeline 2 network's convolutional stages (77,104), the 32-channel pyramid and the two heads.
    assert sum(p.numel() for p in detector.network.parameters()) == 174_677
    with torch.inference_mode():
        maps = detector.network.feature_extractor(torch.zeros(1, 1, 224, 224))
    assert [tuple(m.shape[-2:]) for m in maps.values()] == [(112, 112), (56, 56), (28, 28)]
    anchors = detector.anchor_generator(torch.zeros(1, 1, 224, 224), list(maps.values()))[0]
    sides = (anchors[:, 2:] - anchors[:, :2]).numpy()
    np.testing.assert_allclose(sides, CORTINA_DETECTOR_BOX_PX)
    assert len(anchors) == 112 ** 2 + 56 ** 2 + 28 ** 2
    detector.eval()
    with torch.inference_mode():
        found = detector(torch.from_numpy(standardise(np.random.default_rng(0).normal(size=(2, 224, 224)))[:, None]))
    assert len(found) == 2
    for d in found:
        boxes = d["box"].numpy()
        assert boxes.shape[1] == 4 and (boxes >= -1).all() and (boxes <= 225).all()
        assert len(d["label_scores"]) == len(boxes)


def test_windows_cover_the_breast_and_augmentation_moves_boxes_with_the_image():
    breast = np.zeros((500, 430), bool)
    breast[40:470, 0:300] = True
    tops = window_tops(breast)
    seen = np.zeros_like(breast)
    n = CORTINA_DETECTOR_PATCH_PX
    for r, c in tops:
        seen[r:r + n, c:c + n] = True
    assert seen[breast].all() and (tops[:, 0] + n <= 500).all() and (tops[:, 1] + n <= 430).all()
    # A bright dot and its box: after any of the 8 symmetries the box still centres the dot.
    window = np.zeros((n, n), np.float32)
    window[30, 170] = 1
    boxes = truth_boxes(np.array([[30.5, 170.5]]), (n, n))
    assert np.allclose(boxes[0, 2:] - boxes[0, :2], CORTINA_DETECTOR_BOX_PX)
    rng = np.random.default_rng(3)
    for _ in range(16):
        x, b = _augment(window, boxes, rng)
        r, c = np.argwhere(x == 1)[0]
        assert np.allclose(((b[0, 0] + b[0, 2]) / 2, (b[0, 1] + b[0, 3]) / 2), (r + 0.5, c + 0.5))


def test_average_precision_of_perfect_shifted_and_missing_detections():
    truth = [np.array([[10, 10, 24, 24], [50, 50, 64, 64]], np.float32), np.zeros((0, 4), np.float32)]
    perfect = [(truth[0], np.array([0.9, 0.8])), (np.zeros((0, 4)), np.zeros(0))]
    assert average_precision(perfect, truth) == 1.0
    # A false positive ranked first: precision 1/2 at the first hit, 2/3 at the second; interpolated
    # (the best precision at this recall or beyond), both recall steps count 2/3.
    with_fp = [(truth[0], np.array([0.9, 0.8])), (np.array([[0, 0, 14, 14]], np.float32), np.array([0.95]))]
    assert abs(average_precision(with_fp, truth) - 2 / 3) < 1e-6
    shifted = [(truth[0] + 10, np.array([0.9, 0.8])), (np.zeros((0, 4)), np.zeros(0))]
    assert average_precision(shifted, truth) == 0.0


def test_a_short_training_run_and_the_command_line(tmp_path):
    from mcseg.cli import main

    data = tmp_path / "data"
    generate_dataset(data, 5, seed=81, config=SynthConfig(shape_px=(500, 420), contrast_range=(8.0, 15.0)),
                     progress=False)
    assert main(["train-cortina-detector", str(data), "-o", str(tmp_path / "model"), "--epochs", "3",
                 "--steps-per-epoch", "20", "--no-progress"]) == 0
    report = json.loads((tmp_path / "model" / "cortina_detector.json").read_text())
    assert report["windows"]["train"]["calcifications"] > 0 and 1 <= report["best_epoch"] <= 3
    assert report["val_ap50"] > 0.3   # obvious calcifications, backbone pretrained on calcification patches
    weights = tmp_path / "model" / "cortina_detector.pt"
    assert main(["cortina-detector", str(data), "-o", str(tmp_path / "pred"), "--weights", str(weights),
                 "--no-progress"]) == 0
    assert main(["evaluate", str(tmp_path / "pred"), "--truth", str(data), "-o", str(tmp_path / "report"),
                 "--bootstrap", "20"]) == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["calcification"]["sensitivity_at_fppi"]["4"] >= 0.5
    case = find_cases(data)[0]
    doc = json.loads((tmp_path / "pred" / f"{case.image_path.name[:-4]}.json").read_text())
    assert doc["model"] == "cortina_detector" and doc["windows"] > 0
    assert all((c["score"] >= 0.5) == c["in_mask"] for c in doc["calcifications"])
