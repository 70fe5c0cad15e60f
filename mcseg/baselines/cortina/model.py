"""Cortina et al.'s first pipeline as a model: candidates, features, cascade, in the output contract.

Training (``train_pipeline1``) labels each candidate of the labelled images with the report's rule
(a true positive when the 14 px circle at its centre meets the ground truth; of several on one
calcification only the strongest is kept), draws at most CORTINA_MAX_NEGATIVES_PER_IMAGE negatives
per image, and trains the SVM cascade on the project's train/validation split. At inference a
candidate that passes stage 1 is listed with its stage-2 score (a logistic of the SVM's decision);
it is in the mask where the decision is positive (the SVM's own boundary).
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from tqdm.auto import tqdm

from mcseg.baselines.cortina.candidates import Candidates, difference_of_gaussians, grayscale_morphology
from mcseg.baselines.cortina.cascade import SVMCascade, train_cascade
from mcseg.baselines.cortina.features import FEATURE_NAMES, candidate_features
from mcseg.calcifications.components import Calcification
from mcseg.defaults import (CLUSTER_AREA_MM2, CLUSTER_MIN_CALCIFICATIONS, CORTINA_HIT_DIAMETER_PX,
                            CORTINA_MAX_NEGATIVES_PER_IMAGE, CORTINA_MAX_TRAINING_SAMPLES, WORKING_SPACING_MM)
from mcseg.io.labels import read_label
from mcseg.io.reader import Mammogram, read_mammogram
from mcseg.pipeline import describe_findings, result_document
from mcseg.preprocess.frame import WorkingFrame, to_working_frame
from mcseg.training.data import LabelledCase, assign_splits

log = logging.getLogger(__name__)

MODEL_NAME = "cortina_svm"
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent.parent / "weights" / "cortina_svm_cascade.npz"
PROPOSALS = {"gm": grayscale_morphology, "dog": difference_of_gaussians}


def propose(frame: WorkingFrame, method: str = "gm") -> Candidates:
    if method not in PROPOSALS:
        raise ValueError(f"candidate method must be one of {sorted(PROPOSALS)}, not {method!r}")
    return PROPOSALS[method](frame.image, frame.breast, float(np.mean(frame.spacing_mm)))


def label_candidates(centres_px: np.ndarray, strength: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """1 true, 0 false, -1 a second candidate on an already matched calcification (left out)."""
    out = np.zeros(len(centres_px), np.int64)
    if not truth.any() or not len(centres_px):
        return out
    components, _ = ndi.label(truth, structure=np.ones((3, 3), bool))
    dist, (ir, ic) = ndi.distance_transform_edt(~truth, return_indices=True)
    r = np.clip(np.round(centres_px[:, 0]).astype(int), 0, truth.shape[0] - 1)
    c = np.clip(np.round(centres_px[:, 1]).astype(int), 0, truth.shape[1] - 1)
    near = dist[r, c] <= CORTINA_HIT_DIAMETER_PX / 2
    which = components[ir[r, c], ic[r, c]]
    taken: set[int] = set()
    for k in np.argsort(-strength, kind="stable"):
        if near[k]:
            out[k] = 1 if which[k] not in taken else -1
            taken.add(int(which[k]))
    return out


@dataclass
class CortinaTrainingData:
    x: dict[str, np.ndarray] = field(default_factory=dict)
    y: dict[str, np.ndarray] = field(default_factory=dict)
    candidates_per_image: list[int] = field(default_factory=list)
    recall: dict[str, float] = field(default_factory=dict)  # calcifications with a true candidate


def training_data(cases: list[LabelledCase], method: str = "gm", seed: int = 0, spacing_mm: float | None = None,
                  max_negatives_per_image: int = CORTINA_MAX_NEGATIVES_PER_IMAGE,
                  progress: bool = True) -> CortinaTrainingData:
    splits = assign_splits([c.image_id for c in cases])
    xs: dict[str, list] = {"train": [], "val": []}
    ys: dict[str, list] = {"train": [], "val": []}
    data = CortinaTrainingData()
    found = {"train": [0, 0], "val": [0, 0]}
    rng = np.random.default_rng(seed)
    for case in tqdm(cases, desc="Cortina candidates", unit="image", disable=not progress):
        frame = to_working_frame(read_mammogram(case.image_path, spacing_mm=spacing_mm), WORKING_SPACING_MM)
        truth = frame.mask_to_working(read_label(case.label_path) > 0)
        cand = propose(frame, method)
        labels = label_candidates(cand.centres_px, cand.strength, truth)
        split = splits[case.image_id]
        found[split][0] += int((labels == 1).sum())
        found[split][1] += int(ndi.label(truth, structure=np.ones((3, 3), bool))[1])
        pos = np.flatnonzero(labels == 1)
        neg = np.flatnonzero(labels == 0)
        if len(neg) > max_negatives_per_image:
            neg = rng.choice(neg, max_negatives_per_image, replace=False)
        keep = np.concatenate([pos, neg])
        data.candidates_per_image.append(len(cand.strength))
        if len(keep):
            xs[split].append(candidate_features(frame.image, cand.centres_px[keep]))
            ys[split].append((labels[keep] == 1).astype(np.int64))
    for split in ("train", "val"):
        data.x[split] = np.concatenate(xs[split]) if xs[split] else np.zeros((0, len(FEATURE_NAMES)))
        data.y[split] = np.concatenate(ys[split]) if ys[split] else np.zeros(0, np.int64)
        data.recall[split] = round(found[split][0] / found[split][1], 4) if found[split][1] else float("nan")
    return data


def train_pipeline1(data: CortinaTrainingData, seed: int = 0, C: float = 1.0,
                    max_samples: int = CORTINA_MAX_TRAINING_SAMPLES) -> SVMCascade:
    """The cascade on at most ``max_samples`` training candidates (every positive, negatives at random)."""
    x, y = data.x["train"], data.y["train"]
    if len(y) > max_samples:
        rng = np.random.default_rng(seed)
        pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        neg = rng.choice(neg, max(0, max_samples - len(pos)), replace=False)
        pick = np.sort(np.concatenate([pos, neg]))
        x, y = x[pick], y[pick]
    val_x, val_y = (data.x["val"], data.y["val"]) if len(data.y["val"]) else (x, y)
    cascade = train_cascade(x, y, val_x, val_y, FEATURE_NAMES, C=C, seed=seed)
    cascade.meta |= {"model": MODEL_NAME, "candidate_recall": data.recall,
                     "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                     "median_candidates_per_image": float(np.median(data.candidates_per_image or [0]))}
    return cascade


@dataclass
class CortinaResult:
    mammogram: Mammogram
    frame: WorkingFrame
    mask: np.ndarray
    calcifications: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    candidates: dict[str, int]
    seconds: float
    timings_s: dict[str, float]
    settings: dict[str, Any]
    weights: dict[str, Any]

    def label_map(self) -> np.ndarray:
        return self.mask

    def to_json(self) -> dict[str, Any]:
        return result_document(self, {"calcifications": self.calcifications, "clusters": self.clusters,
                                      "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
                                      "model": MODEL_NAME, "candidates": self.candidates})


class CortinaPipeline1:
    def __init__(self, cascade: SVMCascade, method: str = "gm", weights: str = ""):
        if tuple(cascade.feature_names) != FEATURE_NAMES:
            raise ValueError("the cascade was trained on other features than this version computes")
        if method not in PROPOSALS:
            raise ValueError(f"candidate method must be one of {sorted(PROPOSALS)}, not {method!r}")
        self.cascade, self.method, self.weights = cascade, method, weights

    @classmethod
    def from_weights(cls, path: str | Path | None = None, method: str | None = None) -> "CortinaPipeline1":
        path = Path(path or DEFAULT_WEIGHTS)
        cascade = SVMCascade.load(path)
        if cascade.meta.get("model") != MODEL_NAME:
            raise ValueError(f"{path} does not hold a {MODEL_NAME} cascade")
        return cls(cascade, method or cascade.meta.get("candidate_method", "gm"), str(path))

    def run(self, mammo: Mammogram) -> CortinaResult:
        timings: dict[str, float] = {}
        start = t = time.perf_counter()
        frame = to_working_frame(mammo, WORKING_SPACING_MM)
        timings["preprocess"] = time.perf_counter() - t
        t = time.perf_counter()
        cand = propose(frame, self.method)
        timings["candidates"] = time.perf_counter() - t
        t = time.perf_counter()
        features = candidate_features(frame.image, cand.centres_px)
        timings["features"] = time.perf_counter() - t
        t = time.perf_counter()
        passed, decision = self.cascade.score(features)
        timings["cascade"] = time.perf_counter() - t
        t = time.perf_counter()
        calcs, work_mask = [], np.zeros(frame.image.shape, bool)
        for k in np.flatnonzero(passed):
            radius = max(1.0, float(np.sqrt(cand.area_px[k] / np.pi)))
            r, c = cand.centres_px[k]
            box = (int(max(r - radius, 0)), int(max(c - radius, 0)), int(min(r + radius + 1, frame.image.shape[0])),
                   int(min(c + radius + 1, frame.image.shape[1])))
            strong = bool(decision[k] >= 0)
            calcs.append(Calcification((float(r), float(c)), int(cand.area_px[k]),
                                       float(1 / (1 + np.exp(-decision[k]))), box, strong))
            if strong:
                if cand.labels is not None:
                    r0, c0, r1, c1 = box
                    work_mask[r0:r1, c0:c1] |= cand.labels[r0:r1, c0:c1] == cand.label_ids[k]
                else:
                    rr, cc = np.ogrid[box[0]:box[2], box[1]:box[3]]
                    work_mask[box[0]:box[2], box[1]:box[3]] |= (rr - r) ** 2 + (cc - c) ** 2 <= radius ** 2
        calcs.sort(key=lambda x: -x.score)
        calc_json, cluster_json = describe_findings(frame, calcs, np.zeros(1), None, CLUSTER_MIN_CALCIFICATIONS,
                                                    CLUSTER_AREA_MM2)
        mask = (frame.map_to_input(work_mask.astype(np.float32), order=0) > 0.5).astype(np.uint8)
        timings["postprocess"] = time.perf_counter() - t
        counts = {"proposed": int(len(cand.strength)), "passed_stage1": int(passed.sum()),
                  "in_mask": int(sum(c.above_operating for c in calcs))}
        settings = {"candidate_method": self.method, "working_spacing_mm": WORKING_SPACING_MM,
                    "stage1_threshold": round(self.cascade.stage1_threshold, 5), "operating_decision": 0.0}
        return CortinaResult(mammo, frame, mask, calc_json, cluster_json, counts, time.perf_counter() - start,
                             timings, settings, {"path": self.weights, **self.cascade.meta})
