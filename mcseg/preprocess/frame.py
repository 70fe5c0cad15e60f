"""The working frame: breast-masked, laterality-normalised, resampled, normalised.

Everything the networks see lives in this frame; :class:`WorkingFrame` maps
pixel coordinates and maps back to the input image's own pixel grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mcseg.io.reader import Mammogram
from mcseg.preprocess.breast import breast_mask
from mcseg.preprocess.flat import flat_mask
from mcseg.preprocess.normalise import normalise_intensities

#: Spacings within this relative difference of the working one are not resampled.
RESAMPLE_TOLERANCE = 0.01


@dataclass
class WorkingFrame:
    """A mammogram in the frame the networks work in, and the way back."""

    image: np.ndarray                      # float32 (rows, cols), normalised
    breast: np.ndarray                     # bool, same shape
    input_shape: tuple[int, int]
    input_spacing_mm: tuple[float, float]
    spacing_mm: tuple[float, float]        # actual working pixel size (row, col)
    flipped: bool                          # mirrored left-right so the chest wall is on the left
    #: bool, same shape: breast pixels in a flat area (one value; :mod:`mcseg.preprocess.flat`), where
    #: no calcification can be and the segmentator is not run. None: not looked for.
    flat: np.ndarray | None = None

    @property
    def segmentable(self) -> np.ndarray:
        """The breast less its flat areas: where the segmentator may look."""
        return self.breast if self.flat is None else self.breast & ~self.flat

    @property
    def breast_cm2(self) -> float:
        """Breast area in cm^2 (the operating points are calibrated per typical breast area)."""
        return float(self.breast.sum()) * float(np.prod(self.spacing_mm)) / 100.0

    @property
    def scale(self) -> tuple[float, float]:
        """Input pixels per working pixel, per axis."""
        return (self.input_shape[0] / self.image.shape[0], self.input_shape[1] / self.image.shape[1])

    def to_input_px(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map working-frame pixel coordinates (centres) to the input frame."""
        sr, sc = self.scale
        r = (np.asarray(rows, dtype=np.float64) + 0.5) * sr - 0.5
        c = (np.asarray(cols, dtype=np.float64) + 0.5) * sc - 0.5
        if self.flipped:
            c = (self.input_shape[1] - 1) - c
        return r, c

    def to_working_px(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map input-frame pixel coordinates (centres) to the working frame (the inverse of to_input_px)."""
        sr, sc = self.scale
        c = np.asarray(cols, dtype=np.float64)
        if self.flipped:
            c = (self.input_shape[1] - 1) - c
        return (np.asarray(rows, dtype=np.float64) + 0.5) / sr - 0.5, (c + 0.5) / sc - 0.5

    def map_to_input(self, values: np.ndarray, order: int = 1) -> np.ndarray:
        """Resample a working-frame map (probabilities or labels) to the input grid."""
        out = values
        if out.shape != self.input_shape:
            tensor = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))[None, None]
            mode = "bilinear" if order == 1 else "nearest-exact"
            kwargs = {"align_corners": False} if order == 1 else {}
            out = F.interpolate(tensor, size=self.input_shape, mode=mode, **kwargs)[0, 0].numpy()
        if self.flipped:
            out = out[:, ::-1]
        return np.ascontiguousarray(out)

    def mask_to_working(self, mask: np.ndarray) -> np.ndarray:
        """Bring an input-frame label into the working frame (flip, then resample).

        Area-weighted resampling keeps a calcification whose footprint covers at
        least 40% of a working pixel; at equal spacing it is an exact copy.
        """
        if mask.shape != self.input_shape:
            raise ValueError(f"label shape {mask.shape} differs from the image's {self.input_shape}")
        m = mask[:, ::-1] if self.flipped else mask
        if self.image.shape == self.input_shape:
            return np.ascontiguousarray(m, dtype=bool)
        tensor = torch.from_numpy(np.ascontiguousarray(m, dtype=np.float32))[None, None]
        cover = F.interpolate(tensor, size=self.image.shape, mode="bilinear", align_corners=False,
                              antialias=self.image.shape[0] < self.input_shape[0])[0, 0].numpy()
        return cover >= 0.4

    def describe(self) -> dict:
        return {
            "working_shape": list(self.image.shape),
            "working_spacing_mm": [round(v, 6) for v in self.spacing_mm],
            "flipped_left_right": self.flipped,
        }


def chest_wall_on_right(breast: np.ndarray) -> bool:
    """True when the breast touches the right image edge more than the left one.

    The breast is imaged against the chest wall, so it leans on that edge over
    most of the image height; image content decides, because header laterality
    and display orientation disagree across vendors and digitised film.
    """
    if not breast.any():
        return False
    band = max(1, breast.shape[1] // 50)
    left = breast[:, :band].mean()
    right = breast[:, -band:].mean()
    if abs(left - right) > 0.02:
        return bool(right > left)
    half = breast.shape[1] // 2
    return bool(breast[:, half:].sum() > breast[:, :half].sum())


def to_working_frame(
    mammo: Mammogram,
    working_spacing_mm: float,
    normalise_laterality: bool = True,
) -> WorkingFrame:
    """Build the working frame of ``mammo``."""
    spacing = mammo.spacing_mm
    breast = breast_mask(mammo.pixels, min(spacing))
    flat = flat_mask(mammo.pixels, min(spacing), within=breast) & breast
    flipped = normalise_laterality and chest_wall_on_right(breast)
    pixels = mammo.pixels[:, ::-1] if flipped else mammo.pixels
    breast = breast[:, ::-1] if flipped else breast
    flat = flat[:, ::-1] if flipped else flat

    rows, cols = mammo.shape
    target = (
        max(1, int(round(rows * spacing[0] / working_spacing_mm))),
        max(1, int(round(cols * spacing[1] / working_spacing_mm))),
    )
    same = all(abs(s / working_spacing_mm - 1) <= RESAMPLE_TOLERANCE for s in spacing)
    if same:
        target = (rows, cols)
        work = np.ascontiguousarray(pixels, dtype=np.float32)
        work_breast = np.ascontiguousarray(breast)
        work_flat = np.ascontiguousarray(flat)
    else:
        tensor = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None, None]
        antialias = target[0] < rows
        work = F.interpolate(tensor, size=target, mode="bilinear", align_corners=False,
                             antialias=antialias)[0, 0].numpy()
        mask_t = torch.from_numpy(np.ascontiguousarray(breast, dtype=np.uint8))[None, None]
        work_breast = F.interpolate(mask_t, size=target, mode="nearest-exact")[0, 0].numpy().astype(bool)
        work_flat = np.zeros(target, dtype=bool)
        if flat.any():
            flat_t = torch.from_numpy(np.ascontiguousarray(flat, dtype=np.uint8))[None, None]
            work_flat = F.interpolate(flat_t, size=target, mode="nearest-exact")[0, 0].numpy().astype(bool)
    actual = (rows * spacing[0] / target[0], cols * spacing[1] / target[1])
    image = normalise_intensities(work, work_breast, float(np.mean(actual)))
    return WorkingFrame(
        image=image,
        breast=work_breast,
        input_shape=(rows, cols),
        input_spacing_mm=spacing,
        spacing_mm=actual,
        flipped=bool(flipped),
        flat=work_flat,
    )
