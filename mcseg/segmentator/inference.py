"""Per-pixel calcification probability inside a region of the working frame."""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
from scipy import ndimage as ndi

from mcseg.detector.windows import classify_patches
from mcseg.networks.patch_cnn import PatchCNN
from mcseg.patches.symmetry import D4, apply_symmetry, undo_symmetry

log = logging.getLogger(__name__)

#: Side of the blocks the dense path evaluates at once. Measured on the GE sample resampled to
#: 3328 x 4084 at 0.07 mm (3 runs each, AMD EPYC, 2 cores, 2026-12-02): 512 took 69 s and peaked at
#: 2.4 GB, 256 took 57.7 s (57.1-58.4) at 1.67 GB, 128 took 58.9 s (55.2-61.5) at 1.24 GB, the same
#: calcifications each time; 256 keeps the halo (a 48 px border) overhead near 40% on compact regions.
DENSE_BLOCK_PX = 256
#: Blocks for the views that selective averaging refines: its pixels are scattered, and a smaller
#: tile shrunk to them computes fewer pixels that are not wanted.
REFINE_BLOCK_PX = 128


def _padded(image: np.ndarray, half: int, extra: int) -> np.ndarray:
    # Zero outside the image: the working frame is 0 outside the breast anyway.
    return np.pad(image.astype(np.float32, copy=False), ((half, half + extra), (half, half + extra)))


def _blocks(region: np.ndarray, block_px: int):
    """Blocks to evaluate: the bounding box of each connected part of the region, cut into
    block_px tiles, each tile shrunk to that part's pixels inside it (a chain of flagged windows
    along a vessel has a large, mostly empty bounding box). Small tiles (the scattered pixels that
    selective averaging refines) skip the labelling: the image is cut into a grid of them."""
    if block_px < DENSE_BLOCK_PX:
        yield from _grid_blocks(region, block_px)
        return
    labels, _ = ndi.label(region)
    for index, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        for r0 in range(box[0].start, box[0].stop, block_px):
            for c0 in range(box[1].start, box[1].stop, block_px):
                r1, c1 = min(r0 + block_px, box[0].stop), min(c0 + block_px, box[1].stop)
                inside = labels[r0:r1, c0:c1] == index
                rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
                if rows.size:
                    yield r0 + rows[0], r0 + rows[-1] + 1, c0 + cols[0], c0 + cols[-1] + 1


def _grid_blocks(region: np.ndarray, block_px: int):
    rows_any = region.any(axis=1)
    for r0 in range(0, region.shape[0], block_px):
        if not rows_any[r0 : r0 + block_px].any():
            continue
        band = region[r0 : r0 + block_px]
        cols_any = band.any(axis=0)
        for c0 in range(0, region.shape[1], block_px):
            if not cols_any[c0 : c0 + block_px].any():
                continue
            tile = band[:, c0 : c0 + block_px]
            rows, cols = np.flatnonzero(tile.any(axis=1)), np.flatnonzero(tile.any(axis=0))
            yield r0 + rows[0], r0 + rows[-1] + 1, c0 + cols[0], c0 + cols[-1] + 1


@torch.no_grad()
def segment_dense(model: PatchCNN, image: np.ndarray, region: np.ndarray, progress=None,
                  block_px: int = DENSE_BLOCK_PX, runner=None) -> np.ndarray:
    """Probabilities for the pixels of ``region`` (0 elsewhere), all patches at once; ``runner``
    (e.g. :class:`~mcseg.networks.onnx_dense.OnnxDenseRunner`) replaces ``model.forward_dense``."""
    return next(_dense_views(model, image, region, [(0, False)], progress, block_px, runner))


@torch.no_grad()
def _dense_views(model: PatchCNN, image: np.ndarray, region: np.ndarray, views, progress=None,
                 block_px: int = DENSE_BLOCK_PX, runner=None):
    """The dense probabilities under each symmetry of ``views``, in ``image``'s own frame.

    Each pixel's probability depends only on its own patch, so a view is computed by turning each
    block's tile (the block's pixels with their patches' margins), not the whole mammogram: the
    blocks are found once, and nothing of the size of the image is turned, padded or labelled per
    view (on a 3328 x 4084 mammogram those were seconds of the 8-view average)."""
    if model.config.padding != "valid":
        raise ValueError("the dense path is exact only for a 'valid' network; use segment_reference")
    model.eval()
    n = model.patch_size_px
    padded = _padded(image, n // 2, 0)       # the patch centred on (r, c) is padded[r : r + n, c : c + n]
    device = next(model.parameters()).device
    blocks = list(_blocks(region, block_px))
    for k, mirror in views:
        prob = np.zeros(image.shape, dtype=np.float32)
        for r0, r1, c0, c1 in blocks:
            tile = np.ascontiguousarray(apply_symmetry(padded[r0 : r1 + n - 1, c0 : c1 + n - 1], k, mirror))
            rows, cols = (c1 - c0, r1 - r0) if k % 2 else (r1 - r0, c1 - c0)   # the block's turned shape
            if runner is not None:
                p = runner(tile[None, None])[0]
            else:
                logits = model.forward_dense(torch.from_numpy(tile)[None, None].to(device))[0]
                p = torch.softmax(logits, 0)[1].cpu().numpy()
            p = undo_symmetry(p[:rows, :cols], k, mirror)
            inside = region[r0:r1, c0:c1]
            prob[r0:r1, c0:c1] = np.where(inside, p, prob[r0:r1, c0:c1])
            if progress is not None:
                progress.update(int(inside.sum()))
        yield prob


def segment_reference(
    model: PatchCNN, image: np.ndarray, region: np.ndarray, batch_size: int = 1024, progress=None
) -> np.ndarray:
    """Probabilities for the pixels of ``region``: each pixel classified from its own patch."""
    n = model.patch_size_px
    half = n // 2
    padded = _padded(image, half, 0)
    view = np.lib.stride_tricks.sliding_window_view(padded, (n, n))
    rows, cols = np.nonzero(region)
    prob = np.zeros(image.shape, dtype=np.float32)
    for start in range(0, len(rows), batch_size):
        r, c = rows[start : start + batch_size], cols[start : start + batch_size]
        patches = np.ascontiguousarray(view[r, c][:, None])
        prob[r, c] = classify_patches(model, patches, batch_size)
        if progress is not None:
            progress.update(len(r))
    return prob


def segment_views(model: PatchCNN, image: np.ndarray, region: np.ndarray, views, path: str = "dense",
                  progress=None, block_px: int = DENSE_BLOCK_PX, runner=None):
    """Yield the probability map under each symmetry in ``views``, mapped back to ``image``'s frame."""
    fn = _path_fn(model, path)
    if fn is segment_dense:
        yield from _dense_views(model, image, region, views, progress, block_px, runner)
        return
    for k, mirror in views:
        p = fn(model, np.ascontiguousarray(apply_symmetry(image, k, mirror)),
               np.ascontiguousarray(apply_symmetry(region, k, mirror)), progress=progress)
        yield undo_symmetry(p, k, mirror)


def segment(model: PatchCNN, image: np.ndarray, region: np.ndarray, path: str = "dense", progress=None,
            symmetries: int = 1) -> np.ndarray:
    """Probabilities on ``region``, averaged over the first ``symmetries`` elements of
    :data:`~mcseg.patches.symmetry.D4` (the patch store trained the networks on all of them).

    Averaging over symmetries (test-time augmentation) is not in Valvano 2019;
    see ``mcseg.defaults.SEGMENTATOR_SYMMETRIES`` for what it buys. Written
    here rather than with ``monai.data.TestTimeAugmentation``, which draws
    random transforms per sample; we want the fixed group, averaged in place.
    """
    return segment_with_spread(model, image, region, path, progress, symmetries, with_spread=False)[0]


def segment_with_spread(model: PatchCNN, image: np.ndarray, region: np.ndarray, path: str = "dense",
                        progress=None, symmetries: int = 1, with_spread: bool = True,
                        refine_above: float = 0.0, runner=None, deadline: float | None = None,
                        views_run: dict | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(mean, standard deviation) of the probabilities over the symmetry views: the spread says where
    the views disagree, at the cost of one more map; None when not asked for or with one view.

    With ``refine_above`` > 0 the first view runs on the whole region and the other views only on
    the pixels where it reached ``refine_above``; elsewhere the first view's probability stands (and
    the spread is 0). Exact per pixel (each pixel's probability depends only on its own patch); with
    ``refine_above`` at or below the candidate threshold every listed calcification gets all views.

    ``deadline`` (a ``time.perf_counter()`` value): a further view starts only if the previous one's
    time still fits before it; the mean and spread are over the views that ran, and ``views_run``
    (a dict, when given) gets ``{"run": n, "of": symmetries}``.
    """
    if not 1 <= symmetries <= len(D4):
        raise ValueError(f"symmetries must be 1..{len(D4)}, not {symmetries}")
    with_spread = with_spread and symmetries > 1
    views = D4[:symmetries]
    started = time.perf_counter()
    first = next(segment_views(model, image, region, views[:1], path, progress, runner=runner))
    last_view_s = time.perf_counter() - started
    if views_run is not None:
        views_run.update(run=1, of=symmetries)
    if symmetries == 1 or (deadline is not None and time.perf_counter() + last_view_s > deadline):
        return first, None
    refine = region & (first >= refine_above) if refine_above > 0 else region
    if progress is not None and refine is not region:
        progress.total = int(region.sum()) + int(refine.sum()) * (symmetries - 1)
        progress.refresh()
    # Sums of each view's difference from the first view (the shifted-data variance): E[p^2] - E[p]^2
    # on the raw probabilities cancels catastrophically in float32 for p near 0 or 1, and would turn
    # the views' last-bit noise into visible spread.
    # Accumulated over the refined pixels only (a few percent of a mammogram), elementwise in the
    # same order as over the whole image, so the result is the same to the bit; outside them every
    # view is 0 (no region) or the first view stands.
    where = np.flatnonzero(refine)
    first_in = first.ravel()[where]
    shift = np.zeros_like(first_in)
    squares = np.zeros_like(first_in) if with_spread else None
    block = DENSE_BLOCK_PX if refine is region else REFINE_BLOCK_PX
    run = 1
    started = time.perf_counter()
    for p in segment_views(model, image, refine, views[1:], path, progress, block, runner):
        p = p.ravel()[where] - first_in
        shift += p
        if with_spread:
            squares += p * p
        run += 1
        now = time.perf_counter()
        last_view_s, started = now - started, now
        if deadline is not None and run < symmetries and now + last_view_s > deadline:
            break  # the generator computes a view only when asked: nothing more runs
    if views_run is not None:
        views_run.update(run=run, of=symmetries)
    n = np.float32(run)
    shift /= n
    mean = first.copy()
    mean.ravel()[where] = first_in + shift
    if not with_spread:
        return mean, None
    spread = np.zeros_like(first)
    spread.ravel()[where] = np.sqrt(np.maximum(squares / n - shift * shift, 0)).astype(np.float32)
    return mean, spread


def _path_fn(model: PatchCNN, path: str):
    """The dense path where it is exact, else the reference path."""
    if path not in ("dense", "reference"):
        raise ValueError(f"segmentator path must be 'dense' or 'reference', not {path!r}")
    if path == "dense" and model.config.padding != "valid":
        log.warning("a 'same' segmentator has no exact dense form: using the per-patch reference path")
        path = "reference"
    return segment_dense if path == "dense" else segment_reference
