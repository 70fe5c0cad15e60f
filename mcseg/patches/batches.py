"""Class-balanced, augmented minibatches drawn on the fly from the patch store (Valvano 2019 sec. 3.3).

Shares per class come from ``defaults.BATCH_CLASS_SHARES``; mined hard
negatives (kind ``mined-<role>``), when the store has some, take
``defaults.MINED_SHARE`` of the negative half.
"""

from __future__ import annotations

import numpy as np

from mcseg.defaults import BATCH_CLASS_SHARES, MINED_SHARE
from mcseg.patches.augment import dihedral_augment, dihedral_choices
from mcseg.patches.classes import is_positive
from mcseg.patches.store import PatchStore


class BalancedSampler:
    """Draws class-balanced, augmented minibatches from a split of the store.

    Mined hard negatives (kind ``mined-<role>``), when present, make up
    ``mined_share`` of the batch, taken from the negative half.
    """

    def __init__(
        self,
        store: PatchStore,
        role: str,
        split: str = "train",
        rng: np.random.Generator | None = None,
        shares: dict[int, float] | None = None,
        augment: bool = True,
        mined_share: float = MINED_SHARE,
    ):
        self.store, self.role, self.augment = store, role, augment
        self.rng = rng or np.random.default_rng(0)
        self.ids: dict = dict(store.ids_by_class(split))
        wanted = shares or BATCH_CLASS_SHARES[role]
        # Classes with no patches in this split give their share to the others
        # of the same label, so batches stay half positive, half negative.
        self.shares: dict = _redistribute(wanted, {c: len(v) for c, v in self.ids.items()}, role)
        if not self.shares:
            raise ValueError(f"the '{split}' split of {store.path} has no patches for a {role}")
        mined = np.concatenate(list(store.ids_by_class(split, kind=f"mined-{role}").values()))
        if len(mined) and mined_share > 0:
            negative = [c for c in self.shares if not is_positive(c, role)]
            neg_total = sum(self.shares[c] for c in negative)
            for c in negative:
                self.shares[c] *= (neg_total - mined_share) / neg_total
            self.ids["mined"] = mined
            self.shares["mined"] = mined_share

    def batch(self, size: int, rank: int = 0, world: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(patches float32 (size / world, 1, N, N), labels int64, classes uint8).

        The global minibatch of ``size`` is drawn whole on every rank (same seed, same draw) and
        rank ``rank`` of ``world`` fetches and augments only its slice, so the ranks together see
        exactly the batch one process would.
        """
        if size % world:
            raise ValueError(f"a minibatch of {size} does not split evenly over {world} processes")
        counts = self.rng.multinomial(size, list(self.shares.values()))
        ids = np.concatenate([
            self.rng.choice(self.ids[c], size=k, replace=True) for c, k in zip(self.shares, counts) if k
        ]).astype(np.int64)
        symmetry = dihedral_choices(len(ids), self.rng) if self.augment else None
        mine = self.rng.permutation(len(ids))[rank::world]
        pixels, classes = self.store.fetch(ids[mine])
        if symmetry is not None:
            pixels = dihedral_augment(pixels, symmetry[mine])
        labels = is_positive(classes, self.role).astype(np.int64)
        return pixels[:, None], labels, classes


def _redistribute(shares: dict[int, float], available: dict[int, int], role: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for positive in (True, False):
        group = {c: s for c, s in shares.items() if bool(is_positive(c, role)) == positive}
        present = {c: s for c, s in group.items() if available.get(c, 0) > 0}
        if not present:
            continue
        total, scale = sum(group.values()), sum(present.values())
        out.update({c: s * total / scale for c, s in present.items()})
    norm = sum(out.values())
    return {c: s / norm for c, s in out.items()}
