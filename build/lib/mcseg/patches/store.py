"""The SQLite patch store (Valvano 2019 sec. 3.3).

Patches cut from (working-frame image, calcification mask) pairs are stored
with their class C1-C4, source image, split, kind and time as float16 blobs,
so that training draws minibatches from disk (mcseg.patches.batches) and
annotators' labels can be added while a training run reads.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import numpy as np

from mcseg.defaults import PATCH_SIZE_PX
from mcseg.patches.classes import PatchClass
from mcseg.patches.sampling import cut_patches, extract_patches

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

#: Ids per query: SQLite's default limit on bound parameters is 999.
SQLITE_MAX_PARAMETERS = 900

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
        pixels = cut_patches(image, rows, cols, self.patch_size_px)
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
            for start in range(0, len(wanted), SQLITE_MAX_PARAMETERS):
                chunk = sorted(set(wanted[start : start + SQLITE_MAX_PARAMETERS]))
                marks = ",".join("?" * len(chunk))
                for pid, blob, cls in db.execute(
                    f"SELECT id, pixels, patch_class FROM patches WHERE id IN ({marks})", chunk
                ):
                    found[pid] = (blob, cls)
        pixels = np.stack([np.frombuffer(found[i][0], dtype=np.float16).reshape(n, n) for i in wanted])
        classes = np.asarray([found[i][1] for i in wanted], dtype=np.uint8)
        return pixels.astype(np.float32), classes
