"""Entry script for frozen bundles (PyInstaller needs a file, not ``-m app``)."""

import sys

from app.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
