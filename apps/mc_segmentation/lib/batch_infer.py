"""MONAI Label's batch-infer route over ``mcseg.batch``: the same path as ``mcseg segment --workers N``.

For the ``pipeline`` model the request's images are segmented by :func:`mcseg.batch.segment_batch`
(``max_workers`` processes, default 1, the cores shared out) and each mask is saved as a label with
the request's ``label_tag``, the same file the ``pipeline`` inferer returns. The other models go
through MONAI Label's own loop, on one device unless there are several GPUs (its default divides by
zero on a CPU). MONAI Label runs this in a subprocess of the server, so the server keeps answering.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import torch
from monailabel.interfaces.datastore import Datastore, DefaultLabelTag
from monailabel.interfaces.tasks.batch_infer import BatchInferTask

from mcseg.batch import BatchJob, segment_batch
from lib.models import ModelFiles

log = logging.getLogger(__name__)


class PipelineBatchInfer(BatchInferTask):
    def __init__(self, models: ModelFiles, spacing_mm: float | None = None):
        self.models = models
        self.spacing_mm = spacing_mm

    def __call__(self, request, datastore: Datastore, infer):
        if request.get("model") != "pipeline":
            if torch.cuda.device_count() < 2:
                request = {**request, "multi_gpu": False}
            return super().__call__(request, datastore, infer)
        image_ids = sorted(self.get_images(request, datastore))
        limit = int(request.get("max_batch_size") or 0)
        image_ids = image_ids[:limit] if limit > 0 else image_ids
        label_tag = request.get("label_tag") or DefaultLabelTag.ORIGINAL
        files = {Path(datastore.get_image_uri(i)).resolve(): i for i in image_ids}
        pipeline = self.models.pipeline()
        result: dict = {}
        with tempfile.TemporaryDirectory(prefix="mcseg-batch-") as out:
            job = BatchJob(out=Path(out), config=pipeline.given_config, detector=self.models.path("detector"),
                           segmentator=self.models.path("segmentator"), coarse=self.models.coarse_paths(),
                           fallback=self.models.fallback_paths(),
                           spacing_mm=self.spacing_mm)
            summary = segment_batch(list(files), job, workers=max(1, int(request.get("max_workers") or 1)),
                                    progress=True, pipeline=pipeline)
            for outcome in summary.done:
                image_id = files[outcome.path]
                params = {"model": "pipeline", "calcifications": outcome.calcifications,
                          "clusters": outcome.clusters, "seconds": round(outcome.seconds, 2)}
                label_id = datastore.save_label(image_id, outcome.written["mask"], label_tag, params)
                result[image_id] = {"label": label_id, **params}
            for outcome in summary.failed:
                log.warning("batch infer: %s: %s", files[outcome.path], outcome.error)
                result[files[outcome.path]] = {"error": outcome.error}
        log.info("batch infer: %d of %d images segmented", len(summary.done), len(files))
        return result
