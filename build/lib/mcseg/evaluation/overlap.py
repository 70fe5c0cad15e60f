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
