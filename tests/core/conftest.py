"""Real servers on loopback for core tests (see tests/servers.py). Every server fixture is started
for the test and stopped after it, so what its ``seen`` recorder counts belongs to that test.

GUI and end-to-end tests can reuse these by importing them into their own conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from ssl import SSLContext

import pytest
from aiohttp import web

from tests.servers import TLS, RawServers, ReservedPort, ThreadedServer, proxy_app

StartServer = Callable[..., ThreadedServer]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """``start_server(app=None, host="127.0.0.1", ssl_context=None)``: start a ThreadedServer
    (the misbehaving app by default); every one is stopped after the test."""
    started: list[ThreadedServer] = []

    def start(
        app: web.Application | None = None,
        host: str = "127.0.0.1",
        ssl_context: SSLContext | None = None,
    ) -> ThreadedServer:
        server = ThreadedServer(app, host, ssl_context)
        server.start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def http_server(start_server: StartServer) -> ThreadedServer:
    """The misbehaving app over plain HTTP on 127.0.0.1."""
    return start_server()


@pytest.fixture
def raw_servers() -> Iterator[RawServers]:
    """One raw TCP listener per misbehaviour aiohttp.web cannot produce (RAW_BEHAVIOURS)."""
    with RawServers() as servers:
        yield servers


@pytest.fixture
def refused_port() -> Iterator[ReservedPort]:
    """A port on 127.0.0.1 that refuses connections (``.port``, ``.url(path)``)."""
    with ReservedPort() as port:
        yield port


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLS:
    """A throwaway CA; ``tls.ca_pem`` is its PEM file, ``tls.client_context()`` trusts it."""
    return TLS(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def ca_file(tls: TLS) -> Path:
    """The PEM file of the CA that signed ``https_server``'s and ``wrong_host_server``'s certs."""
    return tls.ca_pem


@pytest.fixture
def https_server(start_server: StartServer, tls: TLS) -> ThreadedServer:
    """The misbehaving app over HTTPS, with a certificate for 127.0.0.1 and localhost."""
    return start_server(ssl_context=tls.server_context())


@pytest.fixture
def wrong_host_server(start_server: StartServer, tls: TLS) -> ThreadedServer:
    """HTTPS on 127.0.0.1 with a certificate (from the same CA) for example.org only."""
    return start_server(ssl_context=tls.server_context("example.org"))


@pytest.fixture
def proxy_server(start_server: StartServer) -> ThreadedServer:
    """A forward proxy for http:// URLs; ``proxy_server.seen`` records what it forwarded."""
    return start_server(proxy_app())
