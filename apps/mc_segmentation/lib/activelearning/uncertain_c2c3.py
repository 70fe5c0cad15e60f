"""Scoring method and strategy `uncertain_c2c3`: thin adapters over mcseg.activelearning.

Each unlabelled image's score (and its most uncertain C2/C3 patches) goes into
the datastore's image info under ``uncertain_c2c3``, stamped with the weights
it was computed with. lib.activelearning.background keeps them current in the
server; the strategy answers at once from the scores there are.
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
    """Which weights a score was computed with (both routes' networks and classifiers)."""
    return "|".join(f"{path}@{mtime_ns}" for path, mtime_ns in models.stamp())


def score_one(models: ModelFiles, datastore: Datastore, image_id: str, spacing_mm: float | None = None,
              top_k: int = TOP_K) -> str | None:
    """Score one image with the weights in use and store it in its image info; the reason if it cannot be."""
    stamp = model_stamp(models)
    try:
        mammo = read_mammogram(datastore.get_image_uri(image_id), spacing_mm=spacing_mm)
    except InputError as exc:
        return str(exc)
    started = time.perf_counter()
    result = score_image(models.pipeline(), mammo, top_k)
    entry = result.to_json(top_k) | {"model": stamp, "seconds": round(time.perf_counter() - started, 2),
                                     "ts": int(time.time())}
    datastore.update_image_info(image_id, {KEY: entry})
    log.info("%s: %s = %.4f (%.1f s)", image_id, KEY, result.score, entry["seconds"])
    return None


def refresh_scores(models: ModelFiles, datastore: Datastore, spacing_mm: float | None = None,
                   top_k: int = TOP_K, force: bool = False) -> dict[str, Any]:
    """Score every unlabelled image whose score is missing or was made with other weights."""
    stamp = model_stamp(models)
    done, kept, failed = [], [], {}
    for image_id in datastore.get_unlabeled_images(DefaultLabelTag.FINAL.value):
        info = datastore.get_image_info(image_id).get(KEY, {})
        if not force and info.get("model") == stamp:
            kept.append(image_id)
            continue
        error = score_one(models, datastore, image_id, spacing_mm, top_k)
        if error:
            failed[image_id] = error
        else:
            done.append(image_id)
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
    """The unlabelled image the models are least sure about, with where to look.

    It answers at once from the scores the background scorer has stored: the
    highest among those made with the weights in use, else among older ones,
    else (nothing scored yet) the first unlabelled image. It never scores inside
    the request."""

    name = KEY
    #: The stored entry's field that ranks the images.
    field = "score"

    def __init__(self, models: ModelFiles, spacing_mm: float | None = None,
                 description: str = "Unlabelled image with the most uncertain C2 (calcification border) and C3 "
                                    "(peripheral calcification) patches; returns their boxes"):
        super().__init__(description)
        self.models, self.spacing_mm = models, spacing_mm

    def __call__(self, request, datastore: Datastore):
        stamp = model_stamp(self.models)
        unlabelled = datastore.get_unlabeled_images(DefaultLabelTag.FINAL.value)
        if not unlabelled:
            return {}
        scores = {i: datastore.get_image_info(i).get(KEY) for i in unlabelled}
        current = {i: s for i, s in scores.items() if s and s.get("model") == stamp}
        older = {i: s for i, s in scores.items() if s and i not in current}
        counts = {"scored": len(current), "stale": len(older), "unscored": len(unlabelled) - len(current) - len(older)}
        pool = current or older
        if not pool:
            return {"id": sorted(unlabelled)[0], "strategy": self.name, "score": None, "patches": [], **counts,
                    "note": "no image scored yet: the first unlabelled image; scores are being computed"}
        best = max(pool, key=lambda i: pool[i].get(self.field, 0.0))
        return {"id": best, "score": pool[best].get(self.field), "patches": pool[best]["patches"],
                "strategy": self.name, "score_is_current": best in current, **counts}


class Entropy(UncertainC2C3):
    """The unlabelled image of highest plain entropy (the segmentator's single view, top tiles), read
    from the same stored entries: the background scorer computes it in the same pass. In the
    project's active-learning experiment it ranked images best of the strategies tried (README)."""

    name = "entropy"
    field = "entropy"

    def __init__(self, models: ModelFiles, spacing_mm: float | None = None):
        super().__init__(models, spacing_mm, "Unlabelled image of highest segmentator entropy (mean of its top "
                                             "tiles); returns the C2/C3 patches as well")
