"""Cortina et al.'s second pipeline, detection by classification, as a model (a baseline, issue 19).

A ResNet-based classifier of 16 x 16 px patches at 0.07 mm (the report's best variant: the original
ResNet's blocks, no early downsampling, two downsampling stages for 16 px) runs over the breast in a
sliding window of stride 8. Each window's probability is spread over its 16 x 16 px and overlaps are
averaged into a saliency map, which is smoothed by a 9 px Gaussian; the detections are its local
maxima in 14 x 14 px windows, each a 14 x 14 px box (report sec. 2.3.1).

Not as in the report: the map is not min-max normalised per image (the averaged probabilities are
already in [0, 1], and a per-image normalisation would make scores incomparable across images, which
a FROC over a set needs); the network starts from scratch, not from ImageNet weights.
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
from monai.networks.nets.resnet import ResNetBlock
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from torch import nn
from tqdm.auto import tqdm

from mcseg.calcifications.components import Calcification
from mcseg.defaults import (CANDIDATE_THRESHOLD, CLUSTER_AREA_MM2, CLUSTER_MIN_CALCIFICATIONS,
                            CORTINA_RESNET_BATCH_SIZE, CORTINA_RESNET_DROPOUT, CORTINA_RESNET_FC_UNITS,
                            CORTINA_RESNET_LEARNING_RATE, CORTINA_RESNET_NEGATIVES_PER_IMAGE,
                            CORTINA_RESNET_PATCH_PX, CORTINA_RESNET_PEAK_WINDOW_PX, CORTINA_RESNET_POSITIVE_COPIES,
                            CORTINA_RESNET_SMOOTHING_KERNEL_PX, CORTINA_RESNET_STRIDE_PX, CORTINA_RESNET_WIDTHS,
                            WORKING_SPACING_MM)
from mcseg.io.labels import read_label
from mcseg.io.reader import Mammogram, read_mammogram
from mcseg.pipeline import describe_findings, result_document
from mcseg.preprocess.frame import WorkingFrame, to_working_frame
from mcseg.training import distributed
from mcseg.training.data import LabelledCase, assign_splits

log = logging.getLogger(__name__)

MODEL_NAME = "cortina_resnet"
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent.parent / "weights" / "cortina_resnet.pt"
#: The paper's decision threshold on a probability.
OPERATING_THRESHOLD = 0.5
#: Gaussian sigma of a 9 px kernel (OpenCV's rule for a kernel size k: 0.3 ((k - 1) / 2 - 1) + 0.8).
SMOOTHING_SIGMA_PX = 0.3 * ((CORTINA_RESNET_SMOOTHING_KERNEL_PX - 1) / 2 - 1) + 0.8


class CortinaResNet(nn.Module):
    """3x3 stem without downsampling, one ResNet basic block per stage, the first at full resolution
    and each further one halving it (two downsampling stages for 16 px patches), global average
    pooling, a GELU fully connected layer, dropout, one logit."""

    def __init__(self, widths: tuple[int, ...] = CORTINA_RESNET_WIDTHS, fc_units: int = CORTINA_RESNET_FC_UNITS,
                 dropout: float = CORTINA_RESNET_DROPOUT):
        super().__init__()
        self.config = {"widths": list(widths), "fc_units": fc_units, "dropout": dropout}
        layers: list[nn.Module] = [nn.Conv2d(1, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]),
                                   nn.ReLU(inplace=True), ResNetBlock(widths[0], widths[0], spatial_dims=2)]
        for before, after in zip(widths[:-1], widths[1:]):
            down = nn.Sequential(nn.Conv2d(before, after, 1, stride=2, bias=False), nn.BatchNorm2d(after))
            layers.append(ResNetBlock(before, after, spatial_dims=2, stride=2, downsample=down))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(widths[-1], fc_units), nn.GELU(),
                                  nn.Dropout(dropout), nn.Linear(fc_units, 1))

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "CortinaResNet":
        """The network of a saved ``config`` (its ``self.config``), untrained."""
        return cls(tuple(config["widths"]), config["fc_units"], config["dropout"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 16, 16) patches -> (N,) logits."""
        return self.head(self.features(x))[:, 0]


# --- training ---------------------------------------------------------------------------------


@dataclass
class PatchSet:
    """Training patches of one split: (n, 16, 16) float32 and their labels (1 = calcification centred)."""

    x: np.ndarray
    y: np.ndarray


def _patches_at(image: np.ndarray, centres: np.ndarray) -> np.ndarray:
    half = CORTINA_RESNET_PATCH_PX // 2
    padded = np.pad(image, half)
    r, c = centres[:, 0], centres[:, 1]  # patch rows r-8 .. r+7 in the image = r .. r+15 padded
    idx_r = r[:, None] + np.arange(CORTINA_RESNET_PATCH_PX)[None, :]
    idx_c = c[:, None] + np.arange(CORTINA_RESNET_PATCH_PX)[None, :]
    return padded[idx_r[:, :, None], idx_c[:, None, :]].astype(np.float32)


def training_patches(cases: list[LabelledCase], seed: int = 0, spacing_mm: float | None = None,
                     progress: bool = True) -> dict[str, PatchSet]:
    """Patches of the labelled images by the project's train/validation split: each calcification
    centred (and shifted copies), negatives at random breast positions holding no calcification pixel."""
    splits = assign_splits([c.image_id for c in cases])
    rng = np.random.default_rng(seed)
    xs: dict[str, list] = {"train": [], "val": []}
    ys: dict[str, list] = {"train": [], "val": []}
    for case in tqdm(cases, desc="Cortina ResNet patches", unit="image", disable=not progress):
        frame = to_working_frame(read_mammogram(case.image_path, spacing_mm=spacing_mm), WORKING_SPACING_MM)
        truth = frame.mask_to_working(read_label(case.label_path) > 0)
        labels, n = ndi.label(truth, structure=np.ones((3, 3), bool))
        centres = [np.zeros((0, 2), int)]
        if n:
            centroids = np.round(np.asarray(ndi.center_of_mass(truth, labels, range(1, n + 1)))).astype(int)
            centres.append(centroids)
            for _ in range(CORTINA_RESNET_POSITIVE_COPIES):
                centres.append(centroids + rng.integers(-2, 3, size=centroids.shape))
        pos = np.clip(np.concatenate(centres), 0, np.array(truth.shape) - 1)
        # Negatives: breast pixels whose 16 x 16 patch holds no calcification pixel.
        near = ndi.maximum_filter(truth, size=CORTINA_RESNET_PATCH_PX + 1) if n else np.zeros_like(truth)
        rows, cols = np.nonzero(frame.breast & ~near)
        pick = rng.choice(len(rows), min(len(rows), CORTINA_RESNET_NEGATIVES_PER_IMAGE), replace=False) \
            if len(rows) else np.zeros(0, int)
        neg = np.stack([rows[pick], cols[pick]], axis=1) if len(pick) else np.zeros((0, 2), int)
        split = splits[case.image_id]
        both = np.concatenate([pos, neg]).astype(int)
        if len(both):
            xs[split].append(_patches_at(frame.image, both))
            ys[split].append(np.r_[np.ones(len(pos), np.int64), np.zeros(len(neg), np.int64)])
    return {s: PatchSet(np.concatenate(xs[s]) if xs[s] else np.zeros((0, 16, 16), np.float32),
                        np.concatenate(ys[s]) if ys[s] else np.zeros(0, np.int64)) for s in ("train", "val")}


def _augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One of the 8 rotations and mirrorings per patch (a calcification has no orientation)."""
    out = np.empty_like(batch)
    for i, patch in enumerate(batch):
        patch = np.rot90(patch, int(rng.integers(4)))
        out[i] = patch[:, ::-1] if rng.integers(2) else patch
    return out


def _probabilities(model: CortinaResNet, x: np.ndarray, batch: int = 4096) -> np.ndarray:
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(x), batch):
            out.append(torch.sigmoid(model(torch.from_numpy(x[start:start + batch, None]))).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def train_resnet(patches: dict[str, PatchSet], epochs: int = 30, steps_per_epoch: int = 200,
                 max_minutes: float | None = None, seed: int = 0, learning_rate: float = CORTINA_RESNET_LEARNING_RATE,
                 batch_size: int = CORTINA_RESNET_BATCH_SIZE, progress: bool = True) -> tuple[CortinaResNet, dict]:
    """BCE on balanced minibatches (half positive), Adam; the epoch of best validation AUROC is kept
    (the report monitored AUROC). Stops after ``epochs`` or when an epoch would start after
    ``max_minutes``."""
    from sklearn.metrics import roc_auc_score

    train, val = patches["train"], patches["val"]
    if train.y.sum() == 0 or (train.y == 0).sum() == 0:
        raise ValueError("the training patches need calcifications and background alike")
    if val.y.sum() == 0 or (val.y == 0).sum() == 0:
        val = train  # too few images for a held-out split: judged on the training patches (said in the report)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = CortinaResNet()
    stepped = distributed.data_parallel(model)   # under torchrun: DDP, each rank its share of every minibatch
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    loss_fn = nn.BCEWithLogitsLoss()
    pos, neg = np.flatnonzero(train.y == 1), np.flatnonzero(train.y == 0)
    half = batch_size // 2
    best = (-1.0, None, 0)
    history = []
    started = time.perf_counter()
    for epoch in tqdm(range(1, epochs + 1), desc="Cortina ResNet epochs", unit="epoch", disable=not progress):
        # Rank 0's clock decides, so that every rank stops before the same epoch.
        if distributed.broadcast(max_minutes is not None and time.perf_counter() - started > max_minutes * 60):
            break
        model.train()
        losses = []
        for _ in range(steps_per_epoch):
            pick = np.r_[rng.choice(pos, half), rng.choice(neg, batch_size - half)]
            x = distributed.share(_augment(train.x[pick], rng)[:, None])
            y = torch.from_numpy(distributed.share(train.y[pick]).astype(np.float32))
            optimiser.zero_grad()
            loss = loss_fn(stepped(torch.from_numpy(x.copy())), y) * distributed.share_weight(len(pick))
            loss.backward()
            optimiser.step()
            losses.append(distributed.mean_over_ranks(loss.item()))
        auroc = distributed.on_main(lambda: float(roc_auc_score(val.y, _probabilities(model, val.x))))
        history.append({"epoch": epoch, "train_loss": round(float(np.mean(losses)), 5), "val_auroc": round(auroc, 5)})
        if auroc > best[0]:
            best = (auroc, {k: v.clone() for k, v in model.state_dict().items()}, epoch)
    model.load_state_dict(best[1])
    model.eval()
    report = {"model": MODEL_NAME, "best_epoch": best[2], "val_auroc": round(best[0], 5), "history": history,
              "patches": {s: {"patches": int(len(p.y)), "positives": int(p.y.sum())} for s, p in patches.items()},
              "validated_on": "validation" if val is patches["val"] else "training patches (no validation split)",
              "seconds": round(time.perf_counter() - started, 1), "learning_rate": learning_rate,
              "batch_size": batch_size, "steps_per_epoch": steps_per_epoch, "seed": seed,
              "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    return model, report


def save_weights(model: CortinaResNet, report: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"model": MODEL_NAME, "config": model.config, "state_dict": model.state_dict(),
                "meta": {k: v for k, v in report.items() if k != "history"}, "history": report.get("history", []),
                "validation": {"auroc": report.get("val_auroc"), "on": report.get("validated_on"),
                               "patches": report.get("patches")},
                "best_epoch": report.get("best_epoch"), "trained_on": report.get("trained_on")}, tmp)
    tmp.replace(path)  # atomically: the app's inferer may be loading the previous file
    return path


# --- inference --------------------------------------------------------------------------------


def window_centres(breast: np.ndarray, stride_px: int = CORTINA_RESNET_STRIDE_PX) -> np.ndarray:
    """Top-left corners of the stride-spaced 16 x 16 windows whose centre lies in the breast."""
    n = CORTINA_RESNET_PATCH_PX
    rows = np.arange(0, max(breast.shape[0] - n, 0) + 1, stride_px)
    cols = np.arange(0, max(breast.shape[1] - n, 0) + 1, stride_px)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    keep = breast[rr + n // 2, cc + n // 2]
    return np.stack([rr[keep], cc[keep]], axis=1)


def saliency_map(model: CortinaResNet, image: np.ndarray, breast: np.ndarray,
                 stride_px: int = CORTINA_RESNET_STRIDE_PX, batch: int = 4096) -> tuple[np.ndarray, int]:
    """The averaged, smoothed probability map over the breast, and the number of windows classified."""
    n = CORTINA_RESNET_PATCH_PX
    corners = window_centres(breast, stride_px)
    total = np.zeros(image.shape, np.float32)
    count = np.zeros(image.shape, np.float32)
    view = np.lib.stride_tricks.sliding_window_view(image.astype(np.float32, copy=False), (n, n))
    for start in range(0, len(corners), batch):
        part = corners[start:start + batch]
        probs = _probabilities(model, np.ascontiguousarray(view[part[:, 0], part[:, 1]]), batch)
        for (r, c), p in zip(part, probs):
            total[r:r + n, c:c + n] += p
            count[r:r + n, c:c + n] += 1
    saliency = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    radius = CORTINA_RESNET_SMOOTHING_KERNEL_PX // 2
    saliency = ndi.gaussian_filter(saliency, SMOOTHING_SIGMA_PX, truncate=radius / SMOOTHING_SIGMA_PX)
    return saliency * breast, len(corners)


@dataclass
class CortinaResNetResult:
    mammogram: Mammogram
    frame: WorkingFrame
    mask: np.ndarray
    calcifications: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    windows: int
    seconds: float
    timings_s: dict[str, float]
    settings: dict[str, Any]
    weights: dict[str, Any]
    saliency: np.ndarray | None = field(default=None, repr=False)
    #: Pipeline 3 (mcseg.baselines.cortina.detection) returns its findings in the same form.
    model: str = MODEL_NAME

    def label_map(self) -> np.ndarray:
        return self.mask

    def to_json(self) -> dict[str, Any]:
        return result_document(self, {"calcifications": self.calcifications, "clusters": self.clusters,
                                      "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
                                      "model": self.model, "windows": self.windows})


class CortinaResNetModel:
    """The trained classifier in its sliding window; ``run`` gives the output contract."""

    def __init__(self, network: CortinaResNet, weights: dict[str, Any],
                 operating_threshold: float = OPERATING_THRESHOLD, stride_px: int = CORTINA_RESNET_STRIDE_PX):
        self.network, self.weights = network.eval(), weights
        self.operating_threshold, self.stride_px = operating_threshold, stride_px

    @classmethod
    def from_weights(cls, path: str | Path | None = None, **settings) -> "CortinaResNetModel":
        path = Path(path or DEFAULT_WEIGHTS)
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("model") != MODEL_NAME:
            raise ValueError(f"{path} does not hold a {MODEL_NAME} network")
        network = CortinaResNet.from_config(ckpt["config"])
        network.load_state_dict(ckpt["state_dict"])
        return cls(network, {"path": str(path), **ckpt.get("meta", {})}, **settings)

    def run(self, mammo: Mammogram, keep_saliency: bool = False) -> CortinaResNetResult:
        timings: dict[str, float] = {}
        start = t = time.perf_counter()
        frame = to_working_frame(mammo, WORKING_SPACING_MM)
        timings["preprocess"] = time.perf_counter() - t
        t = time.perf_counter()
        with torch.inference_mode():
            saliency, windows = saliency_map(self.network, frame.image, frame.breast, self.stride_px)
        timings["classifier"] = time.perf_counter() - t
        t = time.perf_counter()
        half = CORTINA_RESNET_PEAK_WINDOW_PX // 2
        peaks = peak_local_max(saliency, min_distance=half, threshold_abs=CANDIDATE_THRESHOLD,
                               exclude_border=False, labels=frame.breast.astype(np.int32))
        calcs, work_mask = [], np.zeros(frame.image.shape, bool)
        for r, c in peaks:
            box = (max(r - half, 0), max(c - half, 0), min(r + half, saliency.shape[0]), min(c + half, saliency.shape[1]))
            score = float(saliency[r, c])
            strong = score >= self.operating_threshold
            crop = saliency[box[0]:box[2], box[1]:box[3]]
            # Its pixels: the box's at or above the operating threshold (in the mask) or half the peak.
            inside = crop >= (self.operating_threshold if strong else score / 2)
            if strong:
                work_mask[box[0]:box[2], box[1]:box[3]] |= inside
            calcs.append(Calcification((float(r), float(c)), int(inside.sum()), score, tuple(int(v) for v in box),
                                       bool(strong)))
        calcs.sort(key=lambda x: -x.score)
        calc_json, cluster_json = describe_findings(frame, calcs, np.zeros(1), None, CLUSTER_MIN_CALCIFICATIONS,
                                                    CLUSTER_AREA_MM2)
        mask = (frame.map_to_input(work_mask.astype(np.float32), order=0) > 0.5).astype(np.uint8)
        timings["postprocess"] = time.perf_counter() - t
        settings = {"working_spacing_mm": WORKING_SPACING_MM, "patch_px": CORTINA_RESNET_PATCH_PX,
                    "stride_px": self.stride_px, "smoothing_kernel_px": CORTINA_RESNET_SMOOTHING_KERNEL_PX,
                    "peak_window_px": CORTINA_RESNET_PEAK_WINDOW_PX, "operating_threshold": self.operating_threshold,
                    "candidate_threshold": CANDIDATE_THRESHOLD}
        return CortinaResNetResult(mammo, frame, mask, calc_json, cluster_json, windows, time.perf_counter() - start,
                                   timings, settings, self.weights, saliency if keep_saliency else None)
