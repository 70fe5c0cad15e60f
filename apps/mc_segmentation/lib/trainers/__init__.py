from .cluster_cnn_trainer import ClusterCNNTrainer
from .cortina_detector_trainer import CortinaDetectorTrainer
from .cortina_resnet_trainer import CortinaResNetTrainer
from .cortina_trainer import CortinaTrainer
from .patch_cnn_trainer import PatchCNNTrainer
from .unet_trainer import UNetTrainer

__all__ = ["ClusterCNNTrainer", "CortinaDetectorTrainer", "CortinaResNetTrainer", "CortinaTrainer", "PatchCNNTrainer", "UNetTrainer"]
