"""Shared fixtures. tests/ is deliberately not a package: monailabel's wheel
installs a top-level `tests` package that would otherwise shadow it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "apps" / "mc_segmentation"
DATA = ROOT / "mcseg" / "data"
VENDOR = Path(__file__).resolve().parent / "data" / "ffdm-vendor"
CBIS_DICOM = DATA / "demo" / "cbis-ddsm_P_00820_RIGHT_CC.dcm"


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


def randomise_batch_norm(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give batch-norm layers non-trivial statistics so tests exercise them."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
    return model.eval()


def make_studies(root: Path, files: list[Path]) -> Path:
    """A studies folder under ``root`` holding copies of ``files``."""
    import shutil

    studies = root / "studies"
    studies.mkdir()
    for f in files:
        shutil.copy(f, studies / f.name)
    return studies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(root: Path, studies: Path, conf: dict[str, str] | None = None, ready_path: str = "/info/"):
    """The real MONAI Label server with apps/mc_segmentation on 127.0.0.1, and a client for it.

    Stopped afterwards; every process it started must be gone."""
    from monailabel.client import MONAILabelClient

    port = free_port()
    env = {**os.environ, "MONAI_LABEL_SESSION_PATH": str(root / "sessions"),
           "MONAI_LABEL_TRACKING_ENABLED": "false", "PYTHONUNBUFFERED": "1"}
    conf = {"models_dir": str(root / "model"), **(conf or {})}
    args = [a for k, v in conf.items() for a in ("--conf", k, v)]
    log_path = root / "server.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monailabel.main", "start_server", "--app", str(APP), "--studies", str(studies),
         "--host", "127.0.0.1", "--port", str(port), *args],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    client = MONAILabelClient(f"http://127.0.0.1:{port}")
    client.port, client.proc = port, proc
    deadline = time.time() + 120
    while True:
        try:
            import requests

            if requests.get(f"http://127.0.0.1:{port}{ready_path}", timeout=10).status_code == 200:
                break
            raise RuntimeError("not ready")
        except Exception:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"server did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(1)
    try:
        yield client
    finally:
        try:
            family = [proc] + psutil.Process(proc.pid).children(recursive=True)
            os.killpg(proc.pid, signal.SIGINT)
        except (psutil.NoSuchProcess, ProcessLookupError):  # a test killed it already
            family = [proc]
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
        _, alive = psutil.wait_procs([psutil.Process(p.pid) for p in family[1:] if psutil.pid_exists(p.pid)],
                                     timeout=10)
        assert not alive, f"processes left behind: {alive}"


ORTHANC = "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"


@contextmanager
def running_orthanc(root: Path):
    """A real Orthanc PACS (Debian's orthanc + orthanc-dicomweb) on free local ports, with a throw-away
    configuration and storage folder; yields its base URL (REST at /, DICOMweb at /dicom-web)."""
    import json

    import requests

    if not (os.path.exists(ORTHANC) and os.path.exists(DICOMWEB_PLUGIN)):
        pytest.skip("Orthanc with its DICOMweb plugin is not installed (apt-get install orthanc orthanc-dicomweb; "
                    ".ci/run installs them)")
    folder = root / "orthanc"
    (folder / "storage").mkdir(parents=True)
    http_port, dicom_port = free_port(), free_port()
    (folder / "orthanc.json").write_text(json.dumps({
        "Name": "mcseg-test", "StorageDirectory": str(folder / "storage"), "IndexDirectory": str(folder / "storage"),
        "HttpPort": http_port, "DicomPort": dicom_port, "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
        "Plugins": [DICOMWEB_PLUGIN], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}}))
    log = (folder / "orthanc.log").open("w")
    proc = subprocess.Popen([ORTHANC, str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{http_port}"
    deadline = time.time() + 30
    while True:
        try:
            if requests.get(f"{url}/system", timeout=2).ok:
                break
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError(f"Orthanc did not start:\n{(folder / 'orthanc.log').read_text()[-2000:]}")
        time.sleep(0.3)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def wait_for_training(client, timeout_s: float = 300) -> dict:
    """The server's last training status once no run is submitted or running."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        status = client.train_status(False)
        if status.get("status") not in ("SUBMITTED", "RUNNING"):
            return status
        time.sleep(2)
    raise AssertionError("training did not finish in time")
