"""The coupon plugin's hooks. Registered through the ``kodeord`` entry point."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import click
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from kodeord import ActionCall, ActionSpec, Effects, Param, Write, hookimpl
from kodeord.cli import host
from kodeord.commit.keys import Keys
from kodeord.config.settings import Setting

ACTION = "coupon.claim"


def code_for(prefix: str, sender: str, secret: str) -> str:
    """A stable code per sender: the same person always gets the same code."""
    digest = hashlib.sha256(f"{secret}:{sender}".encode()).hexdigest()[:6].upper()
    return f"{prefix}-{digest}"


def claimed_key(keys: Keys) -> str:
    """Hash of sender -> code for one service."""
    return keys.plugin("coupon").key_for("claimed")


def claim(call: ActionCall) -> Effects:
    """Hand out a code; remember it so a second request returns the same one."""
    key = claimed_key(call.keys)
    known = call.redis.hget(key, call.inbound.sender)
    if known is not None:
        return Effects(vars={"code": known.decode(), "again": True})
    code = code_for(call.params["prefix"], call.inbound.sender, call.service.key)
    return Effects(writes=[Write("HSET", key, (call.inbound.sender, code))], vars={"code": code, "again": False})


@hookimpl
def kodeord_register_actions(register: Callable[[ActionSpec], None]) -> None:
    """Declare coupon.claim, with the function that runs it."""
    register(
        ActionSpec(
            ACTION,
            "Give the sender one coupon code (the same one if they ask again)",
            params=(Param("prefix", str, required=True, doc="text before the code, e.g. VINTER"),),
            provides=("code", "again"),
            run=claim,
        )
    )


@hookimpl
def kodeord_register_settings(register: Callable[[Setting], None]) -> None:
    """One setting, to show how: KODEORD_COUPON_LIMIT."""
    register(Setting("coupon_limit", int, 0, "Most coupons per service; 0 means no limit"))


@hookimpl
def kodeord_register_commands(cli: click.Group) -> None:
    """``kodeord coupon-count SERVICE``."""

    @cli.command("coupon-count")
    @click.argument("service")
    def coupon_count(service: str) -> None:
        """How many coupons SERVICE (tenant/service) has handed out."""
        with host.platform() as platform:  # errors (a broken rule file, no Redis) end the command
            click.echo(platform.redis.hlen(claimed_key(Keys.for_service(service))))


async def about(request: Request) -> Response:
    """GET /coupon/about: what this plugin is (no tenant data here: that needs an API key)."""
    return JSONResponse({"plugin": "coupon", "actions": [ACTION]})


@hookimpl
def kodeord_register_routes(register: Callable[[BaseRoute], None]) -> None:
    """GET /coupon/about."""
    register(Route("/coupon/about", about))
