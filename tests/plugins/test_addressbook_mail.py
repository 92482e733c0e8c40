"""Email-to-list: each list's address under the configured domain, and the addresses that name a list (the
groundwork of ``kodeord mail``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kodeord.config.settings import Settings
from kodeord.plugins.addressbook.mailaddress import SETTINGS, ListAddress, address_of, list_named

IDS = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)


def settings(domain: str) -> Settings:
    found = Settings(environ={"KODEORD_MAIL_DOMAIN": domain})
    found.declare(SETTINGS)
    return found


@given(tenant=IDS, list_id=IDS)
def test_an_address_names_its_list_back(tenant: str, list_id: str) -> None:
    configured = settings("lists.example.se")
    address = address_of(configured, tenant, list_id)
    assert address is not None
    assert list_named(configured, address.upper()) == ListAddress(tenant, list_id)


@pytest.mark.parametrize(
    "address",
    [
        "medlemmar@lists.example.se",
        "a.b.c@lists.example.se",
        "medlemmar.forening@example.se",
        "nobody",
        ".x@lists.example.se",
    ],
)
def test_other_addresses_name_no_list(address: str) -> None:
    assert list_named(settings("lists.example.se"), address) is None


def test_a_wrong_domain_setting_is_refused() -> None:
    with pytest.raises(Exception, match="expected a domain such as lists.example.se"):
        settings("not a domain")
