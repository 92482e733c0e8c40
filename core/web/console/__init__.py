"""The customer console: the pages people of a tenant log in to (``/login``, ``/console``).

Accounts (:mod:`.accounts`) belong to one tenant with a role; a session (:mod:`.sessions`) is a signed cookie
that names the account, and every form carries the session's CSRF token. Every console page reads the tenant
from the session and looks up only that tenant's data, so another tenant's ids answer 404, as the JSON API's
do. API keys stay for machines; the console is for people. See docs/console.md.
"""
