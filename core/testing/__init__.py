"""Fakes and fixtures for testing Kodeord and its plugins: ``fixtures`` (the pytest plugin installed with
Kodeord: a Redis per test), ``fakekannel`` (Kannel's sendsms, ``python -m kodeord.testing.fakekannel``) and
``fakeelks`` (46elks' API)."""

# A tenant's company details that meet the ERB's rules, for test rule files with premium services: ``tenant:
# {id: tv, company: <COMPANY>}`` (a YAML flow mapping).
COMPANY = (
    '{name: Test AB, address: "Testgatan 1, 111 22 Stockholm", customer_service: "08-123 45 67", '
    'hours: "mon-fri 09:00-17:00"}'
)
