"""Where the app's weights live, and the loaded pipeline the inferers share.

Trainers publish to ``<models_dir>/<role>.pt``; until they have, the weights
bundled with mcseg are used. The detector and segmentator come in two routes
(mcseg.pipeline.ROUTES): the fine networks at ``<models_dir>/<role>.pt`` and the
coarse ones, which serve inputs of 0.06 mm and coarser, at
``<models_dir>/coarse/<role>.pt``; each route is retrained on the labels of the
images it serves. The pipeline is reloaded when either file
changes, so the next inference after a training run uses the new model. The
app makes one ModelFiles and hands it to every TaskConfig, so the three
inferers share one loaded pipeline.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from mcseg.baselines.cluster_presence import DEFAULT_WEIGHTS as DEFAULT_CLUSTER_CNN_WEIGHTS
from mcseg.baselines.cluster_presence import ClusterPresence
from mcseg.baselines.unet_segmentation import DEFAULT_MASS_WEIGHTS as DEFAULT_UNET_MASS_WEIGHTS
from mcseg.baselines.unet_segmentation import DEFAULT_WEIGHTS as DEFAULT_UNET_WEIGHTS
from mcseg.baselines.unet_segmentation import UNetSegmentation
from mcseg.baselines.cortina.model import DEFAULT_WEIGHTS as DEFAULT_CORTINA_WEIGHTS
from mcseg.baselines.cortina.model import CortinaPipeline1
from mcseg.baselines.cortina.resnet import DEFAULT_WEIGHTS as DEFAULT_CORTINA_RESNET_WEIGHTS
from mcseg.baselines.cortina.resnet import CortinaResNetModel
from mcseg.baselines.cortina.detection import DEFAULT_WEIGHTS as DEFAULT_CORTINA_DETECTOR_WEIGHTS
from mcseg.baselines.cortina.detection import CortinaDetectorModel
from mcseg.defaults import PipelineConfig
from mcseg.fp_reduction import classifier_beside
from mcseg.pipeline import DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS, Pipeline
from mcseg.training.recipe import ROLES
from mcseg.training.routes import published_weights, weights_in_use

BUNDLED = {"detector": DEFAULT_DETECTOR_WEIGHTS, "segmentator": DEFAULT_SEGMENTATOR_WEIGHTS,
           "cluster_cnn": DEFAULT_CLUSTER_CNN_WEIGHTS, "unet": DEFAULT_UNET_WEIGHTS,
           "unet_masses": DEFAULT_UNET_MASS_WEIGHTS, "cortina_svm": DEFAULT_CORTINA_WEIGHTS,
           "cortina_resnet": DEFAULT_CORTINA_RESNET_WEIGHTS, "cortina_detector": DEFAULT_CORTINA_DETECTOR_WEIGHTS}


class ModelFiles:
    def __init__(self, models_dir: str | Path, pipeline_config: PipelineConfig | None = None):
        self.models_dir = Path(models_dir).resolve()
        #: The server's own pipeline settings (--conf), given to every pipeline it loads.
        self.pipeline_config = pipeline_config
        self._lock = threading.Lock()
        self._cached: tuple[tuple, Pipeline] | None = None
        #: role -> (the file's path, mtime and settings; the model loaded from it)
        self._baselines: dict[str, tuple[tuple, Any]] = {}

    def published(self, role: str, route: str = "fine") -> Path:
        """Where a trainer publishes ``role`` (of ``route``, for the detector and the segmentator)."""
        if role in ROLES:
            return published_weights(self.models_dir, role, route)
        return self.models_dir / (f"{role}.npz" if role == "cortina_svm" else f"{role}.pt")

    def path(self, role: str, route: str = "fine") -> Path:
        """The weights in use: the published ones, else the bundled defaults."""
        if role in ROLES:
            return weights_in_use(self.models_dir, role, route)
        p = self.published(role)
        return p if p.is_file() else BUNDLED[role]

    def coarse_paths(self) -> tuple[Path, Path] | None:
        """The coarse detector and segmentator in use; None where there are none."""
        paths = (self.path("detector", "coarse"), self.path("segmentator", "coarse"))
        return paths if all(p.is_file() for p in paths) else None

    def stamp(self) -> tuple:
        """The version of every file the pipeline loads: the networks of both routes and the
        candidate classifiers beside their segmentators (a retraining refits or removes one)."""
        paths = [self.path(r, route) for route in ("fine", "coarse") for r in ("detector", "segmentator")]
        paths += [classifier_beside(paths[1]), classifier_beside(paths[3])]
        return tuple((str(p), p.stat().st_mtime_ns if p.is_file() else None) for p in paths)

    def fallback_paths(self) -> tuple[Path, Path] | None:
        """The bundled 0.07 mm networks, for the inputs a retrained 0.07 mm segmentator's labels do not
        cover (Pipeline.covers); None while the bundled segmentator is the one in use."""
        if not self.published("segmentator").is_file():
            return None
        return BUNDLED["detector"], BUNDLED["segmentator"]

    def pipeline(self) -> Pipeline:
        """The pipeline of the weights in use, loaded once per :meth:`stamp`."""
        key = self.stamp()
        with self._lock:
            if self._cached is None or self._cached[0] != key:
                self._cached = (key, Pipeline.from_weights(self.path("detector"), self.path("segmentator"),
                                                           self.pipeline_config, coarse_weights=self.coarse_paths(),
                                                           fallback_weights=self.fallback_paths()))
            return self._cached[1]

    def _baseline(self, role: str, load: Callable[..., Any], **settings) -> Any:
        """A baseline model of ``role`` with the weights in use, loaded once per version of its file
        (and of ``settings``): a trainer's publish is picked up by the next inference."""
        path = self.path(role)
        key = (str(path), path.stat().st_mtime_ns, tuple(sorted(settings.items())))
        with self._lock:
            if role not in self._baselines or self._baselines[role][0] != key:
                self._baselines[role] = (key, load(path, **settings))
            return self._baselines[role][1]

    def cluster_presence(self, **settings) -> ClusterPresence:
        """Luna-Lozoya's cluster CNN."""
        return self._baseline("cluster_cnn", ClusterPresence.from_weights, **settings)

    def unet(self, role: str = "unet") -> UNetSegmentation:
        """Marita's U-Net (``unet`` for calcifications, ``unet_masses``)."""
        return self._baseline(role, UNetSegmentation.from_weights)

    def cortina(self) -> CortinaPipeline1:
        """Cortina's pipeline 1 with its SVM cascade."""
        return self._baseline("cortina_svm", CortinaPipeline1.from_weights)

    def cortina_resnet(self) -> CortinaResNetModel:
        """Cortina's pipeline 2 with its ResNet classifier."""
        return self._baseline("cortina_resnet", CortinaResNetModel.from_weights)

    def cortina_detector(self) -> CortinaDetectorModel:
        """Cortina's pipeline 3 with its sliding-window CNN detector."""
        return self._baseline("cortina_detector", CortinaDetectorModel.from_weights)
