"""What every mcseg TaskConfig shares: where weights and the training workspace live."""

from __future__ import annotations

from pathlib import Path

from monailabel.interfaces.config import TaskConfig

from lib.models import ModelFiles


class McsegTaskConfig(TaskConfig):
    def init(self, name: str, model_dir: str, conf: dict[str, str], planner, models: ModelFiles | None = None,
             spacing_mm: float | None = None, **kwargs):
        super().init(name, model_dir, conf, planner, **kwargs)
        self.models: ModelFiles = models or ModelFiles(model_dir)
        self.path = [str(self.models.published(r)) for r in ("detector", "segmentator")]
        self.spacing_mm = spacing_mm
        self.workspace = Path(model_dir) / "train"
