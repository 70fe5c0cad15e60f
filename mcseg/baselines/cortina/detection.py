"""Cortina et al.'s third pipeline, a CNN object detector on sliding windows (a baseline, issue 19).

The report runs torchvision's Faster R-CNN on 224 x 224 px windows (stride 200 at inference, 100 for
training, only windows holding calcifications), each z-score standardised, with one anchor shape of
14 x 14 px, ground truth boxes of 14 x 14 px on each calcification's centre, a backbone pretrained on
the calcification patch classification task, and non-maximum suppression at IoU 0.5 over the fused
detections (report sec. 2.3.2, Appendix 3).

Here the detector is MONAI's RetinaNet (``monai.apps.detection``), not Faster R-CNN: torchvision is
not installed (its PyPI wheels are built against one torch release each and the project pins the CPU
torch these machines ship), and MONAI's detector, in the stack already, gives the same composable
parts: a backbone with a feature pyramid, an anchor generator, a matcher, a box coder, focal loss
instead of the RPN and ROI heads. Like the report's, the backbone is the pipeline 2 network
pretrained on calcification patches (``cortina_resnet.pt``): its stride-2 and stride-4 stages feed
the pyramid, and every level carries the one 14 x 14 px anchor.
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.apps.detection.networks.retinanet_detector import RetinaNetDetector
from monai.apps.detection.networks.retinanet_network import RetinaNet
from monai.apps.detection.utils.anchor_utils import AnchorGeneratorWithAnchorShape
from monai.data.box_utils import box_iou, non_max_suppression
from monai.networks.blocks.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool
from scipy import ndimage as ndi
from torch import nn
from tqdm.auto import tqdm

from mcseg.baselines.cortina.resnet import DEFAULT_WEIGHTS as RESNET_WEIGHTS
from mcseg.baselines.cortina.resnet import CortinaResNet, CortinaResNetResult
from mcseg.calcifications.components import Calcification
from mcseg.defaults import (CANDIDATE_THRESHOLD, CLUSTER_AREA_MM2, CLUSTER_MIN_CALCIFICATIONS,
                            CORTINA_DETECTOR_BATCH_SIZE, CORTINA_DETECTOR_BOX_PX, CORTINA_DETECTOR_FPN_CHANNELS,
                            CORTINA_DETECTOR_INFER_STRIDE_PX, CORTINA_DETECTOR_LEARNING_RATE,
                            CORTINA_DETECTOR_NMS_IOU, CORTINA_DETECTOR_PATCH_PX, CORTINA_DETECTOR_TRAIN_STRIDE_PX,
                            CORTINA_DETECTOR_WINDOWS_PER_IMAGE, WORKING_SPACING_MM)
from mcseg.io.labels import read_label
from mcseg.io.reader import Mammogram, read_mammogram
from mcseg.pipeline import describe_findings
from mcseg.preprocess.frame import to_working_frame
from mcseg.training import distributed
from mcseg.training.data import LabelledCase, assign_splits

log = logging.getLogger(__name__)

MODEL_NAME = "cortina_detector"
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent.parent / "weights" / "cortina_detector.pt"
#: A detection at or above this score is in the mask (the detector's own sigmoid scale).
OPERATING_THRESHOLD = 0.5


class PyramidBackbone(nn.Module):
    """The pipeline 2 network's convolutional stages under MONAI's feature pyramid. Written here, not
    with MONAI's BackboneWithFPN, because that one picks the stages with torchvision's
    IntermediateLayerGetter; the three stages are simply run in turn."""

    def __init__(self, resnet: CortinaResNet, out_channels: int = CORTINA_DETECTOR_FPN_CHANNELS):
        super().__init__()
        f = resnet.features
        self.stages = nn.ModuleList([nn.Sequential(f[0], f[1], f[2], f[3]),   # full resolution
                                     f[4],                                     # stride 2
                                     f[5]])                                    # stride 4
        self.fpn = FeaturePyramidNetwork(2, list(resnet.config["widths"][1:]), out_channels, LastLevelMaxPool(2))
        self.out_channels = out_channels   # RetinaNet's heads read it
        self.config = resnet.config        # the weights file records it to rebuild the network

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        maps = OrderedDict()
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i:   # the full-resolution stage feeds the next one, not the pyramid (heads at 224^2 cost 4x)
                maps[str(i)] = x
        return self.fpn(maps)


class AtssRetinaNetDetector(RetinaNetDetector):
    """MONAI's RetinaNet detector matching with its own ATSS matcher only. MONAI's method tests first
    for torchvision's Matcher, which fails where torchvision is not installed; its error message
    names this method as the one to override."""

    def compute_anchor_matched_idxs(self, anchors, targets, num_anchor_locs_per_level):
        matched = []
        for anchors_per_image, target in zip(anchors, targets):
            boxes = target[self.target_box_key].to(anchors_per_image.device)
            if boxes.numel() == 0:
                matched.append(torch.full((anchors_per_image.size(0),), -1, dtype=torch.int64,
                                          device=anchors_per_image.device))
                continue
            _, idxs = self.proposal_matcher(boxes, anchors_per_image, num_anchor_locs_per_level,
                                            self.num_anchors_per_loc)
            matched.append(idxs)
        return matched


def build_detector(resnet: CortinaResNet | None = None) -> RetinaNetDetector:
    """RetinaNet over the pipeline 2 backbone: pyramid levels at strides 2 and 4 (and the pyramid's
    own max-pooled level at 8), one 14 x 14 px anchor per position on each."""
    resnet = resnet or CortinaResNet()
    body = PyramidBackbone(resnet)
    levels = len(resnet.config["widths"])   # the stages after the first, and the max-pooled level
    anchors = AnchorGeneratorWithAnchorShape(feature_map_scales=(1,) * levels,
                                             base_anchor_shapes=((CORTINA_DETECTOR_BOX_PX,) * 2,))
    network = RetinaNet(spatial_dims=2, num_classes=1, num_anchors=1, feature_extractor=body, size_divisible=8)
    detector = AtssRetinaNetDetector(network, anchors, spatial_dims=2, num_classes=1, size_divisible=8)
    detector.set_target_keys(box_key="box", label_key="label")
    # ATSS (MONAI's own; its IoU matcher is torchvision's): each box's anchors by centre distance and IoU.
    detector.set_atss_matcher(num_candidates=4, center_in_gt=False)
    detector.set_hard_negative_sampler(batch_size_per_image=64, positive_fraction=0.3)
    detector.set_box_selector_parameters(score_thresh=CANDIDATE_THRESHOLD / 2, topk_candidates_per_level=1000,
                                         nms_thresh=CORTINA_DETECTOR_NMS_IOU, detections_per_img=300)
    return detector


def standardise(windows: np.ndarray) -> np.ndarray:
    """Each window to zero mean and unit standard deviation (the report's per-patch z-score)."""
    mean = windows.mean(axis=(-2, -1), keepdims=True)
    std = windows.std(axis=(-2, -1), keepdims=True)
    return ((windows - mean) / np.maximum(std, 1e-6)).astype(np.float32)


def truth_boxes(centres: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The report's ground truth: a 14 x 14 px box on each centre, (r0, c0, r1, c1), clipped."""
    half = CORTINA_DETECTOR_BOX_PX / 2
    boxes = np.concatenate([centres - half, centres + half], axis=1)
    return np.clip(boxes, 0, np.array([shape[0], shape[1], shape[0], shape[1]], float)).astype(np.float32)


@dataclass
class WindowSet:
    x: np.ndarray            # (N, P, P) standardised windows
    boxes: list[np.ndarray]  # per window (k, 4) boxes in its pixels


def training_windows(cases: list[LabelledCase], seed: int = 0, spacing_mm: float | None = None,
                     progress: bool = True) -> dict[str, WindowSet]:
    """224 px windows on a stride-100 grid that hold at least one calcification centre (the report's
    training windows), at most CORTINA_DETECTOR_WINDOWS_PER_IMAGE per image, by the project's split."""
    splits = assign_splits([c.image_id for c in cases])
    rng = np.random.default_rng(seed)
    n, step = CORTINA_DETECTOR_PATCH_PX, CORTINA_DETECTOR_TRAIN_STRIDE_PX
    out: dict[str, tuple[list, list]] = {"train": ([], []), "val": ([], [])}
    for case in tqdm(cases, desc="Cortina detector windows", unit="image", disable=not progress):
        frame = to_working_frame(read_mammogram(case.image_path, spacing_mm=spacing_mm), WORKING_SPACING_MM)
        truth = frame.mask_to_working(read_label(case.label_path) > 0)
        labels, count = ndi.label(truth, structure=np.ones((3, 3), bool))
        if not count:
            continue
        centres = np.asarray(ndi.center_of_mass(truth, labels, range(1, count + 1)))
        image = _padded(frame.image, n)
        tops = [(r, c) for r in range(0, max(image.shape[0] - n, 0) + 1, step)
                for c in range(0, max(image.shape[1] - n, 0) + 1, step)]
        holding = []   # (top, the centres inside that window)
        for r, c in tops:
            inside = centres[(centres[:, 0] >= r) & (centres[:, 0] < r + n)
                             & (centres[:, 1] >= c) & (centres[:, 1] < c + n)]
            if len(inside):
                holding.append(((r, c), inside))
        if len(holding) > CORTINA_DETECTOR_WINDOWS_PER_IMAGE:
            holding = [holding[i] for i in rng.choice(len(holding), CORTINA_DETECTOR_WINDOWS_PER_IMAGE, replace=False)]
        xs, bs = out[splits[case.image_id]]
        for (r, c), inside in holding:
            xs.append(standardise(image[r:r + n, c:c + n]))
            bs.append(truth_boxes(inside - [r, c], (n, n)))
    return {s: WindowSet(np.stack(xs) if xs else np.zeros((0, n, n), np.float32), bs) for s, (xs, bs) in out.items()}


def _padded(image: np.ndarray, n: int) -> np.ndarray:
    """The image padded at the bottom and right to hold whole windows (edge values: no false edge)."""
    rows, cols = max(image.shape[0], n), max(image.shape[1], n)
    return np.pad(image, ((0, rows - image.shape[0]), (0, cols - image.shape[1])), mode="edge")


def _augment(x: np.ndarray, boxes: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One of the 8 rotations and mirrorings of the square, applied to the window and its boxes."""
    n = x.shape[0]
    for _ in range(int(rng.integers(4))):      # rot90 counter-clockwise: (r, c) -> (n - c, r)
        x = np.rot90(x)
        boxes = np.stack([n - boxes[:, 3], boxes[:, 0], n - boxes[:, 1], boxes[:, 2]], axis=1)
    if rng.integers(2):
        x = x[:, ::-1]
        boxes = np.stack([boxes[:, 0], n - boxes[:, 3], boxes[:, 2], n - boxes[:, 1]], axis=1)
    return np.ascontiguousarray(x), boxes.astype(np.float32)


def _targets(boxes: list[np.ndarray]) -> list[dict[str, torch.Tensor]]:
    return [{"box": torch.from_numpy(b).reshape(-1, 4), "label": torch.zeros(len(b), dtype=torch.long)} for b in boxes]


def detect_windows(detector: RetinaNetDetector, x: np.ndarray, batch: int = 16) -> list[tuple[np.ndarray, np.ndarray]]:
    """(boxes, scores) for each standardised window."""
    detector.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(x), batch):
            found = detector(torch.from_numpy(x[start:start + batch, None]))
            out += [(d["box"].numpy(), d["label_scores"].numpy()) for d in found]
    return out


def average_precision(detections: list[tuple[np.ndarray, np.ndarray]], truth: list[np.ndarray],
                      iou: float = 0.5) -> float:
    """AP at IoU 0.5 (the report's model-selection metric): detections by falling score, each matched
    to an unmatched truth box, the area under the interpolated precision-recall curve."""
    scored = sorted(((s, i, b) for i, (boxes, scores) in enumerate(detections) for b, s in zip(boxes, scores)),
                    key=lambda t: -t[0])
    n_truth = sum(len(t) for t in truth)
    if not n_truth:
        return 0.0
    used = [np.zeros(len(t), bool) for t in truth]
    hits = []
    for _, i, box in scored:
        if len(truth[i]):
            overlap = box_iou(torch.from_numpy(box[None]), torch.from_numpy(truth[i])).numpy()[0]
            overlap[used[i]] = -1
            j = int(np.argmax(overlap))
            if overlap[j] >= iou:
                used[i][j] = True
                hits.append(1)
                continue
        hits.append(0)
    tp = np.cumsum(hits)
    recall = np.r_[0, tp / n_truth]
    precision = np.r_[1, tp / np.arange(1, len(hits) + 1)]
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(recall) * precision[1:]))


def _backbone(path: str | Path | None) -> CortinaResNet:
    """The pipeline 2 network from its weights, or a fresh one (None)."""
    if path is None:
        return CortinaResNet()
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "config" not in ckpt:
        raise ValueError(f"{path} does not hold a cortina_resnet network")
    resnet = CortinaResNet.from_config(ckpt["config"])
    resnet.load_state_dict(ckpt["state_dict"])
    return resnet


def train_detector(windows: dict[str, WindowSet], epochs: int = 10, steps_per_epoch: int = 100,
                   max_minutes: float | None = None, seed: int = 0, backbone: str | Path | None = RESNET_WEIGHTS,
                   learning_rate: float = CORTINA_DETECTOR_LEARNING_RATE,
                   batch_size: int = CORTINA_DETECTOR_BATCH_SIZE,
                   progress: bool = True) -> tuple[RetinaNetDetector, dict]:
    """Focal and box losses, Adam; the epoch of best validation AP at IoU 0.5 is kept. ``backbone``:
    the pipeline 2 weights to start from (None: from scratch)."""
    train, val = windows["train"], windows["val"]
    if not len(train.x):
        raise ValueError("no training window holds a calcification: label some calcifications first")
    if not len(val.x):
        val = train  # too few images for a held-out split: judged on the training windows (said in the report)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    detector = build_detector(_backbone(backbone))
    network = detector.network
    # Under torchrun the detector steps its network through DDP (it only calls network(images));
    # validation, on rank 0 alone, calls the plain network (DDP's forward would wait for the others).
    parallel = distributed.data_parallel(network)
    optimiser = torch.optim.Adam(network.parameters(), lr=learning_rate)
    best = (-1.0, None, 0)
    history = []
    started = time.perf_counter()
    for epoch in tqdm(range(1, epochs + 1), desc="Cortina detector epochs", unit="epoch", disable=not progress):
        # Rank 0's clock decides, so that every rank stops before the same epoch.
        if distributed.broadcast(max_minutes is not None and time.perf_counter() - started > max_minutes * 60):
            break
        detector.network = parallel
        detector.train()
        losses = []
        for _ in range(steps_per_epoch):
            pick = rng.choice(len(train.x), batch_size)
            pairs = distributed.share([_augment(train.x[i], train.boxes[i], rng) for i in pick])
            x = torch.from_numpy(np.stack([p[0] for p in pairs])[:, None])
            loss_parts = detector(x, _targets([p[1] for p in pairs]))
            # Focal and box losses are normalised by each rank's own matched anchors, so the ranks'
            # average is close to, not exactly, the one-process loss.
            loss = loss_parts[detector.cls_key] + loss_parts[detector.box_reg_key]
            loss = loss * distributed.share_weight(len(pick))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(distributed.mean_over_ranks(loss.item()))
        detector.network = network
        ap = distributed.on_main(lambda: average_precision(detect_windows(detector, val.x), val.boxes))
        history.append({"epoch": epoch, "train_loss": round(float(np.mean(losses)), 5), "val_ap50": round(ap, 5)})
        if ap > best[0]:
            best = (ap, {k: v.clone() for k, v in detector.network.state_dict().items()}, epoch)
    detector.network.load_state_dict(best[1])
    detector.eval()
    report = {"model": MODEL_NAME, "best_epoch": best[2], "val_ap50": round(best[0], 5), "history": history,
              "windows": {s: {"windows": int(len(w.x)), "calcifications": int(sum(len(b) for b in w.boxes))}
                          for s, w in windows.items()},
              "validated_on": "validation" if val is windows["val"] else "training windows (no validation split)",
              "backbone": str(backbone) if backbone is not None else "from scratch",
              "seconds": round(time.perf_counter() - started, 1), "learning_rate": learning_rate,
              "batch_size": batch_size, "steps_per_epoch": steps_per_epoch, "seed": seed,
              "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    return detector, report


def save_weights(detector: RetinaNetDetector, report: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"model": MODEL_NAME, "backbone_config": detector.network.feature_extractor.config,
                "state_dict": detector.network.state_dict(),
                "meta": {k: v for k, v in report.items() if k != "history"}, "history": report.get("history", []),
                "validation": {"ap50": report.get("val_ap50"), "on": report.get("validated_on"),
                               "windows": report.get("windows")},
                "best_epoch": report.get("best_epoch"), "trained_on": report.get("trained_on")}, tmp)
    tmp.replace(path)  # atomically: the app's inferer may be loading the previous file
    return path


def window_tops(breast: np.ndarray, stride_px: int = CORTINA_DETECTOR_INFER_STRIDE_PX) -> np.ndarray:
    """Top-left corners of the 224 px windows on a stride grid that touch the breast; the last row and
    column of windows end at the image's edge, so every breast pixel is seen."""
    n = CORTINA_DETECTOR_PATCH_PX

    def starts(size: int) -> np.ndarray:
        s = list(range(0, max(size - n, 0) + 1, stride_px))
        if s[-1] + n < size:
            s.append(size - n)
        return np.array(s)

    rows, cols = starts(breast.shape[0]), starts(breast.shape[1])
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    integral = np.pad(breast.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    r1, c1 = np.minimum(rr + n, breast.shape[0]), np.minimum(cc + n, breast.shape[1])
    inside = integral[r1, c1] - integral[rr, c1] - integral[r1, cc] + integral[rr, cc]
    keep = inside > 0
    return np.stack([rr[keep], cc[keep]], axis=1)


class CortinaDetectorModel:
    """The trained detector over the breast's windows, fused by NMS; ``run`` gives the output contract."""

    def __init__(self, detector: RetinaNetDetector, weights: dict[str, Any],
                 operating_threshold: float = OPERATING_THRESHOLD, stride_px: int = CORTINA_DETECTOR_INFER_STRIDE_PX):
        self.detector, self.weights = detector, weights
        self.detector.eval()
        self.operating_threshold, self.stride_px = operating_threshold, stride_px

    @classmethod
    def from_weights(cls, path: str | Path | None = None, **settings) -> "CortinaDetectorModel":
        path = Path(path or DEFAULT_WEIGHTS)
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("model") != MODEL_NAME:
            raise ValueError(f"{path} does not hold a {MODEL_NAME} network")
        detector = build_detector(CortinaResNet.from_config(ckpt["backbone_config"]))
        detector.network.load_state_dict(ckpt["state_dict"])
        return cls(detector, {"path": str(path), **ckpt.get("meta", {})}, **settings)

    def run(self, mammo: Mammogram) -> CortinaResNetResult:
        timings: dict[str, float] = {}
        start = t = time.perf_counter()
        frame = to_working_frame(mammo, WORKING_SPACING_MM)
        n = CORTINA_DETECTOR_PATCH_PX
        image = _padded(frame.image, n)
        breast = np.pad(frame.breast, ((0, image.shape[0] - frame.breast.shape[0]),
                                       (0, image.shape[1] - frame.breast.shape[1])))
        tops = window_tops(breast, self.stride_px)
        windows = standardise(np.stack([image[r:r + n, c:c + n] for r, c in tops])) if len(tops) \
            else np.zeros((0, n, n), np.float32)
        timings["preprocess"] = time.perf_counter() - t
        t = time.perf_counter()
        found = detect_windows(self.detector, windows)
        timings["detector"] = time.perf_counter() - t
        t = time.perf_counter()
        boxes = np.concatenate([b + np.r_[top, top] for (b, _), top in zip(found, tops)] or [np.zeros((0, 4))])
        scores = np.concatenate([s for _, s in found] or [np.zeros(0)])
        keep = non_max_suppression(boxes, scores, CORTINA_DETECTOR_NMS_IOU) if len(boxes) else np.zeros(0, int)
        shape = frame.image.shape
        calcs, work_mask = [], np.zeros(shape, bool)
        for box, score in zip(boxes[keep], scores[keep]):
            r, c = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            if not (0 <= r < shape[0] and 0 <= c < shape[1]) or not frame.breast[int(r), int(c)]:
                continue
            b = (int(max(np.floor(box[0]), 0)), int(max(np.floor(box[1]), 0)),
                 int(min(np.ceil(box[2]), shape[0])), int(min(np.ceil(box[3]), shape[1])))
            strong = bool(score >= self.operating_threshold)
            if strong:   # a box detector outlines nothing: the box itself is its mask
                work_mask[b[0]:b[2], b[1]:b[3]] = True
            calcs.append(Calcification((float(r), float(c)), (b[2] - b[0]) * (b[3] - b[1]), float(score), b, strong))
        calcs.sort(key=lambda x: -x.score)
        calc_json, cluster_json = describe_findings(frame, calcs, np.zeros(1), None, CLUSTER_MIN_CALCIFICATIONS,
                                                    CLUSTER_AREA_MM2)
        mask = (frame.map_to_input(work_mask.astype(np.float32), order=0) > 0.5).astype(np.uint8)
        timings["postprocess"] = time.perf_counter() - t
        settings = {"working_spacing_mm": WORKING_SPACING_MM, "window_px": n, "stride_px": self.stride_px,
                    "box_px": CORTINA_DETECTOR_BOX_PX, "nms_iou": CORTINA_DETECTOR_NMS_IOU,
                    "operating_threshold": self.operating_threshold, "detector": "MONAI RetinaNet"}
        return CortinaResNetResult(mammo, frame, mask, calc_json, cluster_json, len(tops), time.perf_counter() - start,
                                   timings, settings, self.weights, None, MODEL_NAME)
