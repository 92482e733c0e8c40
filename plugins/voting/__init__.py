"""Televoting and competitions (MA-1 to MA-6).

Polls with options reachable by vote code on a shared short code or by their
own premium voice number, opening and closing times, per-sender caps, live
counts per option and minute, traffic distribution of calls to a studio, the
"hot button", and fair, verifiable winner draws. The features arrive with the
televoting issue; the package is registered now so rule files and partners can
rely on its name.
"""
