"""Help → Try the demo: the built-in loopback server, started once and stopped with the window."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the server (aiohttp.web) loads when the demo is first asked for, not at
    from app.core.demo import DemoServer  # start-up: ~0.1 s of imports most sessions skip

__all__ = ["Demo"]


class Demo:
    """Owns the demo server. :meth:`sample_text` starts it on first use (raises OSError when it
    cannot listen) and returns the URL list that shows every kind of outcome."""

    def __init__(self) -> None:
        self.server: DemoServer | None = None

    def sample_text(self) -> str:
        if self.server is None:
            from app.core.demo import DemoServer  # noqa: PLC0415 - see the import above

            server = DemoServer()
            server.start()
            self.server = server
        return self.server.sample_text()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
