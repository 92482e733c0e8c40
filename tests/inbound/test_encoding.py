"""Tests for kodeord.inbound.encoding: GSM 03.38 / UCS-2 detection and segment counts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kodeord.inbound.encoding import Encoding, TextInfo, analyse, is_gsm7

# Written out independently of the module, row by row as in the GSM 03.38
# table (columns 0x00-0x70), so the property tests compare against the spec
# rather than against the implementation's own sets. "\x00" marks ESC (0x1B).
_COLUMNS = [
    "@Δ 0¡P¿p",
    "£_!1AQaq",
    '$Φ"2BRbr',
    "¥Γ#3CScs",
    "èΛ¤4DTdt",
    "éΩ%5EUeu",
    "ùΠ&6FVfv",
    "ìΨ'7GWgw",
    "òΣ(8HXhx",
    "ÇΘ)9IYiy",
    "\nΞ*:JZjz",
    "Ø\x00+;KÄkä",
    "øÆ,<LÖlö",
    "\ræ-=MÑmñ",
    "Åß.>NÜnü",
    "åÉ/?O§oà",
]
GSM7_BASIC = {ch for row in _COLUMNS for ch in row} - {"\x00"}
GSM7_EXTENSION = set("\f^{}\\[~]|€")
GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION

gsm7_chars = st.sampled_from(sorted(GSM7_ALL))
gsm7_texts = st.text(alphabet=gsm7_chars, max_size=400)
# Mix GSM text with arbitrary characters (including astral ones) so both
# encodings and the segment boundaries are exercised.
any_texts = st.one_of(
    gsm7_texts,
    st.text(max_size=200),
    st.text(alphabet=st.one_of(gsm7_chars, st.characters()), max_size=200),
)


def test_table_sizes() -> None:
    assert len(GSM7_BASIC) == 127  # 128 positions minus ESC
    assert len(GSM7_EXTENSION) == 10


def test_empty_text() -> None:
    assert analyse("") == TextInfo(Encoding.GSM7, 0, 1, 160)
    assert is_gsm7("")


@pytest.mark.parametrize(
    ("length", "segments", "per_segment"),
    [(1, 1, 160), (160, 1, 160), (161, 2, 153), (306, 2, 153), (307, 3, 153)],
)
def test_gsm7_plain_boundaries(length: int, segments: int, per_segment: int) -> None:
    assert analyse("a" * length) == TextInfo(Encoding.GSM7, length, segments, per_segment)


@pytest.mark.parametrize(
    "text",
    ["Rösta på nummer 3", "Blåbærsyltetøy", "ÆØÅ æøå ÄÖ äö Ñ ñ Ü ü É é Ç ß § ¿ ¡"],
)
def test_nordic_text_is_gsm7(text: str) -> None:
    assert is_gsm7(text)
    info = analyse(text)
    assert info.encoding is Encoding.GSM7
    assert info.units == len(text)


def test_extension_char_costs_two_septets() -> None:
    assert analyse("€") == TextInfo(Encoding.GSM7, 2, 1, 160)
    assert analyse("{[]}").units == 8


def test_euro_boundaries() -> None:
    assert analyse("€" * 80) == TextInfo(Encoding.GSM7, 160, 1, 160)
    # 162 septets; 76 escape pairs (152) fill part one, the 77th would straddle.
    assert analyse("€" * 81) == TextInfo(Encoding.GSM7, 162, 2, 153)


def test_escape_at_153_boundary_fits_single_part() -> None:
    # 154 septets is still under 160, so no splitting happens at all.
    assert analyse("a" * 152 + "€") == TextInfo(Encoding.GSM7, 154, 1, 160)


def test_escape_pair_not_split_across_parts() -> None:
    # 306 septets: ceil(306 / 153) would be 2, but the escape pair at offset
    # 152-153 cannot straddle, so part one holds only 152 and a third is needed.
    assert analyse("a" * 152 + "€" + "a" * 152) == TextInfo(Encoding.GSM7, 306, 3, 153)
    # Same total with the pair well inside a part: two parts suffice.
    assert analyse("€" + "a" * 304).segments == 2
    # Pushed-over pair that still leaves room: 152 + (2 + 8) over two parts.
    assert analyse("a" * 152 + "€" + "a" * 8) == TextInfo(Encoding.GSM7, 162, 2, 153)


@pytest.mark.parametrize("char", ["ç", "Ж"])
def test_ucs2_boundaries(char: str) -> None:
    assert not is_gsm7(char)
    assert analyse(char * 70) == TextInfo(Encoding.UCS2, 70, 1, 70)
    assert analyse(char * 71) == TextInfo(Encoding.UCS2, 71, 2, 67)
    assert analyse(char * 134) == TextInfo(Encoding.UCS2, 134, 2, 67)
    assert analyse(char * 135) == TextInfo(Encoding.UCS2, 135, 3, 67)


def test_lowercase_c_cedilla_forces_ucs2() -> None:
    assert is_gsm7("Ça va")
    assert analyse("ça va").encoding is Encoding.UCS2


def test_emoji_is_two_code_units() -> None:
    assert analyse("😀") == TextInfo(Encoding.UCS2, 2, 1, 70)
    assert analyse("😀" * 35) == TextInfo(Encoding.UCS2, 70, 1, 70)
    assert analyse("😀" * 36).segments == 2


def test_surrogate_pair_not_split_across_parts() -> None:
    # 134 code units = 2 * 67, yet the emoji at units 67-68 must move whole.
    assert analyse("Ж" * 66 + "😀" + "Ж" * 66) == TextInfo(Encoding.UCS2, 134, 3, 67)
    assert analyse("😀" + "Ж" * 132).segments == 2


def test_utf16_text_with_explicit_surrogates() -> None:
    paired = "😀".encode("utf-16-le").decode("utf-16-le", "surrogatepass")
    assert paired == "😀"  # the codec rejoins a valid pair
    split = "\ud83d\ude00"  # the same pair as two code points
    assert analyse("Ж" * 66 + split + "Ж" * 66) == TextInfo(Encoding.UCS2, 134, 3, 67)
    assert analyse("\ud800") == TextInfo(Encoding.UCS2, 1, 1, 70)


@given(any_texts)
def test_at_least_one_segment(text: str) -> None:
    assert analyse(text).segments >= 1


@given(any_texts)
def test_gsm7_iff_all_chars_in_tables(text: str) -> None:
    expected = all(ch in GSM7_ALL for ch in text)
    assert is_gsm7(text) is expected
    assert (analyse(text).encoding is Encoding.GSM7) is expected


@given(gsm7_texts)
def test_gsm7_units_and_single_part(text: str) -> None:
    info = analyse(text)
    assert info.units == sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
    if info.units <= 160:
        assert info.segments == 1
        assert info.per_segment == 160
    else:
        assert info.segments >= 2
        assert info.per_segment == 153


@given(any_texts)
def test_ucs2_units_are_utf16_code_units(text: str) -> None:
    info = analyse(text)
    if info.encoding is Encoding.UCS2:
        # surrogatepass: generated text may hold lone surrogates, which the
        # strict codec refuses; each is still one UTF-16 code unit.
        assert info.units == len(text.encode("utf-16-le", "surrogatepass")) // 2


@given(any_texts)
def test_segments_cover_units(text: str) -> None:
    info = analyse(text)
    # Never fewer parts than the raw capacity allows.
    assert info.segments * info.per_segment >= info.units


@given(any_texts, st.data())
def test_segments_monotonic_when_appending_same_class(text: str, data: st.DataObject) -> None:
    before = analyse(text)
    if before.encoding is Encoding.GSM7:
        char = data.draw(gsm7_chars)
    else:
        # Text that is already UCS-2 stays UCS-2 whatever is appended.
        char = data.draw(st.characters())
    after = analyse(text + char)
    assert after.encoding is before.encoding
    assert after.segments >= before.segments
