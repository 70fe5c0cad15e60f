from .cluster_cnn_trainer import ClusterCNNTrainer
from .cortina_trainer import CortinaTrainer
from .patch_cnn_trainer import PatchCNNTrainer
from .unet_trainer import UNetTrainer

__all__ = ["ClusterCNNTrainer", "CortinaTrainer", "PatchCNNTrainer", "UNetTrainer"]
