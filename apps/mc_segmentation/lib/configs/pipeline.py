from __future__ import annotations

from lib.configs.base import McsegTaskConfig
from lib.infers import PipelineInfer


class PipelineTaskConfig(McsegTaskConfig):
    """Both stages: detector, then segmentator; calcifications and clusters. Trained through its two stages."""

    def infer(self):
        return {"pipeline": PipelineInfer(self.models, self.spacing_mm)}

    def trainer(self):
        return None
