"""Fakes and fixtures for testing Kodeord and its plugins: ``fixtures`` (the pytest plugin installed with
Kodeord: a Redis per test), ``fakekannel`` (Kannel's sendsms, ``python -m kodeord.testing.fakekannel``) and
``fakeelks`` (46elks' API)."""
