"""What the baselines' trainers share: checked numeric options, the labelled images, where their stats
live, publishing them, and running in several processes. A baseline's trainer says only how it
trains (``train``).

With ``processes`` > 1 (or MONAI Label's ``multi_gpu`` on a server with several GPUs) the same
``train`` runs in that many ranks under torchrun (``lib/trainers/baseline_job.py``): the core
trainers share every minibatch over the ranks (gloo; these networks stay on the CPU), and rank 0
alone publishes the weights (``publish``) and writes the stats."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable, TypeVar

from mcseg.io.atomic import atomic_write_text
from mcseg.training import LabelledCase, distributed
from monailabel.interfaces.datastore import Datastore
from monailabel.interfaces.tasks.train import TrainTask

from lib.models import ModelFiles
from lib.trainers.patch_cnn_trainer import labelled_cases
from lib.trainers.processes import PROCESS_OPTIONS, run_under_torchrun, train_processes

log = logging.getLogger(__name__)
T = TypeVar("T")
JOB_SCRIPT = Path(__file__).with_name("baseline_job.py")


def baseline_processes(request: dict[str, Any], single_process: bool = False) -> tuple[int, str | None]:
    """The processes a baseline's training request asks for (any minibatch splits over them), and
    their GPUs; ValueError for a trainer that runs in one process only."""
    processes, gpus = train_processes(request, None)
    if single_process and processes > 1:
        raise ValueError(f"processes: this trainer runs in one process (scikit-learn), not {processes}")
    return processes, gpus


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
    #: True for a trainer that cannot share its work over processes (scikit-learn's SVMs).
    single_process = False

    def __init__(self, model: str, description: str, models: ModelFiles, workspace: str | Path,
                 spacing_mm: float | None = None):
        super().__init__(description)
        self.model, self.models, self.workspace, self.spacing_mm = model, models, Path(workspace), spacing_mm

    def config(self) -> dict[str, Any]:
        extra = {} if self.single_process else PROCESS_OPTIONS
        return {name: default for name, (_, default, _) in self.options.items()} | extra

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
        """Train on ``cases``, publish the weights (through :meth:`publish`) and return the run's stats
        (with ``published``)."""
        raise NotImplementedError

    @staticmethod
    def publish(save: Callable[[], T]) -> T:
        """Write the weights on rank 0 only (every rank gets the result), so that ``train`` runs
        unchanged in one process or in several."""
        return distributed.on_main(save)

    def __call__(self, request: dict[str, Any], datastore: Datastore) -> dict[str, Any]:
        options = self.check_options(request)
        processes, gpus = baseline_processes(request, self.single_process)
        cases = labelled_cases(datastore)
        if not cases:
            raise ValueError("no image has a final label yet: save a label before training")
        stats = self.train(cases, options) if processes == 1 else self._under_torchrun(processes, gpus, cases, options)
        stats = self.save_stats({**stats, "processes": processes})
        log.info("%s: published %s", self.model, stats["published"])
        return stats

    def _under_torchrun(self, processes: int, gpus: str | None, cases: list[LabelledCase],
                        options: dict[str, Any]) -> dict[str, Any]:
        self.workspace.mkdir(parents=True, exist_ok=True)
        job_path = self.workspace / f"{self.model}.job.json"
        stats_out = self.workspace / f"{self.model}.job-stats.json"
        stats_out.unlink(missing_ok=True)
        job_path.write_text(json.dumps({
            "trainer": f"{type(self).__module__}:{type(self).__qualname__}",
            "models_dir": str(self.models.models_dir), "workspace": str(self.workspace),
            "spacing_mm": self.spacing_mm, "options": options,
            "cases": [[c.image_id, str(c.image_path), str(c.label_path)] for c in cases],
            "stats_out": str(stats_out)}, indent=1))
        return run_under_torchrun([str(JOB_SCRIPT), str(job_path)], processes, gpus, stats_out, self.model,
                                  cpu_only=True)
