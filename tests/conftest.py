"""Shared test helpers. Kodeord's own pytest plugin (kodeord.testing) supplies the Redis fixtures."""

from __future__ import annotations

import textwrap

TV_RULES = textwrap.dedent(
    """\
    tenant:
      id: tv
      name: TV AB
    numbers:
      - number: "72500"
        type: shared
    services:
      - id: mello
        number: "72500"
        keyword: MELLO
        aliases: [MELO]
        fallback: "Okänd kod {{ args }}"
        rules:
          - name: vote
            when: {args: '0[1-9]'}
            reply: "Tack för rösten på {{ args }}"
          - name: writers
            when: {role: writer}
            reply: "Hej skribent"
    """
)
