"""Trainer for Cortina et al.'s pipeline 1: a thin adapter over mcseg.baselines.cortina.

It proposes and labels the candidates of the datastore's images with a final label, computes their
features and trains a new SVM cascade on them (an SVM is not fine-tuned: it is refitted), then
publishes it where the inferer looks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcseg.baselines.cortina.model import training_data, train_pipeline1
from mcseg.training import LabelledCase

from lib.models import ModelFiles
from lib.trainers.baseline_trainer import BaselineTrainer, checked_options

#: Option: (type, default, lowest allowed).
OPTIONS: dict[str, tuple[type, Any, float]] = {"C": (float, 1.0, 1e-6), "seed": (int, 0, 0)}
METHODS = ("gm", "dog")


def cortina_train_options(request: dict[str, Any]) -> dict[str, Any]:
    out = checked_options(OPTIONS, request)
    method = request.get("candidates", "gm")
    if method not in METHODS:
        raise ValueError(f"candidates must be one of {', '.join(METHODS)}, not {method!r}")
    return out | {"candidates": method}


class CortinaTrainer(BaselineTrainer):
    single_process = True  # scikit-learn's SVMs
    options = OPTIONS

    def __init__(self, models: ModelFiles, workspace: str | Path, spacing_mm: float | None = None):
        super().__init__("cortina_svm", "Refit Cortina's SVM cascade on the datastore's final labels", models,
                         workspace, spacing_mm)

    def config(self) -> dict[str, Any]:
        return super().config() | {"candidates": "gm"}

    def check_options(self, request: dict[str, Any]) -> dict[str, Any]:
        return cortina_train_options(request)

    def train(self, cases: list[LabelledCase], options: dict[str, Any]) -> dict[str, Any]:
        data = training_data(cases, options["candidates"], options["seed"], self.spacing_mm)
        if not data.y["train"].any():
            raise ValueError("no candidate of the labelled images meets a calcification: nothing to learn from")
        cascade = train_pipeline1(data, options["seed"], options["C"])
        cascade.meta |= {"candidate_method": options["candidates"], "C": options["C"],
                         "trained_on": f"{len(cases)} labelled images of the datastore"}
        published = cascade.save(self.models.published("cortina_svm"))
        stats = {"published": str(published), "labelled_images": len(cases),
                 "candidates": {s: {"candidates": int(len(y)), "positives": int(y.sum())} for s, y in data.y.items()},
                 "candidate_recall": data.recall, "cascade": {k: cascade.meta[k] for k in ("stage1", "stage2")}}
        return stats
