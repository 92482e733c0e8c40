"""Stage 1, inbound: a gateway's webhook becomes an ``Inbound`` message.

A gateway (Kannel, 46elks, a JSON webhook) calls ``/gateways/...``; ``webhooks`` authenticates the call and
parses its raw query or body, ``phone`` turns the numbers into E.164 (or refuses them with the reason),
``encoding`` reads the text in the charset the gateway declared, and ``signing`` checks and makes the HMAC
signatures of JSON webhooks. What it hands on: one ``messages.Inbound``, to the router (``kodeord.decide``).
"""
