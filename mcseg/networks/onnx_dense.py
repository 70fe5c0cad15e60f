"""The networks' inference through ONNX Runtime, an optional CPU backend: the segmentator's dense
pass and the detector's windows.

Why: the dense pass (six small convolutions, the last ones dilated, then the fully connected layers
as dilated convolutions) is most of a mammogram's time on a CPU. ONNX Runtime folds each batch norm
into its convolution and runs these small-channel, dilated convolutions faster than PyTorch's CPU
kernels: measured 0.025 s against 0.064 s for one 256 px block of the bundled segmentator (AMD EPYC,
2 threads, 2026-12-06), logits within 1e-5 of PyTorch's. The graph is exported from the network in
memory once per pipeline (0.13 s); weights are never written to disk.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import threading

import numpy as np
import torch

from mcseg.networks.patch_cnn import PatchCNN


def onnxruntime_available() -> bool:
    """Both optional packages present (torch.onnx.export needs onnx). Looked up, not imported, so
    that a pipeline that does not use them pays nothing (the core must not need MONAI's
    optional_import either: the wheel does not depend on MONAI)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


class _PositiveProbability(torch.nn.Module):
    """A network pass (``forward`` or ``forward_dense``) followed by the positive class's softmax
    probability, so the export computes it inside the graph: a softmax over the channel axis of a
    whole dense map in PyTorch costs 0.6 as much as the network itself."""

    def __init__(self, model: PatchCNN, dense: bool):
        super().__init__()
        self.model, self.dense = model, dense

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model.forward_dense(x) if self.dense else self.model(x), 1)[:, 1]


#: torch.onnx.export keeps its state in module globals: two exports at once (the server's inference
#: worker and its background scorer, each building its sessions) fail with "in_onnx_export must be True".
_EXPORT_LOCK = threading.Lock()


def export_graph(module: torch.nn.Module, probe: torch.Tensor, dynamic_axes: dict) -> bytes:
    """``module`` as an ONNX graph in memory (input "x", output "p")."""
    if not onnxruntime_available():
        raise RuntimeError("the onnxruntime backend needs the packages onnxruntime and onnx")
    buffer = io.BytesIO()
    with _EXPORT_LOCK, torch.no_grad():
        torch.onnx.export(module.eval(), probe, buffer, input_names=["x"], output_names=["p"],
                          dynamic_axes=dynamic_axes, opset_version=17, dynamo=False)
    return buffer.getvalue()


def dense_graph(model: PatchCNN) -> bytes:
    """The segmentator's dense pass with its positive-class probability, as the dense runner exports it."""
    side = model.dense_context_px + 8
    return export_graph(_PositiveProbability(model.eval(), dense=True), torch.zeros(1, 1, side, side),
                        {"x": {2: "h", 3: "w"}, "p": {1: "h", 2: "w"}})


def _session(graph: bytes, threads: int | None = None):
    """An ONNX Runtime session of an exported graph."""
    ort = importlib.import_module("onnxruntime")
    options = ort.SessionOptions()
    # The same share of the cores PyTorch was given (mcseg segment --threads, --workers).
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


class OnnxWindowRunner:
    """``runner(patches)``: the positive-class probability of (n, 1, N, N) float32 patches, as (n,)."""

    def __init__(self, model: PatchCNN, threads: int | None = None):
        n = model.patch_size_px
        self.session = _session(export_graph(_PositiveProbability(model.eval(), dense=False),
                                             torch.zeros(2, 1, n, n), {"x": {0: "batch"}, "p": {0: "batch"}}),
                                threads)

    def __call__(self, patches: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"x": np.ascontiguousarray(patches, dtype=np.float32)})[0]


class OnnxDenseRunner:
    """``runner(tile)``: the calcification probability of ``model.forward_dense(tile)`` for a (1, 1, H, W)
    float32 array, as a (1, H', W') numpy array."""

    def __init__(self, model: PatchCNN, threads: int | None = None, graph: bytes | None = None):
        """``graph``: an exported dense graph to run instead of ``model``'s own (e.g. a quantised copy)."""
        self.session = _session(graph if graph is not None else dense_graph(model), threads=threads)

    def __call__(self, tile: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"x": np.ascontiguousarray(tile, dtype=np.float32)})[0]
