"""``kodeord mail``: the lists' SMTP server (:mod:`.mailserver`) and the handler of what it keeps
(:mod:`.mailhandling`), in one process.

The handler takes kept mail every half second when idle. Mail a handler took and never finished (the process
died) is taken over after a minute, by this process or another; a mail whose handling fails stays kept and is
tried again then, with an error in the log.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import TYPE_CHECKING

from aiosmtpd.controller import Controller

from kodeord.support.errors import KodeordError
from kodeord.support.redis_client import REDIS_ERRORS

from . import mailinbox
from .mailhandling import handle
from .mailserver import ListHandler, tls_context

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

log = logging.getLogger(__name__)
IDLE_S = 0.5
TRIES = 3  # a mail whose handling fails this often is set aside


def work_once(host: PluginHost, consumer: str) -> int:
    """Handle the kept mail there is now; how many were handled. Nothing a mail or Redis does ends the loop:
    Redis out of reach is tried again on the next round, a mail whose handling fails is tried again after a
    minute and, after :data:`TRIES` failures, set aside in the list's ``mail-failed`` stream with the error."""
    handled = 0
    try:
        entries = list(mailinbox.take(host.redis, consumer))
    except REDIS_ERRORS as exc:
        log.error("kept mail cannot be read (tried again soon): %s", exc)
        return 0
    for entry in entries:
        try:
            what = handle(host, entry)
        except REDIS_ERRORS as exc:
            log.error("mail %s for %s not handled, Redis out of reach (tried again): %s", entry.id, entry.list_key, exc)
            continue
        except Exception as exc:  # a mail no handling can finish must not stop the others'
            log.exception("mail %s for %s from %s not handled", entry.id, entry.list_key, entry.sender)
            try:
                if mailinbox.failed(host.redis, entry, f"{type(exc).__name__}: {exc}") < TRIES:
                    continue
                what = f"set aside after {TRIES} tries"
            except REDIS_ERRORS:
                continue
        log.info("mail %s for %s from %s: %s", entry.id, entry.list_key, entry.sender, what)
        try:
            mailinbox.done(host.redis, entry)
        except REDIS_ERRORS as exc:
            log.error("mail %s for %s handled but not yet marked so: %s", entry.id, entry.list_key, exc)
            continue
        handled += 1
    return handled


def serve(host: PluginHost, address: str, port: int, stop: threading.Event) -> None:
    """Take mail on ``address``:``port`` and handle it until ``stop`` is set."""
    settings = host.settings
    if not settings.mail_domain:
        raise KodeordError("set KODEORD_MAIL_DOMAIN, the domain of the lists' addresses (lists.example.se)")
    context = tls_context(settings.mail_tls_cert, settings.mail_tls_key)
    controller = Controller(
        ListHandler(host),
        hostname=address,
        port=port,
        data_size_limit=settings.mail_max_bytes,
        server_kwargs={"tls_context": context} if context is not None else {},
    )
    controller.start()
    log.info("taking mail for the lists @%s on %s:%d", settings.mail_domain, address, port)
    consumer = f"{socket.gethostname()}:{os.getpid()}"
    try:
        while not stop.is_set():
            if not work_once(host, consumer):
                stop.wait(IDLE_S)
    finally:
        controller.stop()
