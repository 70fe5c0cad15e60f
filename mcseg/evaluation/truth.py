"""Ground truth for evaluation: masks, point/contour JSON, and the mini-MIAS Info.txt.

Every reader returns :class:`GroundTruth` in the image's own pixel frame
(row, col from the top-left corner).

JSON format (the generator's ``S.gt.json`` is one)::

    {"shape": [rows, cols], "spacing_mm": [row, col],          # optional
     "mask": "S.gt.nrrd",                                       # optional, next to the JSON
     "calcifications": [{"centroid_px": [r, c], "contour_px": [[r, c], ...]}],   # contour optional
     "clusters": [{"contour_px": [[r, c], ...]} | {"centre_px": [r, c], "radius_mm": 4.0}
                  | {"centre_px": [r, c], "radius_px": 20} | {"centre_px": [r, c]}],
     "ignore": [{"centre_px": [r, c], "radius_mm": 1.0}]}      # optional, needs spacing_mm

``ignore`` circles hold real findings that the truth does not list (the real calcifications of a
background image that synthetic ones were inserted into): a detection there that hits no listed
calcification is neither a hit nor a false positive, as in the ignore regions of detection benchmarks.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from skimage.draw import polygon as fill_polygon

from mcseg.io.errors import EmptyLabelError, UnreadableImageError
from mcseg.io.labels import read_label_image

#: mini-MIAS: 1024 x 1024 pixels of 0.2 mm (the database's documentation).
MIAS_SIZE_PX = 1024
MIAS_SPACING_MM = 0.2


@dataclass
class TruthCluster:
    centre_px: tuple[float, float]
    radius_px: float | None = None                 # a circle (mini-MIAS, the generator)
    contour_px: np.ndarray | None = None           # (n, 2) polygon rows, cols


@dataclass
class GroundTruth:
    image: str
    centres_px: np.ndarray                          # (n, 2) calcification centroids
    regions: np.ndarray | None = None               # int labels: k + 1 is calcification k (None: points only)
    clusters: list[TruthCluster] = field(default_factory=list)
    mask: np.ndarray | None = None                  # bool pixel mask, for Dice/IoU
    spacing_mm: tuple[float, float] | None = None
    shape: tuple[int, int] | None = None
    calcifications_annotated: bool = True           # False: cluster-level only (mini-MIAS)
    unlocated_clusters: int = 0                     # annotated without a position (mini-MIAS "NOTE 3")
    clusters_given: bool = False                    # False: derive clusters from the calcifications
    ignore: list[TruthCluster] = field(default_factory=list)   # circles not scored (see the module doc)

    @property
    def n_calcifications(self) -> int:
        return len(self.centres_px)


def truth_from_mask(image: str, mask: np.ndarray, spacing_mm: tuple[float, float] | None = None,
                    clusters: list[TruthCluster] | None = None) -> GroundTruth:
    """Calcifications are the 8-connected components of ``mask``."""
    mask = np.asarray(mask) != 0
    labels, n = ndi.label(mask, structure=np.ones((3, 3), bool))
    centres = np.asarray(ndi.center_of_mass(mask, labels, np.arange(1, n + 1))).reshape(-1, 2)
    return GroundTruth(image, centres, labels, clusters or [], mask, spacing_mm, mask.shape)


def read_truth_mask(path: str | Path, image: str | None = None) -> GroundTruth:
    """A mask file (NRRD/NIfTI/MHA/PNG/TIFF; any non-zero pixel is calcification)."""
    path = Path(path)
    arr, itk = read_label_image(path, reduce_colour=True)
    # PNG carries no calibrated pixel size: ITK reports 1, which we do not trust.
    sx, sy = itk.GetSpacing()[:2]
    spacing = None if path.suffix.lower() in (".png", ".tif", ".tiff") else (float(sy), float(sx))
    return truth_from_mask(image or _stem(path), arr, spacing)


def read_truth_json(path: str | Path, image: str | None = None) -> GroundTruth:
    """Point/contour annotations; the mask it names (if any) gives the calcification regions."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UnreadableImageError(f"{path.name}: ground-truth JSON cannot be read ({exc})") from exc
    spacing = tuple(float(v) for v in doc["spacing_mm"]) if doc.get("spacing_mm") else None
    shape = tuple(int(v) for v in doc["shape"]) if doc.get("shape") else None
    clusters = [_cluster(c, spacing) for c in doc.get("clusters", [])]
    given = "clusters" in doc
    ignore = [_cluster(c, spacing) for c in doc.get("ignore", [])]
    if any(c.radius_px is None for c in ignore):
        raise UnreadableImageError(f"{path.name}: every ignore circle needs radius_mm or radius_px")
    if doc.get("mask") and (path.parent / doc["mask"]).is_file():
        truth = read_truth_mask(path.parent / doc["mask"], image or _stem(path))
        truth.clusters, truth.clusters_given, truth.ignore = clusters, given, ignore
        truth.spacing_mm = spacing or truth.spacing_mm
        return truth
    calcs = doc.get("calcifications", [])
    centres = np.array([c["centroid_px"] for c in calcs], dtype=np.float64).reshape(-1, 2)
    regions = None
    if shape and any(c.get("contour_px") for c in calcs):
        regions = np.zeros(shape, dtype=np.int32)
        for k, c in enumerate(calcs):
            if c.get("contour_px"):
                contour = np.asarray(c["contour_px"], dtype=np.float64)
                rr, cc = fill_polygon(contour[:, 0], contour[:, 1], shape)
                regions[rr, cc] = k + 1
    return GroundTruth(image or _stem(path), centres, regions, clusters, None, spacing, shape,
                       clusters_given=given, ignore=ignore)


def _cluster(doc: dict, spacing_mm: tuple[float, float] | None) -> TruthCluster:
    contour = np.asarray(doc["contour_px"], dtype=np.float64) if doc.get("contour_px") else None
    if "centre_px" in doc:
        centre = tuple(float(v) for v in doc["centre_px"])
    elif contour is not None:
        centre = tuple(contour.mean(0))
    else:
        raise UnreadableImageError("a ground-truth cluster needs centre_px or contour_px")
    radius = doc.get("radius_px")
    if radius is None and doc.get("radius_mm") is not None:
        if spacing_mm is None:
            raise UnreadableImageError("radius_mm needs spacing_mm in the ground-truth JSON")
        radius = float(doc["radius_mm"]) / float(np.mean(spacing_mm))
    return TruthCluster(centre, None if radius is None else float(radius), contour)  # type: ignore[arg-type]


def read_mias_info(path: str | Path) -> dict[str, GroundTruth]:
    """Cluster-level truth for every image of mini-MIAS ``Info.txt``.

    Info.txt gives x, y with y measured from the BOTTOM-left corner; the pixel
    row is 1024 - y. Images without a CALC row are negatives at this level
    (masses and normals alike); CALC rows without a position ("NOTE 3",
    widely distributed calcifications) are counted but cannot be matched.
    """
    path = Path(path)
    row_re = re.compile(r"^(mdb\d{3})\s+([FGD])\s+(\w+)(?:\s+([BM]))?(?:\s+(\d+)\s+(\d+)\s+(\d+))?")
    out: dict[str, GroundTruth] = {}
    for line in path.read_text().splitlines():
        m = row_re.match(line.strip())
        if not m:
            continue
        ref, _, abn, _, x, y, r = m.groups()
        truth = out.setdefault(ref, GroundTruth(ref, np.zeros((0, 2)), spacing_mm=(MIAS_SPACING_MM,) * 2,
                                               shape=(MIAS_SIZE_PX, MIAS_SIZE_PX), calcifications_annotated=False,
                                               clusters_given=True))
        if abn != "CALC":
            continue
        if x is None:
            truth.unlocated_clusters += 1
            continue
        truth.clusters.append(TruthCluster((MIAS_SIZE_PX - float(y), float(x)), float(r)))
    if not out:
        raise EmptyLabelError(f"{path}: no mini-MIAS rows found")
    return out


#: mini-MIAS classes that are masses (CIRC circumscribed, SPIC spiculated, MISC ill-defined); ARCH
#: (architectural distortion) and ASYM (asymmetry) are not.
MIAS_MASS_CLASSES = ("CIRC", "SPIC", "MISC")


def read_mias_masses(path: str | Path) -> dict[str, list[tuple[float, float, float]]]:
    """The located masses of mini-MIAS ``Info.txt`` as (row, col, radius) in pixels (row = 1024 - y)."""
    row_re = re.compile(r"^(mdb\d{3})\s+[FGD]\s+(\w+)\s+[BM]\s+(\d+)\s+(\d+)\s+(\d+)")
    out: dict[str, list[tuple[float, float, float]]] = {}
    for line in Path(path).read_text().splitlines():
        m = row_re.match(line.strip())
        if m and m.group(2) in MIAS_MASS_CLASSES:
            ref, _, x, y, r = m.groups()
            out.setdefault(ref, []).append((MIAS_SIZE_PX - float(y), float(x), float(r)))
    return out


def find_truth(folder: str | Path, stem: str) -> GroundTruth | None:
    """The ground truth for image ``stem`` in ``folder``: S.gt.json, then a mask file."""
    folder = Path(folder)
    for name in (f"{stem}.gt.json", f"{stem}.json"):
        if (folder / name).is_file():
            return read_truth_json(folder / name, stem)
    for suffix in (".gt.nrrd", ".gt.nii.gz", ".gt.png", ".mask.nrrd", ".nrrd", ".nii.gz", ".nii", ".mha", ".png",
                   ".tif", ".tiff"):
        if (folder / f"{stem}{suffix}").is_file():
            return read_truth_mask(folder / f"{stem}{suffix}", stem)
    return None


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gt.json", ".gt.nrrd", ".gt.nii.gz", ".gt.png", ".mask.nrrd", ".nii.gz", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem
