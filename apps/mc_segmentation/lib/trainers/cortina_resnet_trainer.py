"""Trainer for Cortina et al.'s pipeline 2: a thin adapter over mcseg.baselines.cortina.resnet.

It cuts 16 x 16 px patches from the datastore's images with a final label, trains the ResNet
classifier anew (balanced minibatches, the epoch of best validation AUROC kept) and publishes it
where the inferer looks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcseg.baselines.cortina.resnet import save_weights, train_resnet, training_patches
from mcseg.training import LabelledCase

from lib.models import ModelFiles
from lib.trainers.baseline_trainer import BaselineTrainer, checked_options

#: Option: (type, default, lowest allowed).
OPTIONS: dict[str, tuple[type, Any, float]] = {"epochs": (int, 5, 1), "steps_per_epoch": (int, 200, 1),
                                               "seed": (int, 0, 0)}


def cortina_resnet_train_options(request: dict[str, Any]) -> dict[str, Any]:
    return checked_options(OPTIONS, request)


class CortinaResNetTrainer(BaselineTrainer):
    options = OPTIONS

    def __init__(self, models: ModelFiles, workspace: str | Path, spacing_mm: float | None = None):
        super().__init__("cortina_resnet", "Train Cortina's ResNet patch classifier on the datastore's final labels",
                         models, workspace, spacing_mm)

    def train(self, cases: list[LabelledCase], options: dict[str, Any]) -> dict[str, Any]:
        patches = training_patches(cases, options["seed"], self.spacing_mm, progress=False)
        model, report = train_resnet(patches, options["epochs"], options["steps_per_epoch"], seed=options["seed"],
                                     progress=False)
        report["trained_on"] = f"{len(cases)} labelled images of the datastore"
        published = self.publish(lambda: save_weights(model, report, self.models.published("cortina_resnet")))
        stats = {"published": str(published), "labelled_images": len(cases), "best_epoch": report["best_epoch"],
                 "val_auroc": report["val_auroc"], "validated_on": report["validated_on"],
                 "patches": report["patches"], "seconds": report["seconds"]}
        return stats
