"""The patch CNN shared by the detector and the segmentator (Valvano 2019 sec. 3.4).

Six 3x3 stride-1 convolutions, each followed by batch norm (and ReLU), 2x2
max-pooling after the first two, a 64-unit fully connected layer with batch
norm and 50% dropout, and a 2-unit output; He initialisation. "same" keeps
the feature maps at the patch size (49 -> 24 -> 12), "valid" shrinks them
(49 -> 47 -> 23 -> 21 -> 10 -> 8 -> 6 -> 4 -> 2).

:meth:`PatchCNN.forward_dense` evaluates the same weights at every pixel of a
region at once: pooling becomes stride-1 pooling with growing dilation and the
fully connected layers become (dilated) convolutions ("filter rarefaction",
as in OverFeat and shift-and-stitch). For "valid" it equals the per-patch
result exactly; for "same" it differs only where the per-patch zero padding
reaches, near the patch borders.
"""

from __future__ import annotations

from dataclasses import asdict

import torch
import torch.nn.functional as F
from torch import nn

from mcseg.defaults import NetworkConfig

#: Pooling follows the first POOLED_LAYERS convolutions (Valvano 2019 sec. 3.4).
POOLED_LAYERS = 2


def feature_size(patch_size_px: int, padding: str) -> int:
    """Side of the last feature map for a patch of ``patch_size_px``."""
    size = patch_size_px
    for layer in range(6):
        if padding == "valid":
            size -= 2
        if layer < POOLED_LAYERS:
            size //= 2
    return size


class ConvBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, padding: int):
        super().__init__()
        # No bias: batch norm right after makes it redundant.
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class PatchCNN(nn.Module):
    """Classifies an N x N patch as containing a calcification (1) or not (0)."""

    def __init__(self, config: NetworkConfig = NetworkConfig()):
        super().__init__()
        self.config = config
        self.feature_px = feature_size(config.patch_size_px, config.padding)
        if self.feature_px < 1:
            raise ValueError(
                f"a '{config.padding}' network needs a larger patch than {config.patch_size_px} px "
                "(its feature maps would vanish); use 'same' or N = 49"
            )
        pad = 1 if config.padding == "same" else 0
        channels = (1, *config.conv_channels)
        self.blocks = nn.ModuleList(ConvBlock(channels[i], channels[i + 1], pad) for i in range(6))
        flat = channels[-1] * self.feature_px * self.feature_px
        self.fc1 = nn.Linear(flat, config.fc_units, bias=False)
        self.bn_fc = nn.BatchNorm1d(config.fc_units)
        self.dropout = nn.Dropout(config.dropout)
        self.fc2 = nn.Linear(config.fc_units, 2)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")  # He et al. 2015
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    @property
    def patch_size_px(self) -> int:
        return self.config.patch_size_px

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < POOLED_LAYERS:
                x = F.max_pool2d(x, 2)
        return x

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The 64-unit representation before the classifier (used for t-SNE-like analyses)."""
        return F.relu(self.bn_fc(self.fc1(torch.flatten(self.features(x), 1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, 2) for patches (B, 1, N, N)."""
        return self.fc2(self.dropout(self.embed(x)))

    @torch.no_grad()
    def forward_dense(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, 2, H - k + 1, W - k + 1) for every N x N patch of a region (B, 1, H, W).

        Output [i, j] belongs to the patch whose top-left pixel is input [i, j]
        (centre at [i + N//2, j + N//2]); k = ``dense_context_px``. Eval mode only.
        """
        if self.training:
            raise RuntimeError("forward_dense needs eval mode (batch norm uses running statistics)")
        same = self.config.padding == "same"
        dilation = 1
        for i, block in enumerate(self.blocks):
            x = F.conv2d(x, block.conv.weight, padding=dilation if same else 0, dilation=dilation)
            x = F.relu(block.bn(x))
            if i < POOLED_LAYERS:
                x = F.max_pool2d(x, kernel_size=2, stride=1, dilation=dilation)
                dilation *= 2
        k = self.feature_px
        weight = self.fc1.weight.view(self.config.fc_units, -1, k, k)
        x = F.conv2d(x, weight, dilation=dilation)
        bn = self.bn_fc
        x = F.relu(F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps))
        return F.conv2d(x, self.fc2.weight[:, :, None, None], self.fc2.bias)

    @property
    def dense_context_px(self) -> int:
        """Input rows consumed by forward_dense: output side = input side - this + 1."""
        if not hasattr(self, "_dense_context_px"):
            probe = torch.zeros(1, 1, self.config.patch_size_px * 2, self.config.patch_size_px * 2)
            was_training = self.training
            self.eval()
            out = self.forward_dense(probe).shape[-1]
            self.train(was_training)
            self._dense_context_px = probe.shape[-1] - out + 1
        return self._dense_context_px

    def checkpoint(self, **metadata) -> dict:
        """A self-describing checkpoint: weights, architecture, and provenance."""
        return {"state_dict": self.state_dict(), "network": asdict(self.config), **metadata}

    @classmethod
    def from_checkpoint(cls, checkpoint: dict) -> "PatchCNN":
        model = cls(NetworkConfig.from_dict(checkpoint["network"]))
        model.load_state_dict(checkpoint["state_dict"])
        return model.eval()
