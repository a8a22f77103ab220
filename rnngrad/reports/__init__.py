"""rnngrad's reports: read one experiment from the MLflow store, write figures, tables, findings
and a page (build.py). Importing rnngrad.pipeline first turns MLflow's telemetry off."""

import rnngrad.pipeline  # noqa: F401
