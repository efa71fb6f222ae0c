"""``python -m tests.benchmarks``: the end-to-end benchmark (see ``--help``)."""

import sys

from tests.benchmarks.end_to_end import main

sys.exit(main())
