"""``donation.give``: one SMS, one donation of the rule's price, thanked with the rule's (charged) reply.

Whatever the donor writes after the keyword (or to a dedicated number) does not change the amount: the
rule's ``price:`` is both what the thank-you costs and what is counted. The counts are effects, committed
in one transaction with the reply and the message's dedupe mark, so a gateway's retry counts once.
"""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from kodeord.commit.effects import Effects, Write
from kodeord.decide.actions import ActionCall
from kodeord.support.errors import PluginError

from . import campaign as campaigns
from .store import DonationKeys, Slot

ORE = 100  # öre to the krona
BASIS = 100  # hundredths of a percent to the percent


def give(call: ActionCall) -> Effects:
    """Count one donation for the rule's campaign; the reply template gets ``amount`` and ``campaign``."""
    price = call.rule.price
    if price is None:  # check_rule refuses such rules at load
        raise PluginError(f"rule {call.rule.name!r} of {call.service.key} gives without a price")
    campaign = campaigns.of(call.service, call.rule.params)
    ore = int(Decimal(price) * ORE)
    slot = Slot(
        day=call.now.astimezone(ZoneInfo(call.service.timezone)).date().isoformat(),
        campaign=campaign.id,
        price_ore=ore,
        payout_bp=int(campaign.payout_percent * BASIS),
        operator=call.inbound.operator or call.inbound.gateway,
    )
    keys = DonationKeys(call.service.key)
    writes = [
        Write("HINCRBY", keys.totals, (slot.field(), 1)),
        Write("SADD", keys.campaigns, (campaign.id,)),
    ]
    return Effects(writes=writes, vars={"amount": price, "campaign": campaign.name})
