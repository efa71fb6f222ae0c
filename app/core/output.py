"""Where results are written, without ever destroying what the path is.

* ``-`` or nothing: standard output, streamed.
* A FIFO, a character device (``/dev/stdout``, ``/dev/null``, a terminal) or a socket: streamed
  to, as a shell redirection would; never replaced.
* A name for one of this process's open files (``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``,
  ``/proc/self/fd/N``), even when it is a regular file (``> out.csv`` or ``>> log.csv``):
  written through that open file, at its position, so ``>>`` appends and nothing is replaced.
* A symlink: written through to what it points at, as a shell redirection would; the link stays.
* A regular file, or a path that does not exist yet: written to a temporary file beside it and
  moved into place atomically only when the caller commits (the run is complete), so a failed
  or interrupted export never leaves a half-written file where a good one is expected. The new
  file keeps the old one's permissions (or gets the usual ones for a new file).
* A path that is one of the inputs (the URL list being fetched) is refused.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TextIO

__all__ = ["Output", "OutputError", "open_output"]


class OutputError(OSError):
    """The output cannot be written; the message says why in plain words."""


class Output:
    """An open output. Write text to :attr:`stream`; :meth:`commit` when the content is whole.

    Used as a context manager: leaving it without commit discards a temporary file (the
    destination keeps what it had) and just closes a stream.
    """

    def __init__(self, stream: TextIO, display: str, *, temp: Path | None = None,
                 destination: Path | None = None, mode: int = 0o644,
                 owns_stream: bool = True) -> None:
        self.stream = stream
        self.display = display
        self._temp = temp
        self._destination = destination
        self._mode = mode
        self._owns = owns_stream
        self.committed = False

    @property
    def streaming(self) -> bool:
        """True when written in place (stdout, a pipe, a device), not replaced at the end."""
        return self._temp is None

    def commit(self) -> None:
        """Flush, and for a regular file move the finished temporary file into place."""
        if self.committed:
            return
        # A reader that went away (`| head`) wants nothing more.
        with contextlib.suppress(BrokenPipeError):
            self.stream.flush()
        if self._temp is not None and self._destination is not None:
            self.stream.close()
            os.chmod(self._temp, self._mode)
            os.replace(self._temp, self._destination)
            self._temp = None
        self.committed = True

    def close(self) -> None:
        """Close without raising: a write that failed was reported where it failed (or by
        :meth:`commit`), and closing only finishes what is left."""
        if self._temp is not None:
            try:
                with contextlib.suppress(OSError):
                    self.stream.close()
            finally:
                self._temp.unlink(missing_ok=True)
                self._temp = None
        elif self._owns:
            with contextlib.suppress(OSError):
                self.stream.close()
        else:
            # Our wrapper around standard output's bytes: let go of it without closing them.
            with contextlib.suppress(OSError, ValueError):
                self.stream.flush()
            if not isinstance(self.stream, io.TextIOWrapper):
                return  # standard output's own binary buffer: never ours to close
            detach = getattr(self.stream, "detach", None)
            if detach is not None:
                with contextlib.suppress(ValueError):
                    detach()

    def __enter__(self) -> Output:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_output(path: str | os.PathLike[str] | None,
                protect: Iterable[str | os.PathLike[str]] = (), *,
                binary: bool = False) -> Output:
    """Open ``path`` for writing text (UTF-8, newlines as written), or bytes when ``binary``,
    by the rules above.

    Raises :class:`OutputError` with a plain message when it cannot be written, before any
    work is done: a missing folder, no permission, a path that is a directory or an input.
    """
    if path is None or os.fspath(path) == "-":
        if binary:
            return Output(sys.stdout.buffer, "standard output",  # type: ignore[arg-type]
                          owns_stream=False)
        return Output(_stdout(), "standard output", owns_stream=False)
    given = Path(os.fspath(path))
    try:
        # stat(2) follows links as open(2) will, /proc's magic ones included (/dev/stdout).
        info: os.stat_result | None = os.stat(given)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputError(f"{given}: {exc.strerror or exc}") from exc
    for other in protect:
        if info is not None and _same_file(given, Path(os.fspath(other))):
            raise OutputError(f"{given}: that is the URL list being fetched; "
                              "choose another file for the results")
    fd = _open_file_named(given, info)
    if fd == 1:
        return open_output(None, binary=binary)
    if fd is not None:
        try:
            duplicate = os.dup(fd)
        except OSError as exc:
            raise OutputError(f"cannot write {given}: {exc.strerror or exc}") from exc
        return Output(_fdopen(duplicate, binary), str(given))
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise OutputError(f"{given} is a folder; give a file name")
    if info is not None and not stat.S_ISREG(info.st_mode):
        # A FIFO, a device, a socket: stream to it. Opening a FIFO blocks until a reader comes.
        try:
            # Closed by the Output that owns it.
            stream: TextIO = _open_stream(given, binary)
        except OSError as exc:
            raise OutputError(f"cannot write {given}: {exc.strerror or exc}") from exc
        return Output(stream, str(given))
    # A regular file, or nothing yet (perhaps a dangling symlink): the file the links lead to
    # is the one replaced, so the links stay links.
    real = Path(os.path.realpath(given))
    folder = real.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {given}: the folder {folder} does not exist")
    mode = info.st_mode & 0o777 if info is not None else _new_file_mode()
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".part",
                                             dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {given}: {exc.strerror or exc}") from exc
    return Output(_fdopen(handle, binary), str(given), temp=Path(temp_name), destination=real,
                  mode=mode)


def _fdopen(fd: int, binary: bool) -> TextIO:
    if binary:
        return os.fdopen(fd, "wb")  # type: ignore[return-value]
    return os.fdopen(fd, "w", encoding="utf-8", newline="")


_FD_NAME = re.compile(r"/dev/fd/(\d+)|/proc/(?:self|thread-self)/fd/(\d+)")
_STD_NAMES = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def _open_file_named(path: Path, info: os.stat_result | None) -> int | None:
    """The descriptor ``path`` names (``/dev/stdout`` -> 1) when it is a regular file that the
    descriptor has open; None otherwise. Reopening it by name would truncate what ``>>``
    appends to, and replacing it would leave the shell's redirection writing into a file gone.
    """
    if info is None or not stat.S_ISREG(info.st_mode):
        return None
    text = os.fspath(path)
    fd = _STD_NAMES.get(text)
    if fd is None:
        match = _FD_NAME.fullmatch(text)
        if match is None:
            return None
        fd = int(match[1] or match[2])
    try:
        own = os.fstat(fd)
    except OSError:
        return None
    return fd if (own.st_dev, own.st_ino) == (info.st_dev, info.st_ino) else None


def _open_stream(path: Path, binary: bool) -> TextIO:
    if binary:
        return open(path, "wb")  # type: ignore[return-value]  # noqa: SIM115
    return open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115


def _stdout() -> TextIO:
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # replaced by a test harness or an IDE: write text as it is
        return sys.stdout
    # Our own UTF-8 text wrapper over the same bytes, whatever the terminal's locale says.
    return io.TextIOWrapper(buffer, encoding="utf-8", newline="", write_through=False)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _new_file_mode() -> int:
    """The mode an ordinary new file would get (mkstemp makes 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
