"""A fake 46elks API for tests: sending SMS and placing calls."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kodeord.inbound import webhooks


@dataclass
class FakeElks:
    """46elks' ``POST /a1/sms`` and ``POST /a1/calls``: checks basic auth, records each accepted form,
    answers with 46elks' JSON.

    ``refuse`` maps a recipient to the status code and body to answer instead.
    """

    user: str = "u1"
    password: str = "p1"
    accepted: list[dict[str, str]] = field(default_factory=list)
    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)
    requests: int = 0
    calls: list[dict[str, str]] = field(default_factory=list)

    async def sms(self, request: Request) -> Response:
        """Accept (or refuse) one message."""
        if webhooks.basic_credentials(request) != (self.user, self.password):
            return PlainTextResponse("API access requires Basic HTTP authentication", 401)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        self.requests += 1
        refusal = self.refuse.get(form.get("to", ""))
        if refusal is not None:
            return PlainTextResponse(refusal[1], refusal[0])
        elks_id = "s" + uuid.uuid4().hex
        self.accepted.append({**form, "id": elks_id})
        return JSONResponse(
            {
                "id": elks_id,
                "status": "created",
                "from": form["from"],
                "to": form["to"],
                "message": form["message"],
                "direction": "outgoing",
                "parts": 1,
                "cost": 3500,
                "created": "2024-05-11T19:02:13.224000",
            }
        )

    async def call(self, request: Request) -> Response:
        """Place (or refuse) one call."""
        if webhooks.basic_credentials(request) != (self.user, self.password):
            return PlainTextResponse("API access requires Basic HTTP authentication", 401)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        refusal = self.refuse.get(form.get("to", ""))
        if refusal is not None:
            return PlainTextResponse(refusal[1], refusal[0])
        if not {"from", "to", "voice_start"} <= set(form):
            return PlainTextResponse("Missing key from, to or voice_start", 400)
        call_id = "c" + uuid.uuid4().hex
        self.calls.append({**form, "id": call_id})
        return JSONResponse(
            {
                "id": call_id,
                "state": "ongoing",
                "from": form["from"],
                "to": form["to"],
                "direction": "outgoing",
                "created": "2024-05-11T19:02:13.224000",
            }
        )

    def app(self) -> Starlette:
        """The fake as a web app."""
        return Starlette(
            routes=[Route("/a1/sms", self.sms, methods=["POST"]), Route("/a1/calls", self.call, methods=["POST"])]
        )

    def texts_to(self, address: str) -> list[str]:
        """Texts accepted for ``address``, in order."""
        return [form["message"] for form in self.accepted if form["to"] == address]
