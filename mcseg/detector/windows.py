"""Window grid inside the breast and the detector's verdict on each window."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from mcseg.networks.patch_cnn import PatchCNN


@dataclass
class DetectorResult:
    """Windows of the working frame (top-left corners) and the detector's scores."""

    top_left: np.ndarray        # int (n, 2): row, col
    scores: np.ndarray          # float32 (n,): probability of a calcification in the window
    patch_size_px: int
    threshold: float
    #: Windows above the threshold that the window budget left out (see :meth:`within_budget`).
    over_budget: np.ndarray | None = None

    @property
    def above_threshold(self) -> np.ndarray:
        return self.scores >= self.threshold

    @property
    def flagged(self) -> np.ndarray:
        """Windows that go to the segmentator: above the threshold and within the budget."""
        above = self.above_threshold
        return above if self.over_budget is None else above & ~self.over_budget

    def within_budget(self, max_share: float) -> "DetectorResult":
        """At most ``max_share`` of all windows flagged: the highest-scoring ones, when more pass.

        A detector that flags a large share of the breast is answering texture or noise
        (noisy digitised film), not calcifications; the segmentator's time grows with the
        flagged windows, so without a budget the worst case has no bound."""
        above = self.above_threshold
        cap = int(np.ceil(max_share * len(self.scores)))
        if above.sum() <= cap:
            return self
        keep = np.zeros(len(self.scores), bool)
        keep[np.argsort(-self.scores, kind="stable")[:cap]] = True
        return replace(self, over_budget=above & ~keep)

    def summary(self) -> dict[str, int]:
        """Window counts for the output: how many were classified, flagged, segmented, left out."""
        above = int(self.above_threshold.sum())
        skipped = 0 if self.over_budget is None else int(self.over_budget.sum())
        return {"windows": int(len(self.scores)), "above_threshold": above, "segmented": above - skipped,
                "skipped_over_budget": skipped}

    def region_mask(self, shape: tuple[int, int], flagged_only: bool = True) -> np.ndarray:
        """Pixels covered by the (flagged) windows."""
        out = np.zeros(shape, dtype=bool)
        n = self.patch_size_px
        sel = self.flagged if flagged_only else np.ones(len(self.scores), bool)
        for r, c in self.top_left[sel]:
            out[r : r + n, c : c + n] = True
        return out

    def boxes_px(self, flagged_only: bool = True) -> np.ndarray:
        """(n, 4) boxes r0, c0, r1, c1 (exclusive ends) in the working frame."""
        sel = self.flagged if flagged_only else np.ones(len(self.scores), bool)
        tl = self.top_left[sel]
        return np.concatenate([tl, tl + self.patch_size_px], axis=1)


def _starts(length: int, n: int, stride: int) -> np.ndarray:
    if length <= n:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, length - n + 1, stride)
    if starts[-1] != length - n:  # one more window flush with the far edge
        starts = np.append(starts, length - n)
    return starts


def window_grid(breast: np.ndarray, patch_size_px: int) -> np.ndarray:
    """Top-left corners of N x N windows, stride N // 2, holding any breast pixel."""
    rows = _starts(breast.shape[0], patch_size_px, patch_size_px // 2)
    cols = _starts(breast.shape[1], patch_size_px, patch_size_px // 2)
    # Summed-area table: breast pixels inside every window in O(1) each.
    sat = np.pad(breast.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    r1 = np.minimum(rows + patch_size_px, breast.shape[0])
    c1 = np.minimum(cols + patch_size_px, breast.shape[1])
    inside = sat[np.ix_(r1, c1)] - sat[np.ix_(rows, c1)] - sat[np.ix_(r1, cols)] + sat[np.ix_(rows, cols)]
    rr, cc = np.nonzero(inside > 0)
    return np.stack([rows[rr], cols[cc]], axis=1)


def cut_windows(image: np.ndarray, top_left: np.ndarray, patch_size_px: int) -> np.ndarray:
    """(n, 1, N, N) float32 windows; the image is zero-padded if smaller than N."""
    pad_r = max(0, patch_size_px - image.shape[0])
    pad_c = max(0, patch_size_px - image.shape[1])
    if pad_r or pad_c:
        image = np.pad(image, ((0, pad_r), (0, pad_c)))
    view = np.lib.stride_tricks.sliding_window_view(image, (patch_size_px, patch_size_px))
    return np.ascontiguousarray(view[top_left[:, 0], top_left[:, 1]][:, None], dtype=np.float32)


@torch.no_grad()
def classify_patches(model: PatchCNN, patches: np.ndarray, batch_size: int = 512, runner=None) -> np.ndarray:
    """Probability of the positive class for (n, 1, N, N) patches; ``runner`` (e.g.
    :class:`~mcseg.networks.onnx_dense.OnnxWindowRunner`) replaces the network's forward pass."""
    model.eval()
    device = next(model.parameters()).device  # the network's device: CUDA when the pipeline put it there
    out = np.empty(len(patches), dtype=np.float32)
    for start in range(0, len(patches), batch_size):
        if runner is not None:
            out[start : start + batch_size] = runner(patches[start : start + batch_size])
            continue
        logits = model(torch.from_numpy(patches[start : start + batch_size]).to(device))
        out[start : start + batch_size] = torch.softmax(logits, 1)[:, 1].cpu().numpy()
    return out


def run_detector(
    model: PatchCNN,
    image: np.ndarray,
    breast: np.ndarray,
    threshold: float,
    batch_size: int = 512,
    progress=None,
    runner=None,
) -> DetectorResult:
    """Classify every window of the breast; ``progress`` is an optional tqdm-like bar; ``runner`` as
    for :func:`classify_patches`."""
    n = model.patch_size_px
    top_left = window_grid(breast, n)
    scores = np.empty(len(top_left), dtype=np.float32)
    chunk = batch_size * 8  # cut windows in chunks so memory stays flat on big images
    for start in range(0, len(top_left), chunk):
        sel = top_left[start : start + chunk]
        scores[start : start + chunk] = classify_patches(model, cut_windows(image, sel, n), batch_size, runner)
        if progress is not None:
            progress.update(len(sel))
    return DetectorResult(top_left=top_left, scores=scores, patch_size_px=n, threshold=threshold)
