"""The SQLite patch store and balanced on-the-fly minibatches (Valvano 2019 sec. 3.3).

Patches are extracted from (working-frame image, calcification mask) pairs,
tagged with their class C1-C4, source image, split and time, and stored as
float16 blobs. Minibatches are drawn at random from the store with fixed class
shares (half positive, half negative by default) and augmented with the eight
rotations/flips of the square, which keep a patch's class.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from mcseg.defaults import C2_MAX_DISTANCE_PX, PATCH_SIZE_PX
from mcseg.patches.classes import PatchClass, is_positive, patch_class_map
from mcseg.patches.symmetry import D4, apply_symmetry

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS patches (
    id INTEGER PRIMARY KEY,
    image_id TEXT NOT NULL,
    split TEXT NOT NULL,
    row INTEGER NOT NULL,
    col INTEGER NOT NULL,
    patch_class INTEGER NOT NULL,
    kind TEXT NOT NULL,             -- how the centre was chosen: random, bright, edge
    created REAL NOT NULL,
    pixels BLOB NOT NULL            -- float16, patch_size x patch_size, C order
);
CREATE INDEX IF NOT EXISTS patches_split_class ON patches (split, patch_class);
CREATE INDEX IF NOT EXISTS patches_image ON patches (image_id);
"""

#: Default patches taken per image and class: enough variety per image while
#: keeping one image from dominating the store. C4 gets three kinds of centre:
#: random breast pixels, bright local maxima (calcification look-alikes) and
#: the skin line (Valvano 2019 sec. 5 reports false positives there).
DEFAULT_PER_IMAGE = {"C1": 300, "C2": 300, "C3": 300, "C4_random": 300, "C4_bright": 300, "C4_edge": 100}


@dataclass(frozen=True)
class ExtractedPatches:
    pixels: np.ndarray      # float16 (n, N, N)
    rows: np.ndarray
    cols: np.ndarray
    classes: np.ndarray     # uint8 1-4
    kinds: list[str]


def extract_patches(
    image: np.ndarray,
    breast: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    patch_size_px: int = PATCH_SIZE_PX,
    per_image: dict[str, int] | None = None,
    c2_max_distance_px: float = C2_MAX_DISTANCE_PX,
) -> ExtractedPatches:
    """Sample patch centres of every class inside the breast and cut the patches."""
    per_image = {**DEFAULT_PER_IMAGE, **(per_image or {})}
    classes = patch_class_map(mask, patch_size_px, c2_max_distance_px)
    inside = breast | mask.astype(bool)
    chosen: list[tuple[np.ndarray, str]] = []
    # C1 and C2 centres are drawn half per pixel, half per calcification.
    # Drawn per pixel alone, a 1-2 px speck (a third of the calcifications
    # below 0.2 mm) gets ~1% of the C1 patches a 0.8 mm one gets, and the
    # networks under-learn exactly the calcifications they miss most. C1 draws
    # with replacement (a speck has one or two pixels to give; the dihedral
    # augmentation varies the repeats), at most 2 per pixel. C3 windows are
    # near-equal per calcification already.
    owner = _nearest_calcification(mask)
    for cls in (PatchClass.C1, PatchClass.C2, PatchClass.C3):
        idx = np.flatnonzero(((classes == cls) & inside).ravel())
        k = per_image[cls.name]
        if cls == PatchClass.C3:
            picked = _pick(idx, k, rng)
        elif cls == PatchClass.C1 and len(idx):
            picked = np.sort(rng.choice(idx, size=min(k, 2 * len(idx)), replace=True,
                                        p=_per_calcification_weights(owner.ravel()[idx])))
        else:
            picked = _pick(idx, k, rng, _per_calcification_weights(owner.ravel()[idx]))
        chosen.append((picked, "random"))
    c4 = (classes == PatchClass.C4) & breast
    chosen.append((_pick(np.flatnonzero(c4.ravel()), per_image["C4_random"], rng), "random"))
    # Bright look-alikes: local maxima of the normalised image that are not calcifications.
    peaks = (image == ndi.maximum_filter(image, size=7)) & (image > 2.5) & c4
    chosen.append((_pick(np.flatnonzero(peaks.ravel()), per_image["C4_bright"], rng), "bright"))
    edge = c4 & ~ndi.binary_erosion(breast, iterations=15)
    chosen.append((_pick(np.flatnonzero(edge.ravel()), per_image["C4_edge"], rng), "edge"))

    flat = np.concatenate([c for c, _ in chosen]).astype(np.int64)
    kinds = [k for c, k in chosen for _ in range(len(c))]
    rows, cols = np.unravel_index(flat, image.shape)
    half = patch_size_px // 2
    padded = np.pad(image.astype(np.float32, copy=False), half, mode="constant")
    # A strided view gives every patch without copying the image N^2 times.
    windows = np.lib.stride_tricks.sliding_window_view(padded, (patch_size_px, patch_size_px))
    pixels = windows[rows, cols].astype(np.float16)
    return ExtractedPatches(pixels, rows.astype(np.int32), cols.astype(np.int32),
                            classes.ravel()[flat].astype(np.uint8), kinds)


def _nearest_calcification(mask: np.ndarray) -> np.ndarray:
    """Label (8-connected component) of the calcification nearest to every pixel; 0 if none."""
    labels, count = ndi.label(np.asarray(mask, dtype=bool), structure=np.ones((3, 3), bool))
    if count == 0:
        return labels
    _, (rows, cols) = ndi.distance_transform_edt(labels == 0, return_indices=True)
    return labels[rows, cols]


def _per_calcification_weights(owner: np.ndarray) -> np.ndarray:
    """Sampling weights: half uniform over pixels, half uniform over the calcifications owning them."""
    if len(owner) == 0:
        return np.zeros(0)
    _, inverse, counts = np.unique(owner, return_inverse=True, return_counts=True)
    weights = 0.5 / len(owner) + 0.5 / (len(counts) * counts[inverse])
    return weights / weights.sum()


def _pick(indices: np.ndarray, k: int, rng: np.random.Generator, weights: np.ndarray | None = None) -> np.ndarray:
    if len(indices) <= k:
        return indices
    return rng.choice(indices, size=k, replace=False, p=weights)


class PatchStore:
    """Patches of one size in one SQLite file."""

    def __init__(self, path: str | Path, patch_size_px: int = PATCH_SIZE_PX):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.patch_size_px = patch_size_px
        with closing(self._connect()) as db, db:
            # WAL is a property of the file, set once: readers (training) never
            # block a writer (label saves).
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key = 'patch_size_px'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('patch_size_px', ?)", (str(patch_size_px),))
            elif int(row[0]) != patch_size_px:
                raise ValueError(f"{self.path} holds {row[0]} px patches, not {patch_size_px} px")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    def add_image(
        self,
        image_id: str,
        image: np.ndarray,
        breast: np.ndarray,
        mask: np.ndarray,
        rng: np.random.Generator,
        split: str = "train",
        per_image: dict[str, int] | None = None,
    ) -> dict[str, int]:
        """Replace the patches of ``image_id`` with fresh ones from (image, mask)."""
        patches = extract_patches(image, breast, mask, rng, self.patch_size_px, per_image)
        now = time.time()
        records = (
            (image_id, split, int(r), int(c), int(k), kind, now, p.tobytes())
            for r, c, k, kind, p in zip(patches.rows, patches.cols, patches.classes, patches.kinds,
                                        patches.pixels)
        )
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM patches WHERE image_id = ?", (image_id,))
            db.executemany(
                "INSERT INTO patches (image_id, split, row, col, patch_class, kind, created, pixels) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                records,
            )
        return {c.name: int((patches.classes == c).sum()) for c in PatchClass}

    def add_patches(self, image_id: str, split: str, image: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                    classes: np.ndarray, kind: str) -> int:
        """Add patches centred on (rows, cols) of ``image`` (e.g. mined hard negatives)."""
        n = self.patch_size_px
        padded = np.pad(image.astype(np.float32, copy=False), n // 2, mode="constant")
        windows = np.lib.stride_tricks.sliding_window_view(padded, (n, n))
        pixels = windows[rows, cols].astype(np.float16)
        now = time.time()
        with closing(self._connect()) as db, db:
            db.executemany(
                "INSERT INTO patches (image_id, split, row, col, patch_class, kind, created, pixels) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ((image_id, split, int(r), int(c), int(k), kind, now, p.tobytes())
                 for r, c, k, p in zip(rows, cols, classes, pixels)),
            )
        return len(rows)

    def delete_kind(self, kind: str) -> None:
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM patches WHERE kind = ?", (kind,))

    def remove_image(self, image_id: str) -> int:
        """Drop every patch of ``image_id`` (its label was withdrawn); returns how many."""
        with closing(self._connect()) as db, db:
            return db.execute("DELETE FROM patches WHERE image_id = ?", (image_id,)).rowcount

    def added_at(self, image_id: str) -> float | None:
        """When the patches of ``image_id`` were stored (Unix time), or None."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT MAX(created) FROM patches WHERE image_id = ? AND kind NOT LIKE 'mined%'",
                             (image_id,)).fetchone()
        return row[0] if row and row[0] is not None else None

    def split_of(self, image_id: str) -> str | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT split FROM patches WHERE image_id = ? LIMIT 1", (image_id,)).fetchone()
        return row[0] if row else None

    def counts(self, split: str | None = None) -> dict[str, int]:
        query = "SELECT patch_class, COUNT(*) FROM patches"
        args: tuple = ()
        if split is not None:
            query += " WHERE split = ?"
            args = (split,)
        with closing(self._connect()) as db:
            found = dict(db.execute(query + " GROUP BY patch_class", args).fetchall())
        return {c.name: int(found.get(int(c), 0)) for c in PatchClass}

    def image_ids(self, split: str | None = None) -> list[str]:
        with closing(self._connect()) as db:
            if split is None:
                rows = db.execute("SELECT DISTINCT image_id FROM patches ORDER BY image_id")
            else:
                rows = db.execute("SELECT DISTINCT image_id FROM patches WHERE split = ? ORDER BY image_id",
                                  (split,))
            return [r[0] for r in rows]

    def ids_by_class(self, split: str, kind: str | None = None) -> dict[int, np.ndarray]:
        """Patch ids per class; sampled patches only, or those of one ``kind``."""
        with closing(self._connect()) as db:
            if kind is None:
                rows = db.execute("SELECT id, patch_class FROM patches WHERE split = ? AND kind NOT LIKE 'mined%'",
                                  (split,)).fetchall()
            else:
                rows = db.execute("SELECT id, patch_class FROM patches WHERE split = ? AND kind = ?",
                                  (split, kind)).fetchall()
        if not rows:
            return {int(c): np.zeros(0, dtype=np.int64) for c in PatchClass}
        arr = np.asarray(rows, dtype=np.int64)
        return {int(c): arr[arr[:, 1] == int(c), 0] for c in PatchClass}

    def fetch(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Patches (float32, n x N x N) and classes for ``ids``, in the order given."""
        n = self.patch_size_px
        wanted = [int(i) for i in ids]
        found: dict[int, tuple[bytes, int]] = {}
        with closing(self._connect()) as db:
            for start in range(0, len(wanted), 900):  # SQLite's bound-parameter limit
                chunk = sorted(set(wanted[start : start + 900]))
                marks = ",".join("?" * len(chunk))
                for pid, blob, cls in db.execute(
                    f"SELECT id, pixels, patch_class FROM patches WHERE id IN ({marks})", chunk
                ):
                    found[pid] = (blob, cls)
        pixels = np.stack([np.frombuffer(found[i][0], dtype=np.float16).reshape(n, n) for i in wanted])
        classes = np.asarray([found[i][1] for i in wanted], dtype=np.uint8)
        return pixels.astype(np.float32), classes


#: Minibatch shares per class: half positive, half negative (Valvano 2019 sec.
#: 3.3), each half split evenly over its classes (ours), so the hard classes
#: C2 and C3 are seen as often as the easy ones.
ROLE_SHARES = {
    "detector": {1: 1 / 6, 2: 1 / 6, 3: 1 / 6, 4: 1 / 2},
    "segmentator": {1: 1 / 2, 2: 1 / 6, 3: 1 / 6, 4: 1 / 6},
}


#: Share of each minibatch taken from mined hard negatives of the network's own
#: role, when the store has some (ours: bootstrapping, see mcseg.training.mining).
MINED_SHARE = 0.25


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
        wanted = shares or ROLE_SHARES[role]
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

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(patches float32 (size, 1, N, N), labels int64, classes uint8)."""
        counts = self.rng.multinomial(size, list(self.shares.values()))
        ids = np.concatenate([
            self.rng.choice(self.ids[c], size=k, replace=True) for c, k in zip(self.shares, counts) if k
        ])
        pixels, classes = self.store.fetch(ids.astype(np.int64))
        if self.augment:
            pixels = dihedral_augment(pixels, self.rng)
        labels = is_positive(classes, self.role).astype(np.int64)
        order = self.rng.permutation(len(ids))
        return pixels[order, None], labels[order], classes[order]


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


def dihedral_augment(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Apply one of the 8 rotations/flips of the square to each patch (keeps its class)."""
    out = np.empty_like(pixels)
    choice = rng.integers(0, len(D4), size=len(pixels))
    for t, (k, mirror) in enumerate(D4):
        sel = choice == t
        if sel.any():
            out[sel] = apply_symmetry(pixels[sel], k, mirror)
    return out
