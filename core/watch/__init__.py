"""Watching a running platform: metrics, alerts and the message log.

``metrics`` and ``gauges`` make ``/metrics`` (every process's counts, and outboxes and senders read at the
scrape); ``alerts`` raises alerts on failing gateways and waiting messages; ``messagelog`` shows a message and
its replies, and searches them (``kodeord messages``, ``GET /api/messages``).
"""
