"""Inferers: thin adapters from a MONAI Label request to mcseg's Pipeline.

Every label is written with the image's own 2D geometry (the stock MONAI Label
writer drops it for 2D images), in the extension the client asks for:
``.nrrd`` (what the 3D Slicer module asks for), ``.nii.gz``, ``.seg.nrrd``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mcseg.defaults import CLUSTER_MAP_STRIDE_PX, CLUSTER_PATCH_PX
from mcseg.io.errors import InputError
from mcseg.io.labels import UNCERTAIN_VALUE
from mcseg.io.reader import Mammogram, read_mammogram
from mcseg.io.writer import LABEL_NAMES, write_label
from monailabel.interfaces.tasks.infer_v2 import InferTask, InferType

from lib.models import ModelFiles

log = logging.getLogger(__name__)

RESULT_EXTENSIONS = (".nrrd", ".seg.nrrd", ".nii.gz", ".nii", ".mha")


class RequestError(InputError):
    """A request parameter that cannot be honoured."""


class McsegInferTask(InferTask):
    """Reads the image with mcseg's reader, runs one stage, writes the label."""

    label_value_names = {name: value for value, name in LABEL_NAMES.items()}
    #: The ModelFiles role of a baseline's weights; None = the pipeline's two networks.
    weights_role: str | None = None

    def __init__(self, models: ModelFiles, description: str, spacing_mm: float | None = None,
                 type: InferType = InferType.SEGMENTATION, config: dict[str, Any] | None = None):
        super().__init__(type=type, labels=self.label_value_names, dimension=2, description=description,
                         config={"spacing_mm": spacing_mm or 0.0, **(config or {})})
        self.models = models
        self.spacing_mm = spacing_mm

    def is_valid(self) -> bool:
        roles = (self.weights_role,) if self.weights_role else ("detector", "segmentator")
        return all(self.models.path(role).is_file() for role in roles)

    def get_path(self, validate=True):
        return str(self.models.path(self.weights_role or "segmentator"))

    def __call__(self, request: dict[str, Any]):
        image = request.get("image")
        if not isinstance(image, str) or not image:
            raise RequestError("no image: pass the id of an image in the datastore, or upload one")
        spacing = _spacing_from_request(request.get("spacing_mm")) or self.spacing_mm
        mammo = read_mammogram(image, spacing_mm=spacing)
        ext = (request.get("result_extension") or ".nrrd").lower()
        if ext not in RESULT_EXTENSIONS:
            raise RequestError(f"result_extension {ext!r} is not supported; use one of {RESULT_EXTENSIONS}")
        mask, document = self.run(mammo, request)
        names = dict(self.label_value_names)
        if "uncertain" in document.get("label_values", {}):
            names["uncertain"] = UNCERTAIN_VALUE
        # A private folder: MONAI Label's client saves the result under the same
        # file name in the system temp folder, and the server deletes its copy
        # after sending; on one machine the two must not be the same file.
        results = Path(tempfile.gettempdir()) / f"mcseg-results-{os.getpid()}"
        results.mkdir(exist_ok=True)
        out = tempfile.NamedTemporaryFile(suffix=ext, prefix="mcseg-", dir=results, delete=False).name
        write_label(mask, mammo, out, label_names={v: k for k, v in names.items()})
        document["label_names"] = names
        return out, document

    def run(self, mammo: Mammogram, request: dict[str, Any]) -> tuple[np.ndarray, dict]:
        raise NotImplementedError


class PipelineInfer(McsegInferTask):
    """Both stages: the calcification mask plus calcifications and clusters (the output contract)."""

    def __init__(self, models: ModelFiles, spacing_mm: float | None = None):
        # The two operating-point thresholds: empty = the ones calibrated into the candidate classifier.
        super().__init__(models, "Microcalcifications: detector + segmentator, with clusters (Valvano 2019)",
                         spacing_mm, config={"uncertain_segment": False, "classifier_threshold": "",
                                             "cluster_threshold": ""})

    def run(self, mammo, request):
        pipeline = self.models.pipeline().with_decisions(**{
            name: _probability_from_request(request.get(name), name)
            for name in ("classifier_threshold", "cluster_threshold")})
        result = pipeline.run(mammo)
        document = result.to_json()
        document["candidates"] = result.candidate_boxes_px()
        with_uncertain = _flag(request.get("uncertain_segment"), "uncertain_segment")
        if with_uncertain:
            # Value 2 marks sub-threshold candidates whose symmetry views disagree: where to look.
            document["label_values"] = {"calcification": 1, "uncertain": UNCERTAIN_VALUE}
        return result.label_map(with_uncertain), document


class DetectorInfer(McsegInferTask):
    """The detector alone: a label of the candidate windows, and their boxes."""

    label_value_names = {"candidate region": 1}

    def __init__(self, models: ModelFiles, spacing_mm: float | None = None):
        super().__init__(models, "Candidate regions: detector windows (N x N, stride N/2) that may hold a "
                         "calcification", spacing_mm, type=InferType.DETECTION)

    def get_path(self, validate=True):
        return str(self.models.path("detector"))

    def run(self, mammo, request):
        result = self.models.pipeline().find_candidates(mammo)
        return result.mask, result.to_json()


class SegmentatorInfer(McsegInferTask):
    """The segmentator alone, on the whole breast or on a region the client passes."""

    def __init__(self, models: ModelFiles, spacing_mm: float | None = None):
        super().__init__(models, "Calcification mask from the segmentator alone, on the whole breast or on "
                         "roi_px = [r0, c0, r1, c1]", spacing_mm, config={"roi_px": []})

    def run(self, mammo, request):
        roi = _roi_px(request, mammo.shape)
        result = self.models.pipeline().run(mammo, use_detector=False, roi_px=roi)
        return result.mask, result.to_json()


class ClusterPresenceInfer(McsegInferTask):
    """Luna-Lozoya et al.'s shallow CNN: where a cluster is likely, window by window (a baseline)."""

    label_value_names = {"cluster": 1}
    weights_role = "cluster_cnn"

    def __init__(self, models: ModelFiles, spacing_mm: float | None = None):
        super().__init__(models, "Microcalcification clusters: Luna-Lozoya's shallow CNN on 1 cm^2 windows at "
                         "stride_px (a baseline beside the pipeline)", spacing_mm, type=InferType.DETECTION,
                         config={"stride_px": CLUSTER_MAP_STRIDE_PX})

    def run(self, mammo, request):
        stride = request.get("stride_px")
        stride = CLUSTER_MAP_STRIDE_PX if stride in (None, "") else stride
        if isinstance(stride, bool) or not isinstance(stride, (int, str)) or not str(stride).isdigit() \
                or not 8 <= int(stride) <= CLUSTER_PATCH_PX:
            raise RequestError(f"stride_px must be a whole number of pixels from 8 to {CLUSTER_PATCH_PX}, "
                               f"not {stride!r}")
        result = self.models.cluster_presence(stride_px=int(stride)).run(mammo)
        return result.label_map(), result.to_json()


class UNetInfer(McsegInferTask):
    """Marita et al.'s U-Net on non-overlapping tiles (a baseline): the calcification mask with
    calcifications and clusters, or with ``finding="mass"`` the mask of masses, as in the paper."""

    def __init__(self, models: ModelFiles, spacing_mm: float | None = None, finding: str = "calcification"):
        self.weights_role = "unet" if finding == "calcification" else "unet_masses"
        self.label_value_names = {finding: 1}
        description = ("Microcalcifications: Marita's U-Net on non-overlapping 9 mm tiles, with clusters (a baseline "
                       "beside the pipeline)" if finding == "calcification" else
                       "Masses: Marita's U-Net on non-overlapping 51 mm tiles at 0.2 mm, trained on mini-MIAS (a "
                       "baseline; the paper's own task)")
        super().__init__(models, description, spacing_mm)

    def run(self, mammo, request):
        result = self.models.unet(self.weights_role).run(mammo)
        return result.label_map(), result.to_json()


class CortinaInfer(McsegInferTask):
    """Cortina et al.'s pipeline 1: morphology candidates, features, SVM cascade (a baseline)."""

    label_value_names = {"calcification": 1}
    weights_role = "cortina_svm"

    def __init__(self, models: ModelFiles, spacing_mm: float | None = None):
        super().__init__(models, "Microcalcifications: Cortina's grayscale-morphology candidates, hand-crafted "
                         "features and a two-stage SVM cascade, with clusters (a baseline)", spacing_mm)

    def run(self, mammo, request):
        result = self.models.cortina().run(mammo)
        return result.label_map(), result.to_json()


class CortinaResNetInfer(McsegInferTask):
    """Cortina et al.'s pipeline 2: a ResNet patch classifier in a sliding window, detections at the
    saliency map's peaks (a baseline)."""

    label_value_names = {"calcification": 1}
    weights_role = "cortina_resnet"

    def __init__(self, models: ModelFiles, spacing_mm: float | None = None):
        super().__init__(models, "Microcalcifications: Cortina's ResNet patch classifier in a sliding window, "
                         "detections at the peaks of its saliency map, with clusters (a baseline)", spacing_mm)

    def run(self, mammo, request):
        result = self.models.cortina_resnet().run(mammo)
        return result.label_map(), result.to_json()


class CortinaDetectorInfer(McsegInferTask):
    """Cortina et al.'s pipeline 3: a CNN object detector on sliding windows, detections fused by
    non-maximum suppression (a baseline); the label marks each detection's 14 x 14 px box."""

    label_value_names = {"calcification": 1}
    weights_role = "cortina_detector"

    def __init__(self, models: ModelFiles, spacing_mm: float | None = None):
        super().__init__(models, "Microcalcifications: Cortina's CNN detector (RetinaNet, 14 px anchors) on "
                         "224 px windows, each detection's box, with clusters (a baseline)", spacing_mm)

    def run(self, mammo, request):
        result = self.models.cortina_detector().run(mammo)
        return result.label_map(), result.to_json()


def _roi_px(request: dict[str, Any], shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The region as (r0, c0, r1, c1): ``roi_px``, or the 3D Slicer ROI ``roi`` (i/j/k min-max in IJK)."""
    roi = request.get("roi_px")
    if roi:
        box = roi
    elif request.get("roi"):
        i0, i1, j0, j1 = [int(v) for v in request["roi"][:4]]  # i = column, j = row
        box = [min(j0, j1), min(i0, i1), max(j0, j1) + 1, max(i0, i1) + 1]
    else:
        return None
    try:
        r0, c0, r1, c1 = (int(v) for v in box)
    except (TypeError, ValueError) as exc:
        raise RequestError(f"roi_px must be four integers [r0, c0, r1, c1], not {box!r}") from exc
    r0, c0, r1, c1 = max(r0, 0), max(c0, 0), min(r1, shape[0]), min(c1, shape[1])
    if r1 <= r0 or c1 <= c0:
        raise RequestError(f"roi {box!r} does not overlap the {shape[0]} x {shape[1]} image")
    return r0, c0, r1, c1


def _flag(value: Any, name: str) -> bool:
    if value in (None, "", False, "false", "False", 0, "0"):
        return False
    if value in (True, "true", "True", 1, "1"):
        return True
    raise RequestError(f"{name} must be true or false, not {value!r}")


def _probability_from_request(value: Any, name: str) -> float | None:
    """A threshold from the request: absent (None, "") means "as calibrated"; else a number in [0, 1]."""
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0.0 <= number <= 1.0:  # NaN fails too
        raise RequestError(f"{name} must be a probability between 0 and 1, not {value!r}")
    return number


def _spacing_from_request(value: Any) -> float | None:
    """A pixel size from the request: absent (None, "", 0) means "not given"; anything else must be a
    number, and the reader checks its range."""
    if value in (None, "", 0, 0.0):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RequestError(f"spacing_mm must be a number in mm, not {value!r}") from None
