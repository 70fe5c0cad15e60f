"""The datastore is called from several threads of one server at once (request workers, the
background scorer, the file watcher); its index must not break under that. Unguarded, a listing
or an image-info copy taken while another thread changes the index raises "dictionary changed size
during iteration", which the client sees as a 500."""

from __future__ import annotations

import shutil
import sys
import threading

from conftest import APP, DATA


def test_reads_and_writes_from_two_threads_do_not_collide(tmp_path):
    sys.path.insert(0, str(APP))
    try:
        from lib.datastore import MammogramDatastore
    finally:
        sys.path.remove(str(APP))
    shutil.copy(DATA / "demo" / "demo_synthetic_0000.dcm", tmp_path / "a.dcm")
    store = MammogramDatastore(str(tmp_path), extensions=("*.dcm",), auto_reload=False)
    errors: list[BaseException] = []
    done = threading.Event()

    def writer() -> None:  # the background scorer: a new key each time, so the info dict grows
        try:
            for k in range(200):
                store.update_image_info("a", {f"score_{k}": {"value": k, "patches": list(range(50))}})
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def reader() -> None:  # "Next Sample" and /datastore/ reading the same index meanwhile
        try:
            while not done.is_set():
                store.get_unlabeled_images()
                store.get_image_info("a")
                store.datalist()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len([k for k in store.get_image_info("a") if k.startswith("score_")]) == 200
