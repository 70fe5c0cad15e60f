"""Trainer for Luna-Lozoya's cluster CNN: a thin adapter over mcseg.baselines.cluster_presence.

It cuts 1 cm^2 patches from the datastore's images with a final label, fine-tunes the weights in
use (BCE, Adam, batch 64, rotations and flips, the epoch of best validation accuracy kept) and
publishes them where the inferer looks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mcseg import defaults
from mcseg.baselines.cluster_presence import patches_of_cases, save_cluster_cnn, train_cluster_cnn
from mcseg.networks import ShallowClusterCNN
from mcseg.training import LabelledCase

from lib.models import ModelFiles
from lib.trainers.baseline_trainer import BaselineTrainer, checked_options

#: Option: (type, default, lowest allowed). Fine-tuning needs far fewer epochs than the paper's 100.
OPTIONS: dict[str, tuple[type, Any, float]] = {
    "epochs": (int, 10, 1),
    "learning_rate": (float, defaults.CLUSTER_CNN_LEARNING_RATE, 1e-8),
    "per_cluster": (int, 8, 1),
    "negatives": (int, 8, 0),
    "seed": (int, 0, 0),
}


def cluster_train_options(request: dict[str, Any]) -> dict[str, Any]:
    return checked_options(OPTIONS, request)


class ClusterCNNTrainer(BaselineTrainer):
    options = OPTIONS

    def __init__(self, models: ModelFiles, workspace: str | Path, spacing_mm: float | None = None):
        super().__init__("luna_lozoya", "Fine-tune Luna-Lozoya's cluster CNN on the datastore's final labels",
                         models, workspace, spacing_mm)

    def train(self, cases: list[LabelledCase], options: dict[str, Any]) -> dict[str, Any]:
        start = self.models.path("cluster_cnn")
        patches = patches_of_cases(cases, options["seed"], options["per_cluster"], options["negatives"],
                                   spacing_mm=self.spacing_mm)
        init = ShallowClusterCNN.from_checkpoint(torch.load(start, map_location="cpu", weights_only=True)).train()
        result = train_cluster_cnn(patches["train"], patches["val"], options["epochs"],
                                   learning_rate=options["learning_rate"], seed=options["seed"], init=init)
        published = self.publish(lambda: save_cluster_cnn(
            result, self.models.published("cluster_cnn"), finetuned_from=str(start),
            trained_on=f"{len(cases)} labelled images of the datastore"))
        stats = {"published": str(published), "labelled_images": len(cases), "best_epoch": result.best_epoch,
                 "epochs": options["epochs"], "validation": result.validation, "seconds": round(result.seconds, 1),
                 "patches": {s: {"patches": int(len(p.y)), "positives": int(p.y.sum())} for s, p in patches.items()},
                 "validated_on": "val split" if len(patches["val"].y) else "train split (no held-out patches yet)"}
        return stats
