"""What the baselines' trainers share: checked numeric options, the labelled images, where their stats
live, publishing them. A baseline's trainer says only how it trains (``train``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from mcseg.io.atomic import atomic_write_text
from mcseg.training import LabelledCase
from monailabel.interfaces.datastore import Datastore
from monailabel.interfaces.tasks.train import TrainTask

from lib.models import ModelFiles
from lib.trainers.patch_cnn_trainer import labelled_cases

log = logging.getLogger(__name__)


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


class BaselineTrainer(TrainTask):
    """A trainer whose options are ``options`` (name: type, default, lowest) and whose last run's
    stats are kept in ``<workspace>/<model>.stats.json``."""

    options: dict[str, tuple[type, Any, float]] = {}

    def __init__(self, model: str, description: str, models: ModelFiles, workspace: str | Path,
                 spacing_mm: float | None = None):
        super().__init__(description)
        self.model, self.models, self.workspace, self.spacing_mm = model, models, Path(workspace), spacing_mm

    def config(self) -> dict[str, Any]:
        return {name: default for name, (_, default, _) in self.options.items()}

    @property
    def stats_path(self) -> Path:
        return self.workspace / f"{self.model}.stats.json"

    def stats(self) -> dict[str, Any]:
        try:
            return json.loads(self.stats_path.read_text())
        except (OSError, ValueError):
            return {}

    def save_stats(self, stats: dict[str, Any]) -> dict[str, Any]:
        self.workspace.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.stats_path, json.dumps(stats, indent=1))
        return stats

    def check_options(self, request: dict[str, Any]) -> dict[str, Any]:
        """The request's options, checked (ValueError names a bad one)."""
        return checked_options(self.options, request)

    def train(self, cases: list[LabelledCase], options: dict[str, Any]) -> dict[str, Any]:
        """Train on ``cases``, publish the weights and return the run's stats (with ``published``)."""
        raise NotImplementedError

    def __call__(self, request: dict[str, Any], datastore: Datastore) -> dict[str, Any]:
        options = self.check_options(request)
        cases = labelled_cases(datastore)
        if not cases:
            raise ValueError("no image has a final label yet: save a label before training")
        stats = self.save_stats(self.train(cases, options))
        log.info("%s: published %s", self.model, stats["published"])
        return stats
