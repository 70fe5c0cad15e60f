"""Optional authentication: with a users file, anonymous requests get 401 and a logged-in client 200,
through MONAI Label's own client and its login protocol."""

from __future__ import annotations

import bcrypt
import pytest
import requests
from conftest import DATA, make_studies, running_server
from monailabel.client import MONAILabelClient
from monailabel.client.client import MONAILabelClientException

IMAGE = DATA / "demo" / "demo_synthetic_0000.dcm"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("auth")
    users = root / "users.txt"
    users.write_text("# who may use this server\nreader:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt()).decode()
                     + "\nphysicist:plain-password\n")
    studies = make_studies(root, [IMAGE])
    with running_server(root, studies, {"auth_users_file": str(users), "train_after_labels": "0"},
                        ready_path="/health") as client:
        yield f"http://127.0.0.1:{client.port}"


def test_anonymous_requests_get_401_everywhere_but_health(server):
    assert requests.get(f"{server}/health", timeout=30).status_code == 200
    for method, path in [("GET", "/info/"), ("GET", "/datastore/?output=all"), ("POST", "/infer/pipeline?image=x"),
                         ("PUT", "/datastore/label?image=x"), ("POST", "/train/segmentator"),
                         ("POST", "/activelearning/random"), ("GET", "/datastore/image?image=demo_synthetic_0000"),
                         ("GET", "/auth/token/valid")]:
        r = requests.request(method, f"{server}{path}", timeout=30)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers["WWW-Authenticate"] == "Bearer"
    r = requests.get(f"{server}/info/", headers={"Authorization": "Bearer not-a-token"}, timeout=30)
    assert r.status_code == 401


def test_a_logged_in_client_gets_200(server):
    client = MONAILabelClient(server)
    assert client.auth_enabled()
    with pytest.raises(MONAILabelClientException):
        client.auth_token("reader", "wrong")
    with pytest.raises(MONAILabelClientException):
        client.auth_token("nobody", "s3cret")
    for user, password in (("reader", "s3cret"), ("physicist", "plain-password")):
        token = client.auth_token(user, password)
        assert token["token_type"] == "bearer" and len(token["access_token"]) > 30
        client.update_auth(token)
        assert client.auth_valid_token()
        info = client.info()
        assert "pipeline" in info["models"]
        assert "demo_synthetic_0000" in client.datastore()["objects"]
