"""The Starlette web app (``app``): gateways' webhooks, the JSON API (``apiauth``, ``apikeys``), signed links
(``links``), the phone simulator, health and metrics; ``workers`` runs it in several processes."""
