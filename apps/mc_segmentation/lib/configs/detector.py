from __future__ import annotations

from lib.configs.base import McsegTaskConfig
from lib.infers import DetectorInfer
from lib.trainers import PatchCNNTrainer


class DetectorTaskConfig(McsegTaskConfig):
    """Stage 2 of mcseg.pipeline (after preprocessing): which N x N windows may hold a calcification."""

    def infer(self):
        return {"detector": DetectorInfer(self.models, self.spacing_mm)}

    def trainer(self):
        return PatchCNNTrainer("detector", self.models, self.workspace, self.spacing_mm)
