"""Pixel overlap of a predicted and a ground-truth mask: Dice and IoU."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Overlap:
    """Pixel counts of one or more (prediction, truth) pairs; add them to pool a set."""

    intersection: int = 0
    union: int = 0
    total: int = 0          # predicted pixels + truth pixels

    @classmethod
    def of(cls, pred: np.ndarray, truth: np.ndarray) -> "Overlap":
        p, t = np.asarray(pred, bool), np.asarray(truth, bool)
        if p.shape != t.shape:
            raise ValueError(f"masks of shape {p.shape} and {t.shape} cannot be compared")
        return cls(int((p & t).sum()), int((p | t).sum()), int(p.sum() + t.sum()))

    @classmethod
    def on_positive_tiles(cls, pred: np.ndarray, truth: np.ndarray, tile_px: int) -> "Overlap":
        """Overlap over the non-overlapping ``tile_px`` tiles that hold a ground-truth pixel: Marita et
        al.'s Dice "on regions with GT positives", which leaves out the false positives elsewhere."""
        p, t = np.asarray(pred, bool), np.asarray(truth, bool)
        if p.shape != t.shape:
            raise ValueError(f"masks of shape {p.shape} and {t.shape} cannot be compared")
        pad = ((0, -p.shape[0] % tile_px), (0, -p.shape[1] % tile_px))
        p, t = np.pad(p, pad), np.pad(t, pad)
        shape = (p.shape[0] // tile_px, tile_px, p.shape[1] // tile_px, tile_px)
        keep = t.reshape(shape).any(axis=(1, 3))[:, None, :, None]
        keep = np.broadcast_to(keep, shape).reshape(p.shape)
        return cls.of(p & keep, t)

    def __add__(self, other: "Overlap") -> "Overlap":
        return Overlap(self.intersection + other.intersection, self.union + other.union, self.total + other.total)

    @property
    def dice(self) -> float:
        """1.0 when both masks are empty."""
        return 1.0 if self.total == 0 else 2 * self.intersection / self.total

    @property
    def iou(self) -> float:
        return 1.0 if self.union == 0 else self.intersection / self.union


def pixel_dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two binary masks (1.0 when both are empty)."""
    return Overlap.of(pred, truth).dice
