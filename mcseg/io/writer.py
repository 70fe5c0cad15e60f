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


def write_label(mask: np.ndarray, mammo: Mammogram, path: str | Path) -> Path:
    """Write a uint8 label (.nrrd, .seg.nrrd, .nii.gz, .mha...) with the image's geometry."""
    import SimpleITK as sitk

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(label_image(mask, mammo), str(path), useCompression=True)
    return path


def write_json(document: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(document, indent=1))
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path


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
