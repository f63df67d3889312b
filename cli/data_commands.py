"""`rift models ...` and `rift games ...`: look at and repair the durable data from a shell.

Thin commands over infra/: they build the DataConfig once from flags, the
environment and an optional YAML file, call the library, and print rich tables.
A damaged file is printed with its name and the fix, and the command exits non-zero.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from cli import output
from infra.data_config import DataConfig, load_data_config
from infra.errors import CorruptDataError, corrupt_database

console = output.console()
err_console = output.console(stderr=True, soft_wrap=True)

models_app = typer.Typer(help="Model registry: list, inspect, pick the best, deprecate, trace lineage.",
                         no_args_is_help=True)
games_app = typer.Typer(help="Game stores: statistics, ingest from other hosts, integrity checks.",
                        no_args_is_help=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data folder (default: RIFT_DATA_DIR or ./data).")]
ConfigFile = Annotated[Path | None, typer.Option("--config", envvar="RIFT_DATA_CONFIG",
                                                    help="YAML file with a `data:` section.")]
Board = Annotated[str | None, typer.Option("--board", help="square8, square19, hex8 or hexagonal.")]
Players = Annotated[int | None, typer.Option("--players", min=2, max=4)]
SHOW_REFUSED = 50


def register(app: typer.Typer) -> None:
    """Attach the `models` and `games` command groups to the `rift` app."""
    app.add_typer(models_app, name="models")
    app.add_typer(games_app, name="games")


def _cfg(data_dir: Path | None, config: Path | None) -> DataConfig:
    return load_data_config(config, data_dir=data_dir)


def _fail(exc: Exception | str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
    return typer.Exit(code)


@contextmanager
def _reported() -> Iterator[None]:
    """Turn data errors into a message (the file and the fix) and a non-zero exit, not a traceback."""
    try:
        yield
    except CorruptDataError as exc:
        raise _fail(exc, 2) from None
    except (KeyError, ValueError) as exc:  # unknown model id, missing reason, bad board name
        raise _fail(exc.args[0] if exc.args else exc, 1) from None


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def render(frame: pd.DataFrame, title: str) -> Table:
    """A DataFrame as a rich table."""
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(frame.columns):
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        # the first column names the row (config, engine, model id): never cut it short
        width = max([len(str(col)), *(len(str(v)) for v in frame[col])]) if i == 0 else None
        table.add_column(str(col), justify="right" if numeric else "left", min_width=width, no_wrap=i == 0)
    for row in frame.itertuples(index=False):
        table.add_row(*(_fmt(v) for v in row))
    return table


def _registry(cfg: DataConfig):  # noqa: ANN202 (import kept lazy so `rift --help` stays fast)
    from infra.registry import ModelRegistry
    return ModelRegistry(cfg.registry_path)


# -- models ------------------------------------------------------------------------------------
@models_app.command("list")
def models_list(board: Board = None, players: Players = None,
                status: Annotated[str | None, typer.Option(help="candidate, active or deprecated")] = None,
                data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List models, newest first, with their current rating."""
    with _reported(), _registry(_cfg(data_dir, config)) as reg:
        frame = reg.models_frame(board, players, status)
    console.print(render(frame.drop(columns=["metrics"]), f"models ({len(frame)})"))


@models_app.command("show")
def models_show(model_id: str, data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Everything known about one model, and its rating history."""
    with _reported(), _registry(_cfg(data_dir, config)) as reg:
        model = reg.get(model_id)
        ratings = reg.ratings_frame(model_id)
    model["metrics"] = json.dumps(model["metrics"])
    console.print(render(pd.DataFrame(list(model.items()), columns=["field", "value"]), f"model {model_id}"))
    console.print(render(ratings.drop(columns=["model_id"]), f"rating history ({len(ratings)} matches)"))


@models_app.command("best")
def models_best(board: Annotated[str, typer.Option("--board")], players: Annotated[int, typer.Option("--players")],
                data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """The active model with the highest current rating for one configuration."""
    with _reported(), _registry(_cfg(data_dir, config)) as reg:
        best = reg.best(board, players)
    if best is None:
        raise _fail(f"no active model for {board} {players}p", 1)
    console.print(f"{best['id']}\trating={_fmt(best['rating'])}\t{best['artifact_key'] or best['path']}")


@models_app.command("deprecate")
def models_deprecate(model_id: str, reason: Annotated[str, typer.Option("--reason", help="Why (required).")],
                     data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Mark a model deprecated so it is never picked as best again."""
    with _reported(), _registry(_cfg(data_dir, config)) as reg:
        reg.deprecate(model_id, reason)
    console.print(f"deprecated {model_id}: {reason}")


@models_app.command("lineage")
def models_lineage(model_id: str, data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """The chain of parents from a model back to the first one."""
    with _reported(), _registry(_cfg(data_dir, config)) as reg:
        chain = reg.lineage(model_id)
    frame = pd.DataFrame([{k: m[k] for k in ("id", "iteration", "status", "tier", "rating", "created_at")}
                          for m in chain])
    console.print(render(frame, f"lineage of {model_id} ({len(chain)} generations)"))


# -- games -------------------------------------------------------------------------------------
@games_app.command("stats")
def games_stats(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Games per config, per engine and per source host; duplicates, move-cap rate, seat win rates."""
    from infra.game_stats import game_stats
    cfg = _cfg(data_dir, config)
    stats = game_stats(cfg)
    console.print(render(stats.configs, f"games per configuration ({cfg.games_dir})"))
    console.print(render(stats.engines, "per engine (seats played and won)"))
    console.print(render(stats.hosts, "per source host"))
    for exc in stats.errors:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
    if stats.errors:
        raise typer.Exit(2)


@games_app.command("ingest")
def games_ingest(path: Annotated[Path, typer.Argument(exists=True, help="A game database, record file or folder.")],
                 source_host: Annotated[str | None, typer.Option(help="Host to record for games that "
                                                                          "do not name one.")] = None,
                 recreate_empty_store: Annotated[bool, typer.Option(
                     "--recreate-empty-store", help="Replace a local game database that is an empty (0-byte) "
                     "file; without it such a file is refused (it usually means a store lost its games).")] = False,
                 data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Merge games from another host into the local stores (safe to repeat).

    Every game is replayed through the rules first; a game with an illegal or unreadable
    move, or a move list that stops before its recorded result, is refused and listed.
    Exits 1 when anything was refused (the readable, legal games are stored all the same).
    """
    from engine.replay_check import first_problem
    from infra.ingest import ingest
    with _reported():
        report = ingest(_cfg(data_dir, config), path, source_host, progress=True, check=first_problem,
                        recreate_empty=recreate_empty_store, log_refused=False)
    frame = pd.DataFrame([{"config": k, "new": r.inserted, "already_present": r.already_present,
                           "duplicates_refused": r.duplicates} for k, r in sorted(report.per_config.items())])
    console.print(render(frame, f"ingested {path} ({report.sources} records read)"))
    for refused in report.refused[:SHOW_REFUSED]:
        err_console.print(f"[yellow]refused[/] {escape(str(refused))}", highlight=False)
    if len(report.refused) > SHOW_REFUSED:
        err_console.print(f"... and {len(report.refused) - SHOW_REFUSED} more refused records")
    console.print(report.summary(), highlight=False)
    if report.refused:
        raise _fail(f"{len(report.refused)} of {report.sources} records were refused (listed above); "
                    "fix or drop them and ingest again (stored games are skipped)", 1)


@games_app.command("check")
def games_check(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Full integrity check of every game database (reads every page)."""
    from infra.gamestore import GameStore
    cfg = _cfg(data_dir, config)
    bad = 0
    for db in sorted(cfg.games_dir.glob("*.db")):
        try:
            with GameStore(db, cfg.source_host, read_only=True) as store:
                problems = store.check()
                if problems:
                    raise corrupt_database(db, RuntimeError(f"integrity check failed: {'; '.join(problems[:3])}"))
                console.print(f"[green]ok[/] {db} ({store.count()} games)", soft_wrap=True)
        except CorruptDataError as exc:
            bad += 1
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
    if bad:
        raise typer.Exit(2)
