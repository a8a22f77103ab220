"""The edges around the engine: Hydra configs, MLflow tracking, the sweeper and the job.

Imports hydra and mlflow (heavy); the engine (rnngrad.rnn, rnngrad.tasks, ...) never imports
this package.
"""
