"""The telemarketing veto (NIX-6): Kodeord's own messages for a service declared ``telemarketing: true`` reach
only recipients the do-not-call register clears.

A message of such a service is stopped, when it is queued and again right before it is handed to a gateway,
unless the register of the recipient's country (chosen by country calling code among the configured
registers) has a version, the recipient is not in its newest one, and that version's months have not run out
(the dialer's rule, :func:`.dialer.verdict`). It fails safe: no register for the recipient's country, no
version imported, a version too old or a number the register cannot read all stop the message. One
``check_many`` per register per batch. A direct reply to someone's own message is not telemarketing (they
asked: the register covers contacts a consumer did not start) and passes, as do other services' messages,
platform messages and email.

Whether a service is telemarketing is read from the platform the veto hook is given, on every batch, so a rule
reload is seen at once. Checks made by the veto are not counted as usage: they are Kodeord's own, made twice
per message.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from kodeord.decide.actions import Veto
from kodeord.inbound.messages import Channel, Kind

from .dialer import verdict
from .register import Register, RegisterError
from .spec import RegisterSpec, registers
from .usage import PLUGIN

if TYPE_CHECKING:
    from kodeord.inbound.messages import Outbound
    from kodeord.platform import PluginHost


def register_for(number: str, specs: Sequence[RegisterSpec]) -> RegisterSpec | None:
    """The register of ``number``'s country (``+4670...``, ``004670...``), or None when none is configured."""
    digits = number.strip().removeprefix("+")
    if digits.startswith("00"):
        digits = digits[2:]
    return next((spec for spec in specs if digits.startswith(str(spec.country_code))), None)


def vet(messages: Sequence[Outbound], host: PluginHost) -> Mapping[int, Veto] | None:
    """Veto the telemarketing services' messages to recipients who may not be contacted (see the module)."""
    days: dict[int, date] = {}
    for index, message in enumerate(messages):
        if message.kind is Kind.REPLY or message.channel is Channel.EMAIL or not message.service:
            continue
        service = host.service(message.service)
        if service is not None and service.telemarketing:
            days[index] = _today(service.timezone)
    if not days:
        return None
    specs = list(registers(host.settings).values())
    vetoes: dict[int, Veto] = {}
    by_register: dict[RegisterSpec, list[int]] = defaultdict(list)
    for index in days:
        spec = register_for(messages[index].to, specs)
        if spec is None:
            vetoes[index] = Veto("telemarketing: no do-not-call register is configured for this country", PLUGIN)
        else:
            by_register[spec].append(index)
    for spec, indexes in by_register.items():
        register = Register(host.redis, spec, keep=host.settings.nix_keep_versions)
        try:
            results = register.check_many([messages[i].to for i in indexes])
        except RegisterError as exc:
            for index in indexes:
                vetoes[index] = Veto(f"telemarketing: {exc}", PLUGIN)
            continue
        for index, result in zip(indexes, results, strict=True):
            said = verdict(result, spec, days[index])
            if not said.may_call:
                vetoes[index] = Veto(f"telemarketing: {said.reason} ({said.detail})", PLUGIN)
    return vetoes


def _today(zone: str) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(zone)).date()
