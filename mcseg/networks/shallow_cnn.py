"""The shallow CNN of Luna-Lozoya et al.: cluster presence in a 1 cm^2 patch.

Two valid 9 x 9 convolutions (6 and 16 filters, ReLU), global max pooling, one sigmoid unit:
8,301 parameters. The network is convolutional up to the global maximum, so the maximum over a
window of the whole image's feature map equals the network run on that window: ``dense_logits``
reads every window of a stride off one pass over the image, exactly.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mcseg.defaults import CLUSTER_CNN_CHANNELS, CLUSTER_CNN_KERNEL_PX, CLUSTER_PATCH_PX


class ShallowClusterCNN(nn.Module):
    def __init__(self, patch_px: int = CLUSTER_PATCH_PX, channels: tuple[int, int] = CLUSTER_CNN_CHANNELS,
                 kernel_px: int = CLUSTER_CNN_KERNEL_PX):
        super().__init__()
        self.patch_px, self.channels, self.kernel_px = patch_px, tuple(channels), kernel_px
        self.conv1 = nn.Conv2d(1, channels[0], kernel_px)
        self.conv2 = nn.Conv2d(channels[0], channels[1], kernel_px)
        self.head = nn.Linear(channels[1], 1)

    @property
    def shrink_px(self) -> int:
        """Pixels a valid pass loses per axis."""
        return 2 * (self.kernel_px - 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch,) for patches (batch, 1, N, N); sigmoid gives the cluster probability."""
        return self.head(self.features(x).amax(dim=(2, 3))).squeeze(1)

    def dense_logits(self, image: torch.Tensor, stride_px: int) -> torch.Tensor:
        """Logits of every ``patch_px`` window at ``stride_px`` over ``image`` (rows, cols), window (i, j)
        starting at pixel (i * stride, j * stride); the same values as ``forward`` on each window."""
        window = self.patch_px - self.shrink_px
        pooled = F.max_pool2d(self.features(image[None, None]), window, stride_px)
        return self.head(pooled[0].permute(1, 2, 0)).squeeze(-1)

    def checkpoint(self, **metadata: Any) -> dict[str, Any]:
        return {"state_dict": self.state_dict(), "network": {"patch_px": self.patch_px, "channels": list(self.channels),
                                                           "kernel_px": self.kernel_px}, **metadata}

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any]) -> "ShallowClusterCNN":
        net = cls(**ckpt["network"])
        net.load_state_dict(ckpt["state_dict"])
        return net.eval()
