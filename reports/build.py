"""Build the report of one experiment: `python reports/build.py --experiment vanishing`.

The same as `rnngrad-report` and `python -m rnngrad.reports` (rnngrad/reports/cli.py has
the options, and `make report` runs).
"""

import sys

from rnngrad.reports.cli import main

if __name__ == "__main__":
    sys.exit(main())
