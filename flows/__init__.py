"""Prefect flows: the iteration loop, backups and phase flows for work pools."""
