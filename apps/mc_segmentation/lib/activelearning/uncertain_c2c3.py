"""Scoring method and strategy `uncertain_c2c3`: thin adapters over mcseg.activelearning.

Each unlabelled image's score (and its most uncertain C2/C3 patches) goes into
the datastore's image info under ``uncertain_c2c3``, stamped with the weights
it was computed with; a score computed with older weights is recomputed before
it is used, so "Next Sample" always ranks by the models in use.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from mcseg.activelearning import score_image
from mcseg.activelearning.uncertainty import TOP_K
from mcseg.io.errors import InputError
from mcseg.io.reader import read_mammogram
from monailabel.interfaces.datastore import Datastore, DefaultLabelTag
from monailabel.interfaces.tasks.scoring import ScoringMethod
from monailabel.interfaces.tasks.strategy import Strategy

from lib.models import ModelFiles

log = logging.getLogger(__name__)
KEY = "uncertain_c2c3"


def model_stamp(models: ModelFiles) -> str:
    """Which weights a score was computed with."""
    return "|".join(f"{models.path(r)}@{models.path(r).stat().st_mtime_ns}" for r in ("detector", "segmentator"))


def refresh_scores(models: ModelFiles, datastore: Datastore, spacing_mm: float | None = None,
                   top_k: int = TOP_K, force: bool = False) -> dict[str, Any]:
    """Score every unlabelled image whose score is missing or was made with other weights."""
    stamp = model_stamp(models)
    pipeline = models.pipeline()
    done, kept, failed = [], [], {}
    for image_id in datastore.get_unlabeled_images(DefaultLabelTag.FINAL.value):
        info = datastore.get_image_info(image_id).get(KEY, {})
        if not force and info.get("model") == stamp:
            kept.append(image_id)
            continue
        try:
            mammo = read_mammogram(datastore.get_image_uri(image_id), spacing_mm=spacing_mm)
        except InputError as exc:
            failed[image_id] = str(exc)
            continue
        started = time.perf_counter()
        result = score_image(pipeline, mammo, top_k)
        entry = result.to_json(top_k) | {"model": stamp, "seconds": round(time.perf_counter() - started, 2),
                                         "ts": int(time.time())}
        datastore.update_image_info(image_id, {KEY: entry})
        done.append(image_id)
        log.info("%s: %s = %.4f (%.1f s)", image_id, KEY, result.score, entry["seconds"])
    return {"scored": done, "unchanged": kept, "failed": failed, "model": stamp}


class UncertainC2C3Scoring(ScoringMethod):
    def __init__(self, models: ModelFiles, spacing_mm: float | None = None):
        super().__init__("Uncertainty of the detector (C3-type windows, 8-fold TTA) and the segmentator "
                         "(C2-type borders, 4-fold TTA); image score = mean of the top-k patches")
        self.models, self.spacing_mm = models, spacing_mm

    def __call__(self, request, datastore: Datastore):
        return refresh_scores(self.models, datastore, self.spacing_mm, int(request.get("top_k", TOP_K)),
                              bool(request.get("force", False)))


class UncertainC2C3(Strategy):
    """The unlabelled image the models are least sure about, with where to look."""

    def __init__(self, models: ModelFiles, spacing_mm: float | None = None):
        super().__init__("Unlabelled image with the most uncertain C2 (calcification border) and C3 "
                         "(peripheral calcification) patches; returns their boxes")
        self.models, self.spacing_mm = models, spacing_mm

    def __call__(self, request, datastore: Datastore):
        refresh_scores(self.models, datastore, self.spacing_mm)  # only what is missing or stale
        best, best_score = None, -1.0
        for image_id in datastore.get_unlabeled_images(DefaultLabelTag.FINAL.value):
            info = datastore.get_image_info(image_id).get(KEY)
            if info and info["score"] > best_score:
                best, best_score = image_id, info["score"]
        if best is None:
            return {}
        info = datastore.get_image_info(best)[KEY]
        return {"id": best, "score": info["score"], "patches": info["patches"], "strategy": KEY}
