from __future__ import annotations

from lib.configs.base import McsegTaskConfig
from lib.infers import UNetInfer
from lib.trainers import UNetTrainer


class MaritaUNetTaskConfig(McsegTaskConfig):
    """A baseline of issue 19: Marita et al.'s U-Net, every pixel of its tiles, for calcifications (the
    trainer fine-tunes this one on the saved labels) and, as in the paper, for masses."""

    def infer(self):
        return {"marita_unet": UNetInfer(self.models, self.spacing_mm),
                "marita_unet_masses": UNetInfer(self.models, self.spacing_mm, finding="mass")}

    def trainer(self):
        return UNetTrainer(self.models, self.workspace, self.spacing_mm)
