"""Trainer for the detector or the segmentator: a thin adapter over mcseg.training.finetune.

MONAI Label runs it in a subprocess. It refreshes the SQLite patch store from
the datastore's images that have a final label, fine-tunes the network in use
(on the GPU when there is one), publishes it where the inferers look, and
reports per-class patch error (C1-C4) and whole-image Dice in the train stats.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from mcseg.defaults import TrainConfig
from mcseg.training.finetune import (LabelledCase, finetune_network, image_dice, refresh_store, workspace_store,
                                     write_stats)
from mcseg.training.trainer import default_device
from monailabel.interfaces.datastore import Datastore, DefaultLabelTag
from monailabel.interfaces.tasks.train import TrainTask

from lib.models import ModelFiles

log = logging.getLogger(__name__)

#: Fine-tuning defaults sized for a CPU: a few minutes on 2 cores.
FINETUNE = TrainConfig(max_steps=300, validate_every=50, early_stopping_patience=4)


class PatchCNNTrainer(TrainTask):
    def __init__(self, role: str, models: ModelFiles, workspace: str | Path, spacing_mm: float | None = None):
        super().__init__(f"Fine-tune the {role} on the datastore's final labels")
        self.role = role
        self.models = models
        self.workspace = Path(workspace)
        self.spacing_mm = spacing_mm

    def config(self) -> dict[str, Any]:
        return {"max_steps": FINETUNE.max_steps, "validate_every": FINETUNE.validate_every,
                "learning_rate": FINETUNE.learning_rate, "batch_size": FINETUNE.batch_size,
                "early_stopping_patience": FINETUNE.early_stopping_patience, "seed": FINETUNE.seed,
                "dice_images": 5}

    @property
    def stats_path(self) -> Path:
        return self.workspace / f"{self.role}.stats.json"

    def stats(self) -> dict[str, Any]:
        try:
            return json.loads(self.stats_path.read_text())
        except (OSError, ValueError):
            return {}

    def __call__(self, request: dict[str, Any], datastore: Datastore) -> dict[str, Any]:
        cfg = {**self.config(), **{k: request[k] for k in self.config() if k in request}}
        config = TrainConfig(max_steps=int(cfg["max_steps"]), validate_every=int(cfg["validate_every"]),
                             learning_rate=float(cfg["learning_rate"]), batch_size=int(cfg["batch_size"]),
                             early_stopping_patience=int(cfg["early_stopping_patience"]), seed=int(cfg["seed"]))
        cases = labelled_cases(datastore)
        if not cases:
            raise ValueError("no image has a final label yet: save a label before training")
        start_from = self.models.path(self.role)
        store, working_spacing_mm = workspace_store(self.workspace, start_from)
        log.info("%s: %d labelled images; device %s", self.role, len(cases), default_device())
        refresh = refresh_store(store, cases, working_spacing_mm, self.spacing_mm)
        stats = finetune_network(self.role, store, start_from, self.models.published(self.role), config)
        stats["labelled_images"] = len(cases)
        stats["store"] = refresh.to_json()
        stats["device"] = str(default_device())
        stats["image_validation"] = image_dice(self.models.pipeline(), cases, self.spacing_mm,
                                               max_images=int(cfg["dice_images"]))
        write_stats(self.stats_path, stats)
        log.info("%s: published %s; patch accuracy %s%%; Dice %s", self.role, stats["published"],
                 stats["patch_validation"]["accuracy"], stats["image_validation"]["dice"])
        return stats


def labelled_cases(datastore: Datastore) -> list[LabelledCase]:
    out = []
    for image_id in datastore.get_labeled_images(DefaultLabelTag.FINAL.value):
        image = datastore.get_image_uri(image_id)
        label = datastore.get_label_uri(image_id, DefaultLabelTag.FINAL.value)
        if image and label:
            out.append(LabelledCase(image_id, Path(image), Path(label)))
    return out
