"""The HTTP server every stand-in (Graph API, language model, outside APIs) runs on."""

from __future__ import annotations

from http.server import ThreadingHTTPServer


class StubServer(ThreadingHTTPServer):
    """A thread per request, with a listen backlog for bursts.

    The standard library's backlog is 5: a test that opens 20 connections at once on a busy
    machine saw some of them reset before the server thread could accept them.
    """

    request_queue_size = 128
    daemon_threads = True
