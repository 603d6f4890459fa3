"""A TCP forwarder on 127.0.0.1 in front of a real service, to take it away and bring it back.

Point a runtime at 127.0.0.1::attr:`TcpProxy.port` instead of the service: :meth:`stop` closes the
listening socket and every connection through it (the service is gone: new connections are
refused, pooled ones are dead), :meth:`start` listens again on the same port. In
``black_hole`` mode connections are accepted but nothing is ever forwarded (a service that
hangs).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

CHUNK_BYTES = 65536


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target_host``:``target_port`` while started."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.black_hole = False
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def listening(self) -> bool:
        """Whether the proxy is started (forwarding, or swallowing in black-hole mode)."""
        return self._server is not None

    @property
    def open_connections(self) -> int:
        """Client connections open through the proxy right now (held ones in black-hole mode)."""
        return len(self._connections)

    async def start(self, *, black_hole: bool = False) -> None:
        """Listen (again, on the same port once one was chosen)."""
        self.black_hole = black_hole
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and cut every open one."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        connections = list(self._connections)
        for connection in connections:
            connection.cancel()
        await asyncio.gather(*connections, return_exceptions=True)

    async def _serve(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            if self.black_hole:
                await asyncio.Event().wait()  # until stopped
            upstream_reader, upstream = await asyncio.open_connection(
                self.target_host, self.target_port
            )
            try:
                await asyncio.gather(_pipe(client_reader, upstream), _pipe(upstream_reader, client))
            finally:
                await _close(upstream)
        except (OSError, asyncio.CancelledError):
            pass  # the connection ends either way; stop() is what cancels it
        finally:
            self._connections.discard(task)
            await _close(client)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while chunk := await reader.read(CHUNK_BYTES):
        writer.write(chunk)
        await writer.drain()
    # One side finished: half-close the other so it sees the end too.
    with contextlib.suppress(OSError):
        writer.write_eof()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, asyncio.CancelledError):
        await writer.wait_closed()


@contextlib.asynccontextmanager
async def proxy_to(host: str, port: int) -> AsyncIterator[TcpProxy]:
    """A started proxy in front of ``host``:``port``, stopped on the way out."""
    proxy = TcpProxy(host, port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()
