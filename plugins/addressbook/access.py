"""Who may do what with a list in the console (AB-10): the people named under the list's Access.

- an **administrator** is a console account whose email address is in the list's ``admins`` option, or the
  tenant's owner (an owner answers for every list of the tenant): they see the members, pending joiners and
  those who unsubscribed, add, approve, reject, import, export consent records, and send;
- a **writer** is a console account whose email address is one of the list's writers (the same writers who
  broadcast by SMS or email, managed with ``kodeord lists writers`` or the API): they see the list and send
  to it, nothing more;
- everyone else of the tenant does not see the list at all (404, as another tenant's list).

An account with the viewer role changes nothing, whatever the list names it: it sees what its place on the
list shows and sends nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kodeord.web.console.accounts import Account, Role

from .admin import ListAdmin


class Place(enum.IntEnum):
    """An account's place on a list, in increasing rights."""

    NONE = 0
    WRITER = 1
    ADMIN = 2


@dataclass(frozen=True)
class Access:
    """What one console account may do with one list."""

    place: Place
    can_change: bool  # false for a viewer-role account

    @property
    def sees(self) -> bool:
        """Whether the list is shown to the account at all."""
        return self.place is not Place.NONE

    @property
    def manages(self) -> bool:
        """Whether the account sees the list's people and consent records."""
        return self.place is Place.ADMIN

    @property
    def changes_members(self) -> bool:
        """Whether the account may add, approve, reject and import."""
        return self.manages and self.can_change

    @property
    def sends(self) -> bool:
        """Whether the account may start a broadcast."""
        return self.sees and self.can_change


def place_of(admin: ListAdmin, list_id: str, account: Account) -> Place:
    """``account``'s place on list ``list_id`` of ``admin``'s tenant (the list must exist)."""
    if account.tenant != admin.tenant:
        return Place.NONE
    if account.role is Role.OWNER or account.email in admin.options(list_id).admins:
        return Place.ADMIN
    if admin.redis.sismember(admin.keys(list_id).writers, account.email):
        return Place.WRITER
    return Place.NONE


def access_of(admin: ListAdmin, list_id: str, account: Account) -> Access:
    """What ``account`` may do with list ``list_id`` (NONE for a list the tenant does not have)."""
    if list_id not in admin.ids():
        return Access(Place.NONE, False)
    return Access(place_of(admin, list_id, account), account.can_change)


def visible(admin: ListAdmin, account: Account) -> list[tuple[str, Access]]:
    """The lists ``account`` sees, by id, with what it may do with each."""
    found = []
    for list_id in admin.ids():
        place = place_of(admin, list_id, account)
        if place is not Place.NONE:
            found.append((list_id, Access(place, account.can_change)))
    return found
