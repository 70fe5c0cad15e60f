"""Train the second-stage candidate classifier on the pipeline's own candidates.

1. Harvest: run the pipeline (networks only) on labelled images and keep, for every listed
   candidate, its features and whether it hits a ground-truth calcification under the
   evaluation's rule (one-to-one, by descending segmentator score). Images with an empty label
   (real normal films) contribute false positives only.
2. Fit on the training split of the images (the same hash split as the networks' validation).
3. Calibrate the classifier's threshold to ``CALIBRATION_TARGET_FPPI`` false positives per
   mammogram of TYPICAL_BREAST_AREA_CM2 of breast (the validation images' own breast area scales
   it), and apply the choice rule: the classifier is worth using only if, on the
   validation images, its sensitivity at 1 FP/image beats the segmentator score's.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm.auto import tqdm

from mcseg.defaults import CALIBRATION_TARGET_FPPI, CLUSTER_CALIBRATION_FP, TYPICAL_BREAST_AREA_CM2
from mcseg.evaluation import froc, match_listed
from mcseg.evaluation.froc import ImageMatch
from mcseg.defaults import PipelineConfig
from mcseg.fp_reduction import (CLASSIFIER_FILE, CLUSTER_THRESHOLD_META, FEATURE_NAMES, LISTING_THRESHOLD_META,
                                PEAK_SEPARATION_META,
                                SYMMETRIES_META, CandidateClassifier, classifier_beside)
from mcseg.io.atomic import atomic_write_text
from mcseg.io.labels import read_label
from mcseg.io.reader import read_mammogram
from mcseg.pipeline import DEFAULT_SEGMENTATOR_WEIGHTS, Pipeline
from mcseg.training.calibrate import fp_per_image, threshold_within
from mcseg.training.data import LabelledCase, assign_splits

#: Hidden layers of the classifier. Ours: two small layers; 24 features, a few 10^4 candidates.
HIDDEN_UNITS = (32, 16)
#: L2 penalty of scikit-learn's MLP. Ours: a little more than its default (1e-4) for few images.
L2_PENALTY = 1e-3


@dataclass
class Harvest:
    """Candidates of a set of images: features, hit labels, which image each came from."""

    features: np.ndarray     # (n, n_features)
    hits: np.ndarray         # bool (n,)
    image: np.ndarray        # int (n,): index into ``ids``
    ids: list[str]
    n_truth: np.ndarray      # (n_images,) ground-truth calcifications per image
    #: How the candidates were listed (PipelineConfig.candidate_peak_separation_mm; None: by region).
    peak_separation_mm: float | None = None
    #: (n_images,) breast area of each image in cm^2 (None in harvests made before it was recorded).
    breast_cm2: np.ndarray | None = None
    #: Symmetry views the segmentator averaged (None in harvests made before it was recorded: 8).
    symmetries: int | None = None
    #: The segmentator threshold the candidates were listed at (None where not recorded).
    listing_threshold: float | None = None

    def save(self, path: str | Path) -> None:
        separation = np.nan if self.peak_separation_mm is None else self.peak_separation_mm
        extra = {} if self.breast_cm2 is None else {"breast_cm2": self.breast_cm2}
        if self.symmetries is not None:
            extra["symmetries"] = self.symmetries
        if self.listing_threshold is not None:
            extra["listing_threshold"] = self.listing_threshold
        np.savez_compressed(path, features=self.features, hits=self.hits, image=self.image,
                            ids=np.array(self.ids), n_truth=self.n_truth, peak_separation_mm=separation, **extra)

    def split_images(self) -> tuple[np.ndarray, np.ndarray]:
        """(training, validation) image indices: the networks' hash split of the image ids (a set of
        two or more images always holds one out, as a site's first labels need)."""
        splits = assign_splits(self.ids)
        split = np.array([splits[i] for i in self.ids])
        return np.flatnonzero(split == "train"), np.flatnonzero(split == "val")

    @classmethod
    def concatenate(cls, parts: list["Harvest"]) -> "Harvest":
        """One harvest of several (their image indices renumbered); the first's listing, and breast
        areas only where every part has them."""
        offsets = np.cumsum([0] + [len(p.ids) for p in parts[:-1]])
        areas = [p.breast_cm2 for p in parts]
        return cls(np.concatenate([p.features for p in parts]), np.concatenate([p.hits for p in parts]),
                   np.concatenate([p.image + o for p, o in zip(parts, offsets)]),
                   [i for p in parts for i in p.ids], np.concatenate([p.n_truth for p in parts]),
                   parts[0].peak_separation_mm, None if any(a is None for a in areas) else np.concatenate(areas),
                   parts[0].symmetries, parts[0].listing_threshold)

    @classmethod
    def load(cls, path: str | Path) -> "Harvest":
        with np.load(path, allow_pickle=False) as d:
            separation = float(d["peak_separation_mm"]) if "peak_separation_mm" in d else np.nan
            return cls(d["features"], d["hits"], d["image"], [str(x) for x in d["ids"]], d["n_truth"],
                       None if np.isnan(separation) else separation,
                       d["breast_cm2"] if "breast_cm2" in d else None,
                       int(d["symmetries"]) if "symmetries" in d else None,
                       float(d["listing_threshold"]) if "listing_threshold" in d else None)


def harvest(pipeline: Pipeline, cases: list[LabelledCase], spacing_mm: float | None = None,
            progress: bool = True) -> Harvest:
    """Run the networks (not the classifier) on every case and label its candidates."""
    if pipeline.classifier is not None:
        raise ValueError("harvest with the networks alone: build the pipeline with classifier_path=None")
    rows, hits, image, n_truth, breast_cm2 = [], [], [], [], []
    for i, case in enumerate(tqdm(cases, desc="harvesting candidates", unit="image", disable=not progress)):
        mammo = read_mammogram(case.image_path, spacing_mm=spacing_mm)
        result = pipeline.run(mammo, keep_features=True)
        breast_cm2.append(result.frame.breast_cm2)
        match = match_listed(result.calcifications, read_label(case.label_path), mammo.spacing_mm)
        if result.calcifications:
            rows.append(result.candidate_features)
            hits.append(match.hits)
            image.append(np.full(len(match.hits), i))
        n_truth.append(match.n_truth)
    width = len(FEATURE_NAMES)
    return Harvest(np.concatenate(rows) if rows else np.zeros((0, width), np.float32),
                   np.concatenate(hits) if hits else np.zeros(0, bool),
                   np.concatenate(image) if image else np.zeros(0, int),
                   [c.image_id for c in cases], np.array(n_truth), pipeline.config.candidate_peak_separation_mm,
                   np.array(breast_cm2), pipeline.config.segmentator_symmetries, pipeline.config.operating_threshold)


def curve_of(harvest: Harvest, scores: np.ndarray, images: np.ndarray):
    """FROC over ``images`` (indices) with the harvest's fixed hit labels and the given scores."""
    matches = []
    for i in images:
        sel = harvest.image == i
        matches.append(ImageMatch(scores[sel], harvest.hits[sel], int(harvest.n_truth[i])))
    return froc(matches)


def calibration(harvest: Harvest, images: np.ndarray, target_fppi: float = CALIBRATION_TARGET_FPPI) -> dict[str, Any]:
    """How many false positives per image of ``images`` make ``target_fppi`` per mammogram of
    TYPICAL_BREAST_AREA_CM2 of breast (the images' own count where their areas are not recorded)."""
    if harvest.breast_cm2 is None:
        return {"fp_per_image": target_fppi, "why": "no breast areas in the harvest: per image"}
    areas = harvest.breast_cm2[images]
    return {"fp_per_typical_mammogram": target_fppi, "typical_breast_cm2": TYPICAL_BREAST_AREA_CM2,
            "validation_breast_cm2_mean": round(float(np.mean(areas)), 1), "fp_per_image": fp_per_image(target_fppi, areas)}


def threshold_at(curve, harvest: Harvest, images: np.ndarray, fp_per_mammogram: float) -> float:
    """The score threshold at ``fp_per_mammogram`` false positives per typical mammogram on ``images``
    (per image where the harvest has no breast areas), rounded as classifiers store it."""
    return round(threshold_within(curve, calibration(harvest, images, fp_per_mammogram)["fp_per_image"]), 4)


def fit_classifier(harvest: Harvest, seed: int = 0, target_fppi: float = CALIBRATION_TARGET_FPPI,
                   on_message: Callable[[str], None] = print) -> tuple[CandidateClassifier, dict[str, Any]]:
    """Fit on the training images' candidates; calibrate and judge on the validation images'."""
    from sklearn.neural_network import MLPClassifier

    train_images, val_images = harvest.split_images()
    if len(val_images) == 0 or len(train_images) == 0:
        raise ValueError("the candidate classifier needs images in both the training and validation splits")
    train = np.isin(harvest.image, train_images)
    x, y = harvest.features[train].astype(np.float64), harvest.hits[train]
    if y.sum() < 5 or (~y).sum() < 5:
        raise ValueError(f"too few candidates to learn from ({int(y.sum())} hits, {int((~y).sum())} false positives)")
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    mlp = MLPClassifier(HIDDEN_UNITS, alpha=L2_PENALTY, max_iter=400, early_stopping=True, random_state=seed)
    mlp.fit((x - mean) / scale, y)
    clf = CandidateClassifier.from_sklearn(mlp, mean, scale)

    seg_curve = curve_of(harvest, harvest.features[:, FEATURE_NAMES.index("segmentator_score")], val_images)
    new_curve = curve_of(harvest, clf.predict(harvest.features), val_images)
    calibrated = calibration(harvest, val_images, target_fppi)
    clf.operating_threshold = threshold_at(new_curve, harvest, val_images, target_fppi)
    # Clustered candidates join the mask from a lower bar (only where areas make it per mammogram).
    cluster_threshold = (threshold_at(new_curve, harvest, val_images, CLUSTER_CALIBRATION_FP)
                         if harvest.breast_cm2 is not None else None)
    seg_sens, new_sens = seg_curve.sensitivity_at(target_fppi), new_curve.sensitivity_at(target_fppi)
    report = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "images": {"train": int(len(train_images)), "val": int(len(val_images))},
        "candidates": {"train": int(train.sum()), "train_hits": int(y.sum()), "val": int((~train).sum())},
        "validation": {
            "calcifications": int(seg_curve.n_truth),
            f"sensitivity_at_{target_fppi:g}_fppi": {"segmentator_score": round(seg_sens, 4),
                                                     "classifier": round(new_sens, 4)},
            "sensitivity_at_fppi": {f"{f:g}": {"segmentator_score": round(seg_curve.sensitivity_at(f), 4),
                                               "classifier": round(new_curve.sensitivity_at(f), 4)}
                                    for f in (0.25, 0.5, 1, 2, 4)},
        },
        "operating_threshold": clf.operating_threshold,
        "calibration": calibrated,
        "choice_rule": f"use the classifier only if its sensitivity at {target_fppi:g} FP/image on the validation "
                       "images beats the segmentator score's on the same candidates",
        "adopt": bool(new_sens > seg_sens),
        "training_iterations": int(mlp.n_iter_),
    }
    clf.meta = {"trained_on": f"{len(train_images)} images, {int(train.sum())} candidates",
                "validation": report["validation"], "created": report["created"]}
    if harvest.peak_separation_mm is not None:
        clf.meta[PEAK_SEPARATION_META] = harvest.peak_separation_mm
    if harvest.symmetries is not None:
        clf.meta[SYMMETRIES_META] = int(harvest.symmetries)
    if harvest.listing_threshold is not None:
        clf.meta[LISTING_THRESHOLD_META] = float(harvest.listing_threshold)
    if cluster_threshold is not None and cluster_threshold < clf.operating_threshold:
        clf.meta[CLUSTER_THRESHOLD_META] = report["cluster_threshold"] = cluster_threshold
    on_message(f"validation sensitivity at {target_fppi:g} FP/image: segmentator score {seg_sens:.3f}, "
               f"classifier {new_sens:.3f} -> {'adopt' if report['adopt'] else 'do not adopt'} the classifier")
    return clf, report


def train_candidate_classifier(data: list[str | Path], out: str | Path, weights: str | Path | None = None,
                               spacing_mm: float | None = None, seed: int = 0, progress: bool = True,
                               on_message: Callable[[str], None] = print,
                               peak_separation_mm: float | None = None) -> dict[str, Any]:
    """Harvest (cached in OUT/candidates.npz), fit, calibrate; writes OUT/candidate_classifier.npz.
    ``peak_separation_mm`` lists peak candidates (PipelineConfig.candidate_peak_separation_mm); the
    classifier records it, and pipelines that load it list their candidates the same way."""
    from mcseg.training import find_cases

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "candidates.npz"
    cases = [case for folder in data for case in find_cases(folder)]
    if not cases:
        raise ValueError(f"no labelled images in {', '.join(map(str, data))}")
    if cache.is_file():
        found = Harvest.load(cache)
        if found.ids != [c.image_id for c in cases]:
            raise ValueError(f"{cache} holds the candidates of other images; delete it to harvest again")
        if found.peak_separation_mm != peak_separation_mm:
            raise ValueError(f"{cache} lists its candidates another way (peak separation {found.peak_separation_mm} "
                             f"mm, asked {peak_separation_mm}); delete it to harvest again")
        on_message(f"using the {len(found.hits)} candidates of {len(found.ids)} images in {cache}")
    else:
        weights = Path(weights) if weights else None
        pipeline = Pipeline.from_weights(weights / "detector.pt" if weights else None,
                                         weights / "segmentator.pt" if weights else None,
                                         config=PipelineConfig(candidate_peak_separation_mm=peak_separation_mm),
                                         classifier_path=None, coarse_dir=None)  # these networks' scores only
        found = harvest(pipeline, cases, spacing_mm, progress)
        found.save(cache)
    clf, report = fit_classifier(found, seed, on_message=on_message)
    clf.save(out / CLASSIFIER_FILE)
    (out / "candidate_classifier.json").write_text(json.dumps(report, indent=1))
    return report


def refit_beside(detector_path: str | Path, segmentator_path: str | Path, cases: list[LabelledCase],
                 spacing_mm: float | None = None, progress: bool = True,
                 listed_like: str | Path | None = None) -> dict[str, Any]:
    """After new networks are published: fit their candidate classifier on the labelled ``cases`` and keep
    it beside the segmentator only if the choice rule says so; otherwise remove the one there, which
    was fitted to other networks' scores (the pipeline then scores with the networks alone).

    The rule is :func:`fit_classifier`'s (sensitivity at 1 FP/image on the validation images against
    the segmentator score's); too few images or calcifications for a fit is a "no", with the reason.
    Candidates are listed as for the classifier beside ``listed_like`` (default: the bundled
    segmentator; the bundled coarse one for coarse networks).
    """
    target = classifier_beside(segmentator_path)
    report_path = target.with_suffix(".json")
    # The candidates are listed as for the bundled classifier, whose rule chose how.
    bundled = classifier_beside(listed_like or DEFAULT_SEGMENTATOR_WEIGHTS)
    meta = CandidateClassifier.load(bundled).meta if bundled.is_file() else {}
    pipeline = Pipeline.from_weights(detector_path, segmentator_path,
                                     config=PipelineConfig(candidate_peak_separation_mm=meta.get(PEAK_SEPARATION_META),
                                                           segmentator_symmetries=meta.get(SYMMETRIES_META)),
                                     classifier_path=None, coarse_dir=None)
    found = harvest(pipeline, cases, spacing_mm, progress)
    try:
        clf, report = fit_classifier(found, on_message=lambda m: None)
    except ValueError as exc:
        clf, report = None, {"adopt": False, "why": str(exc)}
    summary = {"adopted": bool(report["adopt"]), "images": len(cases), "candidates": int(len(found.hits)),
               **{k: report[k] for k in ("why", "validation", "operating_threshold") if k in report}}
    if clf is not None and report["adopt"]:
        clf.save(target)
        atomic_write_text(report_path, json.dumps(report, indent=1))
    else:
        summary.setdefault("why", "on the validation images the classifier did not beat the segmentator score "
                                  "at 1 FP/image")
        target.unlink(missing_ok=True)
        report_path.unlink(missing_ok=True)
    return summary
