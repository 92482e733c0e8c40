"""Stage 2, decide: one inbound message, its service's rules, and the effects they call for.

``router`` takes an ``Inbound``, asks the catalogue for its service, runs the service's rules in ``engine``
(durable_rules), calls the actions they name (``actions``: declared by plugins; ``builtins``: the core's own),
and renders replies with ``templating`` in the ``sandbox`` on a ``budget``. ``lanes`` keeps one tenant's slow
templates from holding up the others. What it hands on: an outcome and its ``Effects``, to
``kodeord.commit``.
"""
