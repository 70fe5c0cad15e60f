"""One lock per datastore: the server's request workers, the background scorer and the file watcher
all call into it at once.

LocalDatastore keeps its index in plain dicts and iterates them unguarded (listing labelled images,
deep-copying an image's info), so a write from another thread mid-iteration raises "dictionary
changed size during iteration" and the request answers 500. ``serialised`` wraps the datastore
methods that read or change the index in one re-entrant lock per instance.
"""

from __future__ import annotations

import functools
import threading
from typing import Callable, TypeVar

C = TypeVar("C", bound=type)

#: LocalDatastore (and DICOMWebDatastore) methods that read or change the in-memory index.
METHODS = (
    "list_images", "get_image_uri", "get_image_info", "update_image_info", "add_image", "remove_image",
    "get_label_uri", "get_label_info", "update_label_info", "save_label", "remove_label",
    "get_labeled_images", "get_unlabeled_images", "datalist", "status", "json", "refresh",
    "_reconcile_datastore", "_init_from_datastore_file", "_update_datastore_file", "_download_labeled_data",
)


def lock_of(datastore: object) -> threading.RLock:
    # dict.setdefault is atomic in CPython: two threads asking first get the same lock.
    return datastore.__dict__.setdefault("_index_lock", threading.RLock())


def _wrap(method: Callable) -> Callable:
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with lock_of(self):
            return method(self, *args, **kwargs)

    locked.__serialised__ = True
    return locked


def serialised(cls: C) -> C:
    """Class decorator: every method of ``METHODS`` the class has runs under the instance's lock."""
    for name in METHODS:
        method = getattr(cls, name, None)
        if callable(method) and not getattr(method, "__serialised__", False):
            setattr(cls, name, _wrap(method))
    return cls
