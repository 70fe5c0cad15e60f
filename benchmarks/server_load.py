"""Load on the real server: concurrent inferences, /info/ latency while they compute, memory.

    .venv/bin/python benchmarks/server_load.py [--requests 20] [--workers 1] [--queue 8]

Starts `monailabel start_server` with apps/mc_segmentation on a free local port, a studies folder
of the demo images, sends REQUESTS pipeline inferences at once (from as many client threads),
asks /info/ every 0.5 s meanwhile, and samples the server's resident memory (its process tree).
Writes benchmarks/server_load.json and prints the summary. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "mcseg" / "data" / "demo"
IMAGES = ["demo_synthetic_0000", "demo_synthetic_0001", "demo_real_background_0000"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--queue", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "server_load.json")
    parser.add_argument("--images", type=Path, nargs="+",
                        help="DICOMs to serve instead of the demo images (for instance tests/data/ffdm-vendor/"
                             "GH133.dcm, a full-size FFDM)")
    args = parser.parse_args()
    images = [p.name[: -len(".dcm")] for p in args.images] if args.images else IMAGES
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        studies = tmp / "studies"
        studies.mkdir()
        for path in args.images or [DEMO / f"{stem}.dcm" for stem in IMAGES]:
            shutil.copy(path, studies)
        port = _port()
        env = {**os.environ, "MONAI_LABEL_SESSION_PATH": str(tmp / "sessions"), "MONAI_LABEL_TRACKING_ENABLED": "false"}
        proc = subprocess.Popen([sys.executable, "-m", "monailabel.main", "start_server", "--app",
                                 str(ROOT / "apps" / "mc_segmentation"), "--studies", str(studies), "--host",
                                 "127.0.0.1", "--port", str(port), "--conf", "models_dir", str(tmp / "model"),
                                 "--conf", "infer_workers", str(args.workers), "--conf", "infer_queue",
                                 str(args.queue)], stdout=(tmp / "log").open("w"), stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(120):
                try:
                    requests.get(f"{url}/info/", timeout=5)
                    break
                except requests.RequestException:
                    time.sleep(1)
            # Let the background scorer finish its start-up round, so it does not share the cores.
            while requests.get(f"{url}/info/", timeout=30).json()["uncertain_c2c3_scoring"]["scoring"]:
                time.sleep(1)
            time.sleep(2)
            results, info_s, peak_mb, done = [], [], [0.0], threading.Event()

            def infer(i: int) -> None:
                started = time.perf_counter()
                r = requests.post(f"{url}/infer/pipeline", params={"image": images[i % len(images)], "output": "json"},
                                  data={"params": "{}"}, timeout=3600)
                results.append({"status": r.status_code, "seconds": round(time.perf_counter() - started, 2),
                                "retry_after": r.headers.get("Retry-After")})

            def watch() -> None:
                server = psutil.Process(proc.pid)
                while not done.is_set():
                    started = time.perf_counter()
                    requests.get(f"{url}/info/", timeout=600)
                    info_s.append(time.perf_counter() - started)
                    rss = sum(p.memory_info().rss for p in [server, *server.children(recursive=True)])
                    peak_mb[0] = max(peak_mb[0], rss / 2**20)
                    time.sleep(0.5)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            started = time.perf_counter()
            clients = [threading.Thread(target=infer, args=(i,)) for i in range(args.requests)]
            for c in clients:
                c.start()
            for c in clients:
                c.join()
            wall = time.perf_counter() - started
            done.set()
            watcher.join()
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)
    ok = [r["seconds"] for r in results if r["status"] == 200]
    out = {"settings": vars(args) | {"out": str(args.out), "images": [str(p) for p in args.images or []]},
           "requests": args.requests,
           "succeeded": len(ok), "busy_503": sum(r["status"] == 503 for r in results),
           "other": [r for r in results if r["status"] not in (200, 503)], "wall_s": round(wall, 1),
           "latency_s": {"median": round(statistics.median(ok), 1), "max": round(max(ok), 1)} if ok else None,
           "info_during_load_s": {"median": round(statistics.median(info_s), 3), "max": round(max(info_s), 3),
                                  "n": len(info_s)},
           "server_peak_rss_mb": round(peak_mb[0]), "machine": f"{os.cpu_count()} CPU cores"}
    args.out.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
