"""Trainer for the detector or the segmentator: a thin adapter over mcseg.training.recipe.

MONAI Label runs it in a subprocess. The labelled images are split by the
networks they retrain (mcseg.training.routes: the coarse networks for images of
0.08 mm and coarser, the 0.07 mm ones below); for each route with labels the
recipe refreshes that route's SQLite patch store, fine-tunes its network in use
(on the GPU when there is one), publishes it where the inferers look, and
reports per-class patch error (C1-C4) and whole-image Dice. The train stats
hold one such report per route under ``routes``.

MONAI Label's multi-GPU switch (``multi_gpu``, ``gpus``) starts one process per
GPU under torchrun (DistributedDataParallel, see mcseg.training.retrain_job);
``processes`` asks for a number of processes outright (gloo ranks on CPUs).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from mcseg import defaults
from mcseg.defaults import TrainConfig
from mcseg.io.atomic import atomic_write_text
from mcseg.training import LabelledCase, default_device, retrain_from_labels
from mcseg.training.routes import (cases_by_route, pixel_sizes, retraining_start, route_workspace,
                                  spacing_range_mm)
from monailabel.interfaces.datastore import Datastore, DefaultLabelTag
from monailabel.interfaces.tasks.train import TrainTask

from lib.models import ModelFiles
from lib.trainers.processes import PROCESS_OPTIONS, run_under_torchrun, train_processes

log = logging.getLogger(__name__)

#: The options a client may pass, with their defaults and types.
OPTIONS: dict[str, tuple[type, Any]] = {
    "max_steps": (int, defaults.RETRAIN_STEPS),
    "validate_every": (int, defaults.RETRAIN_VALIDATE_EVERY),
    "learning_rate": (float, defaults.RETRAIN_LEARNING_RATE),
    "batch_size": (int, defaults.BATCH_SIZE),
    "early_stopping_patience": (int, defaults.RETRAIN_EARLY_STOPPING_PATIENCE),
    "seed": (int, 0),
    "dice_images": (int, defaults.RETRAIN_DICE_IMAGES),
    "rehearsal_images": (int, defaults.RETRAIN_REHEARSAL_IMAGES),
}


def train_options(request: dict[str, Any]) -> tuple[TrainConfig, int, int]:
    """The TrainConfig, Dice image count and rehearsal image count a request asks for; ValueError names
    a bad option."""
    values = {}
    for name, (kind, default) in OPTIONS.items():
        value = request.get(name, default)
        if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"{name} must be {'an integer' if kind is int else 'a number'}, not {value!r}")
        try:
            values[name] = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be {'an integer' if kind is int else 'a number'}, not {value!r}") from None
    dice_images, rehearsal_images = values.pop("dice_images"), values.pop("rehearsal_images")
    for name, value in (("dice_images", dice_images), ("rehearsal_images", rehearsal_images)):
        if value < 0:
            raise ValueError(f"{name} must be 0 or more, not {value}")
    return TrainConfig(**values), dice_images, rehearsal_images


class PatchCNNTrainer(TrainTask):
    def __init__(self, role: str, models: ModelFiles, workspace: str | Path, spacing_mm: float | None = None):
        super().__init__(f"Fine-tune the {role} on the datastore's final labels")
        self.role = role
        self.models = models
        self.workspace = Path(workspace)
        self.spacing_mm = spacing_mm

    def config(self) -> dict[str, Any]:
        return {name: default for name, (_, default) in OPTIONS.items()} | PROCESS_OPTIONS

    @property
    def stats_path(self) -> Path:
        return self.workspace / f"{self.role}.stats.json"

    def stats(self) -> dict[str, Any]:
        try:
            return json.loads(self.stats_path.read_text())
        except (OSError, ValueError):
            return {}

    def __call__(self, request: dict[str, Any], datastore: Datastore) -> dict[str, Any]:
        config, dice_images, rehearsal_images = train_options(request)
        processes, gpus = train_processes(request, config.batch_size)
        cases = labelled_cases(datastore)
        self.workspace.mkdir(parents=True, exist_ok=True)
        sizes = pixel_sizes(cases, self.spacing_mm, self.workspace / "pixel_sizes.json")
        routes = cases_by_route(self.models.pipeline(), cases, sizes)
        log.info("%s: %d labelled images (%s); device %s; %d process(es)", self.role, len(cases),
                 ", ".join(f"{len(c)} for the {r} networks" for r, c in routes.items()), default_device(), processes)
        stats: dict[str, Any] = {"role": self.role, "labelled_images": len(cases), "device": str(default_device()),
                                 "routes": {}}
        for route, route_cases in (routes or {"fine": []}).items():
            labelled = spacing_range_mm(route_cases, sizes)
            start = retraining_start(self.models.models_dir, self.role, route, labelled)
            if processes == 1:
                done = retrain_from_labels(self.role, route_cases, start,
                                           self.models.published(self.role, route), route_workspace(self.workspace, route),
                                           config, self.models.pipeline, self.spacing_mm, dice_images, route=route,
                                           labelled_spacing_mm=labelled, rehearsal_images=rehearsal_images)
            else:
                done = self._under_torchrun(processes, gpus, route, route_cases, config, dice_images,
                                            labelled, rehearsal_images, start)
            stats["routes"][route] = done
            log.info("%s (%s): published %s; patch accuracy %s%%; Dice %s", self.role, route, done["published"],
                     done["patch_validation"]["accuracy"], done["image_validation"]["dice"])
        stats["published"] = [done["published"] for done in stats["routes"].values()]
        atomic_write_text(self.stats_path, json.dumps(stats, indent=1))
        return stats

    def _under_torchrun(self, processes: int, gpus: str | None, route: str, cases: list[LabelledCase],
                        config: TrainConfig, dice_images: int, labelled_spacing_mm: list[float] | None,
                        rehearsal_images: int, start: Path) -> dict[str, Any]:
        """The same fine-tuning in ``processes`` ranks of torchrun; its output goes to this task's log."""
        workspace = route_workspace(self.workspace, route)
        workspace.mkdir(parents=True, exist_ok=True)
        job_path, stats_out = workspace / f"{self.role}.job.json", workspace / f"{self.role}.job-stats.json"
        stats_out.unlink(missing_ok=True)
        published = self.models.published(self.role, route)
        after = {rt: [str(published if (r, rt) == (self.role, route) else self.models.path(r, rt))
                      for r in ("detector", "segmentator")] for rt in ("fine", "coarse")}
        job_path.write_text(json.dumps({
            "role": self.role, "route": route, "labelled_spacing_mm": labelled_spacing_mm,
            "cases": [[c.image_id, str(c.image_path), str(c.label_path)] for c in cases],
            "start_from": str(start), "publish_to": str(published),
            "workspace": str(workspace), "train": dataclasses.asdict(config), "spacing_mm": self.spacing_mm,
            "dice_images": dice_images, "rehearsal_images": rehearsal_images, "stats_out": str(stats_out),
            "dice_weights": {"detector": after["fine"][0], "segmentator": after["fine"][1],
                             "coarse": after["coarse"] if self.models.coarse_paths() else None,
                             "fallback": self.models.fallback_paths()}}, indent=1, default=str))
        return run_under_torchrun(["-m", "mcseg.training.retrain_job", str(job_path)], processes, gpus, stats_out,
                                  f"the {self.role} ({route} networks)")


def labelled_cases(datastore: Datastore) -> list[LabelledCase]:
    out = []
    for image_id in datastore.get_labeled_images(DefaultLabelTag.FINAL.value):
        image = datastore.get_image_uri(image_id)
        label = datastore.get_label_uri(image_id, DefaultLabelTag.FINAL.value)
        if image and label:
            out.append(LabelledCase(image_id, Path(image), Path(label)))
    return out
