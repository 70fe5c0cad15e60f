"""What every mcseg TaskConfig shares: where weights and the training workspace live."""

from __future__ import annotations

from pathlib import Path

from monailabel.interfaces.config import TaskConfig

from lib.models import ModelFiles, model_files


class McsegTaskConfig(TaskConfig):
    def init(self, name: str, model_dir: str, conf: dict[str, str], planner, **kwargs):
        super().init(name, model_dir, conf, planner, **kwargs)
        self.models: ModelFiles = model_files(model_dir)
        self.path = [str(self.models.published(r)) for r in ("detector", "segmentator")]
        spacing = float(conf.get("spacing_mm", 0) or 0)
        self.spacing_mm = spacing if spacing > 0 else None
        self.workspace = Path(model_dir) / "train"
