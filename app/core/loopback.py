"""Servers on the loopback interface, run by an asyncio loop in a thread of their own.

The built-in demo and the test suite stand up real HTTP servers (aiohttp.web) and raw TCP
listeners that misbehave in ways no HTTP framework will, without sharing the caller's loop (the
GUI's, under qasync): a server that shares the client's loop cannot show what a client on a busy
loop does, and a stuck client would stall it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Coroutine
from ssl import SSLContext
from typing import Any, TypeVar

from aiohttp import web

__all__ = [
    "RawHandler",
    "ReservedPort",
    "ServerThread",
    "read_request_head",
    "reply_and_close",
    "reset_at_once",
    "reset_after_request",
    "silent",
    "url_for",
]

T = TypeVar("T")
RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

START_TIMEOUT = 10.0
# A request still running when its server stops (a hanging or endless one) is cancelled after
# this long: stopping must never wait for a client to give up.
SHUTDOWN_GRACE = 0.1


class ServerThread:
    """An asyncio loop in a daemon thread, hosting listeners until :meth:`stop`.

    Listeners are added from any other thread with :meth:`serve_app` and :meth:`serve_raw`, each
    returning the port it bound. :meth:`stop` closes them all, cancels whatever still runs and
    joins the thread, so nothing is left over for asyncio or aiohttp to log as unclosed.
    """

    def __init__(self, name: str = "fetchdeck-loopback") -> None:
        self.name = name
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._closers: list[Callable[[], Awaitable[None]]] = []

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread and return once its loop runs."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} was already started")
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT) or self._loop is None:
            raise RuntimeError(f"{self.name}: the server loop did not start")

    def stop(self) -> None:
        """Close every listener and connection, end the loop and join the thread. Idempotent."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None or not thread.is_alive():
            return
        try:
            self.call(self._close_all())
        finally:
            loop.call_soon_threadsafe(stopping.set)
            thread.join(START_TIMEOUT)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = START_TIMEOUT) -> T:
        """Run ``coro`` on the server loop from another thread and return its result."""
        if self._loop is None:
            coro.close()
            raise RuntimeError(f"{self.name} is not running")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("call() from the server thread itself would deadlock")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def serve_app(
        self,
        app: web.Application,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: SSLContext | None = None,
    ) -> int:
        """Serve an aiohttp application (HTTPS with ``ssl_context``); return the bound port."""
        return self.call(self._serve_app(app, host, port, ssl_context))

    def serve_raw(self, handler: RawHandler, host: str = "127.0.0.1", port: int = 0) -> int:
        """Call ``handler(reader, writer)`` for every accepted connection; return the bound port.

        The connection is closed when the handler returns; a client that went away
        (``ConnectionError``) is not an error.
        """
        return self.call(self._serve_raw(handler, host, port))

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        finally:
            self._ready.set()  # never leave start() waiting on a thread that died

    async def _run(self) -> None:
        self._stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._ready.set()
        await self._stopping.wait()
        # asyncio.run() then cancels and awaits anything still pending, and closes the loop.

    async def _close_all(self) -> None:
        closers, self._closers = self._closers, []
        for close in reversed(closers):
            await close()

    async def _serve_app(
        self, app: web.Application, host: str, port: int, ssl_context: SSLContext | None
    ) -> int:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
        except BaseException:
            await runner.cleanup()
            raise

        async def close() -> None:
            server = runner.server
            transports = [c.transport for c in server.connections if c.transport] if server else []
            await runner.cleanup()
            # cleanup() closes connections gracefully: a transport with unsent data stays open
            # until the client reads it, which a stalled client never does, and the loop would
            # end with the socket still open. Drop what is left.
            for transport in transports:
                transport.abort()
            await asyncio.sleep(0)  # let the aborts close their sockets

        self._closers.append(close)
        bound: int = runner.addresses[0][1]
        return bound

    async def _serve_raw(self, handler: RawHandler, host: str, port: int) -> int:
        connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

        async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            connections[task] = writer
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.CancelledError):
                # CancelledError only comes from close() below; letting it end the task would
                # make Python 3.11's start_server log "Exception in callback" for it.
                pass
            finally:
                del connections[task]
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()

        server = await asyncio.start_server(on_connection, host, port)

        async def close() -> None:
            server.close()
            for writer in connections.values():
                writer.transport.abort()
            for task in connections:
                task.cancel()
            await asyncio.gather(*connections, return_exceptions=True)
            await server.wait_closed()

        self._closers.append(close)
        bound: int = server.sockets[0].getsockname()[1]
        return bound


def url_for(host: str, port: int, path: str = "/", scheme: str = "http") -> str:
    """``http://host:port/path``, with IPv6 hosts in brackets."""
    netloc = f"[{host}]" if ":" in host else host
    return f"{scheme}://{netloc}:{port}/{path.lstrip('/')}"


async def read_request_head(reader: asyncio.StreamReader) -> bytes:
    """Read up to the blank line that ends a request's head (or whatever came before EOF)."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial
    except asyncio.LimitOverrunError as exc:
        return await reader.read(exc.consumed)


def reply_and_close(data: bytes) -> RawHandler:
    """A handler that reads the request head, sends ``data`` as it is, then closes (FIN)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        if data:
            writer.write(data)
            await writer.drain()

    return handler


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    # Linger on with a zero timeout makes close() drop the connection with an RST, not a FIN.
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def reset_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reset the connection as soon as it is accepted, before reading anything."""
    _abort_with_rst(writer)


async def reset_after_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request head, then reset the connection instead of answering."""
    await read_request_head(reader)
    _abort_with_rst(writer)


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept and read, never answer; hold the connection until the client gives up."""
    while await reader.read(64 * 1024):
        pass


class ReservedPort:
    """A loopback port where connections are refused, held so nothing else can take it.

    The socket is bound but never listens: the kernel answers a connection attempt with an RST
    (ECONNREFUSED), and no other program can bind the port while we hold it, so unlike "bind,
    note the port, close" there is no race with a later listener.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._sock.bind((host, 0))
        self.port: int = self._sock.getsockname()[1]

    def url(self, path: str = "/") -> str:
        return url_for(self.host, self.port, path)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> ReservedPort:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
