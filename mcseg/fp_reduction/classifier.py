"""The second-stage candidate classifier: rescoring each listed calcification from its features.

A small multilayer perceptron (scikit-learn's ``MLPClassifier`` trains it) on standardised features.
It is stored as plain arrays in an ``.npz`` (weights, biases, the standardisation, the feature names,
the calibrated threshold) and evaluated here in numpy: loading it never unpickles code, like the
networks' ``torch.load(weights_only=True)``, and the forward pass is four lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mcseg.fp_reduction.features import FEATURE_NAMES

CLASSIFIER_FILE = "candidate_classifier.npz"
#: The ``meta`` key that says how the candidates it was fitted on were listed: the peak separation in
#: mm (PipelineConfig.candidate_peak_separation_mm), absent for one candidate per region.
PEAK_SEPARATION_META = "candidate_peak_separation_mm"
#: The ``meta`` key of the lower threshold at which candidates that form a cluster join the mask
#: (PipelineConfig.cluster_threshold); absent: only the operating threshold puts them there.
CLUSTER_THRESHOLD_META = "cluster_threshold"
#: The ``meta`` key of how many symmetry views the segmentator averaged for the candidates it was
#: fitted on (PipelineConfig.segmentator_symmetries); absent: the default, 8.
SYMMETRIES_META = "segmentator_symmetries"
#: The ``meta`` key of the segmentator threshold its candidates were listed at (components above it
#: are listed whole, weaker regions by their peak; PipelineConfig.operating_threshold). A pipeline that
#: loads the classifier lists at it, whatever the segmentator's own threshold for the networks alone.
LISTING_THRESHOLD_META = "candidate_listing_threshold"


def classifier_beside(segmentator_path: str | Path) -> Path:
    """Where the candidate classifier of a segmentator lives: beside it, as it belongs to those networks."""
    return Path(segmentator_path).parent / CLASSIFIER_FILE


class ClassifierError(RuntimeError):
    """A candidate-classifier file that cannot be used."""


@dataclass
class CandidateClassifier:
    """Standardise, then ReLU layers, then a logistic output: P(candidate is a calcification)."""

    mean: np.ndarray
    scale: np.ndarray
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    operating_threshold: float = 0.5
    feature_names: tuple[str, ...] = FEATURE_NAMES
    meta: dict[str, Any] = field(default_factory=dict)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(n,) probabilities for (n, n_features) features."""
        x = (np.asarray(features, np.float64) - self.mean) / self.scale
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            x = np.maximum(x @ w + b, 0.0)
        z = (x @ self.weights[-1] + self.biases[-1]).ravel()
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    @classmethod
    def from_sklearn(cls, mlp, mean: np.ndarray, scale: np.ndarray, meta: dict[str, Any] | None = None):
        return cls(mean, scale, [np.asarray(w) for w in mlp.coefs_], [np.asarray(b) for b in mlp.intercepts_],
                   meta=meta or {})

    def save(self, path: str | Path) -> Path:
        from mcseg.io.atomic import atomic_path

        path = Path(path)
        arrays = {"mean": self.mean, "scale": self.scale}
        arrays |= {f"w{i}": w for i, w in enumerate(self.weights)} | {f"b{i}": b for i, b in enumerate(self.biases)}
        header = {"layers": len(self.weights), "operating_threshold": self.operating_threshold,
                  "feature_names": list(self.feature_names), "meta": self.meta}
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, header=np.array(json.dumps(header)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "CandidateClassifier":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                layers = int(header["layers"])
                clf = cls(data["mean"], data["scale"], [data[f"w{i}"] for i in range(layers)],
                          [data[f"b{i}"] for i in range(layers)], float(header["operating_threshold"]),
                          tuple(header["feature_names"]), header.get("meta", {}))
        except Exception as exc:
            raise ClassifierError(f"{path} is not a usable candidate classifier: {exc}") from exc
        if clf.feature_names != FEATURE_NAMES:
            raise ClassifierError(f"{path} was trained on other features ({len(clf.feature_names)}: "
                                  f"{', '.join(clf.feature_names[:3])} ...) than this version computes")
        return clf

    def summary(self) -> dict[str, Any]:
        return {"operating_threshold": self.operating_threshold,
                "hidden_units": [int(w.shape[1]) for w in self.weights[:-1]]} | {
            k: self.meta[k] for k in ("trained_on", "validation", "created", "path", PEAK_SEPARATION_META,
                                      CLUSTER_THRESHOLD_META, SYMMETRIES_META, LISTING_THRESHOLD_META)
            if k in self.meta}
