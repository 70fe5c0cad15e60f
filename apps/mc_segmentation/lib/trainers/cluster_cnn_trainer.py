"""Trainer for Luna-Lozoya's cluster CNN: a thin adapter over mcseg.baselines.cluster_presence.

It cuts 1 cm^2 patches from the datastore's images with a final label, fine-tunes the weights in
use (BCE, Adam, batch 64, rotations and flips, the epoch of best validation accuracy kept) and
publishes them where the inferer looks.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from mcseg import defaults
from mcseg.baselines.cluster_presence import patches_of_cases, save_cluster_cnn, train_cluster_cnn
from mcseg.io.atomic import atomic_write_text
from mcseg.networks import ShallowClusterCNN
from monailabel.interfaces.datastore import Datastore
from monailabel.interfaces.tasks.train import TrainTask

from lib.models import ModelFiles
from lib.trainers.patch_cnn_trainer import labelled_cases

log = logging.getLogger(__name__)

#: Option: (type, default, lowest allowed). Fine-tuning needs far fewer epochs than the paper's 100.
OPTIONS: dict[str, tuple[type, Any, float]] = {
    "epochs": (int, 10, 1),
    "learning_rate": (float, defaults.CLUSTER_CNN_LEARNING_RATE, 1e-8),
    "per_cluster": (int, 8, 1),
    "negatives": (int, 8, 0),
    "seed": (int, 0, 0),
}


def checked_options(spec: dict[str, tuple[type, Any, float]], request: dict[str, Any]) -> dict[str, Any]:
    """The options of ``spec`` (name: type, default, lowest) a request asks for; ValueError names a bad
    one. A learning rate must also lie below 1."""
    out = {}
    for name, (kind, default, lowest) in spec.items():
        value = request.get(name, default)
        ok = (not isinstance(value, bool) and isinstance(value, (int, float))
              and (kind is float or float(value).is_integer()))
        if not ok or value < lowest or (name == "learning_rate" and value >= 1):
            raise ValueError(f"{name} must be {'an integer' if kind is int else 'a number'} of at least {lowest:g}"
                             f"{' and below 1' if name == 'learning_rate' else ''}, not {value!r}")
        out[name] = kind(value)
    return out


def cluster_train_options(request: dict[str, Any]) -> dict[str, Any]:
    return checked_options(OPTIONS, request)


class ClusterCNNTrainer(TrainTask):
    def __init__(self, models: ModelFiles, workspace: str | Path, spacing_mm: float | None = None):
        super().__init__("Fine-tune Luna-Lozoya's cluster CNN on the datastore's final labels")
        self.models, self.workspace, self.spacing_mm = models, Path(workspace), spacing_mm

    def config(self) -> dict[str, Any]:
        return {name: default for name, (_, default, _) in OPTIONS.items()}

    @property
    def stats_path(self) -> Path:
        return self.workspace / "luna_lozoya.stats.json"

    def stats(self) -> dict[str, Any]:
        try:
            return json.loads(self.stats_path.read_text())
        except (OSError, ValueError):
            return {}

    def __call__(self, request: dict[str, Any], datastore: Datastore) -> dict[str, Any]:
        options = cluster_train_options(request)
        cases = labelled_cases(datastore)
        if not cases:
            raise ValueError("no image has a final label yet: save a label before training")
        start = self.models.path("cluster_cnn")
        patches = patches_of_cases(cases, options["seed"], options["per_cluster"], options["negatives"],
                                   spacing_mm=self.spacing_mm)
        init = ShallowClusterCNN.from_checkpoint(torch.load(start, map_location="cpu", weights_only=True)).train()
        result = train_cluster_cnn(patches["train"], patches["val"], options["epochs"],
                                   learning_rate=options["learning_rate"], seed=options["seed"], init=init)
        published = save_cluster_cnn(result, self.models.published("cluster_cnn"), finetuned_from=str(start),
                                     trained_on=f"{len(cases)} labelled images of the datastore")
        stats = {"published": str(published), "labelled_images": len(cases), "best_epoch": result.best_epoch,
                 "epochs": options["epochs"], "validation": result.validation, "seconds": round(result.seconds, 1),
                 "patches": {s: {"patches": int(len(p.y)), "positives": int(p.y.sum())} for s, p in patches.items()},
                 "validated_on": "val split" if len(patches["val"].y) else "train split (no held-out patches yet)"}
        self.workspace.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.stats_path, json.dumps(stats, indent=1))
        log.info("luna_lozoya: published %s; validation %s", published, result.validation)
        return stats
