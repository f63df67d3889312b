"""`rift selfplay`: play games and write RingRift game records plus a summary."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli import output
from engine.geometry import BOARD_TYPES
from engine.selfplay import SelfplaySummary, play_games

console = output.console()


def selfplay(
    board: str = typer.Option("square8", help=f"Board: {', '.join(BOARD_TYPES)}."),
    players: int = typer.Option(2, min=2, max=4, help="Number of players."),
    games: int = typer.Option(10, min=1, help="Games to play."),
    engine: str = typer.Option("random", help="Player engine for every seat."),
    seed: int = typer.Option(0, help="Base seed; game i uses seed+i."),
    out: Path = typer.Option(Path("runs/selfplay"), help="Output folder."),
    move_cap: int = typer.Option(-1, help="Move cap (-1: the default for the config; 0: none)."),
    store: bool = typer.Option(
        False, "--store", help="Also write each game to the durable game store (journaled, fsynced)."),
    data_dir: Optional[Path] = typer.Option(
        None, "--data-dir", help="Game store root with --store (default: RIFT_DATA_DIR or ./data)."),
) -> None:
    """Play GAMES games and write OUT/games.jsonl (one RingRift record per line) and
    OUT/summary.json. Each record is flushed and fsynced as its game ends; with --store
    it is also journaled into data/games/<board>_<n>p.db before the next game starts."""
    if board not in BOARD_TYPES:
        raise typer.BadParameter(f"unknown board {board!r}; choose one of {', '.join(BOARD_TYPES)}")
    out.mkdir(parents=True, exist_ok=True)
    games_path = out / "games.jsonl"
    summary = SelfplaySummary(board, players, engine)
    t0 = time.perf_counter()
    writer = _open_writer(data_dir, board, players) if store else None
    try:
        with games_path.open("a") as f, Progress(
            TextColumn("[bold]selfplay[/] {task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True,
        ) as progress:
            task = progress.add_task(f"{board} {players}p {engine}", total=games)
            for rec in play_games(
                board, players, games, engine=engine, seed=seed,
                move_cap=None if move_cap < 0 else move_cap,
            ):
                f.write(json.dumps(rec) + "\n")
                f.flush()
                os.fsync(f.fileno())
                if writer is not None:
                    writer.append(rec)
                summary.add(rec)
                progress.advance(task)
    except ValueError as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(2)
    finally:
        if writer is not None:
            writer.close()
    summary.seconds = time.perf_counter() - t0
    data = summary.as_dict()
    (out / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
    _print_summary(data, games_path)


def _open_writer(data_dir: Optional[Path], board: str, players: int):
    """The durable writer (infra imported only when asked for: plain selfplay stays light)."""
    from infra.data_config import load_data_config
    from infra.gamewriter import GameWriter

    cfg = load_data_config(None, data_dir=data_dir)
    return GameWriter(cfg, board, players)


def _print_summary(d: dict, games_path: Path) -> None:
    t = Table(title=f"selfplay {d['board']} {d['numPlayers']}p ({d['engine']})")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row("games", str(d["games"]))
    t.add_row("moves", str(d["moves"]))
    t.add_row("mean length", str(d["meanLength"]))
    for seat, w in d["winsPerSeat"].items():
        t.add_row(f"wins seat {seat}", str(w))
    t.add_row("draws", str(d["draws"]))
    t.add_row("hit move cap", f"{d['hitMoveCap']} ({d['moveCapRate']:.1%})")
    for o, c in d["outcomes"].items():
        t.add_row(f"outcome {o}", str(c))
    t.add_row("games/s", str(d["gamesPerSecond"]))
    console.print(t)
    console.print(f"records: {games_path}  summary: {games_path.parent / 'summary.json'}")


def register(app: typer.Typer) -> None:
    app.command("selfplay")(selfplay)
