from __future__ import annotations

from lib.configs.base import McsegTaskConfig
from lib.infers import CortinaDetectorInfer
from lib.trainers import CortinaDetectorTrainer


class CortinaDetectorTaskConfig(McsegTaskConfig):
    """A baseline of issue 19: Cortina et al.'s pipeline 3 (CNN object detector, sliding window)."""

    def infer(self):
        return {"cortina_detector": CortinaDetectorInfer(self.models, self.spacing_mm)}

    def trainer(self):
        return CortinaDetectorTrainer(self.models, self.workspace, self.spacing_mm)
