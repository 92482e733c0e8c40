"""ERB B.1 when messages are sent: a charge above 10 gets its SMS receipt at once, committed with the charge; a
subscription asks again after its messages and sends nothing until confirmed; STOPP ends it for good."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import httpx
import pytest

from kodeord.inbound.messages import Inbound
from kodeord.outbound.gateway import RecordingGateway
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.plugins.subscription.sending import SubscriptionError, send
from kodeord.plugins.subscription.store import SubscriptionKeys, counts
from kodeord.support.errors import RuleFileError
from kodeord.testing import COMPANY
from kodeord.web import apikeys
from kodeord.web.app import create_app

NORWAY = "+4741234567"  # a Norwegian number: prices up to 500 NOK
GIVER = "+4791234567"
RULES = textwrap.dedent(
    f"""\
    tenant: {{id: hjelp, name: Hjelpen, company: {COMPANY}}}
    numbers:
      - {{number: "{NORWAY}", type: dedicated, country: "no"}}
      - {{number: "72550", type: shared}}
    services:
      - id: gave
        number: "{NORWAY}"
        catch_all: true
        rules:
          - {{name: gi, reply: "Takk for gaven!", price: "50.00"}}
      - id: liten
        number: "72550"
        keyword: GE
        rules:
          - {{name: ge, reply: "Tack för gåvan!", price: "9.90"}}
    """
)


def sent(platform: Platform) -> list[tuple[str, str, str]]:
    gateway = RecordingGateway()
    sender = Sender(platform, gateway=gateway)
    while sender.run_once():
        pass
    return [(m.to, m.text, m.price) for m in gateway.sent]


def test_a_charge_above_ten_gets_its_receipt_committed_with_it(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., Inbound]
) -> None:
    platform = make_platform(RULES)
    outcome = platform.handle(make_inbound("gave", sender=GIVER, to=NORWAY))
    assert [(r["text"], r.get("price", "")) for r in outcome.replies] == [
        ("Takk for gaven!", "50.00"),
        ("Kvittering: du har betalt 50,00 kr til Test AB for gave. Kundeservice 08-123 45 67.", ""),
    ]
    assert sent(platform) == [
        (GIVER, "Takk for gaven!", "50.00"),
        (GIVER, "Kvittering: du har betalt 50,00 kr til Test AB for gave. Kundeservice 08-123 45 67.", ""),
    ]
    small = platform.handle(make_inbound("GE", sender="+46701234567", to="72550"))
    assert [r["text"] for r in small.replies] == ["Tack för gåvan!"]  # 9.90 is not above 10: no receipt


def test_the_threshold_is_a_setting(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., Inbound]
) -> None:
    platform = make_platform(RULES, environ={"KODEORD_RECEIPT_ABOVE": "5"})
    small = platform.handle(make_inbound("GE", sender="+46701234567", to="72550"))
    assert [r["text"] for r in small.replies] == [
        "Tack för gåvan!",
        "Kvitto: du har betalat 9,90 kr till Test AB för liten. Kundtjänst 08-123 45 67.",
    ]


def test_a_receipt_that_does_not_name_the_service_and_amount_is_refused(make_platform: Callable[..., Platform]) -> None:
    silent = RULES.replace('country: "no"}', 'country: "no", replies: {receipt: "Tack!"}}')
    with pytest.raises(RuleFileError) as refused:
        make_platform(silent)
    assert [p.message for p in refused.value.problems] == [
        "ERB B.1: the receipt of +4741234567 (replies: receipt:) must name the service and the amount: use "
        "{{ service }} and {{ amount }}"
    ]


HOROSCOPE = textwrap.dedent(
    f"""\
    tenant: {{id: stjarna, name: Stjärnan, company: {COMPANY}}}
    numbers:
      - {{number: "72800", type: shared}}
    services:
      - id: horoskop
        number: "72800"
        keyword: HOROSKOP
        subscription:
          price: "5.00"
          frequency: 3 sms i veckan
          welcome: "Välkommen till Dagens horoskop! 5,00 kr/sms, 3 sms i veckan. Avsluta: SMS STOPP till 72800."
          footer: "5,00 kr/sms. Kundtjänst 08-123 45 67"
          confirm_after: 3
          confirm: "Vill du fortsätta få horoskop för 5,00 kr/sms? Svara HOROSKOP JA."
        rules:
          - {{name: prenumerera, do: subscription.join}}
      - id: quiz
        number: "72800"
        keyword: QUIZ
        rules:
          - {{name: svar, reply: "Tack för ditt svar!"}}
    """
)
ANNA, BO = "+46701111111", "+46702222222"
FOOTER = "5,00 kr/sms. Kundtjänst 08-123 45 67"
QUESTION = "Vill du fortsätta få horoskop för 5,00 kr/sms? Svara HOROSKOP JA."
WELCOME = "Välkommen till Dagens horoskop! 5,00 kr/sms, 3 sms i veckan. Avsluta: SMS STOPP till 72800."


@pytest.fixture
def stars(make_platform: Callable[..., Platform]) -> Platform:
    return make_platform(HOROSCOPE)


def text(platform: Platform, make_inbound: Callable[..., Inbound], sender: str, words: str) -> list[str]:
    return [r["text"] for r in platform.handle(make_inbound(words, sender=sender, to="72800")).replies]


def test_a_subscriber_confirms_again_after_the_messages_and_gets_nothing_until_then(
    stars: Platform, make_inbound: Callable[..., Inbound]
) -> None:
    assert text(stars, make_inbound, ANNA, "HOROSKOP") == [WELCOME]
    assert sent(stars) == [(ANNA, WELCOME, "")]  # the welcome is free
    got = []
    for n in range(1, 6):
        send(stars, "stjarna/horoskop", f"Horoskop {n}", "test")
        got.append(sent(stars))
    charged = [[(ANNA, f"Horoskop {n}\n{FOOTER}", "5.00")] for n in (1, 2, 3)]
    assert got == [*charged, [(ANNA, QUESTION, "")], []]  # three, the free question, then nothing
    assert text(stars, make_inbound, ANNA, "HOROSKOP JA") == [WELCOME]
    sent(stars)
    send(stars, "stjarna/horoskop", "Horoskop 6", "test")
    assert sent(stars) == [(ANNA, f"Horoskop 6\n{FOOTER}", "5.00")]


def test_stopp_ends_the_subscription_for_good_and_every_service_on_the_number(
    stars: Platform, make_inbound: Callable[..., Inbound]
) -> None:
    for member in (ANNA, BO):
        text(stars, make_inbound, member, "HOROSKOP")
    sent(stars)
    assert text(stars, make_inbound, ANNA, "STOPP") == [
        "Du är avanmäld och får inga fler meddelanden från 72800. Skicka START för att anmäla dig igen."
    ]
    assert [to for to, _, _ in sent(stars)] == [ANNA]  # the confirmation of STOPP
    send(stars, "stjarna/horoskop", "Horoskop 1", "test")
    assert [to for to, _, _ in sent(stars)] == [BO]  # Anna stopped: not one more
    text(stars, make_inbound, ANNA, "START")
    sent(stars)
    send(stars, "stjarna/horoskop", "Horoskop 2", "test")
    assert [to for to, _, _ in sent(stars)] == [BO]  # START does not bring a premium subscription back
    assert counts(stars.redis, SubscriptionKeys("stjarna/horoskop")) == {"subscribers": 1, "waiting": 0}
    assert text(stars, make_inbound, ANNA, "STOP") != []  # STOP works as STOPP does


def test_subscriptions_are_sent_over_the_api_for_the_keys_tenant_only(
    stars: Platform, make_inbound: Callable[..., Inbound], serve: Callable[..., str]
) -> None:
    text(stars, make_inbound, ANNA, "HOROSKOP")
    sent(stars)
    url = serve(create_app(stars))
    key = apikeys.create(stars.redis, "stjarna", "test")
    auth = {"Authorization": f"Bearer {key}"}
    started = httpx.post(f"{url}/api/subscriptions/horoskop/messages", json={"text": "Horoskop 1"}, headers=auth)
    assert started.status_code == 202 and started.json()["service"] == "stjarna/horoskop"
    assert sent(stars) == [(ANNA, f"Horoskop 1\n{FOOTER}", "5.00")]
    shown = httpx.get(f"{url}/api/subscriptions/horoskop", headers=auth).json()
    assert shown == {"service": "stjarna/horoskop", "subscribers": 1, "waiting": 0}
    assert httpx.post(f"{url}/api/subscriptions/quiz/messages", json={"text": "x"}, headers=auth).status_code == 404
    assert httpx.post(f"{url}/api/subscriptions/horoskop/messages", json={}, headers=auth).status_code == 400
    other = apikeys.create(stars.redis, "annan", "test")
    refused = httpx.get(f"{url}/api/subscriptions/horoskop", headers={"Authorization": f"Bearer {other}"})
    assert refused.status_code in (401, 404)


def test_joining_is_free_and_needs_a_subscription(make_platform: Callable[..., Platform]) -> None:
    charged = HOROSCOPE.replace(
        "{name: prenumerera, do: subscription.join}", '{name: p, do: subscription.join, price: "5.00"}'
    )
    with pytest.raises(RuleFileError) as refused:
        make_platform(charged)
    assert "subscription.join does not charge for joining" in str(refused.value)
    without = HOROSCOPE.replace(
        'keyword: QUIZ\n    rules:\n      - {name: svar, reply: "Tack för ditt svar!"}',
        "keyword: QUIZ\n    rules:\n      - {name: svar, do: subscription.join}",
    )
    with pytest.raises(RuleFileError, match="subscription.join needs the service's subscription"):
        make_platform(without)


def test_by_default_the_question_comes_after_ten_messages(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., Inbound]
) -> None:
    platform = make_platform(HOROSCOPE.replace("      confirm_after: 3\n", ""))
    assert platform.service("stjarna/horoskop").subscription.confirm_after == 10  # type: ignore[union-attr]
    text(platform, make_inbound, ANNA, "HOROSKOP")
    sent(platform)
    got = []
    for n in range(1, 13):
        send(platform, "stjarna/horoskop", f"Horoskop {n}", "test")
        got.append([t for _, t, _ in sent(platform)])
    assert got[:10] == [[f"Horoskop {n}\n{FOOTER}"] for n in range(1, 11)]
    assert got[10:] == [[QUESTION], []]


def test_a_message_queued_before_stopp_is_not_sent_after_a_start(
    stars: Platform, make_inbound: Callable[..., Inbound]
) -> None:
    text(stars, make_inbound, ANNA, "HOROSKOP")
    sent(stars)
    send(stars, "stjarna/horoskop", "Horoskop 1", "test")
    gateway = RecordingGateway()
    sender = Sender(stars, gateway=gateway)
    sender.run_once()  # the page is queued: Anna's message waits in the outbox
    text(stars, make_inbound, ANNA, "STOPP")
    text(stars, make_inbound, ANNA, "START")  # the number's other messages may reach her again
    while sender.run_once():
        pass
    assert [(to, t) for to, t, _ in ((m.to, m.text, m.price) for m in gateway.sent) if "Horoskop" in t] == []


def test_subscribing_again_after_stopp_starts_afresh(stars: Platform, make_inbound: Callable[..., Inbound]) -> None:
    text(stars, make_inbound, ANNA, "HOROSKOP")
    text(stars, make_inbound, ANNA, "STOPP")
    text(stars, make_inbound, ANNA, "START")  # lifts the STOPP: the number may text her again
    sent(stars)
    assert text(stars, make_inbound, ANNA, "HOROSKOP") == [WELCOME]
    sent(stars)
    send(stars, "stjarna/horoskop", "Horoskop 1", "test")
    assert sent(stars) == [(ANNA, f"Horoskop 1\n{FOOTER}", "5.00")]


def test_one_send_at_a_time_so_nobody_is_counted_twice(stars: Platform, make_inbound: Callable[..., Inbound]) -> None:
    text(stars, make_inbound, ANNA, "HOROSKOP")
    sent(stars)
    send(stars, "stjarna/horoskop", "Horoskop 1", "test")
    with pytest.raises(SubscriptionError) as busy:
        send(stars, "stjarna/horoskop", "Horoskop 2", "test")
    assert busy.value.http_status == 409
    sent(stars)  # the first is out: the next may start
    send(stars, "stjarna/horoskop", "Horoskop 2", "test")
    assert sent(stars) == [(ANNA, f"Horoskop 2\n{FOOTER}", "5.00")]
