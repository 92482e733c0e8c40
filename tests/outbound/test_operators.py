"""Routing over a real Redis: the portability import, operator lookup and route choice."""

from __future__ import annotations

import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from kodeord.inbound.phone import parse
from kodeord.outbound import operators as routing
from kodeord.outbound.operators import (
    CHUNK_SIZE,
    PORTABILITY,
    ChosenRoute,
    PortabilityError,
    RouteOption,
    RoutingError,
    RoutingTable,
    import_portability,
)
from kodeord.support.redis_client import client_for

TELIA_CHEAP = RouteOption("kannel-telia", Decimal("0.029"), 0.99)
ELKS = RouteOption("elks", Decimal("0.035"), 0.98)
ELKS_DEFAULT = RouteOption("elks", Decimal("0.045"), 0.97)
PREFIXES = {"+4670": "telia", "+46701": "tele2", "+4673": "tele2", "+4790": "telenor-no"}


def table(min_quality: float = 0.95, **routes: list[RouteOption]) -> RoutingTable:
    return RoutingTable(PREFIXES, routes or {"telia": [TELIA_CHEAP, ELKS], "default": [ELKS_DEFAULT]}, min_quality)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def portability(client: redis.Redis) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in client.hgetall(PORTABILITY).items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def hmget_calls(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_hmget", {}).get("calls", 0))


# Import


def test_import_skips_header_comments_and_blank_lines_and_normalises(
    kodeord_redis: redis.Redis, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "ported.csv",
        "number,operator\n"
        "# ported in March\n"
        "\n"
        "070-123 45 67, Tele2 \n"
        "+46731234567,TELIA\n"
        "0046 76 123 45 67,telia\n"
        "41234567,Telenor-NO\n",
    )
    assert import_portability(kodeord_redis, path) == 4
    assert portability(kodeord_redis) == {
        "+46701234567": "tele2",
        "+46731234567": "telia",
        "+46761234567": "telia",
        "+4741234567": "telenor-no",
    }
    assert kodeord_redis.ttl(PORTABILITY) == -1
    assert kodeord_redis.keys(f"{PORTABILITY}*") == [PORTABILITY.encode()]


def test_import_without_header(kodeord_redis: redis.Redis, tmp_path: Path) -> None:
    assert import_portability(kodeord_redis, write(tmp_path / "p.csv", "+46701234567,tele2\n")) == 1
    assert portability(kodeord_redis) == {"+46701234567": "tele2"}


def test_bad_number_names_file_and_line_and_keeps_the_old_table(kodeord_redis: redis.Redis, tmp_path: Path) -> None:
    import_portability(kodeord_redis, write(tmp_path / "old.csv", "+46701234567,tele2\n"))
    path = write(tmp_path / "ported.csv", "number,operator\n+46731234567,telia\n# note\n0701,telia\n")
    with pytest.raises(PortabilityError) as info:
        import_portability(kodeord_redis, path)
    assert str(info.value) == f"{path}:4: invalid phone number '0701': not valid in any of SE, NO"
    assert (info.value.line, info.value.file) == (4, str(path))
    assert portability(kodeord_redis) == {"+46701234567": "tele2"}
    assert kodeord_redis.keys(f"{PORTABILITY}*") == [PORTABILITY.encode()]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("+46731234567", "expected 2 columns (number,operator), got 1"),
        ("+46731234567,telia,extra", "expected 2 columns (number,operator), got 3"),
        ("+46731234567,  ", "empty operator name"),
    ],
)
def test_bad_row_shapes(kodeord_redis: redis.Redis, tmp_path: Path, line: str, reason: str) -> None:
    path = write(tmp_path / "ported.csv", f"+46701234567,tele2\n\n{line}\n")
    with pytest.raises(PortabilityError) as info:
        import_portability(kodeord_redis, path)
    assert str(info.value) == f"{path}:3: {reason}"
    assert not kodeord_redis.exists(PORTABILITY)
    assert kodeord_redis.keys("*") == []


def test_reimport_replaces_the_table(kodeord_redis: redis.Redis, tmp_path: Path) -> None:
    import_portability(kodeord_redis, write(tmp_path / "a.csv", "+46701234567,tele2\n+46731234567,telia\n"))
    import_portability(kodeord_redis, write(tmp_path / "b.csv", "+46731234567,tele2\n"))
    assert portability(kodeord_redis) == {"+46731234567": "tele2"}


def test_importing_an_empty_file_empties_the_table(kodeord_redis: redis.Redis, tmp_path: Path) -> None:
    import_portability(kodeord_redis, write(tmp_path / "a.csv", "+46701234567,tele2\n"))
    assert import_portability(kodeord_redis, write(tmp_path / "b.csv", "number,operator\n")) == 0
    assert not kodeord_redis.exists(PORTABILITY)


def numbers_file(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as file:
        file.write("number,operator\n")
        for i in range(rows):
            file.write(f"+4670{i:07d},{'telia' if i % 2 else 'tele2'}\n")
    return path


def test_large_import_in_chunks(kodeord_redis: redis.Redis, tmp_path: Path) -> None:
    path = numbers_file(tmp_path / "big.csv", 50_000)
    before = kodeord_redis.info("commandstats").get("cmdstat_hset", {}).get("calls", 0)
    assert import_portability(kodeord_redis, path) == 50_000
    writes = kodeord_redis.info("commandstats")["cmdstat_hset"]["calls"] - before
    assert writes == -(-50_000 // CHUNK_SIZE)  # in chunks, not a round trip per row
    assert kodeord_redis.hlen(PORTABILITY) == 50_000
    assert kodeord_redis.hget(PORTABILITY, "+46700049999") == b"telia"


def test_import_memory_does_not_grow_with_the_file(
    kodeord_redis: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routing, "CHUNK_SIZE", 200)
    parse("+46701234567")  # load the phone number metadata before measuring
    peaks = []
    for rows in (1_000, 8_000):
        path = numbers_file(tmp_path / f"{rows}.csv", rows)
        tracemalloc.start()
        import_portability(kodeord_redis, path)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < peaks[0] * 1.5


# Operators


def test_operator_from_portability_then_longest_prefix_then_default(kodeord_redis: redis.Redis, tmp_path: Path) -> None:
    import_portability(kodeord_redis, write(tmp_path / "p.csv", "+46709999999,telenor-se\n"))
    numbers = ["+46709999999", "+46701234567", "+46709876543", "+46731234567", "+4790123456", "+4741234567"]
    assert table().operators(kodeord_redis, numbers) == [
        "telenor-se",
        "tele2",
        "telia",
        "tele2",
        "telenor-no",
        "default",
    ]


def test_operators_of_a_batch_take_one_hmget(kodeord_redis: redis.Redis) -> None:
    numbers = [f"+4670{i:07d}" for i in range(999_500, 1_000_500)]
    before = hmget_calls(kodeord_redis)
    assert set(table().operators(kodeord_redis, numbers)) == {"telia", "tele2"}
    assert hmget_calls(kodeord_redis) == before + 1
    assert table().operators(kodeord_redis, []) == []
    assert hmget_calls(kodeord_redis) == before + 1


def test_operators_with_decoded_responses(kodeord_redis: redis.Redis, kodeord_redis_url: str, tmp_path: Path) -> None:
    import_portability(kodeord_redis, write(tmp_path / "p.csv", "+46709999999,telenor-se\n"))
    decoded = client_for(kodeord_redis_url, decode_responses=True)
    try:
        assert table().operators(decoded, ["+46709999999"]) == ["telenor-se"]
    finally:
        decoded.close()


# ChosenRoute


def test_cheapest_acceptable_route() -> None:
    assert table().choose("telia") == ChosenRoute("telia", "kannel-telia", Decimal("0.029"), below_quality=False)


def test_operator_without_routes_uses_default_routes() -> None:
    assert table().choose("tele2") == ChosenRoute("tele2", "elks", Decimal("0.045"), below_quality=False)


def test_cheaper_route_below_min_quality_is_passed_over() -> None:
    shaky = RouteOption("shaky", Decimal("0.010"), 0.80)
    routes = table(telia=[shaky, ELKS, TELIA_CHEAP], default=[ELKS_DEFAULT])
    assert routes.choose("telia") == ChosenRoute("telia", "kannel-telia", Decimal("0.029"), below_quality=False)


def test_when_no_route_meets_min_quality_the_best_quality_is_taken_and_flagged() -> None:
    routes = table(0.995, telia=[TELIA_CHEAP, ELKS], default=[ELKS_DEFAULT])
    assert routes.choose("telia") == ChosenRoute("telia", "kannel-telia", Decimal("0.029"), below_quality=True)
    assert routes.choose("telia", available=lambda gw: gw != "kannel-telia") == ChosenRoute(
        "telia", "elks", Decimal("0.035"), below_quality=True
    )


def test_ties_go_to_higher_quality_then_to_the_order_given() -> None:
    a, b, c = (RouteOption(gw, Decimal("0.03"), q) for gw, q in (("a", 0.96), ("b", 0.99), ("c", 0.99)))
    assert table(telia=[a, b, c], default=[a]).choose("telia").gateway == "b"  # type: ignore[union-attr]
    assert table(telia=[a, c, b], default=[a]).choose("telia").gateway == "c"  # type: ignore[union-attr]


def test_charged_messages_go_only_through_charging_gateways() -> None:
    charging = {"elks"}.__contains__
    assert table().choose("telia", charged=True, can_charge=charging) == ChosenRoute(
        "telia", "elks", Decimal("0.035"), below_quality=False
    )
    assert table().choose("telia", charged=False, can_charge=charging).gateway == "kannel-telia"  # type: ignore[union-attr]


def test_unavailable_gateways_are_skipped() -> None:
    assert table().choose("telia", available=lambda gw: gw != "kannel-telia").gateway == "elks"  # type: ignore[union-attr]


def test_none_when_nothing_fits() -> None:
    assert table().choose("telia", available=lambda gw: False) is None
    assert table().choose("telia", charged=True, can_charge=lambda gw: False) is None
    assert RoutingTable({}, {"telia": [TELIA_CHEAP]}, default_operator="telia").choose("tele2") is None


def test_route_a_batch(kodeord_redis: redis.Redis, tmp_path: Path) -> None:
    import_portability(kodeord_redis, write(tmp_path / "p.csv", "+46701234567,telia\n"))
    asked: list[str] = []

    def available(gateway: str) -> bool:
        asked.append(gateway)
        return True

    numbers = ["+46701234567", "+46701234568", "+46709999999", "+46709999998", "+46709999997"]
    choices = table().route(
        kodeord_redis,
        numbers,
        charged=[False, False, False, True, False],
        available=available,
        can_charge={"elks"}.__contains__,
    )
    assert [(c.operator, c.gateway) if c else None for c in choices] == [
        ("telia", "kannel-telia"),
        ("tele2", "elks"),
        ("telia", "kannel-telia"),
        ("telia", "elks"),
        ("telia", "kannel-telia"),
    ]
    # One choice per (operator, charged): (telia, False), (tele2, False), (telia, True).
    assert len(asked) == 2 + 1 + 2
    with pytest.raises(ValueError, match="2 numbers but 1 charged flags"):
        table().route(kodeord_redis, numbers[:2], charged=[True])


def test_console_table_sends_everything_to_the_console(kodeord_redis: redis.Redis) -> None:
    assert (
        RoutingTable.console().route(kodeord_redis, ["+46701234567", "+4741234567"])
        == [ChosenRoute("default", "console", Decimal(0), below_quality=False)] * 2
    )


# Validation


@pytest.mark.parametrize(
    ("prefixes", "routes", "min_quality", "message"),
    [
        (
            {"4670": "telia"},
            {"default": [ELKS]},
            0.0,
            "prefix '4670' of operator 'telia': must be '+' then digits, quoted",
        ),
        (
            {"+46-70": "telia"},
            {"default": [ELKS]},
            0.0,
            "prefix '+46-70' of operator 'telia': must be '+' then digits, quoted",
        ),
        ({4670: "telia"}, {"default": [ELKS]}, 0.0, "prefix 4670 of operator 'telia': must be '+' then digits, quoted"),
        ({"+": "telia"}, {"default": [ELKS]}, 0.0, "prefix '+' of operator 'telia': must be '+' then digits, quoted"),
        (
            {"+4670": "telia"},
            {"tele2": [ELKS]},
            0.0,
            "operator 'telia' (prefix '+4670') has no routes, and there are no 'default' routes",
        ),
        (
            {},
            {"tele2": [ELKS]},
            0.0,
            "operator 'default' (the default operator) has no routes, and there are no 'default' routes",
        ),
        ({}, {"default": []}, 0.0, "routes for operator 'default': no routes listed"),
        ({}, {" ": [ELKS]}, 0.0, "routes for operator '': empty name"),
        (
            {},
            {"default": [RouteOption("elks", Decimal("-0.01"), 0.9)]},
            0.0,
            "routes for operator 'default', gateway 'elks': price must be 0 or more, got -0.01",
        ),
        (
            {},
            {"default": [RouteOption("elks", Decimal("NaN"), 0.9)]},
            0.0,
            "routes for operator 'default', gateway 'elks': price must be 0 or more, got NaN",
        ),
        (
            {},
            {"default": [RouteOption("elks", Decimal(1), 1.5)]},
            0.0,
            "routes for operator 'default', gateway 'elks': quality must be between 0 and 1, got 1.5",
        ),
        (
            {},
            {"default": [RouteOption("", Decimal(1), 1.0)]},
            0.0,
            "routes for operator 'default', gateway '': empty gateway name",
        ),
        ({}, {"Telia": [ELKS], "telia": [ELKS], "default": [ELKS]}, 0.0, "routes for operator 'telia': given twice"),
        ({}, {"default": [ELKS]}, 1.2, "min_quality must be between 0 and 1, got 1.2"),
    ],
)
def test_invalid_configuration(
    prefixes: dict[str, str], routes: dict[str, list[RouteOption]], min_quality: float, message: str
) -> None:
    with pytest.raises(RoutingError) as info:
        RoutingTable(prefixes, routes, min_quality)
    assert str(info.value) == message


def test_operator_names_are_matched_case_insensitively() -> None:
    routes = RoutingTable({"+4670": " Telia"}, {"TELIA": [TELIA_CHEAP]}, default_operator="Telia")
    assert routes.prefixes == {"+4670": "telia"}
    assert routes.choose("Telia") == ChosenRoute("telia", "kannel-telia", Decimal("0.029"), below_quality=False)


# Property

options = st.lists(
    st.builds(
        RouteOption,
        gateway=st.sampled_from(["a", "b", "c", "d", "e"]),
        price=st.integers(0, 100).map(lambda n: Decimal(n) / 1000),
        quality=st.floats(0.0, 1.0),
    ),
    min_size=1,
    max_size=8,
)


@given(options=options, min_quality=st.floats(0.0, 1.0), down=st.sets(st.sampled_from(["a", "b", "c", "d", "e"])))
def test_choose_takes_the_cheapest_acceptable_route(
    options: list[RouteOption], min_quality: float, down: set[str]
) -> None:
    choice = RoutingTable({}, {"default": options}, min_quality).choose("x", available=lambda gw: gw not in down)
    usable = [o for o in options if o.gateway not in down]
    good = [o for o in usable if o.quality >= min_quality]
    if not usable:
        assert choice is None
        return
    assert choice is not None
    assert choice.below_quality == (not good)
    picked = [o for o in usable if (o.gateway, o.price) == (choice.gateway, choice.price)]
    assert picked
    if good:
        assert choice.price == min(o.price for o in good)
        assert any(o.quality >= min_quality for o in picked)
    else:
        assert max(o.quality for o in picked) == max(o.quality for o in usable)
