"""The U-Net of Marita et al.: every pixel of a 2^n x 2^n tile classified as finding or background.

MONAI's ``UNet`` (strided-convolution encoder, transposed-convolution decoder, skip connections)
with one input and one output channel: the logit of "this pixel belongs to a calcification".
Padding keeps the tile's size, so a tile's map is as large as the tile.
"""

from __future__ import annotations

from typing import Any

import torch
from monai.networks.nets import UNet
from torch import nn

from mcseg.defaults import UNET_CHANNELS, UNET_ROI_PX


class CalcificationUNet(nn.Module):
    def __init__(self, roi_px: int = UNET_ROI_PX, channels: tuple[int, ...] = UNET_CHANNELS):
        super().__init__()
        levels = len(channels) - 1
        if roi_px % (2 ** levels):
            raise ValueError(f"roi_px {roi_px} must divide by 2^{levels} for {len(channels)} levels")
        self.roi_px, self.channels = int(roi_px), tuple(int(c) for c in channels)
        self.unet = UNet(spatial_dims=2, in_channels=1, out_channels=1, channels=self.channels,
                         strides=(2,) * levels, num_res_units=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch, 1, N, N) for tiles (batch, 1, N, N)."""
        return self.unet(x)

    def checkpoint(self, **metadata: Any) -> dict[str, Any]:
        return {"state_dict": self.state_dict(),
                "network": {"roi_px": self.roi_px, "channels": list(self.channels)}, **metadata}

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any]) -> "CalcificationUNet":
        net = cls(**ckpt["network"])
        net.load_state_dict(ckpt["state_dict"])
        return net.eval()
