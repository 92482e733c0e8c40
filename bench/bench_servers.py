"""The two servers ``bench/inbound.py`` compares, each run in its own process."""

from __future__ import annotations

import os

import redis.asyncio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def baseline_app() -> Starlette:
    """A bare handler: parse the JSON body, write it to Redis, answer."""
    client = redis.asyncio.Redis.from_url(os.environ["KODEORD_REDIS_URL"])

    async def write(request: Request) -> Response:
        body = await request.json()
        await client.set(f"baseline:{body['id']}", body["text"], ex=3600)
        return JSONResponse({"ok": True})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/write", write, methods=["POST"]), Route("/healthz", healthz)])


def run(kind: str, port: int) -> None:
    """Serve ``kind`` on loopback until terminated."""
    if kind == "baseline":
        uvicorn.run(baseline_app(), host="127.0.0.1", port=port, log_level="warning")
    else:
        uvicorn.run("kodeord.web.app:create_app_from_env", factory=True, host="127.0.0.1", port=port, log_level="warning")
