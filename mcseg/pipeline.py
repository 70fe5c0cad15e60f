"""The two-stage pipeline: preprocess -> detector -> segmentator -> calcifications -> clusters.

:class:`Pipeline` holds the two networks and the settings; :meth:`Pipeline.run`
takes a :class:`~mcseg.io.reader.Mammogram` and returns a
:class:`SegmentationResult` in the input image's own pixel frame.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage as ndi
from tqdm.auto import tqdm

from mcseg import __version__
from mcseg.calcifications import find_calcifications, find_clusters, peak_blob, promote_clustered, refine_outlines
from mcseg.defaults import (COARSE_INPUT_MIN_SPACING_MM, FINE_OUTLINE_MARGIN_MM, FINE_OUTLINE_MAX_SPACING_MM,
                            FINE_OUTLINE_SKIP_NEAR_WORKING_MM,
                            INFERENCE_BACKENDS, NATIVE_ALONE_DECISION_THRESHOLD, NATIVE_ALONE_THRESHOLD_AT_4_FP,
                            NATIVE_BAND_FROM_MM,
                            RETRAINED_FINE_MAX_SPACING_MM, SEGMENTATOR_SYMMETRIES, UNCERTAIN_SPREAD, PipelineConfig)
from mcseg.detector import DetectorResult, run_detector
from mcseg.fp_reduction import (CLUSTER_THRESHOLD_META, LISTING_THRESHOLD_META, PEAK_SEPARATION_META, SYMMETRIES_META,
                                CandidateClassifier, candidate_features, classifier_beside, peaks_of)
from mcseg.io.labels import UNCERTAIN_VALUE
from mcseg.io.reader import Mammogram
from mcseg.networks import PatchCNN
from mcseg.networks.onnx_dense import OnnxDenseRunner, OnnxWindowRunner, onnxruntime_available
from mcseg.preprocess import WorkingFrame, to_working_frame
from mcseg.segmentator import segment_with_spread

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_DETECTOR_WEIGHTS = WEIGHTS_DIR / "detector.pt"
DEFAULT_SEGMENTATOR_WEIGHTS = WEIGHTS_DIR / "segmentator.pt"
#: Coarse-pixel weights (0.14 mm working pixel) for inputs of COARSE_INPUT_MIN_SPACING_MM and
#: coarser; shipped only when they met their choice rule (benchmarks/choose_weights.py --coarse).
DEFAULT_COARSE_WEIGHTS_DIR = WEIGHTS_DIR / "coarse"
#: 0.07 mm networks retrained on real digital anatomy (GE and Siemens FFDM crops, re-processed copies,
#: rehearsal images) for native 0.06-0.08 mm FFDM; adopted by benchmarks/choose_native_networks.py's
#: fourth rule. Their segmentator records the band it serves (``labelled_spacing_mm``).
DEFAULT_NATIVE_WEIGHTS_DIR = WEIGHTS_DIR / "native"
#: The candidate classifier with which the native networks serve the 0.08-0.11 mm inputs that name no digital
#: detector (defaults.NATIVE_BAND_CLASSIFIER; choose_native_networks.py, sixth and thirteenth rules).
DEFAULT_NATIVE_BAND_CLASSIFIER = DEFAULT_NATIVE_WEIGHTS_DIR / "band" / "candidate_classifier.npz"
#: Keys of a segmentator checkpoint's ``calibration``: the thresholds on the segmentator score at 1 and
#: at CLUSTER_CALIBRATION_FP false positives per typical mammogram, with which the networks alone
#: decide the mask as a candidate classifier does (``operating_threshold`` then lists and outlines).
DECISION_THRESHOLD_KEY = "decision_threshold"
CLUSTER_THRESHOLD_KEY = "cluster_threshold"
#: Sentinel for ``Pipeline.from_weights(classifier_path=...)``: the file next to the segmentator's.
BESIDE_SEGMENTATOR = "beside-segmentator"
#: Sentinel for ``Pipeline.from_weights(coarse_dir=...)``: the bundled coarse weights, when the
#: networks asked for are the bundled ones and no working pixel was forced.
BUNDLED_COARSE = "bundled-coarse"
#: Sentinel for ``Pipeline.from_weights(native_dir=...)``: the bundled native networks, where the bundled
#: 0.07 mm and coarse networks are both in use at the default routing.
BUNDLED_NATIVE = "bundled-native"
#: The two sets of networks a pipeline may hold: ``fine`` works at its own (0.07 mm) working pixel,
#: ``coarse`` serves inputs of ``coarse_input_min_spacing_mm`` and coarser (see :meth:`Pipeline.route_of`).
ROUTES = ("fine", "coarse")
#: Checkpoint key: [finest, coarsest] pixel size in mm of the labelled images a retraining fitted it on.
LABELLED_SPACING_META = "labelled_spacing_mm"
#: Segmentator checkpoint key: the score at which the pipeline draws a kept calcification's own mask
#: (PipelineConfig.outline_threshold), where one was calibrated (benchmarks/choose_outline_threshold.py).
OUTLINE_THRESHOLD_META = "outline_threshold"


class WeightsError(RuntimeError):
    """Missing or unusable model weights."""


def load_network(path: str | Path, role: str) -> tuple[PatchCNN, dict[str, Any]]:
    """Load a checkpoint written by the trainer; returns the network and its metadata."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"no {role} weights at {path}; train them with `mcseg train`")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        model = PatchCNN.from_checkpoint(ckpt)
    except Exception as exc:
        raise WeightsError(f"{path} is not a usable {role} checkpoint: {exc}") from exc
    if ckpt.get("role") not in (None, role):
        raise WeightsError(f"{path} holds a {ckpt.get('role')} network, not a {role}")
    meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "network")}
    meta["path"] = str(path)
    meta["network"] = ckpt["network"]
    return model, meta


@dataclass
class SegmentationResult:
    """Everything one run produces, in the input image's pixel frame."""

    mammogram: Mammogram
    frame: WorkingFrame
    mask: np.ndarray                       # uint8 (rows, cols): 1 = calcification
    calcifications: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    detector: DetectorResult | None
    seconds: float
    timings_s: dict[str, float]
    settings: dict[str, Any]
    weights: dict[str, Any]
    probability: np.ndarray | None = field(default=None, repr=False)  # working frame
    #: Pixels (input frame) of sub-threshold candidates whose views disagree (uncertainty >=
    #: UNCERTAIN_SPREAD); empty with one view. Not part of the mask.
    uncertain: np.ndarray | None = field(default=None, repr=False)
    #: (n_calcifications, n_features) second-stage features, rows in ``calcifications`` order
    #: (kept when asked for, or when the candidate classifier ran).
    candidate_features: np.ndarray | None = field(default=None, repr=False)
    #: {"run": n, "of": N}: symmetry views averaged (fewer than asked when a time budget cut them).
    symmetry_views: dict[str, int] | None = None

    def label_map(self, with_uncertain: bool = False) -> np.ndarray:
        """uint8: 1 calcification; with ``with_uncertain`` also 2 where the models disagree below the threshold."""
        if not with_uncertain or self.uncertain is None:
            return self.mask
        return np.where(self.mask > 0, self.mask, self.uncertain.astype(np.uint8) * UNCERTAIN_VALUE).astype(np.uint8)

    def candidate_boxes_px(self) -> list[dict[str, Any]]:
        """Flagged detector windows as boxes in the input frame."""
        return [] if self.detector is None else _candidate_boxes(self.frame, self.detector)

    def to_json(self) -> dict[str, Any]:
        """The output contract (see README, "Output")."""
        findings = {"calcifications": self.calcifications, "clusters": self.clusters,
                    "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()}}
        if self.detector is not None:
            findings["detector_windows"] = self.detector.summary()
        if self.symmetry_views is not None:
            findings["symmetry_views"] = self.symmetry_views
        return result_document(self, findings)


@dataclass
class CandidateResult:
    """The detector stage alone: flagged windows, in the input image's pixel frame."""

    mammogram: Mammogram
    frame: WorkingFrame
    mask: np.ndarray                       # uint8 (rows, cols): 1 = inside a flagged window
    boxes: list[dict[str, Any]]            # {"bbox_px": [r0, c0, r1, c1], "score"}
    detector_windows: dict[str, int]       # classified / above threshold / segmented / over budget
    seconds: float
    settings: dict[str, Any]
    weights: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return result_document(self, {"candidates": self.boxes, "windows": self.detector_windows["windows"],
                                "detector_windows": self.detector_windows})


def result_document(result, findings: dict[str, Any]) -> dict[str, Any]:
    """A result as JSON: the image and its geometry, the findings, then how they were obtained (any
    result with ``mammogram``, ``frame``, ``seconds``, ``settings`` and ``weights``)."""
    mammo = result.mammogram
    return {
        "image": Path(mammo.path).name,
        "shape": list(mammo.shape),
        "spacing_mm": [round(v, 6) for v in mammo.spacing_mm],
        **findings,
        "seconds": round(result.seconds, 3),
        "input": mammo.describe_input(),
        "working_frame": result.frame.describe(),
        "settings": result.settings,
        "weights": result.weights,
        "mcseg_version": __version__,
    }


def _candidate_boxes(frame: WorkingFrame, detection: DetectorResult) -> list[dict[str, Any]]:
    """Flagged detector windows as boxes in the input frame, with their scores."""
    return [{"bbox_px": _box_to_input(frame, tuple(box)), "score": round(float(score), 4)}
            for box, score in zip(detection.boxes_px(), detection.scores[detection.flagged])]


def _box_to_input(frame: WorkingFrame, box: tuple[int, int, int, int]) -> list[int]:
    r0, c0, r1, c1 = box
    rows, cols = frame.to_input_px(np.array([r0, r1 - 1]), np.array([c0, c1 - 1]))
    rows, cols = rows.clip(0, frame.input_shape[0] - 1), cols.clip(0, frame.input_shape[1] - 1)
    return [int(np.floor(rows.min())), int(np.floor(cols.min())),
            int(np.ceil(rows.max())) + 1, int(np.ceil(cols.max())) + 1]


class DeviceError(ValueError):
    """The device asked for does not exist here."""


def resolve_backend(backend: str, device: torch.device) -> str:
    """What runs the networks: "onnxruntime" or "torch" (see defaults.INFERENCE_BACKEND)."""
    if backend not in INFERENCE_BACKENDS:
        raise DeviceError(f"backend {backend!r}: choose one of {', '.join(INFERENCE_BACKENDS)}")
    if backend == "torch":
        return "torch"
    installed = onnxruntime_available()
    if backend == "onnxruntime" and not installed:
        raise DeviceError("backend 'onnxruntime' asked for, but onnxruntime (and onnx) are not installed")
    if backend == "onnxruntime" and device.type != "cpu":
        raise DeviceError("the onnxruntime backend runs on the CPU only; on CUDA PyTorch runs the networks")
    return "onnxruntime" if installed and device.type == "cpu" else "torch"


def resolve_device(device: str) -> torch.device:
    """"auto": the first CUDA device when PyTorch sees one, else the CPU; otherwise as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise DeviceError(f"{device!r} is not a device name (auto, cpu, cuda, cuda:1 ...)") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {device!r} asked for, but PyTorch sees no CUDA device here")
    if resolved.type not in ("cpu", "cuda"):
        raise DeviceError(f"device {device!r}: only the CPU and CUDA are supported")
    return resolved


class _Runners:
    """The ONNX Runtime sessions of one pair of networks, built on first use; one pipeline is shared by the
    server's threads, and its twins share its sessions."""

    def __init__(self) -> None:
        self.dense: OnnxDenseRunner | None = None
        self.window: OnnxWindowRunner | None = None
        self.lock = threading.Lock()


class Pipeline:
    """Detector and segmentator networks plus the settings that tie them together."""

    def __init__(
        self,
        detector: PatchCNN,
        segmentator: PatchCNN,
        config: PipelineConfig = PipelineConfig(),
        weights: dict[str, Any] | None = None,
        classifier: CandidateClassifier | None = None,
        coarse: "Pipeline | None" = None,
        score_decision: tuple[float, float | None] | None = None,
        given_config: PipelineConfig | None = None,
        fallback: "Pipeline | None" = None,
    ):
        self.config = config.resolved()
        #: The settings as the caller gave them, before the weights filled the unset ones: what a
        #: batch worker passes to from_weights to build the same pipeline (the resolved config would
        #: force the working pixel and so turn off the routing to the coarse weights).
        self.given_config = config if given_config is None else given_config
        #: Serves inputs whose pixel is config.coarse_input_min_spacing_mm or coarser (see :meth:`for_input`).
        self.coarse = coarse
        #: Serves the fine route's inputs that :meth:`covers` says this pipeline's site labels do not.
        self.fallback = fallback
        #: The native networks alone, for config.native_alone_below_mm (:meth:`route_of`); None: off.
        self.native_alone: "Pipeline | None" = None
        #: (scores, reported) of a piecewise-linear map on which the networks alone report their scores, after
        #: every decision is made on their own (the native networks alone on the coarse classifier's scale,
        #: so that a set mixing the two routes ranks their candidates alike); None: the score as it is.
        self.score_scale: tuple[tuple[float, ...], tuple[float, ...]] | None = None
        #: The native networks with the band classifier, for that band's inputs that name no detector; None: off.
        self.native_band: "Pipeline | None" = None
        self.device = resolve_device(self.config.device)
        self.detector = detector.eval().to(self.device)
        self.segmentator = segmentator.eval().to(self.device)
        self.backend = resolve_backend(self.config.backend, self.device)
        # ONNX Runtime sessions, built on first use (an export each, 0.1-0.3 s), shared with every twin
        # that runs the same networks (with_decisions, the native networks alone)
        self._runners = _Runners()
        self.classifier = classifier if self.config.use_candidate_classifier else None
        #: Networks alone: (decision, cluster) thresholds on the segmentator score that decide the mask as a
        #: classifier's do, from the segmentator's calibration; None: the operating threshold decides.
        self.score_decision = score_decision if self.classifier is None else None
        # A classifier's features describe the candidates it was fitted on: unless the caller set
        # the candidate kind, list them as it was fitted (one per region where it does not say).
        if self.config.candidate_peak_separation_mm is None and self.classifier is not None:
            self.config = self.config.with_(candidate_peak_separation_mm=self.classifier.meta.get(PEAK_SEPARATION_META))
        # Likewise the symmetry views: its features (the score, the views' spread) were measured over them.
        if self.config.segmentator_symmetries is None:
            fitted = self.classifier.meta.get(SYMMETRIES_META) if self.classifier is not None else None
            self.config = replace(self.config, segmentator_symmetries=int(fitted or SEGMENTATOR_SYMMETRIES))
        self.weights = dict(weights or {})
        if self.classifier is not None:
            self.weights["candidate_classifier"] = self.classifier.summary()

    @classmethod
    def from_weights(
        cls,
        detector_path: str | Path | None = None,
        segmentator_path: str | Path | None = None,
        config: PipelineConfig | None = None,
        classifier_path: str | Path | None = BESIDE_SEGMENTATOR,
        coarse_dir: str | Path | None = BUNDLED_COARSE,
        coarse_weights: tuple[str | Path, str | Path] | None = None,
        fallback_weights: tuple[str | Path, str | Path] | None = None,
        native_dir: str | Path | None = BUNDLED_NATIVE,
    ) -> "Pipeline":
        """Load the networks (the bundled default weights when no path is given) and the candidate
        classifier: by default the one in the segmentator's folder, if there is one; None = none.

        ``coarse_dir`` holds detector.pt and segmentator.pt working at a coarser pixel, used for
        inputs of COARSE_INPUT_MIN_SPACING_MM and coarser. By default the bundled coarse weights,
        where they exist, and only beside the bundled networks (retrained networks serve every
        input) and when the config does not force a working pixel; None = never. ``coarse_weights``
        (detector, segmentator) names the two files outright, as the app does when a site has retrained
        one of them; it too gives way to a forced working pixel. ``fallback_weights`` (detector,
        segmentator: the bundled 0.07 mm networks, as the app passes them) serve the inputs of the fine
        route whose pixel band the fine segmentator's site labels do not cover (:meth:`covers`).

        ``native_dir`` (detector.pt, segmentator.pt, and their classifier): 0.07 mm networks that have
        seen real digital anatomy, for native 0.06-0.08 mm FFDM. By default the bundled ones, where the
        bundled 0.07 mm networks are asked for beside coarse ones at the default routing (not with
        ``coarse_from_mm`` of 0.08 or coarser, which asks for the 0.07 mm networks there); the pipeline
        is then the native one, with the bundled 0.07 mm networks as its fallback for finer inputs (film)
        and the coarse ones from 0.08 mm (:meth:`covers`, :meth:`coarse_from_mm`); None = never."""
        bundled = {Path(p or d).resolve() for p, d in ((detector_path, DEFAULT_DETECTOR_WEIGHTS),
                                                         (segmentator_path, DEFAULT_SEGMENTATOR_WEIGHTS))} \
            == {DEFAULT_DETECTOR_WEIGHTS.resolve(), DEFAULT_SEGMENTATOR_WEIGHTS.resolve()}
        coarse = None
        forced = config is not None and config.working_spacing_mm is not None
        if coarse_dir == BUNDLED_COARSE:
            coarse_dir = DEFAULT_COARSE_WEIGHTS_DIR if bundled and not forced else None
        if coarse_weights is None and coarse_dir is not None:
            coarse_weights = (Path(coarse_dir) / "detector.pt", Path(coarse_dir) / "segmentator.pt")
        if native_dir == BUNDLED_NATIVE:
            default_routing = config is None or config.coarse_input_min_spacing_mm <= COARSE_INPUT_MIN_SPACING_MM
            native_dir = (DEFAULT_NATIVE_WEIGHTS_DIR if bundled and not forced and default_routing
                          and fallback_weights is None and coarse_weights is not None else None)
        if native_dir is not None and (Path(native_dir) / "segmentator.pt").is_file():
            native = cls.from_weights(Path(native_dir) / "detector.pt", Path(native_dir) / "segmentator.pt", config,
                                      classifier_path, coarse_dir=None, coarse_weights=coarse_weights,
                                      fallback_weights=(DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS),
                                      native_dir=None)
            asked = config or PipelineConfig()
            if asked.native_alone_below_mm is not None and asked.native_alone_inputs != "none":
                alone = cls.from_weights(Path(native_dir) / "detector.pt", Path(native_dir) / "segmentator.pt",
                                         asked.with_(use_candidate_classifier=False), None, coarse_dir=None,
                                         native_dir=None)
                # Its decisions at its own calibrated point (defaults.NATIVE_ALONE_DECISION_THRESHOLD), the
                # operating threshold listing the candidates and admitting cluster members as for 0.07 mm.
                alone.score_decision = (NATIVE_ALONE_DECISION_THRESHOLD, alone.config.operating_threshold)
                alone.share_networks(native)
                # Reported on the scale of the coarse classifier, which served the band's other inputs when the
                # twelfth rule of choose_native_networks.py chose it (the band classifier that serves them since
                # the thirteenth sits within 0.005 of it at 1 FP): the two thresholds of each at 4 and 1 false
                # positives per typical mammogram meet.
                scale = native.coarse.classifier if native.coarse is not None else None
                if scale is not None and scale.meta.get(CLUSTER_THRESHOLD_META) is not None:
                    alone.score_scale = ((0.0, NATIVE_ALONE_THRESHOLD_AT_4_FP, NATIVE_ALONE_DECISION_THRESHOLD, 1.0),
                                         (0.0, float(scale.meta[CLUSTER_THRESHOLD_META]),
                                          float(scale.operating_threshold), 1.0))
                native.native_alone = alone
                if (asked.native_alone_inputs == "detector" and asked.native_band_classifier
                        and asked.use_candidate_classifier and DEFAULT_NATIVE_BAND_CLASSIFIER.is_file()):
                    native.native_band = cls.from_weights(
                        Path(native_dir) / "detector.pt", Path(native_dir) / "segmentator.pt", asked,
                        DEFAULT_NATIVE_BAND_CLASSIFIER, coarse_dir=None, native_dir=None).share_networks(native)
            return native
        if coarse_weights is not None and not forced and Path(coarse_weights[1]).is_file():
            coarse = cls.from_weights(*coarse_weights, config, classifier_path, coarse_dir=None, native_dir=None)
        fallback = None
        if fallback_weights is not None and not forced:
            fallback = cls.from_weights(*fallback_weights, config, classifier_path, coarse_dir=None, native_dir=None)
        segmentator_path = Path(segmentator_path or DEFAULT_SEGMENTATOR_WEIGHTS)
        det, det_meta = load_network(detector_path or DEFAULT_DETECTOR_WEIGHTS, "detector")
        seg, seg_meta = load_network(segmentator_path, "segmentator")
        classifier = None
        if classifier_path == BESIDE_SEGMENTATOR:
            beside = classifier_beside(segmentator_path)
            classifier = CandidateClassifier.load(beside) if beside.is_file() else None
        elif classifier_path is not None:
            classifier = CandidateClassifier.load(classifier_path)
        # Settings that belong to the weights (the pixel size they were trained at,
        # the threshold calibrated on validation images) fill the fields the
        # caller left unset (None); an explicit value always wins.
        trained_at = {det_meta.get("working_spacing_mm"), seg_meta.get("working_spacing_mm")} - {None}
        calibrated = seg_meta.get("operating_threshold")
        told_threshold = config is not None and config.operating_threshold is not None
        if classifier is not None and (config is None or config.use_candidate_classifier):
            # The classifier scores candidates listed as in its fit: at the threshold recorded there.
            calibrated = classifier.meta.get(LISTING_THRESHOLD_META, calibrated)
        given = config or PipelineConfig()
        config = given.resolved(
            working_spacing_mm=float(trained_at.pop()) if len(trained_at) == 1 else None,
            operating_threshold=float(calibrated) if calibrated is not None else None)
        if given.outline_threshold is None and seg_meta.get(OUTLINE_THRESHOLD_META) is not None:
            config = config.with_(outline_threshold=float(seg_meta[OUTLINE_THRESHOLD_META]))
        # Networks alone, at the calibrated operating threshold: the decision and cluster thresholds
        # calibrated per typical mammogram decide the mask (an explicit --operating-threshold decides alone).
        calibration = seg_meta.get("calibration") or {}
        decision = calibration.get(DECISION_THRESHOLD_KEY)
        score_decision = None
        if decision is not None and not told_threshold:
            score_decision = (float(decision), calibration.get(CLUSTER_THRESHOLD_KEY))
        return cls(det, seg, config, {"detector": _summary(det_meta), "segmentator": _summary(seg_meta)},
                   classifier, coarse, score_decision, given, fallback)

    def share_networks(self, other: "Pipeline") -> "Pipeline":
        """This pipeline running ``other``'s networks and ONNX Runtime sessions, loaded from the same files: one
        copy in memory (a server holds every route's pipeline)."""
        self.detector, self.segmentator, self._runners = other.detector, other.segmentator, other._runners
        return self

    #: Settings that change only what is decided from the networks' output, never the output itself.
    DECISION_SETTINGS = frozenset({"classifier_threshold", "cluster_threshold", "outline_threshold"})

    def with_decisions(self, **changes: float | None) -> "Pipeline":
        """This pipeline with other decision thresholds (``DECISION_SETTINGS``; None leaves one as it
        is), sharing its networks, inference sessions and classifier: cheap enough per request."""
        unknown = set(changes) - self.DECISION_SETTINGS
        if unknown:
            raise ValueError(f"not decision settings: {sorted(unknown)}")
        if all(v is None for v in changes.values()):
            return self
        twin = copy.copy(self)
        twin.config = self.config.with_(**changes)
        twin.given_config = self.given_config.with_(**changes)
        twin.coarse = self.coarse.with_decisions(**changes) if self.coarse is not None else None
        twin.fallback = self.fallback.with_decisions(**changes) if self.fallback is not None else None
        twin.native_alone = self.native_alone.with_decisions(**changes) if self.native_alone is not None else None
        twin.native_band = self.native_band.with_decisions(**changes) if self.native_band is not None else None
        return twin

    @property
    def labelled_spacing_mm(self) -> list[float] | None:
        """[finest, coarsest] pixel size of the site labels the segmentator was retrained on, if it was."""
        return self.weights.get("segmentator", {}).get(LABELLED_SPACING_META)

    def coarse_from_mm(self) -> float:
        """The pixel size from which the coarse networks serve: ``config.coarse_input_min_spacing_mm``
        (COARSE_INPUT_MIN_SPACING_MM), or RETRAINED_FINE_MAX_SPACING_MM once this pipeline's segmentator
        has been retrained on labelled images at least that coarse (it has then seen their anatomy)."""
        edge = self.config.coarse_input_min_spacing_mm
        labelled = self.labelled_spacing_mm
        if labelled and max(labelled) >= edge:
            return max(edge, RETRAINED_FINE_MAX_SPACING_MM)
        return edge

    def route_of(self, spacing_mm: tuple[float, float], digital_detector: bool = False) -> str:
        """Which networks find the calcifications of an input of this pixel size: ``native-alone`` from
        :meth:`coarse_from_mm` up to ``config.native_alone_below_mm`` where that option is on (for a
        ``digital_detector`` image only, unless ``config.native_alone_inputs`` is "all"), and ``native-band``
        for that band's other inputs where the band classifier serves them, and for the other inputs from
        NATIVE_BAND_FROM_MM up to there too (detector images there keep this pipeline); ``coarse`` from
        :meth:`coarse_from_mm` on, where there are coarse networks; else ``fine``. A site's labels of the band
        that retrained the coarse networks give it back to them."""
        size = min(spacing_mm)
        if (self.native_alone is not None and self.coarse_from_mm() <= size < self.config.native_alone_below_mm
                and not self._site_coarse_band()):
            if digital_detector or self.config.native_alone_inputs == "all":
                return "native-alone"
            if self.native_band is not None:
                return "native-band"
        if (self.native_band is not None and not digital_detector
                and NATIVE_BAND_FROM_MM <= size < self.coarse_from_mm()):
            return "native-band"
        if self.coarse is not None and size >= self.coarse_from_mm():
            return "coarse"
        return "fine"

    def _site_coarse_band(self) -> bool:
        """Whether a site's labels finer than ``config.native_alone_below_mm`` retrained the coarse networks:
        they then serve those inputs, detector images included, as they were taught them (a saved label
        must change what serves its image)."""
        labelled = self.coarse.labelled_spacing_mm if self.coarse is not None else None
        return bool(labelled) and min(labelled) < self.config.native_alone_below_mm

    def training_route_of(self, spacing_mm: tuple[float, float]) -> str:
        """Which networks a saved label of an image of this pixel size retrains: the fine ones below
        RETRAINED_FINE_MAX_SPACING_MM (or the site's coarser edge), the coarse ones from there on.
        After such a retraining :meth:`route_of` sends those inputs to the networks their labels trained."""
        edge = max(self.config.coarse_input_min_spacing_mm, RETRAINED_FINE_MAX_SPACING_MM)
        return "coarse" if self.coarse is not None and min(spacing_mm) >= edge else "fine"

    def covers(self, spacing_mm: tuple[float, float]) -> bool:
        """Whether this pipeline's networks have seen inputs of this pixel band: always, unless its
        segmentator was retrained on a site's labels (``labelled_spacing_mm``) that all lie in the other
        band (finer than ``config.coarse_input_min_spacing_mm``, film and 0.05 mm detectors, or from there
        on, native FFDM). Retrained on one kind, a network forgets the other (benchmarks/site_retraining.py:
        18.6 false calcifications per film after 24 FFDM labels, 2.1 before)."""
        labelled = self.labelled_spacing_mm
        if not labelled:
            return True
        edge = self.config.coarse_input_min_spacing_mm
        finest, this, coarsest = (int(mm >= edge) for mm in (min(labelled), min(spacing_mm), max(labelled)))
        return finest <= this <= coarsest

    def for_input(self, mammo: Mammogram) -> "Pipeline":
        """The pipeline that serves ``mammo``: :meth:`served_at` its pixel size and detector."""
        return self.served_at(mammo.spacing_mm, mammo.digital_detector)

    def served_at(self, spacing_mm: tuple[float, float], digital_detector: bool = False) -> "Pipeline":
        """The pipeline that serves inputs of this pixel size (from a digital detector or not): the native
        networks alone or the coarse ones (:meth:`route_of`), else this one where it :meth:`covers` the pixel
        band or there is no fallback, else the fallback."""
        route = self.route_of(spacing_mm, digital_detector)
        if route == "native-alone":
            return self.native_alone
        if route == "native-band":
            return self.native_band
        if route == "coarse":
            return self.coarse
        if self.fallback is not None and not self.covers(spacing_mm):
            return self.fallback
        return self

    def routes(self) -> list[dict[str, Any]]:
        """The pixel bands of the inputs and the networks that serve each, finest first: ``from_mm``
        (inclusive), ``below_mm`` (None: no upper end), ``inputs`` ("any"; where the header decides, one band
        for "digital detector" images and one for the "other" inputs) and what :meth:`served_at` gives there."""
        edges = sorted({self.config.coarse_input_min_spacing_mm, self.coarse_from_mm()}
                       | ({self.config.native_alone_below_mm} if self.native_alone is not None else set()))
        bounds = [0.0, *edges, None]
        bands: list[dict[str, Any]] = []
        last: dict[str, dict[str, Any]] = {}  # the band each kind of input was last served by
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            at = (lo, lo) if lo > 0 else (edges[0] / 2,) * 2
            by_kind = {"digital detector": self.served_at(at, True), "other": self.served_at(at, False)}
            if by_kind["digital detector"] is by_kind["other"]:
                by_kind = {"any": by_kind["other"]}
            for inputs, served in by_kind.items():
                previous = last.get(inputs)
                if previous is not None and previous is bands[-1] and previous["pipeline"] is served:
                    previous["below_mm"] = hi
                    continue
                cfg = served.config
                band = {"from_mm": lo, "below_mm": hi, "inputs": inputs, "pipeline": served,
                        "detector": served.weights["detector"].get("path"),
                        "segmentator": served.weights["segmentator"].get("path"),
                        "working_spacing_mm": cfg.working_spacing_mm, "symmetry_views": cfg.segmentator_symmetries,
                        "candidate_classifier": served.classifier is not None,
                        "operating_point": (served.classifier.operating_threshold if served.classifier is not None
                                            else served.score_decision[0] if served.score_decision is not None
                                            else cfg.operating_threshold)}
                bands.append(band)
                last[inputs] = band
        return bands

    def prepare(self, mammo: Mammogram) -> WorkingFrame:
        return to_working_frame(mammo, self.config.working_spacing_mm, self.config.normalise_laterality)

    def run(
        self,
        mammo: Mammogram,
        progress: bool = False,
        use_detector: bool = True,
        roi_px: tuple[int, int, int, int] | None = None,
        keep_probability: bool = False,
        keep_features: bool = False,
    ) -> SegmentationResult:
        """Segment ``mammo``.

        With ``use_detector=False`` the segmentator classifies every breast pixel
        (or every pixel of ``roi_px`` = r0, c0, r1, c1 in the input frame). ``keep_features``
        keeps the second-stage features of every listed calcification (training the classifier).
        """
        served = self.for_input(mammo)
        if served is not self:
            size = min(mammo.spacing_mm)
            finely = served is self.coarse and self.config.fine_outline and size <= FINE_OUTLINE_MAX_SPACING_MM \
                and abs(size - served.config.working_spacing_mm) > FINE_OUTLINE_SKIP_NEAR_WORKING_MM
            if finely and served.config.outline_threshold is not None:
                # The fine outline starts from the operating threshold's mask (an outline threshold of 0
                # draws there: a mask is drawn at the higher of the two).
                served = served.with_decisions(outline_threshold=0.0)
            result = served.run(mammo, progress, use_detector, roi_px, keep_probability, keep_features)
            if finely:
                self._outline_finely(result)
            return result
        cfg = self.config
        timings: dict[str, float] = {}
        start = t = time.perf_counter()
        with torch.inference_mode():
            frame = self.prepare(mammo)
            timings["preprocess"] = time.perf_counter() - t

            t = time.perf_counter()
            detection = self.detect(frame, progress).within_budget(cfg.max_flagged_share) if use_detector else None
            region = self.candidate_region(frame, detection, roi_px)
            timings["detector"] = time.perf_counter() - t

            t = time.perf_counter()
            views_run: dict[str, int] = {}
            deadline = None if cfg.time_budget_s is None else start + cfg.time_budget_s
            prob, spread = self.segment(frame, region, progress, with_spread=True, deadline=deadline,
                                        views_run=views_run)
            timings["segmentator"] = time.perf_counter() - t

        t = time.perf_counter()
        separation = cfg.candidate_peak_separation_mm
        calcs = find_calcifications(prob, cfg.operating_threshold, cfg.candidate_threshold,
                                    round(cfg.fragment_gap_mm / cfg.working_spacing_mm),
                                    round(cfg.candidate_rim_mm / cfg.working_spacing_mm),
                                    None if separation is None else max(1, round(separation / cfg.working_spacing_mm)))
        features = None
        if calcs and (keep_features or self.classifier is not None):
            features = candidate_features(
                frame.image, frame.breast, prob, spread, _feature_points(prob, calcs),
                np.array([c.score for c in calcs]), np.array([c.area_px for c in calcs]),
                float(np.mean(frame.spacing_mm)), float(np.mean(frame.input_spacing_mm)))
        prob_in = frame.map_to_input(prob)
        if calcs and (self.classifier is not None or self.score_decision is not None):
            if self.classifier is not None:
                calcs, features = self._rescore(calcs, features)
            else:
                for calc in calcs:
                    calc.above_operating = bool(calc.score >= self.score_decision[0])
            self._promote_clustered(calcs, frame.spacing_mm)
            if self.score_scale is not None:  # after every decision, which are made on the networks' own scale
                for calc in calcs:
                    calc.segmentator_score = calc.score
                    calc.score = float(np.interp(calc.score, *self.score_scale))
            mask = (frame.map_to_input(self._kept_pixels(prob, calcs).astype(np.float32)) >= 0.5).astype(np.uint8)
        else:
            mask = (prob_in >= cfg.operating_threshold).astype(np.uint8)
        calc_json, cluster_json = self._describe(frame, calcs, prob, spread)
        uncertain = None
        if spread is not None:
            uncertain = np.zeros(mask.shape, bool)
            for calc, doc in zip(calcs, calc_json):
                if not doc["in_mask"] and (doc["uncertainty"] or 0) >= UNCERTAIN_SPREAD:
                    r0, c0, r1, c1 = _box_to_input(frame, calc.bbox_px)
                    uncertain[r0:r1, c0:c1] |= prob_in[r0:r1, c0:c1] >= cfg.candidate_threshold
            uncertain &= mask == 0
        timings["postprocess"] = time.perf_counter() - t
        seconds = time.perf_counter() - start
        return SegmentationResult(
            mammogram=mammo, frame=frame, mask=mask, calcifications=calc_json, clusters=cluster_json,
            detector=detection, seconds=seconds, timings_s=timings,
            settings=cfg.to_dict() | {"used_detector": use_detector, "roi_px": list(roi_px) if roi_px else None,
                                      "mask_threshold": self.mask_threshold(),
                                      "inference_backend": self.backend},
            weights=self.weights, probability=prob if keep_probability else None, uncertain=uncertain,
            candidate_features=features, symmetry_views=views_run,
        )

    def mask_threshold(self) -> float:
        """The reported score from which a candidate is in the mask (cluster members may join below it): the
        classifier's threshold, else the networks' decision threshold on the scale they report, else the
        operating threshold."""
        if self.classifier is not None:
            told = self.config.classifier_threshold
            return float(self.classifier.operating_threshold if told is None else told)
        if self.score_decision is not None:
            decision = self.score_decision[0]
            return round(float(np.interp(decision, *self.score_scale)) if self.score_scale else float(decision), 4)
        return float(self.config.operating_threshold)

    def _outline_finely(self, result: "SegmentationResult") -> None:
        """Redraw, with this pipeline's segmentator at its finer pixel, the outline of every
        calcification in ``result``'s mask (found by the coarse pipeline): the mask, the areas in the
        JSON and the uncertain segment change; what was found, its scores and clusters do not."""
        start = time.perf_counter()
        in_mask = [c for c in result.calcifications if c["in_mask"]]
        if not in_mask:
            return
        with torch.inference_mode():
            frame = self.prepare(result.mammogram)
            coarse = frame.mask_to_working(result.mask.astype(bool))
            margin = max(1, round(FINE_OUTLINE_MARGIN_MM / self.config.working_spacing_mm))
            grown = ndi.binary_dilation(coarse, iterations=margin)
            prob = self.segment(frame, grown & frame.segmentable)
        rows, cols = frame.to_working_px(*np.array([c["centroid_px"] for c in in_mask]).T)
        owners = np.stack([np.round(rows), np.round(cols)], axis=1).astype(int)
        drawn, areas_px = refine_outlines(coarse, prob, self.config.operating_threshold, margin, owners, grown)
        pixel_mm2 = frame.spacing_mm[0] * frame.spacing_mm[1]
        for calc, area_px in zip(in_mask, areas_px):
            if area_px > 0:  # a centroid outside every neighbourhood keeps its coarse area
                calc["area_mm2"] = round(float(area_px) * pixel_mm2, 5)
        result.mask = (frame.map_to_input(drawn.astype(np.float32)) >= 0.5).astype(np.uint8)
        if result.uncertain is not None:
            result.uncertain &= result.mask == 0
        result.settings["outline"] = {"weights": self.weights["segmentator"].get("path"),
                                      "working_spacing_mm": self.config.working_spacing_mm,
                                      "threshold": self.config.operating_threshold}
        result.timings_s["outline"] = time.perf_counter() - start
        result.seconds += result.timings_s["outline"]

    def _rescore(self, calcs: list, features: np.ndarray) -> tuple[list, np.ndarray]:
        """The candidate classifier's probability becomes each calcification's score and decides
        which are in the mask; strongest first again."""
        scores = self.classifier.predict(features)
        threshold = self.config.classifier_threshold
        threshold = self.classifier.operating_threshold if threshold is None else threshold
        for calc, score in zip(calcs, scores):
            calc.segmentator_score = calc.score
            calc.score = float(score)
            calc.above_operating = bool(score >= threshold)
        order = np.argsort(-scores, kind="stable")
        return [calcs[i] for i in order], features[order]

    def _promote_clustered(self, calcs: list, spacing_mm: tuple[float, float]) -> None:
        """Candidates scored at least the cluster threshold (below the operating one) join the mask
        where they form a cluster (:func:`~mcseg.calcifications.clusters.promote_clustered`). Ours
        (issue 15): the operating point allows 1 false positive per typical mammogram, which on real
        tissue drops the weaker members of real clusters."""
        threshold = self.config.cluster_threshold
        if threshold is None:
            threshold = (self.classifier.meta.get(CLUSTER_THRESHOLD_META) if self.classifier is not None
                         else self.score_decision[1])
        if threshold is None or not calcs:
            return
        centroids_mm = np.array([c.centroid_px for c in calcs]) * np.asarray(spacing_mm)
        inside = promote_clustered(centroids_mm, np.array([c.score for c in calcs]),
                                   np.array([c.above_operating for c in calcs]), threshold,
                                   self.config.cluster_min_calcifications, self.config.cluster_area_mm2)
        for calc, keep in zip(calcs, inside):
            calc.above_operating = bool(keep)

    def _kept_pixels(self, prob: np.ndarray, calcs: list) -> np.ndarray:
        """Working-frame mask of the calcifications the classifier kept: the segmentator's own
        pixels (at the operating threshold) for those that reached it, the half-maximum blob around
        the peak (:func:`~mcseg.calcifications.components.peak_blob`) for weaker candidates the
        classifier promoted. Such a candidate's bounding box and area become its blob's: its
        candidate-level component can cover square centimetres, which its area and its cluster's
        box would otherwise take in."""
        cfg = self.config
        outline = cfg.operating_threshold if cfg.outline_threshold is None \
            else max(cfg.outline_threshold, cfg.operating_threshold)
        kept = np.zeros(prob.shape, bool)
        for c in calcs:
            if not c.above_operating:
                continue
            own_score = c.score if c.segmentator_score is None else c.segmentator_score  # None: networks alone
            if own_score >= cfg.operating_threshold:
                r0, c0, r1, c1 = c.bbox_px
                box = prob[r0:r1, c0:c1]
                drawn = box >= min(outline, own_score)  # its peak stays in the mask
                if outline > cfg.operating_threshold:  # its area shrinks with its outline
                    listed_px = max(int((box >= cfg.operating_threshold).sum()), 1)
                    c.area_px = max(1, round(c.area_px * drawn.sum() / listed_px))
                kept[r0:r1, c0:c1] |= drawn
            else:
                c.bbox_px, own = peak_blob(prob, c, max(cfg.candidate_threshold, own_score / 2))
                c.area_px = int(own.sum())
                r0, c0, r1, c1 = c.bbox_px
                kept[r0:r1, c0:c1] |= own
        return kept

    def find_candidates(self, mammo: Mammogram, progress: bool = False) -> CandidateResult:
        """Run only the detector: the windows the segmentator would classify."""
        served = self.for_input(mammo)
        if served is not self:
            return served.find_candidates(mammo, progress)
        start = time.perf_counter()
        with torch.inference_mode():
            frame = self.prepare(mammo)
            detection = self.detect(frame, progress).within_budget(self.config.max_flagged_share)
        region = self.candidate_region(frame, detection)
        mask = (frame.map_to_input(region.astype(np.float32), order=0) > 0.5).astype(np.uint8)
        boxes = _candidate_boxes(frame, detection)
        return CandidateResult(
            mammogram=mammo, frame=frame, mask=mask, boxes=boxes, detector_windows=detection.summary(),
            seconds=time.perf_counter() - start, settings=self.config.to_dict(), weights=self.weights,
        )

    # --- stages (also used by training's hard-negative mining and the benchmarks) ---

    def detect(self, frame: WorkingFrame, progress: bool = False) -> DetectorResult:
        """The detector's verdict on every window of the breast."""
        bar = self._bar(progress, "detector windows", None)
        detection = run_detector(self.detector, frame.image, frame.breast, self.config.detector_threshold,
                                 self.config.batch_size, bar, self.window_runner())
        _close(bar)
        return detection

    def candidate_region(
        self,
        frame: WorkingFrame,
        detection: DetectorResult | None,
        roi_px: tuple[int, int, int, int] | None = None,
    ) -> np.ndarray:
        """Pixels the segmentator classifies: flagged windows (or the whole breast) within the ROI, less
        the breast's flat areas (:mod:`mcseg.preprocess.flat`)."""
        region = frame.segmentable.copy() if detection is None \
            else detection.region_mask(frame.image.shape) & frame.segmentable
        if roi_px is not None:
            region &= self._roi_mask(frame, roi_px)
        return region

    def segment(self, frame: WorkingFrame, region: np.ndarray, progress: bool = False, with_spread: bool = False,
                deadline: float | None = None, views_run: dict | None = None):
        """Segmentator probabilities on ``region`` of the working frame (0 elsewhere); with
        ``with_spread`` also their standard deviation over the symmetry views (None with one view).
        ``deadline`` and ``views_run``: see :func:`~mcseg.segmentator.inference.segment_with_spread`."""
        views = self.config.segmentator_symmetries
        bar = self._bar(progress, "segmentator pixels", int(region.sum()) * views)
        prob, spread = segment_with_spread(self.segmentator, frame.image, region, self.config.segmentator_path,
                                           bar, views, with_spread, self.config.symmetry_refine_above,
                                           self.dense_runner(), deadline, views_run)
        _close(bar)
        return (prob, spread) if with_spread else prob

    def dense_runner(self) -> OnnxDenseRunner | None:
        """The ONNX Runtime session of the segmentator's dense pass; None when PyTorch runs it (or
        the segmentator is "same"-padded, which has no exact dense pass)."""
        if self.backend == "onnxruntime" and self.segmentator.config.padding == "valid":
            with self._runners.lock:
                if self._runners.dense is None:
                    self._runners.dense = OnnxDenseRunner(self.segmentator)
        return self._runners.dense

    def window_runner(self) -> OnnxWindowRunner | None:
        """The ONNX Runtime session of the detector's windows; None when PyTorch runs it."""
        if self.backend == "onnxruntime":
            with self._runners.lock:
                if self._runners.window is None:
                    self._runners.window = OnnxWindowRunner(self.detector)
        return self._runners.window

    # --- helpers ---------------------------------------------------------------

    @staticmethod
    def _bar(progress: bool, desc: str, total: int | None):
        return tqdm(total=total, desc=desc, unit="px" if "pixel" in desc else "win", leave=False) if progress else None

    @staticmethod
    def _roi_mask(frame: WorkingFrame, roi_px: tuple[int, int, int, int]) -> np.ndarray:
        r0, c0, r1, c1 = roi_px
        if not (r1 > r0 and c1 > c0):
            raise ValueError(f"roi_px {roi_px} must be (r0, c0, r1, c1) with r1 > r0 and c1 > c0")
        sr, sc = frame.scale
        rows, cols = frame.input_shape
        cols_in = np.array([c0, c1])
        if frame.flipped:
            cols_in = cols - cols_in[::-1]
        w0, w1 = int(np.floor(r0 / sr)), int(np.ceil(r1 / sr))
        v0, v1 = int(np.floor(cols_in[0] / sc)), int(np.ceil(cols_in[1] / sc))
        out = np.zeros(frame.image.shape, dtype=bool)
        out[max(w0, 0) : max(w1, 0), max(v0, 0) : max(v1, 0)] = True
        return out

    def _describe(self, frame: WorkingFrame, calcs, prob: np.ndarray,
                  spread: np.ndarray | None) -> tuple[list[dict], list[dict]]:
        return describe_findings(frame, calcs, prob, spread, self.config.cluster_min_calcifications,
                                 self.config.cluster_area_mm2)


def describe_findings(frame: WorkingFrame, calcs, prob: np.ndarray, spread: np.ndarray | None,
                      cluster_min_calcifications: int, cluster_area_mm2: float) -> tuple[list[dict], list[dict]]:
    """Calcifications (working frame) as the output contract's lists, in the input frame: each
    calcification, and the clusters of those in the mask. Shared by every model that outlines
    calcifications, so that their JSON is scored alike."""
    pixel_area_mm2 = frame.spacing_mm[0] * frame.spacing_mm[1]
    calc_json = []
    if calcs:
        cen = np.array([c.centroid_px for c in calcs])
        rows, cols = frame.to_input_px(cen[:, 0], cen[:, 1])
    for i, c in enumerate(calcs):
        calc_json.append({
            "id": i + 1,
            "centroid_px": [round(float(rows[i]), 2), round(float(cols[i]), 2)],
            "area_mm2": round(c.area_px * pixel_area_mm2, 5),
            "score": round(c.score, 4),
            **({} if c.segmentator_score is None else {"segmentator_score": round(c.segmentator_score, 4)}),
            "in_mask": c.above_operating,
            # Spread of the probability at the calcification's peak over the symmetry views:
            # 0 when every view agrees, up to 0.5 when they split; None with one view.
            "uncertainty": None if spread is None else _peak_spread(prob, spread, c.bbox_px),
        })
    strong = [i for i, c in enumerate(calcs) if c.above_operating]
    centroids_mm = np.array([[calcs[i].centroid_px[0] * frame.spacing_mm[0],
                              calcs[i].centroid_px[1] * frame.spacing_mm[1]] for i in strong]).reshape(-1, 2)
    clusters = find_clusters(centroids_mm, np.array([calcs[i].score for i in strong]),
                             cluster_min_calcifications, cluster_area_mm2)
    cluster_json = []
    for k, cl in enumerate(clusters):
        members = [strong[m] for m in cl.members]
        boxes = np.array([_box_to_input(frame, calcs[m].bbox_px) for m in members])
        centre = np.mean([calc_json[m]["centroid_px"] for m in members], axis=0)
        cluster_json.append({
            "id": k + 1,
            "members": [calc_json[m]["id"] for m in members],
            "centroid_px": [round(float(centre[0]), 2), round(float(centre[1]), 2)],
            "bbox_px": [int(boxes[:, 0].min()), int(boxes[:, 1].min()),
                        int(boxes[:, 2].max()), int(boxes[:, 3].max())],
            "score": round(cl.score, 4),
        })
    return calc_json, cluster_json


def _peak_spread(prob: np.ndarray, spread: np.ndarray, bbox_px: tuple[int, int, int, int]) -> float:
    r0, c0, r1, c1 = bbox_px
    crop = prob[r0:r1, c0:c1]
    peak = np.unravel_index(int(np.argmax(crop)), crop.shape)
    return round(float(spread[r0:r1, c0:c1][peak]), 4)


def _summary(meta: dict[str, Any]) -> dict[str, Any]:
    keys = ("path", "role", "trained_on", "trained_with", "created", "working_spacing_mm", "validation",
            "operating_threshold", "calibration", LABELLED_SPACING_META)
    out = {k: meta[k] for k in keys if k in meta}
    out["padding"] = meta["network"]["padding"]
    out["patch_size_px"] = meta["network"]["patch_size_px"]
    return out


def _close(bar) -> None:
    if bar is not None:
        bar.close()


def _feature_points(prob: np.ndarray, calcs: list) -> np.ndarray:
    """(n, 2) where each candidate's features are measured: a peak candidate's own peak, else the
    highest pixel of its box (a peak candidate shares its region's box with the region's other peaks)."""
    by_box = [i for i, c in enumerate(calcs) if c.peak_px is None]
    points = np.array([c.peak_px or (0, 0) for c in calcs], np.int64).reshape(-1, 2)
    points[by_box] = peaks_of(prob, [calcs[i].bbox_px for i in by_box])
    return points
