"""Trainer for Marita et al.'s U-Net: a thin adapter over mcseg.baselines.unet_segmentation.

It cuts ROIs centred on the calcifications of the datastore's images with a final label (and a few
at random breast positions), fine-tunes the weights in use (pixel-weighted BCE, Adam, batch 8, the
epoch of best validation Dice kept) and publishes them where the inferer looks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mcseg import defaults
from mcseg.baselines.unet_segmentation import rois_of_cases, save_unet, train_unet
from mcseg.networks.unet import CalcificationUNet
from mcseg.training import LabelledCase

from lib.models import ModelFiles
from lib.trainers.baseline_trainer import BaselineTrainer, checked_options

#: Option: (type, default, lowest allowed). Fine-tuning needs far fewer epochs than the paper's 100.
OPTIONS: dict[str, tuple[type, Any, float]] = {
    "epochs": (int, 5, 1),
    "learning_rate": (float, defaults.UNET_LEARNING_RATE, 1e-8),
    "background_rois": (int, defaults.UNET_BACKGROUND_ROIS, 0),
    "seed": (int, 0, 0),
}


def unet_train_options(request: dict[str, Any]) -> dict[str, Any]:
    return checked_options(OPTIONS, request)


class UNetTrainer(BaselineTrainer):
    options = OPTIONS

    def __init__(self, models: ModelFiles, workspace: str | Path, spacing_mm: float | None = None):
        super().__init__("marita_unet", "Fine-tune Marita's U-Net on the datastore's final labels",
                         models, workspace, spacing_mm)

    def train(self, cases: list[LabelledCase], options: dict[str, Any]) -> dict[str, Any]:
        start = self.models.path("unet")
        rois = rois_of_cases(cases, options["seed"], background=options["background_rois"],
                             spacing_mm=self.spacing_mm)
        init = CalcificationUNet.from_checkpoint(torch.load(start, map_location="cpu", weights_only=True)).train()
        result = train_unet(rois["train"], rois["val"], options["epochs"], learning_rate=options["learning_rate"],
                            seed=options["seed"], init=init)
        published = self.publish(lambda: save_unet(result, self.models.published("unet"), finetuned_from=str(start),
                                                   trained_on=f"{len(cases)} labelled images of the datastore"))
        stats = {"published": str(published), "labelled_images": len(cases), "best_epoch": result.best_epoch,
                 "epochs": options["epochs"], "validation": result.validation, "seconds": round(result.seconds, 1),
                 "positive_weight": result.positive_weight,
                 "rois": {s: len(r) for s, r in rois.items()},
                 "validated_on": "val split" if len(rois["val"]) else "train split (no held-out ROIs yet)"}
        return stats
