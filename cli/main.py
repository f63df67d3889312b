"""Entry point of the `rift` command.

Each command group lives in its own module and is registered here, so that the
engine, data and cluster commands can grow independently.
"""
from __future__ import annotations

import typer

app = typer.Typer(
    name="rift",
    help="RingRift AI training pipeline: engine, players, data, cluster and the Prefect loop.",
    no_args_is_help=True,
    add_completion=False,
)


def _register() -> None:
    """Import command modules, each of which attaches its commands to `app`."""
    from cli import cluster, data_commands, fleet, match, pipeline, report, selfplay, show, up, vectors

    selfplay.register(app)
    vectors.register(app)
    data_commands.register(app)
    cluster.register(app)
    fleet.register(app)
    pipeline.register(app)
    up.register(app)
    report.register(app)
    match.register(app)
    show.register(app)


_register()

if __name__ == "__main__":
    app()
