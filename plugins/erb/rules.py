"""The rules a machine can check, by id, as messages quote them (``ERB A.1.a: ...``).

The ids are the ethical council's (ERB, Etiska rådet för betalteletjänster) for premium services: A.1.a-e on
marketing, B.1 on charges and subscriptions. ``CS`` is the seed's rule on customer service and company details in
marketing, ``STOP`` the operators' code of conduct on STOPP and on competitions, and ``MKT`` Swedish marketing law
on consent for marketing by SMS (the Marketing Act, 19 §). docs/erb.md explains each with examples.
"""

from __future__ import annotations

RULES: dict[str, str] = {
    "A.1.a": "the price is stated in all marketing, directly next to the premium number, in Swedish",
    "A.1.b": "in print, the price is set horizontally and at least one third the size of the number",
    "A.1.c": "on TV or the web, the price is shown at least as long as the number",
    "A.1.e": "a subscription's marketing states the price per message, how often messages come and how to stop",
    "B.1": "a charge over 10 SEK gets an SMS receipt at once; a subscription states its price, frequency and how "
    "to stop, every message the price and a Swedish non-premium number; at most 10 messages before the "
    "subscriber confirms again; stopping costs no more than normal traffic",
    "CS": "a Swedish-speaking customer service on a Swedish number answers weekdays 09-16; the company's name, "
    "address and customer-service number are in all marketing",
    "STOP": "STOPP (and STOP) ends every service on the short number at once, with a confirmation; competitions "
    "are not sold as subscriptions",
    "MKT": "marketing by SMS goes only to those who agreed to it beforehand, and says who sends it and how to stop",
}


def breach(rule: str, what: str) -> str:
    """The message for a breach of ``rule``: ``ERB <rule>: <what>``."""
    if rule not in RULES:
        raise KeyError(f"no ERB rule {rule!r}")
    return f"ERB {rule}: {what}"
