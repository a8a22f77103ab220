"""`python -m rnngrad.reports --experiment NAME`: the report command (rnngrad.reports.cli)."""

import sys

from rnngrad.reports.cli import main

sys.exit(main())
