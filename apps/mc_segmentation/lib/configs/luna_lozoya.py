from __future__ import annotations

from lib.configs.base import McsegTaskConfig
from lib.infers import ClusterPresenceInfer
from lib.trainers import ClusterCNNTrainer


class LunaLozoyaTaskConfig(McsegTaskConfig):
    """A baseline of issue 19: Luna-Lozoya et al.'s shallow CNN for cluster presence in 1 cm^2 windows."""

    def infer(self):
        return {"luna_lozoya": ClusterPresenceInfer(self.models, self.spacing_mm)}

    def trainer(self):
        return ClusterCNNTrainer(self.models, self.workspace, self.spacing_mm)
