"""Marketing vetted when it is queued and again when it is sent (the outgoing veto hooks).

A message marked as marketing (``Kind.MARKETING``: a list's broadcast sent as marketing) goes out only if its
text says who sends it (the company's name, or the tenant's: CS), how to stop (STOPP, in an SMS; an email needs
its unsubscribe link: STOP), the price next to any premium number it names (A.1.a), and if its recipient agreed
to marketing beforehand, as a plugin's records show (the address book's consent records, asked for through
``kodeord_marketing_consent``: MKT). Anything else is stopped with the rule as its reason, and counted per
service and rule when sending (``kodeord erb report``). A check that fails for any reason stops the message:
nothing is sent half-checked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from kodeord.decide.actions import Veto
from kodeord.inbound.messages import Channel, Kind

from .rules import breach
from .services import context_of
from .texts import STOP_WORD, Context, price_faults

if TYPE_CHECKING:
    from kodeord.config.model import Config
    from kodeord.inbound.messages import Outbound
    from kodeord.platform import PluginHost

PLUGIN = "erb"
log = logging.getLogger(__name__)
_cached: tuple[Config, dict[str, Context]] | None = None  # the contexts of one config, by service


def _context(config: Config, service: str) -> Context:
    """The context ``service``'s messages are checked in (premium numbers and prices of the whole config)."""
    global _cached
    if _cached is None or _cached[0] is not config:
        _cached = (config, {})
    contexts = _cached[1]
    if service not in contexts:
        contexts[service] = context_of(config.services[service], config, None)
    return contexts[service]


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).casefold()


def _fault(message: Outbound, host: PluginHost) -> Veto | None:
    """What in the message itself breaks a rule (before consent is asked)."""
    config = host.config
    service = config.services.get(message.service)
    if service is None:
        return Veto(breach("MKT", "marketing must come from a service of the rule files"), PLUGIN, "MKT")
    tenant = config.tenants[service.tenant]
    sender = tenant.company.name if tenant.company is not None and tenant.company.name else tenant.name
    if _normal(sender) not in _normal(message.text):
        return Veto(breach("CS", f"a marketing message must say who sends it ({sender})"), PLUGIN, "CS")
    if message.channel is Channel.EMAIL:
        if not message.meta.get("list_unsubscribe"):
            return Veto(breach("STOP", "a marketing email must carry its unsubscribe link"), PLUGIN, "STOP")
    elif STOP_WORD not in message.text:
        return Veto(breach("STOP", "a marketing SMS must say how to stop (STOPP, in capitals)"), PLUGIN, "STOP")
    faults = price_faults(message.text, _context(config, service.key))
    if faults:
        return Veto(faults[0][1], PLUGIN, "A.1.a")
    return None


def vet(messages: Sequence[Outbound], host: PluginHost) -> Mapping[int, Veto] | None:
    """Stop each marketing message that breaks a rule or lacks its recipient's consent (see the module)."""
    marketing = [index for index, message in enumerate(messages) if message.kind is Kind.MARKETING]
    if not marketing:
        return None
    vetoes: dict[int, Veto] = {}
    try:
        for index in marketing:
            fault = _fault(messages[index], host)
            if fault is not None:
                vetoes[index] = fault
        asked = [index for index in marketing if index not in vetoes]
        if asked:
            consent = host.hooks.marketing_consent([messages[i] for i in asked], host.redis)
            for position, index in enumerate(asked):
                if not consent.get(position, False):
                    message = messages[index]
                    vetoes[index] = Veto(
                        breach("MKT", f"{message.to} has not agreed to marketing from {message.service}"),
                        PLUGIN,
                        "MKT",
                    )
    except Exception:  # a check that cannot be made stops the message: nothing goes out half-checked
        log.exception("marketing could not be checked; %d message(s) stopped", len(marketing))
        return {index: Veto("ERB: the marketing checks could not be made", PLUGIN, "error") for index in marketing}
    return vetoes
