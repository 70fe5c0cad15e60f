from .cluster_cnn_trainer import ClusterCNNTrainer
from .patch_cnn_trainer import PatchCNNTrainer

__all__ = ["ClusterCNNTrainer", "PatchCNNTrainer"]
