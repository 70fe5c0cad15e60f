"""Write results: ``S.mask.nrrd`` and ``S.json`` (the output contract).

The mask carries the input file's own geometry as ITK reads it (spacing,
origin, direction), so it overlays the image in 3D Slicer; ``S.json`` states
the pixel size used for measurements and where it came from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from mcseg.io.atomic import atomic_path, atomic_write_text
from mcseg.io.reader import Mammogram


def label_image(mask: np.ndarray, mammo: Mammogram):
    """A SimpleITK image of ``mask`` (uint8) with the mammogram's ITK geometry."""
    import SimpleITK as sitk

    if mask.shape != mammo.shape:
        raise ValueError(f"mask shape {mask.shape} differs from the image's {mammo.shape}")
    image = sitk.GetImageFromArray(np.ascontiguousarray(mask, dtype=np.uint8))
    image.SetSpacing(mammo.itk_spacing)
    image.SetOrigin(mammo.itk_origin)
    image.SetDirection(mammo.itk_direction)
    return image


#: Label value -> segment name, as 3D Slicer shows it.
LABEL_NAMES = {1: "calcification"}
_SEGMENT_COLOURS = {1: "1 0.85 0.1", 2: "0.2 0.6 1"}  # yellow calcifications, blue "uncertain"


def write_label(
    mask: np.ndarray,
    mammo: Mammogram,
    path: str | Path,
    label_names: dict[int, str] | None = None,
) -> Path:
    """Write a uint8 label with the image's geometry.

    Any ITK format by extension (.nrrd, .nii.gz, .mha ...). ``.seg.nrrd`` is a
    3D Slicer segmentation: one slice, with the segment names and colours in
    the header, so Slicer loads it as named segments rather than a label map.
    """
    import SimpleITK as sitk

    path = Path(path)
    image = label_image(mask, mammo)
    if path.name.lower().endswith(".seg.nrrd"):
        image = _slicer_segmentation(image, label_names or LABEL_NAMES)
    with atomic_path(path) as tmp:
        sitk.WriteImage(image, str(tmp), useCompression=True)
    return path


def _slicer_segmentation(label, label_names: dict[int, str]):
    """A one-slice 3D label image carrying Slicer's segmentation header fields."""
    import SimpleITK as sitk

    volume = sitk.JoinSeries(label)  # (cols, rows, 1); spacing 1 and origin 0 along the new axis
    d = label.GetDirection()
    volume.SetDirection((d[0], d[1], 0.0, d[2], d[3], 0.0, 0.0, 0.0, 1.0))
    cols, rows = label.GetSize()
    present = sorted(label_names)
    for i, value in enumerate(present):
        name = label_names[value]
        for key, val in (("ID", name), ("Name", name), ("LabelValue", str(value)), ("Layer", "0"),
                         ("Color", _SEGMENT_COLOURS.get(value, "0.5 0.5 0.5")),
                         ("Extent", f"0 {cols - 1} 0 {rows - 1} 0 0"), ("Tags", "")):
            volume.SetMetaData(f"Segment{i}_{key}", val)
    volume.SetMetaData("Segmentation_MasterRepresentation", "Binary labelmap")
    volume.SetMetaData("Segmentation_ContainedRepresentationNames", "Binary labelmap|")
    volume.SetMetaData("Segmentation_ReferenceImageExtentOffset", "0 0 0")
    return volume


def write_json(document: dict[str, Any], path: str | Path) -> Path:
    return atomic_write_text(path, json.dumps(document, indent=1))  # a reader never sees half a file


def write_result(result, out_dir: str | Path, stem: str | None = None) -> dict[str, Path]:
    """Write ``S.mask.nrrd`` and ``S.json`` for a SegmentationResult."""
    out_dir = Path(out_dir)
    stem = stem or image_stem(result.mammogram.path)
    return {
        "mask": write_label(result.mask, result.mammogram, out_dir / f"{stem}.mask.nrrd"),
        "json": write_json(result.to_json(), out_dir / f"{stem}.json"),
    }


def image_stem(path: str | Path) -> str:
    """File name without its (possibly double) extension: a.nii.gz -> a."""
    name = Path(path).name
    for suffix in (".nii.gz", ".seg.nrrd"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem
