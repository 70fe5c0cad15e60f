"""Client errors as 4xx on every MONAI Label route that reaches the app, before any work starts;
the routes that compute go to worker threads (lib.offload).

MONAI Label's routes answer 500 for several client mistakes: a model, strategy or
scoring method that does not exist, training options of the wrong type (the
training subprocess fails later), a ``params`` form field that is not JSON. The
app installs this layer into MONAI Label's own FastAPI app when it starts, so
the stock ``monailabel start_server --app apps/mc_segmentation`` gets it:

* names in the path are checked against what the app serves (404 with the list);
* training options are checked with the trainer's own parser (422 with the reason);
* ``json.JSONDecodeError`` from a route becomes 422, MONAI Label's own
  exceptions 404 (not found) or 422 (invalid input).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from monailabel.config import settings
from monailabel.interfaces.exception import (ImageNotFoundException, LabelNotFoundException, MONAILabelError,
                                             MONAILabelException)

from lib.asgi import send_json
from lib.auth import TokenGate
from lib.offload import OffloadHeavyRoutes, Workload
from lib.trainers.baseline_trainer import baseline_processes
from lib.trainers.cluster_cnn_trainer import cluster_train_options
from lib.trainers.patch_cnn_trainer import train_options
from lib.trainers.processes import train_processes
from lib.trainers.cortina_trainer import cortina_train_options
from lib.trainers.cortina_detector_trainer import cortina_detector_train_options
from lib.trainers.cortina_resnet_trainer import cortina_resnet_train_options
from lib.trainers.unet_trainer import unet_train_options

log = logging.getLogger(__name__)

#: Bodies the checks read (training options are small JSON); larger ones are refused.
MAX_CHECKED_BODY_BYTES = 1 << 20


def install(fastapi_app: FastAPI, names: dict[str, list[str]], workload: Workload,
            users: dict[str, str] | None = None, token_hours: float = 12.0) -> None:
    """Add the checks and the worker threads to a running MONAI Label server.

    ``names``: models, trainers, strategies, scoring; ``workload`` bounds the requests that
    compute (see lib.offload); ``users``, when given, puts every route behind a login (lib.auth)."""
    # The app is created inside MONAI Label's lifespan, after Starlette built its middleware
    # stack; clearing it makes the next request build it again, with these additions. The
    # last added runs first: refuse what cannot be served, then queue what computes.
    fastapi_app.middleware_stack = None
    fastapi_app.add_middleware(OffloadHeavyRoutes, workload=workload, prefix=settings.MONAI_LABEL_API_STR)
    fastapi_app.add_middleware(RequestChecks, names=names, prefix=settings.MONAI_LABEL_API_STR)
    if users:  # outermost: an anonymous request learns nothing, not even which models exist
        fastapi_app.add_middleware(TokenGate, users=users, token_hours=token_hours,
                                   prefix=settings.MONAI_LABEL_API_STR)
    fastapi_app.add_exception_handler(json.JSONDecodeError, _bad_json)
    fastapi_app.add_exception_handler(MONAILabelException, _monailabel_error)
    log.info("request checks installed for %s", {k: len(v) for k, v in names.items()})


async def _bad_json(request: Request, exc: json.JSONDecodeError) -> JSONResponse:
    return JSONResponse({"detail": f"params is not valid JSON: {exc.msg} at position {exc.pos}"}, status_code=422)


async def _monailabel_error(request: Request, exc: MONAILabelException) -> JSONResponse:
    if isinstance(exc, (ImageNotFoundException, LabelNotFoundException)):
        return JSONResponse({"detail": exc.msg}, status_code=404)
    status = 422 if exc.error == MONAILabelError.INVALID_INPUT else 500
    return JSONResponse({"detail": exc.msg}, status_code=status)


class RequestChecks:
    """ASGI middleware: refuses requests the app cannot serve, without reading large bodies."""

    ROUTES = {"infer": "models", "train": "trainers", "activelearning": "strategies", "scoring": "scoring"}

    def __init__(self, app, names: dict[str, list[str]], prefix: str = ""):
        self.app, self.names = app, names
        self.pattern = re.compile(rf"^{re.escape(prefix)}/(infer|train|activelearning|scoring)/([^/]*)/?$")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        match = self.pattern.match(scope["path"])
        if not match:
            return await self.app(scope, receive, send)
        route, name = match.groups()
        known = self.names.get(self.ROUTES[route], [])
        if name and name not in known:
            what = {"infer": "model", "train": "trainer", "activelearning": "strategy", "scoring": "scoring method"}
            return await _reply(send, 404, f"no {what[route]} {name!r}; this server has: {', '.join(known)}")
        if route == "infer" and not _has_image(scope):
            return await _reply(send, 422, "no image: pass image=<id of an image in the datastore>, a session_id, "
                                           "or upload the image as the 'file' form field")
        if route != "train":
            return await self.app(scope, receive, send)
        body, receive = await _buffer(receive)
        if body is None:
            return await _reply(send, 413, "the training request body is too large")
        problem = _training_problem(body, name)
        if problem:
            return await _reply(send, 422, problem)
        return await self.app(scope, receive, send)


def _has_image(scope) -> bool:
    """The infer route needs an image id, a session or an uploaded file (only a multipart body can hold one)."""
    from urllib.parse import parse_qs

    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("image", [""])[0] or query.get("session_id", [""])[0]:
        return True
    content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
    return content_type.startswith(b"multipart/form-data")


def _training_problem(body: bytes, trainer: str) -> str | None:
    if not body.strip():
        return None
    try:
        params: Any = json.loads(body)
    except json.JSONDecodeError as exc:
        return f"training options are not valid JSON: {exc.msg}"
    if params is None:
        return None
    if not isinstance(params, dict):
        return "training options must be a JSON object of option: value"
    try:
        baselines = {"luna_lozoya": cluster_train_options, "marita_unet": unet_train_options,
                     "cortina_svm": cortina_train_options, "cortina_resnet": cortina_resnet_train_options,
                     "cortina_detector": cortina_detector_train_options}
        if trainer in baselines:
            baselines[trainer](params)
            baseline_processes(params, single_process=trainer == "cortina_svm")
        else:
            config = train_options(params)[0]
            train_processes(params, config.batch_size)
    except ValueError as exc:
        return f"training option: {exc}"
    return None


async def _buffer(receive):
    """Read the whole body (up to MAX_CHECKED_BODY_BYTES) and a receive that replays it."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_CHECKED_BODY_BYTES:
            return None, receive
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _reply(send, status: int, detail: str) -> None:
    log.warning("refused request: %s %s", status, detail)
    await send_json(send, status, {"detail": detail})
