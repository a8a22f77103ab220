"""Operational tools: services a lab runs beside the pipeline, not part of any job.

server.py starts and stops an MLflow tracking server on PostgreSQL (make server, make
server-stop) for sweeps that outgrow one machine's SQLite store; ui.py serves the MLflow UI on
the project's own store (make ui) and says where the last experiment's runs are.
"""
