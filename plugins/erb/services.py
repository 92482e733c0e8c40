"""A service checked against the ERB's rules when rule files load (``kodeord_check_service``).

A service is premium when it charges (a rule's ``price:``, a ``subscription:``) or takes calls on a premium-rate
number. A premium service needs its tenant's company details (CS: name, address, a Swedish non-premium
customer-service number answering weekdays 09-16), a number on which STOPP and STOP stop everything
(STOP), and no charge for stopping (B.1). Every service's marketing texts are checked for prices next to
premium numbers (A.1.a), a premium service's for the company's details too (CS), a TV or web text for how long
its price is shown (A.1.c), and a subscription's for its price per message, frequency and stop instruction
(A.1.e). A subscription's own texts are checked (B.1), it asks again after at most 10 messages (B.1), and it is
never a competition (STOP).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from kodeord.config import keywords
from kodeord.config.model import Company, Config, Service
from kodeord.config.servicecheck import ServiceCheck
from kodeord.decide.templating import variables

from .numbers import customer_service_fault, is_premium
from .rules import breach
from .texts import Context, company_faults, footer_faults, price_faults, subscription_faults

MAX_UNCONFIRMED = 10  # B.1: messages before a subscriber confirms again, at most
OPEN_FROM, OPEN_UNTIL = 9 * 60, 16 * 60  # CS: customer service answers weekdays 09-16 at least
WEEKDAYS = range(5)
STOP_WORDS = ("STOPP", "STOP")


def is_premium_service(service: Service, config: Config) -> bool:
    """Whether ``service`` charges for messages or takes calls on a premium-rate number."""
    if service.prices:
        return True
    numbers = (service.number, *service.calls)
    return any(is_premium(number) for number in numbers if number.startswith("+"))


def context_of(service: Service, config: Config, company: Company | None) -> Context:
    """What ``service``'s marketing is checked against: the config's premium numbers and their prices (at its
    own number, its own prices: another service's price there is not what this one costs), and its
    subscription."""
    base = config_context(config, company)
    charges = dict(base.charges)
    if service.prices:
        charges[service.number] = tuple(sorted({Decimal(price) for price in service.prices}))
    return replace(base, charges=charges, subscription=service.subscription)


def config_context(config: Config, company: Company | None = None) -> Context:
    """What an ad is checked against: the config's premium numbers and their prices, and ``company``."""
    charges: dict[str, set[Decimal]] = {}
    for other in config.services.values():
        if other.prices:
            charges.setdefault(other.number, set()).update(Decimal(price) for price in other.prices)
        for number in other.calls:
            if is_premium(number):
                charges.setdefault(number, set())
    shorts = frozenset(address for address, number in config.numbers.items() if address.isdigit())
    return Context(
        company=company,
        charges={number: tuple(sorted(prices)) for number, prices in charges.items()},
        short_codes=shorts,
        premium_shorts=frozenset(number for number in charges if number in shorts),
    )


def check_service(check: ServiceCheck) -> None:
    """Every ERB rule a machine can check on ``check.service`` (see the module)."""
    service = check.service
    premium = is_premium_service(service, check.config)
    if premium:
        _company(check)
        _stopping(check)
    context = context_of(service, check.config, check.tenant.company if premium else None)
    _marketing(check, context)
    if service.subscription is not None:
        _subscription(check)


def _company(check: ServiceCheck) -> None:
    """CS: the company's details, for a premium service."""
    company = check.tenant.company
    tenant = check.tenant.id
    if company is None:
        check.tenant_problem(
            breach(
                "CS",
                f"tenant {tenant!r} has premium services: declare its company under company: (name, address, "
                "customer_service and hours)",
            ),
            "company",
        )
        return
    for key, what in (("name", "name"), ("address", "postal address"), ("customer_service", "customer-service number")):
        if not getattr(company, key):
            check.tenant_problem(
                breach("CS", f"tenant {tenant!r} has premium services: the company's {what} is missing"),
                "company",
                key,
            )
    if company.customer_service:
        fault = customer_service_fault(company.customer_service)
        if fault is not None:
            check.tenant_problem(breach("CS", f"customer service: {fault}"), "company", "customer_service")
    closed = [day for day in WEEKDAYS if not _open(company, day)]
    if closed:
        names = ", ".join(("mon", "tue", "wed", "thu", "fri")[day] for day in closed)
        check.tenant_problem(
            breach("CS", f"customer service must answer weekdays 09:00-16:00; the hours do not cover {names}"),
            "company",
            "hours",
        )


def _open(company: Company, day: int) -> bool:
    """Whether ``company``'s hours cover 09-16 on ``day``, however they are split."""
    reached = OPEN_FROM
    for hours in sorted((h for h in company.hours if day in h.days), key=lambda h: h.start):
        if hours.start <= reached:
            reached = max(reached, hours.end)
    return reached >= OPEN_UNTIL


def _stopping(check: ServiceCheck) -> None:
    """STOP: STOPP and STOP end everything on a premium service's number; B.1: stopping is not charged."""
    number = check.number
    missing = [word for word in STOP_WORDS if keywords.fold(word) not in number.words.stop]
    if missing:
        check.problem_at(
            number.loc,
            breach(
                "STOP",
                f"{' and '.join(missing)} must stop every service on {number.address}, which has premium "
                "services: keep them among its words: stop:",
            ),
        )
    receipt = variables(number.replies.get("receipt", ""))
    if not {"amount", "service"} <= receipt:
        check.problem_at(
            number.loc,
            breach(
                "B.1",
                f"the receipt of {number.address} (replies: receipt:) must name the service and the amount: "
                "use {{ service }} and {{ amount }}",
            ),
        )
    for other in check.config.services.values():  # a rule taking STOPP ends one service, not the number's all
        if other.number != number.address:
            continue
        for rule in other.rules:
            if rule.when.reserved is None or "stop" not in rule.when.reserved:
                continue
            what = breach(
                "STOP",
                f"rule {rule.name!r} of {other.key} takes STOPP itself; on {number.address}, which has premium "
                "services, STOPP must end every service at once: leave STOPP to the platform",
            )
            check.problem_at(rule.loc, what)  # alike from each premium service on the number: reported once
    for index, rule in enumerate(check.service.rules):
        if rule.price is not None and rule.when.reserved is not None and "stop" in rule.when.reserved:
            check.problem(
                breach(
                    "B.1",
                    f"rule {rule.name!r} charges {rule.price} for STOPP: stopping must cost no more than "
                    "a normal message",
                ),
                "rules",
                index,
                "price",
            )


def _marketing(check: ServiceCheck, context: Context) -> None:
    """A.1.a, CS, A.1.c and A.1.e on each marketing text."""
    for index, text in enumerate(check.service.marketing):
        for _, message in price_faults(text.text, context):
            check.problem(message, "marketing", index, "text")
        if context.company is not None:
            for message in company_faults(text.text, context.company):
                check.problem(message, "marketing", index, "text")
        if context.subscription is not None:
            for message in subscription_faults(text.text, context.subscription, "A.1.e", f"marketing {text.name!r}"):
                check.problem(message, "marketing", index, "text")
        if text.medium in ("tv", "web") and any(m.premium for m in context.mentions(text.text)):
            if text.number_seconds is None or text.price_seconds is None:
                check.problem(
                    breach(
                        "A.1.c",
                        f"marketing {text.name!r} on {text.medium.upper() if text.medium == 'tv' else 'the web'} "
                        "names a premium number: say how long the number and the price are shown "
                        "(number_seconds, price_seconds)",
                    ),
                    "marketing",
                    index,
                )
            elif text.price_seconds < text.number_seconds:
                check.problem(
                    breach(
                        "A.1.c",
                        f"the price is shown {text.price_seconds:g} s but the number {text.number_seconds:g} s: "
                        "the price must be shown at least as long",
                    ),
                    "marketing",
                    index,
                    "price_seconds",
                )


def _subscription(check: ServiceCheck) -> None:
    """B.1 on a subscription's texts and reconfirmation; STOP: no competition sold as a subscription."""
    subscription = check.service.subscription
    assert subscription is not None
    if subscription.confirm_after > MAX_UNCONFIRMED:
        check.problem(
            breach(
                "B.1",
                f"a subscriber must confirm again after at most {MAX_UNCONFIRMED} messages, "
                f"not {subscription.confirm_after}",
            ),
            "subscription",
            "confirm_after",
        )
    for message in subscription_faults(subscription.welcome, subscription, "B.1", "the first message (welcome:)"):
        check.problem(message, "subscription", "welcome")
    for message in footer_faults(subscription.footer, subscription):
        check.problem(message, "subscription", "footer")
    for index, rule in enumerate(check.service.rules):
        spec = check.actions.get(rule.action) if rule.action else None
        if spec is not None and "competition" in spec.tags:
            check.problem(
                breach(
                    "STOP",
                    f"rule {rule.name!r} takes competition answers ({rule.action}) in a subscription: "
                    "competitions are not sold as subscriptions",
                ),
                "rules",
                index,
                "do",
            )
