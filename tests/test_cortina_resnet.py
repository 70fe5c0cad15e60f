"""Cortina et al.'s pipeline 2 (issue 19, item 4): the ResNet patch classifier's shapes and size, its
sliding window and saliency map, and a short training run that `mcseg evaluate` scores."""

from __future__ import annotations

import json

import numpy as np
import torch

from mcseg.baselines.cortina.resnet import CortinaResNet, CortinaResNetModel, saliency_map, window_centres
from mcseg.defaults import CORTINA_RESNET_PATCH_PX, CORTINA_RESNET_STRIDE_PX
from mcseg.synth import SynthConfig, generate_dataset
from mcseg.training import find_cases


def test_network_shapes_and_size():
    """16 x 16 patches in, one logit each out; two downsampling stages (16 -> 8 -> 4 px). The report
    gives no parameter count; ours is 81,329 (stem, three basic blocks of 16, 32 and 64 channels, a
    64-unit GELU layer)."""
    model = CortinaResNet().eval()
    assert sum(p.numel() for p in model.parameters()) == 81_329
    with torch.inference_mode():
        assert model(torch.zeros(5, 1, 16, 16)).shape == (5,)
        assert model.features(torch.zeros(1, 1, 16, 16)).shape == (1, 64, 4, 4)


def test_sliding_window_covers_the_breast_and_averages_overlaps():
    """Windows every 8 px whose centre is in the breast; the map is 0 outside the breast, in [0, 1]
    inside, and a constant classifier gives a constant map where windows overlap fully."""
    breast = np.zeros((100, 90), bool)
    breast[10:80, 5:70] = True
    corners = window_centres(breast)
    assert (corners % CORTINA_RESNET_STRIDE_PX == 0).all()
    half = CORTINA_RESNET_PATCH_PX // 2
    assert breast[corners[:, 0] + half, corners[:, 1] + half].all()

    class Constant(CortinaResNet):
        def forward(self, x):
            return torch.full((len(x),), 0.0)  # sigmoid(0) = 0.5 everywhere

    sal, windows = saliency_map(Constant(), np.random.default_rng(0).normal(size=breast.shape).astype(np.float32),
                                breast)
    assert windows == len(corners)
    assert (sal[~breast] == 0).all() and sal.max() <= 1
    np.testing.assert_allclose(sal[30:60, 25:50], 0.5, atol=1e-6)


def test_a_short_training_run_and_the_command_line(tmp_path):
    from mcseg.cli import main

    data = tmp_path / "data"
    generate_dataset(data, 5, seed=79, config=SynthConfig(shape_px=(500, 420), contrast_range=(8.0, 15.0)),
                     progress=False)
    assert main(["train-cortina-resnet", str(data), "-o", str(tmp_path / "model"), "--epochs", "6",
                 "--steps-per-epoch", "60", "--no-progress"]) == 0
    report = json.loads((tmp_path / "model" / "cortina_resnet.json").read_text())
    assert report["patches"]["train"]["positives"] > 0 and 1 <= report["best_epoch"] <= 6
    assert report["val_auroc"] > 0.8  # obvious calcifications against background
    weights = tmp_path / "model" / "cortina_resnet.pt"
    assert main(["cortina-resnet", str(data), "-o", str(tmp_path / "pred"), "--weights", str(weights),
                 "--no-progress"]) == 0
    assert main(["evaluate", str(tmp_path / "pred"), "--truth", str(data), "-o", str(tmp_path / "report"),
                 "--bootstrap", "20"]) == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    # Images it was trained on, obvious calcifications: most are found at 4 false positives per image.
    assert summary["calcification"]["sensitivity_at_fppi"]["4"] >= 0.5
    case = find_cases(data)[0]
    doc = json.loads((tmp_path / "pred" / f"{case.image_path.name[:-4]}.json").read_text())
    assert doc["model"] == "cortina_resnet" and doc["windows"] > 0
    assert all((c["score"] >= 0.5) == c["in_mask"] for c in doc["calcifications"])
    model = CortinaResNetModel.from_weights(weights)
    assert model.weights["best_epoch"] == report["best_epoch"]
