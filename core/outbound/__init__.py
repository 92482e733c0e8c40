"""Stage 4, outbound: queued messages sent through gateways, and what becomes of them.

``outbox`` owns what the outbox streams hold (typed entries) and is the code that adds to them and reads them.
``jobs`` runs senders as RQ jobs (one per outbox with work, picked by a dispatcher; ``liveness`` tells which
senders are alive). ``sender`` drains an outbox: it expands broadcasts (``fanout``), vets each message,
chooses its gateway by the recipient's operator (``operators``, within ``ratelimit``) and hands it to a
``gateway`` (the types, and the gateways file in ``gatewayconfig``, checked by ``gatewaycheck``; Kannel
through ``httppool``, email through ``mailer``). ``status`` records each message's fate and the delivery
reports that come back. What it hands on: status records and reports, read by ``kodeord.watch``.
"""
