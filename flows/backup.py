"""Hourly backup of the data folder to the artifact store (S3 in a cluster), and its restore.

Only what changed since the latest manifest is uploaded, and each upload is read
back and checked before the manifest that points at it is written (see
tasks/backup.py for the layout). `backup/hourly` in prefect.yaml runs `backup` on
a cron schedule; `restore` brings a manifest back into a fresh folder.
"""
from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from infra.pipeline_config import BackupSettings, load_pipeline_config
from tasks.backup import backup_data, restore_data


def _settings(pipeline_config: str | None, block: str | None, prefix: str | None) -> BackupSettings:
    settings = load_pipeline_config(pipeline_config).backup
    updates = {k: v for k, v in (("block", block), ("prefix", prefix)) if v}
    return settings.model_copy(update=updates) if updates else settings


@flow(name="backup", log_prints=True)
def backup(data_dir: str | None = None, block: str | None = None, prefix: str | None = None,
           pipeline_config: str | None = None) -> dict[str, Any]:
    """Back up game databases, registry, models and profiles: only what changed, each upload verified.

    `block` overrides the target (a saved block such as `s3-bucket/rift-backups`).
    """
    result = backup_data(data_dir, _settings(pipeline_config, block, prefix))
    get_run_logger().info("backup %s: %d files, %d changed, %d objects uploaded (%d bytes)", result["manifest"],
                          result["files"], len(result["changed"]), result["uploaded_objects"],
                          result["uploaded_bytes"])
    return result


@flow(name="restore", log_prints=True)
def restore(dest: str, manifest: str | None = None, data_dir: str | None = None, block: str | None = None,
            prefix: str | None = None, pipeline_config: str | None = None) -> dict[str, Any]:
    """Restore the latest (or the named) backup manifest into `dest`, a fresh folder."""
    result = restore_data(data_dir, dest, _settings(pipeline_config, block, prefix), manifest)
    print(f"restored {result['restored']} files ({result['bytes']} bytes) from {result['manifest']} into {dest}")
    return result
