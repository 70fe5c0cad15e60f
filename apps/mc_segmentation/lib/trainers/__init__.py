from .patch_cnn_trainer import PatchCNNTrainer

__all__ = ["PatchCNNTrainer"]
