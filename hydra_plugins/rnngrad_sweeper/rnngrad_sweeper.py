"""Hydra finds sweepers only in the hydra_plugins namespace: this registers rnngrad's.

The logic lives in rnngrad/pipeline/sweeper.py.
"""

from rnngrad.pipeline.sweeper import TrackedSweeper as _TrackedSweeper


class TrackedSweeper(_TrackedSweeper):
    """BasicSweeper that validates every job, resumes, and tracks the sweep in MLflow."""
