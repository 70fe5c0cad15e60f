"""Background scoring: keeps every unlabelled image's uncertain_c2c3 score current, off the request path.

After start-up, after an upload or a saved label, and whenever the weights in use
change (a training run published), a daemon thread in the server scores the
unlabelled images whose score is missing or was made with other weights, one
image at a time, and stores each score in the datastore's image info. It steps
aside while an inference or next-sample request computes, so annotators are
never kept waiting by it; "Next Sample" reads the scores there are.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from monailabel.interfaces.datastore import Datastore, DefaultLabelTag

from lib.activelearning.uncertain_c2c3 import KEY, model_stamp, score_one
from lib.models import ModelFiles
from lib.offload import Workload

log = logging.getLogger(__name__)

#: How often the scorer looks for new work when nothing woke it (s).
POLL_S = 10.0
#: How long it waits while a request computes before looking again (s).
YIELD_S = 0.5


class BackgroundScorer:
    def __init__(self, models: ModelFiles, datastore: Callable[[], Datastore], workload: Workload,
                 spacing_mm: float | None = None):
        self.models, self.datastore, self.load, self.spacing_mm = models, datastore, workload, spacing_mm
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.current: str | None = None
        self.failed: dict[str, str] = {}
        self.scored_total = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mcseg-scorer", daemon=True)
            self._thread.start()
            self.wake()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """New work may exist (an upload, a saved label, new weights)."""
        self._wake.set()

    def progress(self) -> dict[str, Any]:
        """How many unlabelled images have a score made with the weights in use."""
        stamp = model_stamp(self.models)
        store = self.datastore()
        unlabelled = store.get_unlabeled_images(DefaultLabelTag.FINAL.value)
        current = sum(1 for i in unlabelled if store.get_image_info(i).get(KEY, {}).get("model") == stamp)
        return {"unlabelled": len(unlabelled), "scored_with_current_weights": current,
                "scoring": self.current, "failed": dict(self.failed), "scored_since_start": self.scored_total}

    def _pending(self) -> list[str]:
        stamp = model_stamp(self.models)
        store = self.datastore()
        return [i for i in store.get_unlabeled_images(DefaultLabelTag.FINAL.value)
                if store.get_image_info(i).get(KEY, {}).get("model") != stamp and i not in self.failed]

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(POLL_S)
            self._wake.clear()
            try:
                pending = self._pending()
                while pending and not self._stop.is_set():
                    if self.load.busy:  # an annotator's request computes: let it have the cores
                        time.sleep(YIELD_S)
                        continue
                    image_id = pending.pop(0)
                    self.current = image_id
                    error = score_one(self.models, self.datastore(), image_id, self.spacing_mm)
                    self.current = None
                    if error:
                        self.failed[image_id] = error
                    else:
                        self.scored_total += 1
                    if not pending:
                        pending = self._pending()  # weights may have changed meanwhile
            except Exception:  # the scorer must outlive any one bad image or datastore hiccup
                log.exception("background scoring failed; retrying at the next wake-up")
                self.current = None
