"""One rank of a baseline's training run under torchrun, as the app's trainer starts it:

    torchrun --standalone --nproc_per_node N apps/mc_segmentation/lib/trainers/baseline_job.py JOB.json

The job file (written by ``BaselineTrainer``) names the trainer class, the app's models folder and
workspace, the checked options and the labelled cases. Every rank runs the trainer's own ``train``
(the core trainers share each minibatch over the ranks), rank 0 publishes and writes the stats.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[2]
if str(APP) not in sys.path:  # run as a script by torchrun: make the app's lib importable
    sys.path.insert(0, str(APP))

from mcseg.io.atomic import atomic_write_text  # noqa: E402
from mcseg.training import LabelledCase, distributed  # noqa: E402

from lib.models import ModelFiles  # noqa: E402


def run(job: dict) -> None:
    shard = distributed.setup_from_env(cpu_only=True)
    try:
        module, name = job["trainer"].split(":")
        trainer = getattr(importlib.import_module(module), name)(ModelFiles(job["models_dir"]), job["workspace"],
                                                                 job["spacing_mm"])
        cases = [LabelledCase(i, Path(image), Path(label)) for i, image, label in job["cases"]]
        stats = trainer.train(cases, job["options"])
        if shard.is_main:  # "ranks": the process group it really ran in
            atomic_write_text(job["stats_out"], json.dumps({**stats, "ranks": shard.world}, indent=1))
        distributed.leave(0)  # no rank leaves the group while another still works
    finally:
        distributed.teardown()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: torchrun --standalone --nproc_per_node N baseline_job.py JOB.json")
    run(json.loads(Path(sys.argv[1]).read_text()))
