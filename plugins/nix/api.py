"""The NIX JSON API under ``/api/nix/`` (an API key per tenant; see docs/nix.md).

``GET /api/nix/check?number=...&number=...`` checks up to 1000 numbers against the current version of the
register (``register=`` names another than the default) and counts them as the key's tenant's usage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from kodeord.web.apiauth import tenant_endpoint

from .register import RegisterError, open_register
from .usage import count_usage

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

PREFIX = "/api/nix"
MAX_NUMBERS = 1000
LONGEST_NUMBER = 100  # characters of one number= value


async def check(request: Request, platform: PluginHost, tenant: str) -> Any:
    numbers = request.query_params.getlist("number")
    if not numbers:
        raise RegisterError("give the numbers to check as number=..., up to 1000")
    if len(numbers) > MAX_NUMBERS:
        raise RegisterError(f"{len(numbers)} numbers: check at most {MAX_NUMBERS} at a time", 413)
    if any(len(number) > LONGEST_NUMBER for number in numbers):
        raise RegisterError(f"a number= value is longer than {LONGEST_NUMBER} characters")
    code = request.query_params.get("register")

    def run() -> Any:
        register = open_register(platform, code)
        results = register.check_many(numbers)
        count_usage(platform, tenant, len(numbers))
        return {
            "results": [
                {"number": number, "register": register.spec.code, **result.to_dict()}
                for number, result in zip(numbers, results, strict=True)
            ]
        }

    return await run_in_threadpool(run)


def routes() -> list[Route]:
    """The NIX routes."""
    return [Route(PREFIX + "/check", tenant_endpoint(check), methods=["GET"])]
