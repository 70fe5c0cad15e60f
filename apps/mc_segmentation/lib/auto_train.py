"""Saved labels feed the patch store at once, and every K new labels start a training run.

The count of labels since the last automatic training lives in a small JSON
file next to the patch store, so it survives a server restart.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from mcseg.io.atomic import atomic_write_text
from mcseg.io.reader import read_mammogram
from mcseg.training import LabelledCase, assign_splits
from mcseg.training.data import workspace_store
from mcseg.training.finetune import store_case
from mcseg.training.routes import route_workspace
from monailabel.interfaces.datastore import Datastore, DefaultLabelTag
from monailabel.utils.async_tasks.task import AsyncTask

from lib.models import ModelFiles

log = logging.getLogger(__name__)


class AutoTrainer:
    def __init__(self, models: ModelFiles, workspace: Path, every_labels: int, roles: list[str], steps: int,
                 spacing_mm: float | None = None):
        self.models, self.workspace = models, Path(workspace)
        self.every_labels, self.roles, self.steps, self.spacing_mm = every_labels, roles, steps, spacing_mm
        self.state_path = self.workspace / "auto_train.json"

    def _state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {"new_labels": [], "started": []}

    def _save(self, state: dict[str, Any]) -> None:
        atomic_write_text(self.state_path, json.dumps(state, indent=1))

    def on_final_label(self, image_id: str, datastore: Datastore) -> dict[str, Any]:
        """Store the label's patches; start training when enough new labels have arrived."""
        image = datastore.get_image_uri(image_id)
        label = datastore.get_label_uri(image_id, DefaultLabelTag.FINAL.value)
        case = LabelledCase(image_id, Path(image), Path(label))
        # The patches go to the store of the networks this label retrains, which their training reads;
        # the image is read once, for its pixel size and its patches.
        mammo = read_mammogram(case.image_path, spacing_mm=self.spacing_mm)
        route = self.models.pipeline().training_route_of(mammo.spacing_mm)
        store, working_spacing_mm = workspace_store(route_workspace(self.workspace, route),
                                                    self.models.path("segmentator", route))
        # The split is the one among all labelled images: finding the others' routes would fetch every
        # one of them from a PACS on each save; training re-reads an image whose split in its route differs.
        split = assign_splits(datastore.get_labeled_images(DefaultLabelTag.FINAL.value) or [image_id])[image_id]
        counts = store_case(store, case, split, working_spacing_mm, self.spacing_mm, mammo=mammo)
        state = self._state()
        if image_id not in state["new_labels"]:
            state["new_labels"].append(image_id)
        out: dict[str, Any] = {"patches_stored": counts, "split": split, "route": route,
                               "labels_since_training": len(state["new_labels"]),
                               "train_after_labels": self.every_labels, "training_started": False}
        if self.every_labels > 0 and len(state["new_labels"]) >= self.every_labels:
            running, _ = AsyncTask.status("train", check_if_running=True)
            if running:
                out["training_note"] = "a training run is in progress; the next label save starts one"
            else:
                for role in self.roles:
                    AsyncTask.run("train", request={"model": role, "max_steps": self.steps}, enqueue=True)
                state["started"].append({"ts": int(time.time()), "labels": state["new_labels"], "roles": self.roles})
                state["new_labels"] = []
                out["training_started"] = True
                log.info("auto-training %s after %d new labels", self.roles, out["labels_since_training"])
        self._save(state)
        return out
