"""Luna-Lozoya et al.'s system: is there a microcalcification cluster in this 1 cm^2 patch?

Training patches come from labelled mammograms in the pipeline's working frame (0.07 mm, the
paper's INbreast pixel): a patch is positive when it holds at least CLUSTER_PATCH_MIN_CALCIFICATIONS
calcifications of one cluster, negative when it holds no calcification pixel; patches in between
(a few scattered calcifications) are left out, as the paper's radiologist discarded unclear ones.
The shallow CNN (mcseg.networks.shallow_cnn) trains with BCE, Adam, minibatches of 64, the eight
rotations and mirrorings, keeping the epoch of best validation accuracy. At inference it gives a
cluster-probability map over the breast (one value per window at a stride) in one dense pass, and
each connected group of windows at or above the threshold becomes a cluster candidate.
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi
from tqdm.auto import tqdm

from mcseg import __version__
from mcseg.calcifications.clusters import find_clusters
from mcseg.defaults import (CLUSTER_AREA_MM2, CLUSTER_CNN_BATCH_SIZE, CLUSTER_CNN_LEARNING_RATE,
                            CLUSTER_CNN_MAX_EPOCHS, CLUSTER_CNN_THRESHOLD, CLUSTER_MAP_STRIDE_PX,
                            CLUSTER_MIN_CALCIFICATIONS, CLUSTER_PATCH_MIN_CALCIFICATIONS, CLUSTER_PATCH_PX,
                            WORKING_SPACING_MM)
from mcseg.io.atomic import atomic_path
from mcseg.io.labels import read_label
from mcseg.io.reader import Mammogram, read_mammogram
from mcseg.networks import ShallowClusterCNN
from mcseg.patches.augment import dihedral_augment, dihedral_choices
from mcseg.preprocess.frame import WorkingFrame, to_working_frame
from mcseg.training import distributed
from mcseg.training.data import LabelledCase, assign_splits

log = logging.getLogger(__name__)

MODEL_NAME = "luna_lozoya"
#: Weights shipped with mcseg (trained by scripts/train_cluster_cnn.sh).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "cluster_cnn.pt"


# --- patches -------------------------------------------------------------------

@dataclass
class ClusterPatches:
    x: np.ndarray                      # float32 (n, 1, N, N), the working frame's normalised pixels
    y: np.ndarray                      # float32 (n,), 1 = a cluster is present
    image_ids: list[str] = field(default_factory=list)
    corners_px: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))  # top-left, working frame

    @staticmethod
    def join(parts: list["ClusterPatches"], patch_px: int) -> "ClusterPatches":
        parts = [p for p in parts if len(p.y)]
        if not parts:
            return ClusterPatches(np.zeros((0, 1, patch_px, patch_px), np.float32), np.zeros(0, np.float32))
        return ClusterPatches(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]),
                              [i for p in parts for i in p.image_ids],
                              np.concatenate([p.corners_px for p in parts]))


def calcification_centres_px(mask: np.ndarray) -> np.ndarray:
    """Centroids (n, 2) of the 8-connected calcifications of a working-frame mask."""
    labels, n = ndi.label(mask, structure=np.ones((3, 3), bool))
    return np.asarray(ndi.center_of_mass(mask, labels, np.arange(1, n + 1))).reshape(-1, 2)


def patches_of_image(frame: WorkingFrame, mask: np.ndarray, rng: np.random.Generator, image_id: str = "",
                     per_cluster: int = 8, negatives: int = 8, patch_px: int = CLUSTER_PATCH_PX) -> ClusterPatches:
    """Positive patches around each cluster of ``mask`` (working frame) and negatives elsewhere."""
    rows, cols = frame.image.shape
    if rows < patch_px or cols < patch_px:
        return ClusterPatches.join([], patch_px)
    centres = calcification_centres_px(mask)
    spacing = np.asarray(frame.spacing_mm)
    clusters = find_clusters(centres * spacing, np.ones(len(centres)), CLUSTER_MIN_CALCIFICATIONS,
                             CLUSTER_AREA_MM2) if len(centres) else []
    corners: list[tuple[int, int]] = []
    labels: list[float] = []
    half = patch_px // 2
    for cluster in clusters:
        members = centres[cluster.members]
        centre = members.mean(0)
        taken = 0
        for _ in range(20 * per_cluster):
            if taken == per_cluster:
                break
            r0, c0 = (centre - half + rng.uniform(-half / 2, half / 2, 2)).astype(int)
            r0, c0 = int(np.clip(r0, 0, rows - patch_px)), int(np.clip(c0, 0, cols - patch_px))
            inside = ((members[:, 0] >= r0) & (members[:, 0] < r0 + patch_px)
                      & (members[:, 1] >= c0) & (members[:, 1] < c0 + patch_px)).sum()
            if inside >= CLUSTER_PATCH_MIN_CALCIFICATIONS:
                corners.append((r0, c0))
                labels.append(1.0)
                taken += 1
    breast_r, breast_c = np.nonzero(frame.breast)
    wanted, tries = max(negatives, len(labels)), 0  # at least as many negatives as positives
    while wanted and len(breast_r) and tries < 50 * negatives:
        tries += 1
        k = rng.integers(len(breast_r))
        r0 = int(np.clip(breast_r[k] - half, 0, rows - patch_px))
        c0 = int(np.clip(breast_c[k] - half, 0, cols - patch_px))
        if not mask[r0:r0 + patch_px, c0:c0 + patch_px].any():
            corners.append((r0, c0))
            labels.append(0.0)
            wanted -= 1
    x = np.stack([frame.image[r:r + patch_px, c:c + patch_px] for r, c in corners]).astype(np.float32)[:, None] \
        if corners else np.zeros((0, 1, patch_px, patch_px), np.float32)
    return ClusterPatches(x, np.asarray(labels, np.float32), [image_id] * len(labels),
                          np.asarray(corners, np.int64).reshape(-1, 2))


def patches_of_cases(cases: list[LabelledCase], seed: int = 0, per_cluster: int = 8, negatives: int = 8,
                     working_spacing_mm: float = WORKING_SPACING_MM, spacing_mm: float | None = None,
                     progress: bool = True) -> dict[str, ClusterPatches]:
    """Patches of every case, by the project's train/validation split (``assign_splits``)."""
    splits = assign_splits([c.image_id for c in cases])
    parts: dict[str, list[ClusterPatches]] = {"train": [], "val": []}
    for k, case in enumerate(tqdm(cases, desc="cluster patches", unit="image", disable=not progress)):
        frame = to_working_frame(read_mammogram(case.image_path, spacing_mm=spacing_mm), working_spacing_mm)
        mask = frame.mask_to_working(read_label(case.label_path) > 0)
        parts[splits[case.image_id]].append(
            patches_of_image(frame, mask, np.random.default_rng([seed, k]), case.image_id, per_cluster, negatives))
    return {split: ClusterPatches.join(p, CLUSTER_PATCH_PX) for split, p in parts.items()}


# --- training ------------------------------------------------------------------

@dataclass
class ClusterTrainResult:
    network: ShallowClusterCNN
    best_epoch: int
    validation: dict[str, float]
    history: list[dict[str, float]]
    seconds: float


def _accuracy(net: ShallowClusterCNN, data: ClusterPatches, batch: int = 256) -> dict[str, float]:
    net.eval()
    with torch.inference_mode():
        logits = torch.cat([net(torch.from_numpy(data.x[i:i + batch])) for i in range(0, len(data.y), batch)])
    y = torch.from_numpy(data.y)
    loss = float(F.binary_cross_entropy_with_logits(logits, y))
    hit = (torch.sigmoid(logits) >= CLUSTER_CNN_THRESHOLD).float() == y
    pos = y == 1
    return {"loss": round(loss, 5), "accuracy": round(float(hit.float().mean()) * 100, 2),
            "sensitivity": round(float(hit[pos].float().mean()) * 100, 2) if pos.any() else float("nan"),
            "specificity": round(float(hit[~pos].float().mean()) * 100, 2) if (~pos).any() else float("nan"),
            "patches": int(len(y)), "positives": int(pos.sum())}


def train_cluster_cnn(train: ClusterPatches, val: ClusterPatches, epochs: int = CLUSTER_CNN_MAX_EPOCHS,
                      batch_size: int = CLUSTER_CNN_BATCH_SIZE, learning_rate: float = CLUSTER_CNN_LEARNING_RATE,
                      seed: int = 0, init: ShallowClusterCNN | None = None,
                      progress: bool = True) -> ClusterTrainResult:
    """BCE, Adam, D4 augmentation; the epoch of best validation accuracy (lower loss breaks ties)."""
    if not len(train.y) or train.y.min() == train.y.max():
        raise ValueError("training needs patches with and without clusters: label at least one cluster "
                         f"(>= {CLUSTER_PATCH_MIN_CALCIFICATIONS} calcifications within 1 cm^2)")
    val = val if len(val.y) else train
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = init if init is not None else ShallowClusterCNN()
    stepped = distributed.data_parallel(net)   # under torchrun: DDP, each rank its share of every minibatch
    world = distributed.current().world
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
    best_state, best, best_epoch, history = None, None, 0, []
    started = time.perf_counter()
    for epoch in tqdm(range(1, epochs + 1), desc="train cluster CNN", unit="epoch", disable=not progress):
        net.train()
        order = rng.permutation(len(train.y))
        losses = []
        for i in range(0, len(order), batch_size):
            idx = np.sort(order[i:i + batch_size])
            x = dihedral_augment(train.x[idx], dihedral_choices(len(idx), rng))
            if len(idx) < world:  # a rank would get no patch
                continue
            x, y = distributed.share(np.ascontiguousarray(x)), distributed.share(train.y[idx])
            loss = F.binary_cross_entropy_with_logits(stepped(torch.from_numpy(np.ascontiguousarray(x))),
                                                      torch.from_numpy(y)) * distributed.share_weight(len(idx))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(distributed.mean_over_ranks(loss.item()))
        score = distributed.on_main(lambda: _accuracy(net, val))
        history.append({"epoch": epoch, "train_loss": round(float(np.mean(losses)), 5), **score})
        if best is None or (score["accuracy"], -score["loss"]) > (best["accuracy"], -best["loss"]):
            best, best_epoch = score, epoch
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    return ClusterTrainResult(net.eval(), best_epoch, best, history, time.perf_counter() - started)


def save_cluster_cnn(result: ClusterTrainResult, path: str | Path, **metadata: Any) -> Path:
    ckpt = result.network.checkpoint(
        model=MODEL_NAME, best_epoch=result.best_epoch, validation=result.validation,
        working_spacing_mm=WORKING_SPACING_MM, threshold=CLUSTER_CNN_THRESHOLD,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **metadata)
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
    return Path(path)


# --- inference -----------------------------------------------------------------

@dataclass
class ClusterPresenceResult:
    mammogram: Mammogram
    frame: WorkingFrame
    probability: np.ndarray            # (window rows, window cols); NaN where the window's centre is not breast
    stride_px: int
    patch_px: int
    clusters: list[dict[str, Any]]
    seconds: float
    settings: dict[str, Any]

    def label_map(self) -> np.ndarray:
        """uint8 in the image's own grid: 1 where a window at or above the threshold lies."""
        work = np.zeros(self.frame.image.shape, np.uint8)
        for r, c in zip(*np.nonzero(np.nan_to_num(self.probability) >= self.settings["threshold"])):
            work[r * self.stride_px:r * self.stride_px + self.patch_px,
                 c * self.stride_px:c * self.stride_px + self.patch_px] = 1
        return (self.frame.map_to_input(work.astype(np.float32), order=0) > 0.5).astype(np.uint8)

    def to_json(self) -> dict[str, Any]:
        mammo = self.mammogram
        return {"image": Path(mammo.path).name, "shape": list(mammo.shape),
                "spacing_mm": [round(v, 6) for v in mammo.spacing_mm],
                "calcifications": [],  # this system finds clusters, not calcifications
                "clusters": self.clusters, "model": MODEL_NAME,
                "cluster_map": {"stride_px": self.stride_px, "patch_px": self.patch_px,
                                "windows": int(np.isfinite(self.probability).sum()),
                                "windows_at_threshold": int((np.nan_to_num(self.probability)
                                                             >= self.settings["threshold"]).sum())},
                "seconds": round(self.seconds, 3), "input": mammo.describe_input(),
                "working_frame": self.frame.describe(), "settings": self.settings, "mcseg_version": __version__}


class ClusterPresence:
    """The cluster-probability map and cluster candidates of one mammogram."""

    def __init__(self, network: ShallowClusterCNN, working_spacing_mm: float = WORKING_SPACING_MM,
                 stride_px: int = CLUSTER_MAP_STRIDE_PX, threshold: float = CLUSTER_CNN_THRESHOLD,
                 weights: str = "", block_windows: int = 16):
        if stride_px < 1:
            raise ValueError(f"stride_px must be a positive number of pixels, not {stride_px}")
        self.network = network.eval()
        self.working_spacing_mm, self.stride_px, self.threshold = working_spacing_mm, int(stride_px), threshold
        self.weights, self.block_windows = weights, block_windows

    @classmethod
    def from_weights(cls, path: str | Path | None = None, **kwargs: Any) -> "ClusterPresence":
        path = Path(path or DEFAULT_WEIGHTS)
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if ckpt.get("model") != MODEL_NAME:
            raise ValueError(f"{path} does not hold a {MODEL_NAME} network")
        kwargs.setdefault("working_spacing_mm", float(ckpt.get("working_spacing_mm", WORKING_SPACING_MM)))
        kwargs.setdefault("threshold", float(ckpt.get("threshold", CLUSTER_CNN_THRESHOLD)))
        return cls(ShallowClusterCNN.from_checkpoint(ckpt), weights=str(path), **kwargs)

    def probability_map(self, image: np.ndarray) -> np.ndarray:
        """Sigmoid of every window's logit, computed in bands of ``block_windows`` window rows so that
        the feature map of a whole mammogram (16 channels) is never held at once."""
        n = self.network.patch_px
        rows, cols = image.shape
        if rows < n or cols < n:
            return np.zeros((0, 0), np.float32)
        n_r, n_c = (rows - n) // self.stride_px + 1, (cols - n) // self.stride_px + 1
        out = np.empty((n_r, n_c), np.float32)
        with torch.inference_mode():
            for i0 in range(0, n_r, self.block_windows):
                i1 = min(n_r, i0 + self.block_windows)
                rows_needed = slice(i0 * self.stride_px, (i1 - 1) * self.stride_px + n)
                band = torch.from_numpy(np.ascontiguousarray(image[rows_needed]))
                out[i0:i1] = torch.sigmoid(self.network.dense_logits(band, self.stride_px)).numpy()[: i1 - i0, :n_c]
        return out

    def run(self, mammo: Mammogram) -> ClusterPresenceResult:
        started = time.perf_counter()
        frame = to_working_frame(mammo, self.working_spacing_mm)
        prob = self.probability_map(frame.image)
        n, s = self.network.patch_px, self.stride_px
        if prob.size:
            centre_r = np.arange(prob.shape[0]) * s + n // 2
            centre_c = np.arange(prob.shape[1]) * s + n // 2
            prob[~frame.breast[np.ix_(centre_r, centre_c)]] = np.nan
        clusters = self._clusters(frame, prob)
        settings = {"stride_px": s, "threshold": self.threshold, "working_spacing_mm": self.working_spacing_mm,
                    "weights": self.weights}
        return ClusterPresenceResult(mammo, frame, prob, s, n, clusters, time.perf_counter() - started, settings)

    def _clusters(self, frame: WorkingFrame, prob: np.ndarray) -> list[dict[str, Any]]:
        """One candidate per 8-connected group of windows at or above the threshold, strongest first."""
        if not prob.size:
            return []
        hot = np.nan_to_num(prob) >= self.threshold
        groups, count = ndi.label(hot, structure=np.ones((3, 3), bool))
        n, s = self.network.patch_px, self.stride_px
        out = []
        for g in range(1, count + 1):
            wr, wc = np.nonzero(groups == g)
            p = prob[wr, wc]
            centre_r, centre_c = wr * s + n / 2 - 0.5, wc * s + n / 2 - 0.5
            r, c = frame.to_input_px(np.array([np.average(centre_r, weights=p)]),
                                     np.array([np.average(centre_c, weights=p)]))
            corners_r, corners_c = frame.to_input_px(np.array([wr.min() * s, wr.max() * s + n - 1]),
                                                     np.array([wc.min() * s, wc.max() * s + n - 1]))
            out.append({"centroid_px": [round(float(r[0]), 2), round(float(c[0]), 2)],
                        "score": round(float(p.max()), 4), "windows": int(len(p)),
                        "bbox_px": [int(corners_r.min()), int(min(corners_c)), int(corners_r.max()) + 1,
                                    int(max(corners_c)) + 1]})
        out.sort(key=lambda d: -d["score"])
        for k, d in enumerate(out, 1):
            d["id"] = k
        return out
