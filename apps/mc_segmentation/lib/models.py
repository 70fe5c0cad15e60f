"""Where the app's weights live, and one loaded pipeline shared by the inferers.

Trainers publish to ``<models_dir>/<role>.pt``; until they have, the weights
bundled with mcseg are used. The pipeline is reloaded when either file
changes, so the next inference after a training run uses the new model.
"""

from __future__ import annotations

import threading
from pathlib import Path

from mcseg.defaults import PipelineConfig
from mcseg.pipeline import DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS, Pipeline

BUNDLED = {"detector": DEFAULT_DETECTOR_WEIGHTS, "segmentator": DEFAULT_SEGMENTATOR_WEIGHTS}


class ModelFiles:
    def __init__(self, models_dir: str | Path):
        self.models_dir = Path(models_dir)
        self._lock = threading.Lock()
        self._cached: tuple[tuple, Pipeline] | None = None

    def published(self, role: str) -> Path:
        return self.models_dir / f"{role}.pt"

    def path(self, role: str) -> Path:
        """The weights in use: the published ones, else the bundled defaults."""
        p = self.published(role)
        return p if p.is_file() else BUNDLED[role]

    def pipeline(self, config: PipelineConfig | None = None) -> Pipeline:
        paths = (self.path("detector"), self.path("segmentator"))
        key = tuple((str(p), p.stat().st_mtime_ns) for p in paths) + (config,)
        with self._lock:
            if self._cached is None or self._cached[0] != key:
                self._cached = (key, Pipeline.from_weights(*paths, config=config))
            return self._cached[1]


_shared: dict[Path, ModelFiles] = {}


def model_files(models_dir: str | Path) -> ModelFiles:
    """One ModelFiles per folder, so the three inferers share a loaded pipeline."""
    key = Path(models_dir).resolve()
    if key not in _shared:
        _shared[key] = ModelFiles(key)
    return _shared[key]
