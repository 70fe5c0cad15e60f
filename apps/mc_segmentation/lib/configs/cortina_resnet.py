from __future__ import annotations

from lib.configs.base import McsegTaskConfig
from lib.infers import CortinaResNetInfer
from lib.trainers import CortinaResNetTrainer


class CortinaResNetTaskConfig(McsegTaskConfig):
    """A baseline of issue 19: Cortina et al.'s pipeline 2 (ResNet patch classifier, sliding window)."""

    def infer(self):
        return {"cortina_resnet": CortinaResNetInfer(self.models, self.spacing_mm)}

    def trainer(self):
        return CortinaResNetTrainer(self.models, self.workspace, self.spacing_mm)
