"""Training data: (image, label) pairs into the patch store, in the working frame."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from mcseg.io.errors import UnreadableImageError
from mcseg.io.reader import DICOM_SUFFIXES, ITK_SUFFIXES, RASTER_SUFFIXES, read_mammogram
from mcseg.patches.store import PatchStore
from mcseg.preprocess import to_working_frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = DICOM_SUFFIXES + RASTER_SUFFIXES + ITK_SUFFIXES
#: Ground-truth masks sit next to their image as ``S<suffix>`` (the generator's).
DEFAULT_LABEL_SUFFIX = ".gt.nrrd"


def find_cases(folder: str | Path, label_suffix: str = DEFAULT_LABEL_SUFFIX) -> list[tuple[Path, Path]]:
    """(image, label) pairs of a folder: every image S.* that has a label S<label_suffix>."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    cases = []
    for label in sorted(folder.glob(f"*{label_suffix}")):
        stem = label.name[: -len(label_suffix)]
        images = [p for p in folder.glob(f"{stem}.*")
                  if p != label and p.name.lower().endswith(IMAGE_SUFFIXES) and p.name[len(stem)] == "."
                  and not p.name.endswith(label_suffix) and ".gt." not in p.name]
        if images:
            cases.append((sorted(images)[0], label))
    return cases


def read_label_image(path: str | Path, reduce_colour: bool = False):
    """A 2D label file as (array, SimpleITK image); a one-slice volume (as Slicer saves) is squeezed.
    With ``reduce_colour`` a colour raster becomes its brightest channel (otherwise it is refused)."""
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise UnreadableImageError(f"{Path(path).name}: label cannot be read") from exc
    arr = sitk.GetArrayFromImage(image)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if reduce_colour and arr.ndim == 3 and arr.shape[-1] in (3, 4):
        arr = arr.max(-1)
    if arr.ndim != 2:
        raise UnreadableImageError(f"{Path(path).name}: label has shape {arr.shape}, not 2D")
    return arr, image


def read_label(path: str | Path) -> np.ndarray:
    """A label image as a boolean array (any non-zero value is calcification)."""
    return read_label_image(path)[0] != 0


def add_case_to_store(
    store: PatchStore,
    image_path: str | Path,
    label: np.ndarray,
    image_id: str,
    split: str,
    rng: np.random.Generator,
    working_spacing_mm: float,
    spacing_mm: float | None = None,
) -> dict[str, int]:
    """Read one image, bring image and label to the working frame, store its patches."""
    mammo = read_mammogram(image_path, spacing_mm=spacing_mm)
    frame = to_working_frame(mammo, working_spacing_mm)
    mask = frame.mask_to_working(label)
    return store.add_image(image_id, frame.image, frame.breast, mask, rng, split=split)


def store_mismatch(store: PatchStore, cases: list[tuple[Path, Path]]) -> str | None:
    """Why an existing patch store does not fit ``cases`` (None when it holds exactly their images).

    A store is reused between runs so a stopped run resumes; one left by an interrupted build or
    by another data folder would otherwise train silently on the wrong images."""
    stored = set(store.image_ids())
    wanted = {Path(image).name for image, _ in cases}
    if not stored or stored == wanted:
        return None
    return (f"{store.path} holds patches of {len(stored)} images, the data folder has {len(wanted)} labelled "
            f"images ({len(wanted - stored)} not in the store, {len(stored - wanted)} no longer in the folder)")


def build_store(
    store: PatchStore,
    cases: list[tuple[Path, Path]],
    working_spacing_mm: float,
    val_fraction: float = 0.15,
    seed: int = 0,
    spacing_mm: float | None = None,
    progress: bool = True,
) -> dict[str, dict[str, int]]:
    """Fill the store from (image, label) pairs; whole images go to 'train' or 'val'."""
    if not cases:
        raise ValueError("no (image, label) pairs to build a patch store from")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(cases))
    n_val = max(1, int(round(val_fraction * len(cases)))) if len(cases) > 1 else 0
    val = set(order[:n_val].tolist())
    for i, (image_path, label_path) in enumerate(tqdm(cases, desc="patch store", unit="image",
                                                      disable=not progress)):
        add_case_to_store(store, image_path, read_label(label_path), Path(image_path).name,
                          "val" if i in val else "train", np.random.default_rng([seed, i]),
                          working_spacing_mm, spacing_mm)
    return {"train": store.counts("train"), "val": store.counts("val")}
