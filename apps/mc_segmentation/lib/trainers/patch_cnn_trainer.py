"""Trainer for the detector or the segmentator: a thin adapter over mcseg.training.recipe.

MONAI Label runs it in a subprocess. The recipe refreshes the SQLite patch
store from the datastore's images that have a final label, fine-tunes the
network in use (on the GPU when there is one), publishes it where the inferers
look, and reports per-class patch error (C1-C4) and whole-image Dice, which
become the train stats.

MONAI Label's multi-GPU switch (``multi_gpu``, ``gpus``) starts one process per
GPU under torchrun (DistributedDataParallel, see mcseg.training.retrain_job);
``processes`` asks for a number of processes outright (gloo ranks on CPUs).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

import torch

from mcseg import defaults
from mcseg.defaults import TrainConfig
from mcseg.training import LabelledCase, default_device, retrain_from_labels
from monailabel.interfaces.datastore import Datastore, DefaultLabelTag
from monailabel.interfaces.tasks.train import TrainTask

from lib.models import ModelFiles

log = logging.getLogger(__name__)

#: The options a client may pass, with their defaults and types.
OPTIONS: dict[str, tuple[type, Any]] = {
    "max_steps": (int, defaults.RETRAIN_STEPS),
    "validate_every": (int, defaults.RETRAIN_VALIDATE_EVERY),
    "learning_rate": (float, defaults.LEARNING_RATE),
    "batch_size": (int, defaults.BATCH_SIZE),
    "early_stopping_patience": (int, defaults.RETRAIN_EARLY_STOPPING_PATIENCE),
    "seed": (int, 0),
    "dice_images": (int, defaults.RETRAIN_DICE_IMAGES),
}


def train_options(request: dict[str, Any]) -> tuple[TrainConfig, int]:
    """The TrainConfig and Dice image count a request asks for; ValueError names a bad option."""
    values = {}
    for name, (kind, default) in OPTIONS.items():
        value = request.get(name, default)
        if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"{name} must be {'an integer' if kind is int else 'a number'}, not {value!r}")
        try:
            values[name] = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be {'an integer' if kind is int else 'a number'}, not {value!r}") from None
    dice_images = values.pop("dice_images")
    if dice_images < 0:
        raise ValueError(f"dice_images must be 0 or more, not {dice_images}")
    return TrainConfig(**values), dice_images


#: MONAI Label's multi-GPU options (its BasicTrainTask's names and defaults), and ours.
PROCESS_OPTIONS: dict[str, Any] = {"multi_gpu": True, "gpus": "all", "processes": 0}


def train_processes(request: dict[str, Any], batch_size: int | None) -> tuple[int, str | None]:
    """How many training processes a request asks for, and the GPUs they use ("0,1"; None: all or CPU).

    ``processes`` > 0 is taken as given; 0 means one per selected GPU when ``multi_gpu`` is on and
    there are two or more, else one. ValueError names a bad option."""
    multi_gpu = request.get("multi_gpu", PROCESS_OPTIONS["multi_gpu"])
    if isinstance(multi_gpu, str) and multi_gpu.lower() in ("true", "false"):
        multi_gpu = multi_gpu.lower() == "true"
    if not isinstance(multi_gpu, bool):
        raise ValueError(f"multi_gpu must be true or false, not {multi_gpu!r}")
    processes = request.get("processes", PROCESS_OPTIONS["processes"])
    if isinstance(processes, bool) or not isinstance(processes, int) or not 0 <= processes <= 64:
        raise ValueError(f"processes must be an integer from 0 (automatic) to 64, not {processes!r}")
    gpus = str(request.get("gpus", PROCESS_OPTIONS["gpus"]) or "all").strip()
    available = torch.cuda.device_count()
    if gpus == "all":
        selected, visible = list(range(available)), None
    else:
        try:
            selected = [int(g) for g in gpus.split(",")]
        except ValueError:
            raise ValueError(f"gpus must be 'all' or GPU numbers such as '0,1', not {gpus!r}") from None
        if any(not 0 <= g < available for g in selected) or len(set(selected)) != len(selected):
            raise ValueError(f"gpus {gpus!r}: this server has {available} GPU(s)")
        visible = ",".join(map(str, selected))
    count = processes or (len(selected) if multi_gpu and len(selected) > 1 else 1)
    if available and count > max(len(selected), 1):
        raise ValueError(f"{count} processes need as many GPUs; {len(selected)} selected")
    if batch_size is not None and batch_size % count:  # None: the trainer splits any minibatch
        raise ValueError(f"batch_size {batch_size} does not split evenly over {count} processes")
    return count, visible


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
        config, dice_images = train_options(request)
        processes, gpus = train_processes(request, config.batch_size)
        cases = labelled_cases(datastore)
        log.info("%s: %d labelled images; device %s; %d process(es)", self.role, len(cases), default_device(),
                 processes)
        if processes == 1:
            stats = retrain_from_labels(self.role, cases, self.models.path(self.role),
                                        self.models.published(self.role), self.workspace, config,
                                        self.models.pipeline, self.spacing_mm, dice_images)
        else:
            stats = self._under_torchrun(processes, gpus, cases, config, dice_images)
        stats["device"] = str(default_device())
        log.info("%s: published %s; patch accuracy %s%%; Dice %s", self.role, stats["published"],
                 stats["patch_validation"]["accuracy"], stats["image_validation"]["dice"])
        return stats


    def _under_torchrun(self, processes: int, gpus: str | None, cases: list[LabelledCase], config: TrainConfig,
                        dice_images: int) -> dict[str, Any]:
        """The same fine-tuning in ``processes`` ranks of torchrun; its output goes to this task's log."""
        self.workspace.mkdir(parents=True, exist_ok=True)
        job_path, stats_out = self.workspace / f"{self.role}.job.json", self.workspace / f"{self.role}.job-stats.json"
        stats_out.unlink(missing_ok=True)
        published = self.models.published(self.role)
        after = {r: str(published if r == self.role else self.models.path(r)) for r in ("detector", "segmentator")}
        job_path.write_text(json.dumps({
            "role": self.role, "cases": [[c.image_id, str(c.image_path), str(c.label_path)] for c in cases],
            "start_from": str(self.models.path(self.role)), "publish_to": str(published),
            "workspace": str(self.workspace), "train": dataclasses.asdict(config), "spacing_mm": self.spacing_mm,
            "dice_images": dice_images, "dice_weights": after, "stats_out": str(stats_out)}, indent=1))
        return run_under_torchrun(["-m", "mcseg.training.retrain_job", str(job_path)], processes, gpus, stats_out,
                                  f"the {self.role}")


def run_under_torchrun(target: list[str], processes: int, gpus: str | None, stats_out: Path, what: str,
                       cpu_only: bool = False) -> dict[str, Any]:
    """``torchrun --standalone --nproc_per_node processes TARGET...``, its output into this task's log;
    the stats its rank 0 wrote to ``stats_out``. ``cpu_only``: ranks that keep their tensors on the CPU."""
    env = dict(os.environ)
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpus
    if cpu_only or not torch.cuda.is_available():  # share the cores: N ranks with all threads each would thrash
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // processes))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               *target]
    log.info("%s: %s", what, " ".join(command))
    tail: deque[str] = deque(maxlen=30)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
        for line in proc.stdout:
            tail.append(line.rstrip())
            log.info("%s", line.rstrip())
    if proc.returncode != 0 or not stats_out.is_file():
        raise RuntimeError(f"training {what} in {processes} processes failed (exit {proc.returncode}):\n"
                           + "\n".join(tail))
    return json.loads(stats_out.read_text())


def labelled_cases(datastore: Datastore) -> list[LabelledCase]:
    out = []
    for image_id in datastore.get_labeled_images(DefaultLabelTag.FINAL.value):
        image = datastore.get_image_uri(image_id)
        label = datastore.get_label_uri(image_id, DefaultLabelTag.FINAL.value)
        if image and label:
            out.append(LabelledCase(image_id, Path(image), Path(label)))
    return out
