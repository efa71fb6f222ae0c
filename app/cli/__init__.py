"""The command line without a window: ``fetchdeck run`` and the run history's commands
(``runs``, ``resume``, ``export``, ``diff``). Nothing here imports Qt."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["COMMANDS", "main"]

COMMANDS = ("run", "resume", "runs", "export", "diff")


def main(command: str, argv: Sequence[str]) -> int:
    """Run ``fetchdeck COMMAND ARGV...``; the exit status."""
    if command == "run":
        from app.cli.run import main as run

        return run(argv)
    from app.cli.history import main as history

    return history(command, argv)
