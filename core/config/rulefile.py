"""Loading rule files: YAML -> schema check -> typed ``Config``, every fault located."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from difflib import get_close_matches
from pathlib import Path
from zoneinfo import ZoneInfo

from kodeord.config import keywords
from kodeord.config.model import (
    DAYS,
    MAX_RULES_PER_SERVICE,
    Company,
    Condition,
    Config,
    Marketing,
    OwnNumber,
    Rule,
    Service,
    Subscription,
    Tenant,
    Words,
)
from kodeord.config.ruleschema import RULE_FILE
from kodeord.config.schema import Checker, Loc, Obj
from kodeord.config.servicecheck import ServiceCheck
from kodeord.config.yamlfile import parse_yaml
from kodeord.decide import templating
from kodeord.decide.actions import ActionSpec
from kodeord.inbound import phone
from kodeord.inbound.messages import Channel, check_email
from kodeord.support.errors import InvalidMessage, InvalidNumber, Problem, RuleFileError, TemplateError

DEFAULT_WORDS = {"start": ("START",), "stop": ("STOPP", "STOP"), "help": ("HJÄLP", "HJELP", "HELP")}
# Premium prices a rule may charge, per country of its number: Sweden's premium SMS and 099 calls are priced
# from 0.80 to 9.90 SEK (MA-7).
PRICE_RANGES = {"se": (Decimal("0.80"), Decimal("9.90"), "SEK")}
# What a receipt (the reply ``receipt``) may say besides the usual variables: what was paid, to whom.
RECEIPT_VARIABLES = ("amount", "company", "customer_service")
DEFAULT_REPLIES = {
    "se": {
        "start": "Du är anmäld igen och kan få meddelanden från {{ number }}.",
        "stop": "Du är avanmäld och får inga fler meddelanden från {{ number }}. Skicka START för att anmäla dig igen.",
        "help": "Skicka ett kodord till {{ number }}. Svara STOPP för att avsluta.",
        "unknown": '{% if keyword %}Okänt kodord "{{ keyword }}". Kontrollera stavningen och försök igen.'
        "{% else %}Tomt meddelande. Skicka ett kodord till {{ number }}.{% endif %}",
        "receipt": "Kvitto: du har betalat {{ amount }} kr till {{ company }} för {{ service }}."
        "{% if customer_service %} Kundtjänst {{ customer_service }}.{% endif %}",
    },
    "no": {
        "start": "Du er påmeldt igjen og kan få meldinger fra {{ number }}.",
        "stop": "Du er avmeldt og får ingen flere meldinger fra {{ number }}. Send START for å melde deg på igjen.",
        "help": "Send et kodeord til {{ number }}. Send STOPP for å avslutte.",
        "unknown": '{% if keyword %}Ukjent kodeord "{{ keyword }}". Sjekk stavingen og prøv igjen.'
        "{% else %}Tom melding. Send et kodeord til {{ number }}.{% endif %}",
        "receipt": "Kvittering: du har betalt {{ amount }} kr til {{ company }} for {{ service }}."
        "{% if customer_service %} Kundeservice {{ customer_service }}.{% endif %}",
    },
}


def expand(paths: Iterable[Path]) -> list[Path]:
    """Rule files named by ``paths``: files as given, folders' ``*.yaml``/``*.yml`` sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
        else:
            found.append(path)
    return found


def read(path: Path) -> tuple[Obj | None, list[Problem]]:
    """Parse and schema-check one file."""
    data, problems = parse_yaml(path)
    if problems:
        return None, problems
    checker = Checker(str(path))
    obj = RULE_FILE.check(data, checker, Loc(str(path), 1, 1), "")
    return obj, checker.problems  # the usable part is checked further even when a part is broken


class _Builder:
    """Turns checked files into one ``Config``, finding conflicts between files."""

    def __init__(self, actions: Mapping[str, ActionSpec], timezone: str, regions: Sequence[str]) -> None:
        self.actions = actions
        self.timezone = timezone
        self.regions = regions
        self.problems: list[Problem] = []
        self.tenants: dict[str, Tenant] = {}
        self.numbers: dict[str, OwnNumber] = {}
        self.owners: dict[str, str] = {}  # non-shared number -> tenant id
        self.services: dict[str, Service] = {}
        self.declared: dict[str, tuple[Obj, Obj]] = {}  # service key -> its declaration and its file's tenant's

    def problem(self, obj: Obj, key: str, message: str) -> None:
        loc, path = obj.where(key)
        self.problems.append(Problem(loc.file, loc.line, loc.column, message, path))

    def address(self, obj: Obj, key: str) -> str | None:
        raw = obj[key]
        try:
            if "@" in raw:
                return check_email(raw)
            return phone.parse_address(raw, self.regions)
        except (InvalidNumber, InvalidMessage) as exc:
            self.problem(obj, key, str(exc))
            return None

    def add_files(self, objs: Sequence[Obj]) -> None:
        """Every file's numbers first, then every file's services: a service may use a number any loaded file
        declares, whatever the order of the files."""
        tenants = [self.tenant(obj["tenant"]) for obj in objs]
        for obj, tenant in zip(objs, tenants, strict=True):
            for number in obj["numbers"]:
                self.number(number, tenant)
        for obj, tenant in zip(objs, tenants, strict=True):
            for service in obj["services"]:
                key = self.service(service, tenant)
                if key is not None:
                    self.declared[key] = (service, obj["tenant"])

    def check_services(self, check: Callable[[ServiceCheck], None]) -> None:
        """Let ``check`` (the plugins' ``kodeord_check_service``) check every service, with the whole config."""
        config = Config(self.tenants, self.numbers, self.services)
        for key, service in self.services.items():
            service_obj, tenant_obj = self.declared[key]
            found = ServiceCheck(
                service,
                self.tenants[service.tenant],
                self.numbers[service.number],
                config,
                self.actions,
                service_obj,
                tenant_obj,
            )
            check(found)
            # A fault of the tenant's, found with each of its services, is reported once.
            self.problems.extend(p for p in dict.fromkeys(found.problems) if p not in self.problems)

    def tenant(self, obj: Obj) -> Tenant:
        company = self.company(obj["company"]) if obj.get("company") else None
        tenant = Tenant(
            obj["id"], obj.get("name", obj["id"]), obj.get("timezone", self.timezone), obj.loc.file, company
        )
        known = self.tenants.setdefault(tenant.id, tenant)
        if known != tenant and (known.name, known.timezone) != (tenant.name, tenant.timezone):
            self.problem(obj, "id", f"tenant {tenant.id!r} is declared differently in {known.file}")
        elif company is not None and known.company is None:  # one of the tenant's files declares the company
            known = self.tenants[tenant.id] = replace(known, company=company)
        elif company is not None and company != known.company:
            self.problem(obj, "company", f"tenant {tenant.id!r} declares other company details in {known.file}")
        return known

    @staticmethod
    def company(obj: Obj) -> Company:
        return Company(
            name=obj.get("name"),
            address=obj.get("address"),
            customer_service=obj.get("customer_service"),
            hours=tuple(obj["hours"]),
            email=obj.get("email"),
        )

    def number(self, obj: Obj, tenant: Tenant) -> None:
        address = self.address(obj, "number")
        if address is None:
            return
        kind = obj.get("type") or ("email" if "@" in address else "shared" if address.isdigit() else "dedicated")
        if (kind == "email") != ("@" in address):
            self.problem(obj, "type", f"{address} cannot be a number of type {kind!r}")
            return
        country = obj.get("country", "se")
        folded = {k: frozenset(keywords.fold(w) for w in v) for k, v in DEFAULT_WORDS.items()}
        if obj.get("words"):
            folded |= {k: frozenset(keywords.fold(w) for w in v) for k, v in obj["words"].values.items() if v}
        replies = dict(DEFAULT_REPLIES[country])
        if obj.get("replies"):
            for key, text in obj["replies"].values.items():
                extra = RECEIPT_VARIABLES if key == "receipt" else ()
                if text is not None and self.template(obj["replies"], key, text, extra):
                    replies[key] = text
        number = OwnNumber(address, kind, country, Words(**folded), replies, obj.loc)
        known = self.numbers.get(address)
        if known is None:
            self.numbers[address] = number
            if kind != "shared":
                self.owners[address] = tenant.id
            return
        if kind != "shared" or known.type != "shared":
            owner = self.owners.get(address, "?")
            self.problem(obj, "number", f"number {address} is already declared by tenant {owner!r} in {known.loc.file}")
        elif (known.words, known.replies, known.country) != (number.words, number.replies, number.country):
            self.problem(obj, "number", f"shared number {address} is declared with other settings in {known.loc.file}")

    def template(self, obj: Obj, key: str, text: str, extra: tuple[str, ...] = ()) -> bool:
        try:
            templating.check(text, templating.BASE_VARIABLES | set(extra))
            return True
        except TemplateError as exc:
            self.problem(obj, key, str(exc))
            return False

    def service(self, obj: Obj, tenant: Tenant) -> str | None:
        """Build one service; its key, or None if it could not be built."""
        address = self.address(obj, "number")
        if address is None:
            return None
        number = self.numbers.get(address)
        if number is None:
            self.problem(obj, "number", f"number {address} is not declared under numbers:")
            return None
        owner = self.owners.get(address)
        if owner is not None and owner != tenant.id:
            self.problem(obj, "number", f"number {address} belongs to tenant {owner!r}")
            return None
        if number.type == "shared" and (obj.get("catch_all") or not obj.get("keyword")):
            self.problem(obj, "keyword", "a service on a shared short code needs a keyword and cannot be catch_all")
            return None
        if number.type == "dedicated" and not obj.get("keyword") and not obj.get("catch_all"):
            self.problem(obj, "keyword", "a service needs a keyword or catch_all: true")
            return None
        rules = obj["rules"]
        if len(rules) > MAX_RULES_PER_SERVICE:
            self.problem(
                obj,
                "rules",
                f"service {obj['id']!r} has {len(rules)} rules; at most {MAX_RULES_PER_SERVICE} "
                "are allowed in one service (split it into several services)",
            )
            return None
        zone = tenant.timezone
        problems_before = len(self.problems)
        fallback = obj.get("fallback")
        if fallback is not None:
            self.template(obj, "fallback", fallback)
        service = Service(
            tenant=tenant.id,
            id=obj["id"],
            number=address,
            keyword=obj.get("keyword"),
            aliases=tuple(obj["aliases"]),
            catch_all=bool(obj["catch_all"]) or number.type in ("voice", "email"),
            accent_sensitive=bool(obj["accent_sensitive"]),
            fallback=fallback,
            rules=tuple(r for r in (self.rule(rule, obj, zone, number.country) for rule in rules) if r is not None),
            timezone=zone,
            settings=obj.get("settings", {}),
            loc=obj.loc,
            calls=self.calls(obj, tenant, number.country),
            telemarketing=bool(obj["telemarketing"]),
            marketing=tuple(self.marketing(item) for item in obj["marketing"]),
            subscription=self.subscription(obj["subscription"], number.country) if obj.get("subscription") else None,
        )
        known = self.services.get(service.key)
        if known is not None:
            self.problem(obj, "id", f"service {service.key!r} is already declared in {known.loc.file}")
            return None
        for rule in service.rules if len(self.problems) == problems_before else ():  # checks need sound rules
            spec = self.actions.get(rule.action) if rule.action else None
            if spec is not None and spec.check_rule is not None:
                for message in spec.check_rule(rule, service):
                    self.problems.append(Problem(rule.loc.file, rule.loc.line, rule.loc.column, message))
        self.services[service.key] = service
        return service.key

    @staticmethod
    def marketing(obj: Obj) -> Marketing:
        return Marketing(
            obj["name"], obj["medium"], obj["text"], obj.get("number_seconds"), obj.get("price_seconds"), obj.loc
        )

    def subscription(self, obj: Obj, country: str) -> Subscription:
        self.price(obj, country)
        for key in ("welcome", "footer", "confirm"):
            self.template(obj, key, obj[key])
        return Subscription(
            price=obj["price"],
            frequency=obj["frequency"],
            welcome=obj["welcome"],
            footer=obj["footer"],
            confirm_after=obj["confirm_after"],
            confirm=obj["confirm"],
            confirm_word=obj["confirm_word"],
        )

    def calls(self, obj: Obj, tenant: Tenant, country: str) -> dict[str, str]:
        """A service's ``calls:``: each voice number (declared here as type voice unless it is already) -> words."""
        calls: dict[str, str] = {}
        for raw, words in obj["calls"].items():
            try:
                address = phone.parse_address(raw, self.regions)
            except (InvalidNumber, InvalidMessage) as exc:
                self.problem(obj, "calls", f"{raw!r}: {exc}")
                continue
            known = self.numbers.get(address)
            if known is None:
                replies = dict(DEFAULT_REPLIES[country])
                folded = {k: frozenset(keywords.fold(w) for w in v) for k, v in DEFAULT_WORDS.items()}
                self.numbers[address] = OwnNumber(address, "voice", country, Words(**folded), replies, obj.loc)
                self.owners[address] = tenant.id
            elif known.type != "voice":
                self.problem(obj, "calls", f"{raw!r} is declared as a {known.type} number; calls need a voice number")
                continue
            elif self.owners.get(address, tenant.id) != tenant.id:
                self.problem(obj, "calls", f"number {address} belongs to tenant {self.owners[address]!r}")
                continue
            calls[address] = words.strip()
        return calls

    def rule(self, obj: Obj, service: Obj, zone: str, country: str) -> Rule | None:
        names = [r["name"] for r in service["rules"]]
        if names.count(obj["name"]) > 1 and names.index(obj["name"]) != service["rules"].index(obj):
            self.problem(obj, "name", f"rule name {obj['name']!r} is used twice in service {service['id']!r}")
        action, params = obj.get("do"), obj.get("with", {})
        if not isinstance(params, dict):
            self.problem(obj, "with", "expected a mapping of parameters")
            return None
        if action is None and params:
            self.problem(obj, "with", "parameters given but no action in do:")
        if action is None and obj.get("reply") is None:
            self.problem(obj, "name", "a rule needs do: (an action), reply: (a text) or both")
        if action is not None:
            spec = self.actions.get(action)
            if spec is None:
                hint = get_close_matches(action, list(self.actions), n=1)
                known = ", ".join(sorted(self.actions)) or "none (no plugin is loaded)"
                self.problem(
                    obj,
                    "do",
                    f"unknown action {action!r}"
                    + (f" (did you mean {hint[0]!r}?)" if hint else "")
                    + f"; actions there are: {known}",
                )
                return None
            for message in spec.check_params(params):
                self.problem(obj, "with", message)
            params = spec.with_defaults(params)
        provides = self.actions[action].provides if action is not None else ()
        if obj.get("reply") is not None and not self.template(obj, "reply", obj["reply"], provides):
            return None
        self.price(obj, country)
        when = obj.get("when")
        condition = self.condition(when, zone) if when else Condition()
        if action is not None and self.actions[action].takes_reserved and condition.reserved is None:
            condition = replace(condition, reserved=frozenset(("start", "stop", "")))  # "": any other text
        return Rule(obj["name"], condition, action, params, obj.get("reply"), obj.loc, obj.get("price"))

    def price(self, obj: Obj, country: str) -> None:
        """A premium price (``obj``'s ``price``) must be in its country's range."""
        price = obj.get("price")
        if price is not None and country in PRICE_RANGES:
            low, high, currency = PRICE_RANGES[country]
            if not low <= Decimal(price) <= high:
                self.problem(
                    obj,
                    "price",
                    f"a premium price on a {country.upper()} number must be from {low} to {high} {currency}, "
                    f"got {price}",
                )

    def condition(self, obj: Obj, zone: str) -> Condition:
        def localise(value: datetime | None) -> datetime | None:
            if value is None or value.tzinfo is not None:
                return value
            return value.replace(tzinfo=ZoneInfo(zone))

        def words(key: str) -> frozenset[str] | None:
            return frozenset(obj[key]) if obj.get(key) else None

        start, end = localise(obj.get("from")), localise(obj.get("until"))
        if start and end and end <= start:
            self.problem(obj, "until", "until: must be later than from:")
        return Condition(
            reserved=words("reserved"),
            keywords=frozenset(keywords.fold(k) for k in obj["keyword"]) if obj.get("keyword") else None,
            args=obj.get("args"),
            roles=words("role"),
            channels=frozenset(Channel(c) for c in obj["channel"]) if obj.get("channel") else None,
            start=start,
            end=end,
            hours=obj.get("hours"),
            days=frozenset(DAYS.index(d) for d in obj["days"]) if obj.get("days") else None,
        )


def load(
    paths: Iterable[Path],
    actions: Mapping[str, ActionSpec],
    timezone: str = "Europe/Stockholm",
    regions: Sequence[str] = ("SE", "NO"),
    check_service: Callable[[ServiceCheck], None] | None = None,
) -> Config:
    """Load every rule file in ``paths`` into one ``Config``; raise ``RuleFileError``. ``check_service`` checks
    each service with the whole config (the plugins' ``kodeord_check_service``)."""
    files = expand(paths)
    problems: list[Problem] = []
    checked: list[Obj] = []
    for path in files:
        obj, found = read(path)
        problems.extend(found)
        if obj is not None:
            checked.append(obj)
    builder = _Builder(actions, timezone, regions)
    builder.add_files(checked)
    if check_service is not None:
        builder.check_services(check_service)
    problems.extend(builder.problems)
    if problems:
        order = {str(path): n for n, path in enumerate(files)}
        raise RuleFileError(sorted(problems, key=lambda p: (order.get(p.file, len(order)), p.file, p.line, p.column)))
    return Config(builder.tenants, builder.numbers, builder.services, tuple(str(p) for p in files))
