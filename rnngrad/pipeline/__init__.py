"""The edges around the engine: Hydra configs, MLflow tracking, the sweeper and the job.

Imports hydra and mlflow (heavy); the engine (rnngrad.rnn, rnngrad.tasks, ...) never imports
this package.
"""

import importlib.util
import logging
import os

_missing = [m for m in ("hydra", "mlflow", "threadpoolctl") if importlib.util.find_spec(m) is None]
if _missing:
    raise ImportError(
        f"rnngrad.pipeline needs {', '.join(_missing)}: pip install 'rnngrad[pipeline]' "
        "(the engine, rnngrad.tasks and rnngrad.training need NumPy alone)"
    )

# MLflow reports usage to its developers unless told not to; rnngrad does not, unless the
# user sets MLFLOW_DISABLE_TELEMETRY=false. Set before any module here imports mlflow.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# A server that does not answer: a few retries within seconds, not minutes of backoff.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")

# MLflow's SQL store logs a full traceback for every database error before raising it (a full
# disk prints one per write); rnngrad reports each such error in one line where it is caught.
logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
