"""What operators and customers declare: settings, and rule files loaded into a typed catalogue.

``settings`` declares every ``KODEORD_*`` setting. A rule file is YAML read by ``yamlfile`` (every node
located), checked against the format in ``ruleschema`` (a small ``schema`` language), and parsed by
``rulefile`` into the typed ``model``; ``catalog`` indexes it so that a number and a keyword (matched by
``keywords``: case and accents folded) select one service. What it hands on: the ``Catalog`` the router asks
which service a message is for.
"""
