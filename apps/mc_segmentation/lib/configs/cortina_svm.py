from __future__ import annotations

from lib.configs.base import McsegTaskConfig
from lib.infers import CortinaInfer
from lib.trainers import CortinaTrainer


class CortinaTaskConfig(McsegTaskConfig):
    """A baseline of issue 19: Cortina et al.'s pipeline 1 (morphology, features, SVM cascade)."""

    def infer(self):
        return {"cortina_svm": CortinaInfer(self.models, self.spacing_mm)}

    def trainer(self):
        return CortinaTrainer(self.models, self.workspace, self.spacing_mm)
