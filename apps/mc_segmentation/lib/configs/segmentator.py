from __future__ import annotations

from lib.configs.base import McsegTaskConfig
from lib.infers import SegmentatorInfer
from lib.trainers import PatchCNNTrainer


class SegmentatorTaskConfig(McsegTaskConfig):
    """Stage 3 of mcseg.pipeline: every pixel of the candidate regions, calcification or not."""

    def infer(self):
        return {"segmentator": SegmentatorInfer(self.models, self.spacing_mm)}

    def trainer(self):
        return PatchCNNTrainer("segmentator", self.models, self.workspace, self.spacing_mm)
