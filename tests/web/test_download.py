"""A file's name in ``Content-Disposition``: whatever the data names it, the header is valid and says the name."""

from __future__ import annotations

from email.message import Message
from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from kodeord.web.download import attachment


def test_a_plain_name_is_given_as_it_is() -> None:
    assert attachment("medlemmar.csv") == {"Content-Disposition": 'attachment; filename="medlemmar.csv"'}


def test_a_name_outside_ascii_has_a_stand_in_and_itself_encoded() -> None:
    value = attachment('föreningen "nord".csv')["Content-Disposition"]
    assert value == "attachment; filename=\"f_reningen _nord_.csv\"; filename*=UTF-8''f%C3%B6reningen%20%22nord%22.csv"


@given(name=st.text())
def test_any_name_gives_a_header_that_parses_to_a_safe_name(name: str) -> None:
    value = attachment(name)["Content-Disposition"]
    value.encode("latin-1")  # a header value must be
    assert "\r" not in value and "\n" not in value
    header = Message()
    header["Content-Disposition"] = value
    plain = header.get_param("filename", header="content-disposition")
    assert isinstance(plain, str) and plain and plain.isascii()
    assert not set(plain) & set('"\\/:;*?<>|%')
    if "filename*=" in value:
        full = unquote(value.split("filename*=UTF-8''", 1)[1])
        assert "/" not in full and "\\" not in full
        assert len(full) == len(name)
