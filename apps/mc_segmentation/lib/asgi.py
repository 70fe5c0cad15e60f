"""The one raw-ASGI answer the app's middleware gives: a JSON document with a status."""

from __future__ import annotations

import json


async def send_json(send, status: int, document: dict, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = json.dumps(document).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": payload})
