"""The ERB's rules, checked as rule files load: each rule caught at its place in the file, with its id, by
``kodeord rules check`` and by a reload; a compliant file passes."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodeord.cli.commands import cli
from kodeord.config.model import Company, Subscription
from kodeord.platform import Platform
from kodeord.plugins.erb.numbers import mentions
from kodeord.plugins.erb.texts import Context, company_faults, footer_faults, price_faults, subscription_faults
from kodeord.support.errors import RuleFileError

COMPANY = """\
  company:
    name: Demo-TV AB
    address: Tevevägen 1, 111 22 Stockholm
    customer_service: "08-123 45 67"
    hours: [mon-fri 09:00-12:00, mon-fri 12:00-17:00]
"""
MARKETING = (
    "Rösta! SMS MELLO 03 till 72500 (4,90 kr/sms). Demo-TV AB, Tevevägen 1, 111 22 Stockholm. Kundtjänst 08-123 45 67."
)


def rule_file(company: str = COMPANY, marketing: str = MARKETING, extra: str = "", words: str = "") -> str:
    return (
        "tenant:\n  id: demo-tv\n  name: Demo-TV AB\n"
        + company
        + textwrap.dedent(
            f"""\
            numbers:
              - number: "72500"
                type: shared
            {words}
            services:
              - id: mello
                number: "72500"
                keyword: MELLO
                rules:
                  - name: vote
                    reply: "Tack för din röst!"
                    price: "4.90"
                marketing:
                  - name: annons
                    medium: print
                    text: "{marketing}"
            """
        )
        + extra
    )


def check(tmp_path: Path, text: str) -> tuple[int, list[str]]:
    path = tmp_path / "tv.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["rules", "check", str(path)])
    return result.exit_code, [line.replace(f"{path}:", "tv.yaml:") for line in result.stdout.splitlines()]


def test_a_compliant_premium_service_loads(tmp_path: Path) -> None:
    assert check(tmp_path, rule_file()) == (0, ["ok: 1 file(s), 1 tenant(s), 1 service(s), 1 keyword(s)"])


def test_a_premium_service_without_company_details_is_refused_at_the_tenant(tmp_path: Path) -> None:
    code, lines = check(tmp_path, rule_file(company=""))
    assert code == 1
    assert lines == [
        "tv.yaml:2:3: ERB CS: tenant 'demo-tv' has premium services: declare its company under company: "
        "(name, address, customer_service and hours) (at tenant.company)"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('customer_service: "08-123 45 67"', 'customer_service: "0900-123 45 67"'),
            "tv.yaml:7:5: ERB CS: customer service: 0900-123 45 67 is a premium-rate number; calling customer "
            "service must cost no more than a normal call (at tenant.company.customer_service)",
        ),
        (
            ('customer_service: "08-123 45 67"', 'customer_service: "+47 22 33 44 55"'),
            "tv.yaml:7:5: ERB CS: customer service: +47 22 33 44 55 is a foreign number (+47); it must be a Swedish "
            "one (at tenant.company.customer_service)",
        ),
        (
            ("hours: [mon-fri 09:00-12:00, mon-fri 12:00-17:00]", "hours: [mon-thu 09:00-17:00, fri 09:00-15:00]"),
            "tv.yaml:8:5: ERB CS: customer service must answer weekdays 09:00-16:00; the hours do not cover fri "
            "(at tenant.company.hours)",
        ),
        (
            ("    address: Tevevägen 1, 111 22 Stockholm\n", ""),
            "tv.yaml:5:5: ERB CS: tenant 'demo-tv' has premium services: the company's postal address is missing "
            "(at tenant.company.address)",
        ),
    ],
)
def test_wrong_company_details_are_refused_where_they_are(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    code, lines = check(tmp_path, rule_file(company=COMPANY.replace(*change), marketing=MARKETING.replace(*change)))
    assert code == 1
    assert expected in lines


@pytest.mark.parametrize(
    ("marketing", "expected"),
    [
        (
            MARKETING.replace(" (4,90 kr/sms)", ""),
            "ERB A.1.a: 72500 is named without its price next to it (such as '4,90 kr' right after the number)",
        ),
        (
            MARKETING.replace("(4,90 kr/sms)", "(4.90 SEK/sms)"),
            "ERB A.1.a: the price next to 72500 is not written in Swedish (write it as '4,90 kr')",
        ),
        (
            MARKETING.replace("4,90 kr", "2,90 kr"),
            "ERB A.1.a: the price next to 72500 says 2,90 kr but it costs 4,90 kr",
        ),
        (
            MARKETING.replace(
                " (4,90 kr/sms). ", ". Långt därifrån, i en helt annan mening och efter många ord: 4,90 kr/sms. "
            ),
            "ERB A.1.a: 72500 is named without its price next to it (such as '4,90 kr' right after the number)",
        ),
        (
            MARKETING.replace("Kundtjänst 08-123 45 67.", "Ring 0900-123 45 67 för mer."),
            "ERB A.1.a: 0900-123 45 67 is named without its price next to it (such as '4,90 kr' right after the "
            "number)",
        ),
        (
            MARKETING.replace(" Tevevägen 1, 111 22 Stockholm.", "").replace("Kundtjänst 08-123 45 67.", ""),
            "ERB CS: the marketing must name its address (Tevevägen 1, 111 22 Stockholm) and its customer-service "
            "number (08-123 45 67)",
        ),
    ],
)
def test_a_marketing_text_breaking_a_rule_is_refused_at_the_text(tmp_path: Path, marketing: str, expected: str) -> None:
    code, lines = check(tmp_path, rule_file(marketing=marketing))
    assert code == 1
    assert f"tv.yaml:24:9: {expected} (at services[0].marketing[0].text)" in lines


def test_on_tv_the_price_is_shown_as_long_as_the_number(tmp_path: Path) -> None:
    tv = rule_file().replace("medium: print", "medium: tv")
    code, lines = check(tmp_path, tv)
    assert code == 1
    assert lines[0] == (
        "tv.yaml:22:9: ERB A.1.c: marketing 'annons' on TV names a premium number: say how long the number and "
        "the price are shown (number_seconds, price_seconds) (at services[0].marketing[0])"
    )
    shown = tv + "        number_seconds: 10\n        price_seconds: 5\n"
    code, lines = check(tmp_path, shown)
    assert lines[0] == (
        "tv.yaml:26:9: ERB A.1.c: the price is shown 5 s but the number 10 s: the price must be shown at least as "
        "long (at services[0].marketing[0].price_seconds)"
    )
    assert check(tmp_path, shown.replace("price_seconds: 5", "price_seconds: 10"))[0] == 0


def test_stopp_ends_everything_and_costs_nothing(tmp_path: Path) -> None:
    words = "    words: {stop: [SLUTA]}"
    code, lines = check(tmp_path, rule_file(words=words))
    assert code == 1
    assert lines[0] == (
        "tv.yaml:10:5: ERB STOP: STOPP and STOP must stop every service on 72500, which has premium services: "
        "keep them among its words: stop:"
    )
    text = rule_file().replace(
        "    marketing:",
        '      - name: stopp\n        when: {reserved: stop}\n        reply: "Hej då"\n        price: "1.00"\n'
        "    marketing:",
    )
    code, lines = check(tmp_path, text)
    assert code == 1
    assert lines == [
        "tv.yaml:21:9: ERB STOP: rule 'stopp' of demo-tv/mello takes STOPP itself; on 72500, which has premium "
        "services, STOPP must end every service at once: leave STOPP to the platform",
        "tv.yaml:24:9: ERB B.1: rule 'stopp' charges 1.00 for STOPP: stopping must cost no more than a normal "
        "message (at services[0].rules[1].price)",
    ]
    # another service on the same number may not take STOPP for itself either: it would end only that service
    other = rule_file() + (
        '  - id: lista\n    number: "72500"\n    keyword: LISTA\n    rules:\n'
        "      - {name: lista, do: addressbook.inbox}\n"
    )
    code, lines = check(tmp_path, other)
    assert code == 1
    assert lines[0].startswith("tv.yaml:29:9: ERB STOP: rule 'lista' of demo-tv/lista takes STOPP itself; on 72500")


SUBSCRIPTION = """\
  - id: horoskop
    number: "72500"
    keyword: HOROSKOP
    subscription:
      price: "5.00"
      frequency: 3 sms i veckan
      welcome: "Välkommen till Dagens horoskop! 5,00 kr/sms, 3 sms i veckan. Avsluta: SMS STOPP till 72500."
      footer: "5,00 kr/sms. Kundtjänst 08-123 45 67"
      confirm: "Vill du fortsätta få horoskop för 5,00 kr/sms? Svara JA."
    marketing:
      - name: affisch
        medium: print
        text: "Dagens horoskop: SMS HOROSKOP till 72500. 5,00 kr/sms, 3 sms i veckan. Avsluta med STOPP.
          Demo-TV AB, Tevevägen 1, 111 22 Stockholm. Kundtjänst 08-123 45 67."
"""


def test_a_subscription_states_its_terms_everywhere(tmp_path: Path) -> None:
    assert check(tmp_path, rule_file(extra=SUBSCRIPTION))[0] == 0
    broken = (
        SUBSCRIPTION.replace(" 3 sms i veckan. Avsluta: SMS STOPP till 72500.", "")
        .replace("5,00 kr/sms. Kundtjänst 08-123 45 67", "Hälsningar")
        .replace("5,00 kr/sms, 3 sms i veckan. Avsluta med STOPP.", "Bara 5,00 kr!")
        .replace('      confirm: "', '      confirm_after: 12\n      confirm: "')
    )
    code, lines = check(tmp_path, rule_file(extra=broken))
    assert code == 1
    assert lines == [
        "tv.yaml:31:7: ERB B.1: the first message (welcome:) must state how often messages come ('3 sms i "
        "veckan', as the subscription declares it) and how to stop (STOPP, in capitals) "
        "(at services[1].subscription.welcome)",
        "tv.yaml:32:7: ERB B.1: every subscription message must state the price (such as '5,00 kr/sms') and a "
        "Swedish phone number that is not premium-rate (such as customer service's): the footer does not "
        "(at services[1].subscription.footer)",
        "tv.yaml:33:7: ERB B.1: a subscriber must confirm again after at most 10 messages, not 12 "
        "(at services[1].subscription.confirm_after)",
        "tv.yaml:38:9: ERB A.1.e: marketing 'affisch' must state the price per message (such as '5,00 kr/sms'), how "
        "often messages come ('3 sms i veckan', as the subscription declares it) and how to stop (STOPP, in "
        "capitals) (at services[1].marketing[0].text)",
    ]


def test_a_competition_is_never_sold_as_a_subscription(tmp_path: Path) -> None:
    competition = SUBSCRIPTION + (
        "    rules:\n      - name: svar\n        do: voting.enter\n        with: {title: Veckans fråga, key: X}\n"
    )
    code, lines = check(tmp_path, rule_file(extra=competition))
    assert code == 1
    assert lines[0] == (
        "tv.yaml:41:9: ERB STOP: rule 'svar' takes competition answers (voting.enter) in a subscription: "
        "competitions are not sold as subscriptions (at services[1].rules[0].do)"
    )


def test_a_service_that_charges_nothing_needs_no_company_but_its_ads_name_prices(tmp_path: Path) -> None:
    free = rule_file(company="").replace('        price: "4.90"\n', "")
    assert check(tmp_path, free.replace(" (4,90 kr/sms)", ""))[0] == 0  # 72500 is not premium for anyone here
    premium_elsewhere = free.replace(" (4,90 kr/sms)", "").replace("MELLO 03 till 72500", "till 0900-123 45 67")
    code, lines = check(tmp_path, premium_elsewhere)
    assert code == 1 and "0900-123 45 67 is named without its price next to it" in lines[0]


def test_a_reload_that_breaks_a_rule_keeps_the_rules_it_had(
    tmp_path: Path, make_platform: Callable[..., Platform]
) -> None:
    path = tmp_path / "tv.yaml"
    path.write_text(rule_file(), encoding="utf-8")
    platform = make_platform(path)
    path.write_text(rule_file(marketing=MARKETING.replace(" (4,90 kr/sms)", "")), encoding="utf-8")
    with pytest.raises(RuleFileError) as refused:
        platform.reload_rules()
    assert [p.message for p in refused.value.problems] == [
        "ERB A.1.a: 72500 is named without its price next to it (such as '4,90 kr' right after the number)"
    ]
    assert platform.service("demo-tv/mello") is not None  # the working rules stay
    assert platform.service("demo-tv/mello").marketing[0].text == MARKETING  # type: ignore[union-attr]


def test_a_subscriptions_texts_state_its_own_price(tmp_path: Path) -> None:
    cheaper = SUBSCRIPTION.replace('footer: "5,00 kr/sms.', 'footer: "1,00 kr/sms.').replace(
        "Välkommen till Dagens horoskop! 5,00 kr/sms", "Välkommen till Dagens horoskop! 2,00 kr/sms"
    )
    code, lines = check(tmp_path, rule_file(extra=cheaper))
    assert code == 1
    assert [line.split(": ", 1)[1] for line in lines] == [
        "ERB B.1: the first message (welcome:) says 2,00 kr a message but the subscription charges 5,00 kr "
        "(at services[1].subscription.welcome)",
        "ERB B.1: the footer says 1,00 kr but the subscription charges 5,00 kr a message "
        "(at services[1].subscription.footer)",
    ]


def test_a_text_states_its_own_services_price_not_another_ones_on_the_same_code(tmp_path: Path) -> None:
    gift = (
        '  - id: gava\n    number: "72500"\n    keyword: GE\n    rules:\n'
        '      - {name: ge, reply: "Tack!", price: "9.90"}\n'
    )
    code, lines = check(tmp_path, rule_file(marketing=MARKETING.replace("4,90 kr", "9,90 kr"), extra=gift))
    assert code == 1
    assert lines[0] == (
        "tv.yaml:24:9: ERB A.1.a: the price next to 72500 says 9,90 kr but it costs 4,90 kr "
        "(at services[0].marketing[0].text)"
    )


_TEXTS = st.text(
    alphabet=st.sampled_from("0123456789 -+,.:/()kronöeSEKsmiTOPPJA\n\u00a0\u2013") | st.characters(), max_size=120
)


@settings(max_examples=300, deadline=None)
@given(text=_TEXTS)
def test_any_marketing_text_is_checked_without_an_error(text: str) -> None:
    company = Company("Demo-TV AB", "Tevevägen 1, 111 22 Stockholm", "08-123 45 67", ())
    subscription = Subscription("5.00", "3 sms i veckan", "v", "f", 10, "c", "JA")
    context = Context(company, {"72500": (Decimal("4.90"),)}, frozenset({"72500"}), frozenset({"72500"}))
    found = [m for _, m in price_faults(text, context)]
    found += company_faults(text, company) + subscription_faults(text, subscription, "A.1.e", "x")
    found += footer_faults(text, subscription)
    assert all(message.startswith("ERB ") for message in found)
    for mention in mentions(text):
        assert text[mention.start : mention.end] == mention.written


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.one_of(
        st.text(max_size=40),
        st.integers(-5, 5000),
        st.floats(allow_nan=True),
        st.booleans(),
        st.lists(st.text(max_size=10), max_size=3),
        st.none(),
    ),
    where=st.sampled_from(
        ["customer_service", "hours", "name", "price", "frequency", "confirm_after", "medium", "price_seconds"]
    ),
)
def test_any_value_in_the_new_fields_is_a_located_problem_or_fine(tmp_path: Path, value: object, where: str) -> None:
    import json

    shown = json.dumps(value, ensure_ascii=False)
    text = rule_file(extra=SUBSCRIPTION)
    field = {
        "customer_service": '    customer_service: "08-123 45 67"',
        "hours": "    hours: [mon-fri 09:00-12:00, mon-fri 12:00-17:00]",
        "name": "    name: Demo-TV AB",
        "price": '      price: "5.00"',
        "frequency": "      frequency: 3 sms i veckan",
        "confirm_after": "      confirm_after",
        "medium": "        medium: print",
        "price_seconds": "        medium: print",
    }[where]
    if where in ("confirm_after", "price_seconds"):
        indent = field[: len(field) - len(field.lstrip())]
        anchor = '      confirm: "' if where == "confirm_after" else "        medium: print"
        text = text.replace(anchor, f"{indent}{where}: {shown}\n{anchor}", 1)
    else:
        text = text.replace(field, f"{field.split(':')[0]}: {shown}", 1)
    code, lines = check(tmp_path, text)
    assert code in (0, 1)
    if code == 1:
        assert lines and all(re.match(r"tv\.yaml:\d+:\d+: ", line) for line in lines), lines
