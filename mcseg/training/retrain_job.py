"""A fine-tuning run of the app's trainer described by a JSON file, for ``torchrun``.

The MONAI Label app fine-tunes in its own process when one process is asked for; for several (GPUs
of one server, or gloo ranks on CPUs) it writes a job file and starts

    torchrun --standalone --nproc_per_node N -m mcseg.training.retrain_job JOB.json

Every rank joins the process group, rank 0 updates the patch store, all ranks train their share of
each minibatch, rank 0 publishes the weights and writes the stats to ``stats_out``.

The job file holds: ``role``, ``cases`` ([image_id, image_path, label_path] lists), ``start_from``,
``publish_to``, ``workspace``, ``train`` (TrainConfig fields), ``spacing_mm`` (or null),
``dice_images``, ``dice_weights`` ({"detector": path, "segmentator": path, "coarse": [detector,
segmentator] or null, "fallback": [detector, segmentator] or null}, the weights in use after publishing), ``route`` ("fine" or "coarse", the
networks retrained; "fine" when absent), ``labelled_spacing_mm`` (optional), ``rehearsal_images``
(optional; defaults.RETRAIN_REHEARSAL_IMAGES) and ``stats_out``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from mcseg.defaults import RETRAIN_REHEARSAL_IMAGES, TrainConfig
from mcseg.io.atomic import atomic_write_text
from mcseg.pipeline import Pipeline
from mcseg.training import distributed
from mcseg.training.data import LabelledCase
from mcseg.training.recipe import retrain_from_labels


def run(job: dict[str, Any]) -> dict[str, Any]:
    shard = distributed.setup_from_env()
    cases = [LabelledCase(i, Path(image), Path(label)) for i, image, label in job["cases"]]
    weights = job["dice_weights"]
    stats = retrain_from_labels(
        job["role"], cases, job["start_from"], job["publish_to"], job["workspace"], TrainConfig(**job["train"]),
        lambda: Pipeline.from_weights(weights["detector"], weights["segmentator"],
                                      coarse_weights=weights.get("coarse"), fallback_weights=weights.get("fallback")),
        job.get("spacing_mm"), int(job["dice_images"]), progress=shard.is_main, route=job.get("route", "fine"),
        labelled_spacing_mm=job.get("labelled_spacing_mm"),
        rehearsal_images=int(job.get("rehearsal_images", RETRAIN_REHEARSAL_IMAGES)))
    if shard.is_main:
        atomic_write_text(job["stats_out"], json.dumps(stats, indent=1))
    return stats


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="[rank %(process)d] %(levelname)s %(name)s: %(message)s")
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: torchrun --standalone --nproc_per_node N -m mcseg.training.retrain_job JOB.json",
              file=sys.stderr)
        return 2
    run(json.loads(Path(args[0]).read_text()))
    return distributed.leave(0)  # every rank has its stats; see distributed.leave


if __name__ == "__main__":
    sys.exit(main())
