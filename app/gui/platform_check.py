"""Before Qt starts on an X display: can its xcb platform plugin load? If not, say what to install.

Qt loads ``plugins/platforms/libqxcb.so`` when it creates the QApplication. A system library
that plugin needs and that is missing makes Qt print "xcb-cursor0 is needed" (whatever is really
missing) and abort with SIGABRT. :func:`xcb_problem` finds the missing libraries first, by
reading the plugin's (and its Qt libraries') ``DT_NEEDED`` entries straight from the ELF files
and asking the dynamic loader for each: no subprocess, a few milliseconds. The entry point
prints the message and exits with status 3 ("Fetchdeck itself cannot run").

Imports nothing from Qt: a missing library may make importing PySide6's QtGui fail too.
"""

from __future__ import annotations

import ctypes
import os
import re
import struct
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["EXIT_CANNOT_START", "PACKAGES", "DisplayWatch", "exit_if_qt_cannot_start",
           "missing_from_ldd", "missing_libraries", "needed_libraries", "problem_message",
           "uses_xcb", "xcb_problem"]

EXIT_CANNOT_START = 3

# Debian/Ubuntu package of each library that Qt's xcb plugin (6.8-6.11), QtGui and QtWidgets
# load. Ubuntu 24.04 renamed some to a ``t64`` suffix; apt installs them by these names too.
PACKAGES: Mapping[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libz.so.1": "zlib1g",
    "libzstd.so.1": "libzstd1",
}
# Qt's own libraries ship in the wheel; the C/C++ runtime is everywhere Python is.
_BUNDLED = re.compile(r"^(libQt6|libpyside6|libshiboken6|libicu)")
_ALWAYS_THERE = frozenset({"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1",
                           "libpthread.so.0", "libdl.so.2", "librt.so.1",
                           "ld-linux-x86-64.so.2"})
_DT_NEEDED, _DT_STRTAB, _PT_DYNAMIC, _PT_LOAD = 1, 5, 2, 1


def uses_xcb(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether Qt will start on the xcb (X11) platform here."""
    env = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":", 1)[0].split(";", 1)[0] == "xcb"
    if env.get("XDG_SESSION_TYPE") == "wayland" and env.get("WAYLAND_DISPLAY"):
        return False  # Qt 6 tries Wayland first there
    return bool(env.get("DISPLAY"))


def qt_dir() -> Path | None:
    """PySide6's ``Qt`` folder, found without importing PySide6's Qt modules."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "Qt"


def needed_libraries(path: str | os.PathLike[str]) -> list[str]:
    """The ``DT_NEEDED`` sonames of an ELF shared object, in order. Raises ValueError for a
    file that is not a 32/64-bit ELF object, OSError when it cannot be read."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        raise ValueError(f"{path} is not an ELF file")
    wide, end = data[4] == 2, "<" if data[5] == 1 else ">"
    try:
        if wide:
            phoff, = struct.unpack_from(end + "Q", data, 0x20)
            phentsize, phnum = struct.unpack_from(end + "HH", data, 0x36)
            header, entry = end + "IIQQQQQQ", end + "qQ"
        else:
            phoff, = struct.unpack_from(end + "I", data, 0x1C)
            phentsize, phnum = struct.unpack_from(end + "HH", data, 0x2A)
            header, entry = end + "IIIIIIII", end + "iI"
        loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
        dynamic: tuple[int, int] | None = None
        for i in range(phnum):
            fields = struct.unpack_from(header, data, phoff + i * phentsize)
            if wide:
                kind, _flags, offset, vaddr, _paddr, filesz = fields[:6]
            else:
                kind, offset, vaddr, _paddr, filesz = fields[:5]
            if kind == _PT_LOAD:
                loads.append((vaddr, offset, filesz))
            elif kind == _PT_DYNAMIC:
                dynamic = (offset, filesz)
        if dynamic is None:
            return []
        size = struct.calcsize(entry)
        needed: list[int] = []
        strtab = None
        for pos in range(dynamic[0], dynamic[0] + dynamic[1] - size + 1, size):
            tag, value = struct.unpack_from(entry, data, pos)
            if tag == 0:
                break
            if tag == _DT_NEEDED:
                needed.append(value)
            elif tag == _DT_STRTAB:
                strtab = value
        if strtab is None:
            return []
        # DT_STRTAB is an address: map it to a file offset through the segment holding it.
        base = next((offset + strtab - vaddr for vaddr, offset, filesz in loads
                     if vaddr <= strtab < vaddr + filesz), None)
        if base is None:
            raise ValueError(f"{path}: string table outside every segment")
        names = []
        for offset in needed:
            stop = data.index(b"\0", base + offset)
            names.append(data[base + offset:stop].decode("utf-8", "replace"))
        return names
    except (struct.error, ValueError) as exc:
        raise ValueError(f"{path}: unreadable ELF dynamic section ({exc})") from exc


def missing_libraries(files: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The system libraries ``files`` need that the dynamic loader cannot load, in order.

    A library that exists but needs another that is missing counts as missing, under the name
    the loader complains about."""
    missing: list[str] = []
    seen: set[str] = set()
    for file in files:
        for name in needed_libraries(file):
            if name in seen or _BUNDLED.match(name) or name in _ALWAYS_THERE:
                continue
            seen.add(name)
            try:
                ctypes.CDLL(name, mode=os.RTLD_LAZY | os.RTLD_LOCAL)
            except OSError as exc:
                # "libfoo.so.1: cannot open shared object file: No such file or directory"
                culprit = str(exc).split(":", 1)[0].strip() or name
                for lib in (name, culprit):
                    if lib in PACKAGES or lib == name:
                        if lib not in missing:
                            missing.append(lib)
                        break
    return missing


def missing_from_ldd(ldd_output: str) -> list[str]:
    """The ``=> not found`` libraries of ``ldd``'s output, each once, in order."""
    missing: list[str] = []
    for line in ldd_output.splitlines():
        name, arrow, where = line.strip().partition("=>")
        if arrow and where.strip() == "not found" and name.strip() not in missing:
            missing.append(name.strip())
    return missing


def problem_message(missing: Iterable[str]) -> str:
    """What to tell a person whose Qt cannot start, with the one line that fixes it."""
    missing = list(missing)
    packages = sorted({PACKAGES[name] for name in missing if name in PACKAGES})
    unknown = [name for name in missing if name not in PACKAGES]
    lines = [
        "Fetchdeck cannot open its window: Qt's X11 (xcb) platform plugin needs system "
        "libraries that are not installed:",
        *(f"  {name}" + (f"  (package {PACKAGES[name]})" if name in PACKAGES else "")
          for name in missing),
        "",
    ]
    if packages:
        lines += ["On Debian or Ubuntu, install them with:",
                  f"  sudo apt-get install {' '.join(packages)}", ""]
    if unknown:
        lines += ["Install the packages that provide "
                  + ", ".join(unknown) + " with your system's package manager.", ""]
    lines.append("Without a display, `QT_QPA_PLATFORM=offscreen fetchdeck ...` runs with no "
                 "window.")
    return "\n".join(lines)


def xcb_plugin_files(qt: Path | None = None) -> list[Path]:
    """The plugin and the Qt libraries it loads, whose system libraries must all be there."""
    qt = qt_dir() if qt is None else qt
    if qt is None:
        return []
    candidates = [qt / "plugins" / "platforms" / "libqxcb.so", qt / "lib" / "libQt6XcbQpa.so.6",
                  qt / "lib" / "libQt6Gui.so.6", qt / "lib" / "libQt6Widgets.so.6",
                  qt / "lib" / "libQt6DBus.so.6"]
    return [path for path in candidates if path.is_file()]


def xcb_problem(qt: Path | None = None) -> str:
    """'' when Qt's xcb plugin can load, else the message saying what to install."""
    files = xcb_plugin_files(qt)
    if not files:
        return ""  # not a PySide6 layout this check knows: let Qt speak for itself
    try:
        missing = missing_libraries(files)
    except (OSError, ValueError):
        return ""
    return problem_message(missing) if missing else ""


def exit_if_qt_cannot_start(environ: Mapping[str, str] | None = None) -> None:
    """Call before creating the QApplication: on an X display whose xcb plugin cannot load,
    print what to install on standard error and exit with status 3 instead of Qt's abort."""
    if not uses_xcb(environ):
        return
    message = xcb_problem()
    if message:
        print(message, file=sys.stderr)
        raise SystemExit(EXIT_CANNOT_START)


class DisplayWatch:
    """Hears Qt's messages for as long as the window lives, to tell a lost display from a
    bug. When the X server goes away, Qt says "The X11 connection broke" and stops the
    application's event loop under Fetchdeck's feet; :attr:`lost` then holds what Qt said.
    Every message still reaches standard error as Qt would print it. (Qt's Wayland plugin
    exits the process at once when its compositor goes: nothing can be said then.)"""

    def __init__(self) -> None:
        self.lost: str | None = None
        self._previous: Any = None

    def install(self) -> DisplayWatch:
        from PySide6.QtCore import qInstallMessageHandler  # noqa: PLC0415

        self._previous = qInstallMessageHandler(self._heard)
        return self

    def uninstall(self) -> None:
        from PySide6.QtCore import qInstallMessageHandler  # noqa: PLC0415

        qInstallMessageHandler(self._previous)

    def _heard(self, kind: Any, context: Any, message: str) -> None:
        if self.lost is None and "connection broke" in message:
            self.lost = message.strip()
        if self._previous is not None:
            self._previous(kind, context, message)
        else:  # as Qt's own handler prints it (QT_MESSAGE_PATTERN, categories)
            from PySide6.QtCore import qFormatLogMessage  # noqa: PLC0415

            print(qFormatLogMessage(kind, context, message), file=sys.stderr)
