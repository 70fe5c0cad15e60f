"""Trainer for Cortina et al.'s pipeline 3: a thin adapter over mcseg.baselines.cortina.detection.

It cuts 224 px windows holding calcifications from the datastore's images with a final label,
trains the detector with its backbone started from the pipeline 2 weights in use (the epoch of best
validation AP kept) and publishes it where the inferer looks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcseg.baselines.cortina.detection import save_weights, train_detector, training_windows
from mcseg.training import LabelledCase

from lib.models import ModelFiles
from lib.trainers.baseline_trainer import BaselineTrainer, checked_options

#: Option: (type, default, lowest allowed).
OPTIONS: dict[str, tuple[type, Any, float]] = {"epochs": (int, 3, 1), "steps_per_epoch": (int, 100, 1),
                                               "seed": (int, 0, 0)}


def cortina_detector_train_options(request: dict[str, Any]) -> dict[str, Any]:
    return checked_options(OPTIONS, request)


class CortinaDetectorTrainer(BaselineTrainer):
    options = OPTIONS

    def __init__(self, models: ModelFiles, workspace: str | Path, spacing_mm: float | None = None):
        super().__init__("cortina_detector", "Train Cortina's CNN detector on the datastore's final labels",
                         models, workspace, spacing_mm)

    def train(self, cases: list[LabelledCase], options: dict[str, Any]) -> dict[str, Any]:
        windows = training_windows(cases, options["seed"], self.spacing_mm, progress=False)
        detector, report = train_detector(windows, options["epochs"], options["steps_per_epoch"],
                                          seed=options["seed"], backbone=self.models.path("cortina_resnet"),
                                          progress=False)
        report["trained_on"] = f"{len(cases)} labelled images of the datastore"
        published = self.publish(lambda: save_weights(detector, report, self.models.published("cortina_detector")))
        stats = {"published": str(published), "labelled_images": len(cases), "best_epoch": report["best_epoch"],
                 "val_ap50": report["val_ap50"], "validated_on": report["validated_on"],
                 "windows": report["windows"], "seconds": report["seconds"]}
        return stats
