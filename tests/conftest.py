"""Shared fixtures. tests/ is deliberately not a package: monailabel's wheel
installs a top-level `tests` package that would otherwise shadow it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

DATA = Path(__file__).resolve().parent.parent / "mcseg" / "data"
CBIS_DICOM = DATA / "demo" / "cbis-ddsm_P_00820_RIGHT_CC.dcm"


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


def randomise_batch_norm(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give batch-norm layers non-trivial statistics so tests exercise them."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
    return model.eval()
