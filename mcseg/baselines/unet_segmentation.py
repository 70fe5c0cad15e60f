"""Marita et al.'s system, for calcifications: a U-Net classifies every pixel of 2^n x 2^n tiles.

Training ROIs come from labelled mammograms in the pipeline's working frame (0.07 mm, not
downsampled: a calcification is a few pixels wide): one ROI centred on each finding (a
calcification not yet inside an earlier ROI's central half), cropped as far as the border allows,
plus 4 copies with the centre shifted at random (the paper's augmentation), plus a few ROIs at
random breast positions so that normal images are seen too (ours). The U-Net
(mcseg.networks.unet) trains with pixel-weighted binary cross-entropy (a calcification pixel weighs
the square root of the background-to-calcification ratio), Adam, batch 8, keeping the epoch of best
validation Dice.
At inference the breast is cut into non-overlapping tiles of the ROI size, tiles without breast are
skipped, the binarised map is the mask, and its connected components are the calcifications.

The same code serves the paper's own finding, masses (``finding="mass"``): ROIs of 256 px at
0.2 mm (the paper's 1024 px film ROIs downsampled by 4), whose components are listed as masses.
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

from mcseg.calcifications import find_calcifications
from mcseg.defaults import (CANDIDATE_RIM_MM, CANDIDATE_THRESHOLD, CLUSTER_AREA_MM2, CLUSTER_MIN_CALCIFICATIONS,
                            FRAGMENT_GAP_MM, MASS_CANDIDATE_RIM_MM, MASS_ROI_PX, MASS_WORKING_SPACING_MM,
                            UNET_BACKGROUND_ROIS, UNET_BATCH_SIZE, UNET_LEARNING_RATE,
                            UNET_MAX_EPOCHS, UNET_MAX_POSITIVE_WEIGHT, UNET_MAX_SHIFT_FRACTION, UNET_ROI_PX,
                            UNET_SHIFTED_COPIES, UNET_THRESHOLD, WORKING_SPACING_MM)
from mcseg.io.atomic import atomic_path
from mcseg.io.labels import read_label
from mcseg.io.reader import Mammogram, read_mammogram
from mcseg.networks.unet import CalcificationUNet
from mcseg.pipeline import describe_findings, result_document
from mcseg.preprocess.frame import WorkingFrame, to_working_frame
from mcseg.training import distributed
from mcseg.training.data import LabelledCase, assign_splits

log = logging.getLogger(__name__)

MODEL_NAME = "marita_unet"
#: Weights shipped with mcseg (trained by scripts/train_unet.sh and scripts/train_unet_masses.sh).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "unet.pt"
DEFAULT_MASS_WEIGHTS = DEFAULT_WEIGHTS.with_name("unet_masses.pt")
#: What the network outlines: its working pixel and ROI (= tile) size.
FINDINGS = {"calcification": {"working_spacing_mm": WORKING_SPACING_MM, "roi_px": UNET_ROI_PX},
            "mass": {"working_spacing_mm": MASS_WORKING_SPACING_MM, "roi_px": MASS_ROI_PX}}


# --- ROIs ----------------------------------------------------------------------

@dataclass
class UNetROIs:
    x: np.ndarray                      # float32 (n, 1, N, N): the working frame's normalised pixels
    y: np.ndarray                      # uint8 (n, 1, N, N): 1 = calcification
    image_ids: list[str] = field(default_factory=list)
    corners_px: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))  # top-left, working frame
    centred: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # the unshifted ROI of a finding

    def __len__(self) -> int:
        return len(self.x)

    @staticmethod
    def join(parts: list["UNetROIs"], roi_px: int) -> "UNetROIs":
        parts = [p for p in parts if len(p)]
        if not parts:
            return UNetROIs(np.zeros((0, 1, roi_px, roi_px), np.float32), np.zeros((0, 1, roi_px, roi_px), np.uint8))
        return UNetROIs(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]),
                        [i for p in parts for i in p.image_ids], np.concatenate([p.corners_px for p in parts]),
                        np.concatenate([p.centred for p in parts]))


def finding_centres_px(mask: np.ndarray) -> np.ndarray:
    """Centroids (n, 2) of the 8-connected calcifications of a working-frame mask, in raster order."""
    labels, n = ndi.label(mask, structure=np.ones((3, 3), bool))
    return np.asarray(ndi.center_of_mass(mask, labels, np.arange(1, n + 1))).reshape(-1, 2)


def rois_of_image(frame: WorkingFrame, mask: np.ndarray, rng: np.random.Generator, image_id: str = "",
                  shifted_copies: int = UNET_SHIFTED_COPIES, background: int = UNET_BACKGROUND_ROIS,
                  roi_px: int = UNET_ROI_PX) -> UNetROIs:
    """ROIs of one working-frame image and its mask: centred on findings, shifted copies, background."""
    rows, cols = frame.image.shape
    if rows < roi_px or cols < roi_px:
        return UNetROIs.join([], roi_px)
    half, quarter = roi_px // 2, roi_px / 4
    max_shift = UNET_MAX_SHIFT_FRACTION * roi_px

    def corner(centre_r: float, centre_c: float) -> tuple[int, int]:
        # Cropped as far as the border allows, keeping the finding inside (Marita sec. III.A).
        return (int(np.clip(round(centre_r) - half, 0, rows - roi_px)),
                int(np.clip(round(centre_c) - half, 0, cols - roi_px)))

    corners: list[tuple[int, int]] = []
    centred: list[bool] = []
    centres = finding_centres_px(mask)
    covered = np.zeros(len(centres), bool)
    for i, (r, c) in enumerate(centres):
        if covered[i]:
            continue
        # Findings inside this ROI's central half are its findings too: one ROI per group, not per
        # calcification, or a cluster of 20 would give 20 near-identical ROIs.
        covered |= (np.abs(centres[:, 0] - r) < quarter) & (np.abs(centres[:, 1] - c) < quarter)
        corners.append(corner(r, c))
        centred.append(True)
        for _ in range(shifted_copies):
            dr, dc = rng.uniform(-max_shift, max_shift, 2)
            corners.append(corner(r + dr, c + dc))
            centred.append(False)
    breast_r, breast_c = np.nonzero(frame.breast)
    for _ in range(background if len(breast_r) else 0):
        k = rng.integers(len(breast_r))
        corners.append(corner(breast_r[k], breast_c[k]))
        centred.append(False)
    if not corners:
        return UNetROIs.join([], roi_px)
    x = np.stack([frame.image[r:r + roi_px, c:c + roi_px] for r, c in corners]).astype(np.float32)[:, None]
    y = np.stack([mask[r:r + roi_px, c:c + roi_px] for r, c in corners]).astype(np.uint8)[:, None]
    return UNetROIs(x, y, [image_id] * len(corners), np.asarray(corners, np.int64), np.asarray(centred, bool))


def rois_of_cases(cases: list[LabelledCase], seed: int = 0, shifted_copies: int = UNET_SHIFTED_COPIES,
                  background: int = UNET_BACKGROUND_ROIS, working_spacing_mm: float = WORKING_SPACING_MM,
                  spacing_mm: float | None = None, progress: bool = True,
                  roi_px: int = UNET_ROI_PX) -> dict[str, UNetROIs]:
    """ROIs of every case, by the project's train/validation split (``assign_splits``)."""
    splits = assign_splits([c.image_id for c in cases])
    parts: dict[str, list[UNetROIs]] = {"train": [], "val": []}
    for k, case in enumerate(tqdm(cases, desc="U-Net ROIs", unit="image", disable=not progress)):
        frame = to_working_frame(read_mammogram(case.image_path, spacing_mm=spacing_mm), working_spacing_mm)
        mask = frame.mask_to_working(read_label(case.label_path) > 0)
        parts[splits[case.image_id]].append(rois_of_image(frame, mask, np.random.default_rng([seed, k]),
                                                          case.image_id, shifted_copies, background, roi_px))
    return {split: UNetROIs.join(p, roi_px) for split, p in parts.items()}


# --- training ------------------------------------------------------------------

def positive_weight(y: np.ndarray, cap: float = UNET_MAX_POSITIVE_WEIGHT) -> float:
    """Loss weight of a calcification pixel: the square root of the background-to-calcification pixel
    ratio, capped."""
    positives = int(np.count_nonzero(y))
    if positives == 0:
        return 1.0
    return float(min(cap, max(1.0, np.sqrt((y.size - positives) / positives))))


def weighted_bce(logits: torch.Tensor, target: torch.Tensor, pos_weight: float) -> torch.Tensor:
    """Binary cross-entropy with every calcification pixel weighing ``pos_weight``."""
    weight = 1.0 + (pos_weight - 1.0) * target
    return F.binary_cross_entropy_with_logits(logits, target, weight=weight)


@dataclass
class UNetTrainResult:
    network: CalcificationUNet
    best_epoch: int
    validation: dict[str, float]
    history: list[dict[str, float]]
    seconds: float
    positive_weight: float
    finding: str = "calcification"


def validation_scores(net: CalcificationUNet, data: UNetROIs, pos_weight: float, threshold: float = UNET_THRESHOLD,
                      batch: int = 32) -> dict[str, float]:
    """Weighted loss and pixel Dice (pooled over the ROIs; and over those with a calcification)."""
    net.eval()
    loss_sum, inter, pred_sum, truth_sum = 0.0, 0, 0, 0
    with torch.inference_mode():
        for i in range(0, len(data), batch):
            x, y = torch.from_numpy(data.x[i:i + batch]), torch.from_numpy(data.y[i:i + batch]).float()
            logits = net(x)
            loss_sum += float(weighted_bce(logits, y, pos_weight)) * len(x)
            pred = torch.sigmoid(logits) >= threshold
            truth = y > 0
            inter += int((pred & truth).sum())
            pred_sum += int(pred.sum())
            truth_sum += int(truth.sum())
    dice = 2 * inter / (pred_sum + truth_sum) if pred_sum + truth_sum else 1.0
    return {"loss": round(loss_sum / max(len(data), 1), 5), "dice": round(dice, 4), "rois": len(data),
            "rois_with_calcification": int(data.y.reshape(len(data), -1).any(1).sum())}


def train_unet(train: UNetROIs, val: UNetROIs, epochs: int = UNET_MAX_EPOCHS, batch_size: int = UNET_BATCH_SIZE,
               learning_rate: float = UNET_LEARNING_RATE, seed: int = 0, init: CalcificationUNet | None = None,
               max_minutes: float | None = None, progress: bool = True,
               finding: str = "calcification") -> UNetTrainResult:
    """Pixel-weighted BCE, Adam, the epoch of best validation Dice (lower loss breaks ties). With
    ``max_minutes``, no epoch starts after that much training time (the last one finishes)."""
    if not len(train) or not train.y.any():
        raise ValueError("training needs ROIs with calcification pixels: label at least one calcification")
    val = val if len(val) else train
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = init if init is not None else CalcificationUNet(roi_px=train.x.shape[-1])
    pos_weight = positive_weight(train.y)
    stepped = distributed.data_parallel(net)   # under torchrun: DDP, each rank its share of every minibatch
    world = distributed.current().world
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
    best_state, best, best_epoch, history = None, None, 0, []
    started = time.perf_counter()
    bar = tqdm(range(1, epochs + 1), desc="train U-Net", unit="epoch", disable=not progress)
    for epoch in bar:
        net.train()
        order = rng.permutation(len(train))
        losses = []
        for i in range(0, len(order), batch_size):
            idx = np.sort(order[i:i + batch_size])
            if len(idx) < world:  # a rank would get no ROI
                continue
            mine = distributed.share(idx)
            loss = weighted_bce(stepped(torch.from_numpy(train.x[mine])), torch.from_numpy(train.y[mine]).float(),
                                pos_weight) * distributed.share_weight(len(idx))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(distributed.mean_over_ranks(loss.item()))
        score = distributed.on_main(lambda: validation_scores(net, val, pos_weight))
        history.append({"epoch": epoch, "train_loss": round(float(np.mean(losses)), 5), **score,
                        "minutes": round((time.perf_counter() - started) / 60, 2)})
        bar.set_postfix(dice=score["dice"])
        if best is None or (score["dice"], -score["loss"]) > (best["dice"], -best["loss"]):
            best, best_epoch = score, epoch
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        # Rank 0's clock decides, so that every rank stops after the same epoch.
        if distributed.broadcast(max_minutes is not None and time.perf_counter() - started >= 60 * max_minutes):
            log.info("stopping after epoch %d: %.1f minutes", epoch, max_minutes)
            break
    net.load_state_dict(best_state)
    return UNetTrainResult(net.eval(), best_epoch, best, history, time.perf_counter() - started, pos_weight, finding)


def save_unet(result: UNetTrainResult, path: str | Path, **metadata: Any) -> Path:
    ckpt = result.network.checkpoint(
        model=MODEL_NAME, best_epoch=result.best_epoch, validation=result.validation,
        positive_weight=result.positive_weight, finding=result.finding,
        working_spacing_mm=FINDINGS[result.finding]["working_spacing_mm"], threshold=UNET_THRESHOLD,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **metadata)
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
    return Path(path)


# --- inference -----------------------------------------------------------------

@dataclass
class UNetResult:
    mammogram: Mammogram
    frame: WorkingFrame
    mask: np.ndarray                   # uint8, input grid: 1 = calcification
    calcifications: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    tiles: dict[str, int]
    seconds: float
    timings_s: dict[str, float]
    settings: dict[str, Any]
    weights: dict[str, Any]
    probability: np.ndarray | None = field(default=None, repr=False)  # working frame

    masses: list[dict[str, Any]] | None = None  # with finding "mass" (then no calcification or cluster)

    def label_map(self) -> np.ndarray:
        return self.mask

    def to_json(self) -> dict[str, Any]:
        findings = {"calcifications": self.calcifications, "clusters": self.clusters}
        if self.masses is not None:
            findings["masses"] = self.masses
        return result_document(self, findings | {"timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
                                                 "model": MODEL_NAME, "finding": self.settings["finding"],
                                                 "tiles": self.tiles})


class UNetSegmentation:
    """The calcification mask, calcifications and clusters of one mammogram from the U-Net."""

    def __init__(self, network: CalcificationUNet, working_spacing_mm: float = WORKING_SPACING_MM,
                 threshold: float = UNET_THRESHOLD, candidate_threshold: float = CANDIDATE_THRESHOLD,
                 weights: dict[str, Any] | None = None, batch_tiles: int = 16, device: str | torch.device = "cpu",
                 finding: str = "calcification"):
        if finding not in FINDINGS:
            raise ValueError(f"finding must be one of {sorted(FINDINGS)}, not {finding!r}")
        self.finding = finding
        if not 0 < candidate_threshold <= threshold < 1:
            raise ValueError(f"thresholds must satisfy 0 < candidate ({candidate_threshold}) <= operating "
                             f"({threshold}) < 1")
        self.device = torch.device(device)
        self.network = network.eval().to(self.device)
        self.working_spacing_mm, self.threshold, self.candidate_threshold = working_spacing_mm, threshold, \
            candidate_threshold
        self.weights, self.batch_tiles = weights or {}, batch_tiles

    @classmethod
    def from_weights(cls, path: str | Path | None = None, **kwargs: Any) -> "UNetSegmentation":
        path = Path(path or DEFAULT_WEIGHTS)
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if ckpt.get("model") != MODEL_NAME:
            raise ValueError(f"{path} does not hold a {MODEL_NAME} network")
        kwargs.setdefault("working_spacing_mm", float(ckpt.get("working_spacing_mm", WORKING_SPACING_MM)))
        kwargs.setdefault("threshold", float(ckpt.get("threshold", UNET_THRESHOLD)))
        kwargs.setdefault("finding", ckpt.get("finding", "calcification"))
        summary = {k: ckpt[k] for k in ("finding", "best_epoch", "validation", "trained_on", "trained_with", "created")
                   if k in ckpt}
        return cls(CalcificationUNet.from_checkpoint(ckpt), weights={"path": str(path), **summary}, **kwargs)

    def probability_map(self, image: np.ndarray, breast: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
        """Sigmoid of every pixel, tile by non-overlapping tile (the image padded to whole tiles by
        reflection); 0 in tiles without breast, which are skipped, and outside the breast."""
        n = self.network.roi_px
        rows, cols = image.shape
        pad = ((0, -rows % n), (0, -cols % n))
        padded = np.pad(image, pad, mode="reflect" if min(rows, cols) > 1 else "edge")
        has_breast = np.pad(breast, pad).reshape(padded.shape[0] // n, n, padded.shape[1] // n, n).any(axis=(1, 3))
        out = np.zeros(padded.shape, np.float32)
        todo = list(zip(*np.nonzero(has_breast)))
        with torch.inference_mode():
            for i in range(0, len(todo), self.batch_tiles):
                chunk = todo[i:i + self.batch_tiles]
                x = np.stack([padded[r * n:(r + 1) * n, c * n:(c + 1) * n] for r, c in chunk])[:, None]
                prob = torch.sigmoid(self.network(torch.from_numpy(np.ascontiguousarray(x)).to(self.device)))
                for (r, c), p in zip(chunk, prob[:, 0].cpu().numpy()):
                    out[r * n:(r + 1) * n, c * n:(c + 1) * n] = p
        out = out[:rows, :cols]
        out[~breast] = 0.0
        return out, {"tiles": int(has_breast.size), "tiles_run": len(todo), "tile_px": n}

    def run(self, mammo: Mammogram, keep_probability: bool = False) -> UNetResult:
        timings: dict[str, float] = {}
        start = t = time.perf_counter()
        frame = to_working_frame(mammo, self.working_spacing_mm)
        timings["preprocess"] = time.perf_counter() - t
        t = time.perf_counter()
        prob, tiles = self.probability_map(frame.image, frame.breast)
        timings["unet"] = time.perf_counter() - t
        t = time.perf_counter()
        spacing = float(np.mean(frame.spacing_mm))
        masses = None
        if self.finding == "mass":
            found = find_calcifications(prob, self.threshold, self.candidate_threshold, 0,
                                        round(MASS_CANDIDATE_RIM_MM / spacing))
            calc_json, cluster_json, masses = [], [], describe_masses(frame, found)
        else:
            calcs = find_calcifications(prob, self.threshold, self.candidate_threshold,
                                        round(FRAGMENT_GAP_MM / spacing), round(CANDIDATE_RIM_MM / spacing))
            calc_json, cluster_json = describe_findings(frame, calcs, prob, None, CLUSTER_MIN_CALCIFICATIONS,
                                                        CLUSTER_AREA_MM2)
        mask = (frame.map_to_input(prob) >= self.threshold).astype(np.uint8)
        timings["postprocess"] = time.perf_counter() - t
        settings = {"finding": self.finding, "threshold": self.threshold,
                    "candidate_threshold": self.candidate_threshold, "working_spacing_mm": self.working_spacing_mm,
                    "tile_px": self.network.roi_px}
        return UNetResult(mammo, frame, mask, calc_json, cluster_json, tiles, time.perf_counter() - start, timings,
                          settings, self.weights, prob if keep_probability else None, masses)


def describe_masses(frame: WorkingFrame, found: list) -> list[dict[str, Any]]:
    """Mass candidates (working-frame components) in the input frame, strongest first."""
    pixel_area_mm2 = frame.spacing_mm[0] * frame.spacing_mm[1]
    out = []
    for k, m in enumerate(found, 1):
        r, c = frame.to_input_px(np.array([m.centroid_px[0]]), np.array([m.centroid_px[1]]))
        rows, cols = frame.to_input_px(np.array([m.bbox_px[0], m.bbox_px[2] - 1]),
                                       np.array([m.bbox_px[1], m.bbox_px[3] - 1]))
        out.append({"id": k, "centroid_px": [round(float(r[0]), 2), round(float(c[0]), 2)],
                    "area_mm2": round(m.area_px * pixel_area_mm2, 3), "score": round(m.score, 4),
                    "in_mask": m.above_operating,
                    "bbox_px": [int(np.floor(rows.min())), int(np.floor(cols.min())), int(np.ceil(rows.max())) + 1,
                                int(np.ceil(cols.max())) + 1]})
    return out
