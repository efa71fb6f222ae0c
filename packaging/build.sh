#!/usr/bin/env bash
# Build a standalone one-folder bundle in dist/fetchdeck/ with PyInstaller, then smoke-test it:
# the bundle must run a batch fetch of its own demo offscreen and write a CSV.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-build
.venv-build/bin/pip install -q -e . 'pyinstaller>=6.10'
.venv-build/bin/pyinstaller --noconfirm --clean --distpath dist --workpath build packaging/fetchdeck.spec
out=$(mktemp -d)
QT_QPA_PLATFORM=offscreen FETCHDECK_CONFIG_DIR="$out" FETCHDECK_STATE_DIR="$out" \
  dist/fetchdeck/fetchdeck --demo --export-csv "$out/demo.csv" --exit-when-done || test $? -eq 1
test -s "$out/demo.csv"
rows=$(.venv-build/bin/python -c 'import csv, sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1], newline=""))))' "$out/demo.csv")
echo "bundle ok: dist/fetchdeck/ ($(du -sh dist/fetchdeck | cut -f1)); demo CSV has $rows rows"
