"""Ads outside the rule files: ``kodeord erb check`` on plain text, HTML and SVG. In HTML and SVG the price of a
premium number is set horizontally and at least a third of the number's size, as the file draws them; any
bytes are checked or refused with a reason, never a crash."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodeord.platform import Platform
from kodeord.plugins.erb.ads import AdError, check_ad
from kodeord.plugins.erb.cli import erb
from kodeord.plugins.erb.texts import Context
from kodeord.web.console import i18n

from ..web.console import conftest as console_rig
from ..web.console.conftest import log_in

RULES = Path(__file__).resolve().parents[2] / "rules"
console = console_rig.console  # the demo rules with an account in each demo tenant


def svg(number_size: str, price_size: str, price_attributes: str = "") -> str:
    return textwrap.dedent(
        f"""\
        <svg xmlns="http://www.w3.org/2000/svg" width="800" height="300">
          <text x="10" y="100" font-size="{number_size}">Ring 0900-123 45 67</text>
          <text x="10" y="160" font-size="{price_size}"{price_attributes}>9,90 kr/min</text>
        </svg>
        """
    )


def problems(tmp_path: Path, name: str, content: str, context: Context | None = None) -> list[str]:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return [str(p).replace(f"{path}:", f"{name}:") for p in check_ad(path, context or Context())]


def test_an_svg_whose_price_is_a_quarter_of_the_number_fails_and_one_at_half_passes(tmp_path: Path) -> None:
    assert problems(tmp_path, "ad.svg", svg("48", "12")) == [
        "ad.svg:2:44: ERB A.1.b: the price next to 0900-123 45 67 is 12px, less than a third of the number's 48px "
        "(at least 16px)"
    ]
    assert problems(tmp_path, "ad.svg", svg("48", "24")) == []
    assert problems(tmp_path, "ad.svg", svg("48", "16")) == []  # a third exactly is enough


@pytest.mark.parametrize(
    ("sizes", "attributes", "expected"),
    [
        (("3em", "12pt"), "", None),  # 3em of 16px is 48px, 12pt is 16px: a third exactly
        (("3em", "11pt"), "", "less than a third of the number's 48px"),
        (("48px", "16px"), ' transform="rotate(90 10 160)"', "is turned 90°: set it horizontally"),
        (("48px", "16px"), ' writing-mode="tb"', "runs vertically: set it horizontally"),
        (("48px", "16px"), ' rotate="0 0 30"', "runs vertically: set it horizontally"),
        (("48px", "8px"), ' transform="scale(2)"', None),  # drawn twice as big: 16px
        (("48px", "3vw"), "", "cannot be read from the file (font-size: 3vw)"),
    ],
)
def test_svg_sizes_and_turns_are_read_as_they_are_drawn(
    tmp_path: Path, sizes: tuple[str, str], attributes: str, expected: str | None
) -> None:
    found = problems(tmp_path, "ad.svg", svg(*sizes, attributes))
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0], found


def test_css_in_an_svg_is_read_with_its_cascade(tmp_path: Path) -> None:
    ad = textwrap.dedent(
        """\
        <svg xmlns="http://www.w3.org/2000/svg">
          <style>
            text { font-size: 60px }
            .pris { font-size: 30px }
            g.liten .pris { font-size: 10px }
          </style>
          <g class="liten" style="font-size: 20px">
            <text>Ring 0900-123 45 67</text>
            <text class="pris">9,90 kr/min</text>
          </g>
        </svg>
        """
    )
    assert problems(tmp_path, "ad.svg", ad) == [
        "ad.svg:8:16: ERB A.1.b: the price next to 0900-123 45 67 is 10px, less than a third of the number's 60px "
        "(at least 20px)"
    ]
    assert problems(tmp_path, "ad.svg", ad.replace("font-size: 10px }", "font-size: 10px !important }")) != []
    assert problems(tmp_path, "ad.svg", ad.replace('class="pris"', 'class="pris" style="font-size: 20px"')) == []


def test_an_html_ad_is_read_as_a_browser_reads_the_file(tmp_path: Path) -> None:
    page = textwrap.dedent(
        """\
        <!doctype html>
        <html><head><style>
          h1 { font-size: 36pt }
          .pris { font-size: 50% }
        </style></head>
        <body>
          <h1>SMS MELLO till <span>72500</span> <small class="pris">4,90 kr/sms</small></h1>
          <p style="font-size: 30px">Ring 099-123 45 <span style="font-size: 0.25em">9:90 kr/samtal</span></p>
          <p hidden>Ring 0939-123 456</p>
          <script>document.write("0944-123 456")</script>
        </body></html>
        """
    )
    assert problems(tmp_path, "ad.html", page) == [
        "ad.html:8:35: ERB A.1.b: the price next to 099-123 45 is 7.5px, less than a third of the number's 30px "
        "(at least 10px)"
    ]


def test_a_plain_text_ad_gets_the_rule_files_checks(tmp_path: Path) -> None:
    text = "Vinn en resa!\nRing 0900-123 45 67 nu, dygnet runt, alla dagar i veckan, hela året.\nPris: 9,90 kr/min."
    assert problems(tmp_path, "ad.txt", text) == [
        "ad.txt:2:6: ERB A.1.a: 0900-123 45 67 is named without its price next to it (such as '4,90 kr' right "
        "after the number)"
    ]
    assert problems(tmp_path, "ad.txt", "Ring 0900-123 45 67 (9,90 kr/min).") == []


def test_the_command_checks_against_a_tenants_company_and_prices(tmp_path: Path) -> None:
    ad = tmp_path / "annons.txt"
    ad.write_text("Rösta! SMS MELLO 03 till 72500 (2,90 kr/sms).", encoding="utf-8")
    result = CliRunner().invoke(erb, ["check", "--tenant", "demo-tv", "--rules", str(RULES), str(ad)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{ad}:1:26: ERB A.1.a: the price next to 72500 says 2,90 kr but it costs 4,90 kr or 9,90 kr",
        f"{ad}:1:1: ERB CS: the marketing must name the company's name (Demo-TV AB), its address (Tevevägen 1, "
        "111 22 Stockholm) and its customer-service number (08-123 45 67)",
    ]
    good = tmp_path / "bra.txt"
    good.write_text(
        "Rösta! SMS MELLO 03 till 72500 (4,90 kr/sms). Demo-TV AB, Tevevägen 1, 111 22 Stockholm. "
        "Kundtjänst 08-123 45 67.",
        encoding="utf-8",
    )
    result = CliRunner().invoke(erb, ["check", "--tenant", "demo-tv", "--rules", str(RULES), str(good)])
    assert (result.exit_code, result.stdout) == (0, "ok: 1 file(s)\n")


def test_a_file_that_cannot_be_read_is_a_problem_of_its_own(tmp_path: Path) -> None:
    broken = tmp_path / "trasig.svg"
    broken.write_text("<svg><text>Ring 0900", encoding="utf-8")
    result = CliRunner().invoke(erb, ["check", str(broken), str(tmp_path / "saknas.txt")])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{broken}: not an SVG image (")
    assert lines[1].startswith(f"{tmp_path / 'saknas.txt'}: cannot be read (")


def test_an_xml_bomb_or_an_external_entity_is_not_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "hemlig.txt"
    secret.write_text("0900-999 99 99", encoding="utf-8")
    ad = (
        f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file://{secret}">'
        '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<svg xmlns="http://www.w3.org/2000/svg"><text font-size="10">&x; &b;</text></svg>'
    )
    path = tmp_path / "ad.svg"
    path.write_text(ad, encoding="utf-8")
    with pytest.raises(AdError) as refused:  # refused unread: neither the secret nor a hidden number gets in
        check_ad(path, Context())
    assert str(refused.value) == f"{path}: an SVG image with a DTD or entities is not checked: write its text out"


def test_a_page_read_only_in_part_is_refused_not_passed(tmp_path: Path) -> None:
    deep = "<!doctype html><html><body>" + "<div>" * 300 + "Ring 0900-123 45 67" + "</div>" * 300 + "</body></html>"
    path = tmp_path / "ad.html"
    path.write_text(deep, encoding="utf-8")
    with pytest.raises(AdError, match="read only in part"):
        check_ad(path, Context())


def test_a_css_turn_in_an_svg_and_an_endless_size_are_read_not_crashed_on(tmp_path: Path) -> None:
    turned = problems(tmp_path, "ad.svg", svg("48", "16", ' style="transform: rotate(90deg)"'))
    assert len(turned) == 1 and "is turned 90°" in turned[0]
    endless = problems(tmp_path, "ad.svg", svg("48", "1", ' transform="scale(1e400) scale(0)"'))
    assert len(endless) == 1 and "cannot be read from the file" in endless[0]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    raw=st.binary(max_size=300)
    | st.text(alphabet='<>/="svgtexfoni-z 0123456789,.:krpx%{}', max_size=300).map(str.encode),
    name=st.sampled_from(["ad.svg", "ad.html", "ad.txt"]),
)
def test_any_bytes_are_checked_or_refused_with_a_reason(tmp_path: Path, raw: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(raw)
    try:
        found = check_ad(path, Context())
    except AdError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert all(p.message.startswith("ERB ") and p.line >= 1 and p.column >= 1 for p in found)


def test_the_console_shows_where_each_service_stands(console: tuple[Platform, str]) -> None:
    platform, url = console
    with httpx.Client(base_url=url) as producer:
        log_in(producer, "producent@example.se")
        page = producer.get("/console/erb/")
        assert page.status_code == 200 and "<h1>ERB-regler</h1>" in page.text
        assert "<td>demo-tv/mello</td>" in page.text and "följer reglerna" in page.text
        assert "demo-forening" not in page.text  # the producer's tenant only
        producer.cookies.set(i18n.COOKIE, "en")
        assert "<h1>ERB rules</h1>" in producer.get("/console/erb/").text
    assert httpx.get(f"{url}/console/erb/", follow_redirects=False).status_code in (302, 303)


def test_an_html_page_without_a_charset_is_read_as_the_utf_8_it_is(tmp_path: Path) -> None:
    page = tmp_path / "banner.html"
    page.write_bytes(
        "<html><body><p>Rösta! SMS MELLO 03 till 72500 (4,90 kr/sms). Demo-TV AB, Tevevägen 1, 111 22 Stockholm. "
        "Kundtjänst 08-123 45 67.</p></body></html>".encode()
    )
    result = CliRunner().invoke(erb, ["check", "--tenant", "demo-tv", "--rules", str(RULES), str(page)])
    assert (result.exit_code, result.stdout) == (0, "ok: 1 file(s)\n")
