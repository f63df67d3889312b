"""`rift selfplay`: play games and write RingRift game records plus a summary."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli import output
from engine.files import write_atomic
from engine.geometry import BOARD_TYPES
from engine.selfplay import SelfplaySummary, play_games
from infra.errors import CorruptDataError, DiskFullError, is_disk_full
from infra.record_file import RecordFile

console = output.console()
err_console = output.console(stderr=True, soft_wrap=True)


def selfplay(
    board: str = typer.Option("square8", help=f"Board: {', '.join(BOARD_TYPES)}."),
    players: int = typer.Option(2, min=2, max=4, help="Number of players."),
    games: int = typer.Option(10, min=1, help="Games to play."),
    engine: str = typer.Option("random", help="Player engine for every seat."),
    seed: int = typer.Option(0, help="Base seed; game i uses seed+i."),
    out: Path = typer.Option(Path("runs/selfplay"), help="Output folder (created if missing)."),
    move_cap: int = typer.Option(-1, help="Move cap (-1: the default for the config; 0: none)."),
    store: bool = typer.Option(
        False, "--store", help="Also write each game to the durable game store (journaled, fsynced)."),
    data_dir: Optional[Path] = typer.Option(
        None, "--data-dir", help="Game store root with --store (default: RIFT_DATA_DIR or ./data)."),
    recreate_empty_store: bool = typer.Option(
        False, "--recreate-empty-store",
        help="With --store: replace a game database that is an empty (0-byte) file. Without it such a "
             "file is refused, since it usually means a store that lost its games."),
) -> None:
    """Play GAMES games and write OUT/games.jsonl (one RingRift record per line) and
    OUT/summary.json. Each record is flushed and fsynced as its game ends; with --store
    it is also journaled into data/games/<board>_<n>p.db before the next game starts."""
    if board not in BOARD_TYPES:
        raise typer.BadParameter(f"unknown board {board!r}; choose one of {', '.join(BOARD_TYPES)}",
                                 param_hint="--board")
    if move_cap < -1:
        raise typer.BadParameter(f"{move_cap} is not a move cap: give a number of moves, 0 for no cap, "
                                 "or -1 for the default of the board and player count", param_hint="--move-cap")
    games_path = out / "games.jsonl"
    _check_engine(engine, seed)  # before anything is written: a bad model leaves no empty games.jsonl behind
    records = _open_records(out, games_path)
    summary = SelfplaySummary(board, players, engine)
    t0 = time.perf_counter()
    writer = None
    code = 0
    try:
        writer = _open_writer(data_dir, board, players, recreate_empty_store) if store else None
        with Progress(
            TextColumn("[bold]selfplay[/] {task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True,
        ) as progress:
            task = progress.add_task(f"{board} {players}p {engine}", total=games)
            for rec in play_games(
                board, players, games, engine=engine, seed=seed,
                move_cap=None if move_cap < 0 else move_cap,
            ):
                start = records.append(json.dumps(rec).encode())
                if writer is not None:
                    try:
                        writer.append(rec)
                    except BaseException:
                        records.truncate(start)  # the game is in neither file, not in one of them
                        raise
                summary.add(rec)
                progress.advance(task)
    except (ValueError, CorruptDataError) as e:  # a damaged store (or model file, engine.errors): exit 2
        code = 2
        _error(e, summary.games, games_path)
    except OSError as e:  # disk full (DiskFullError says which file and how much), I/O errors
        code = 1
        _error(e, summary.games, games_path)
    finally:
        records.close()
        if writer is not None:
            try:
                writer.close()
            except (RuntimeError, OSError) as e:  # games left in the journal: say where
                if code:  # the cause was printed just above: only say where the games wait
                    err_console.print(f"note: {escape(str(e).split(' Cause: ')[0])}", highlight=False)
                else:
                    code = 1
                    _error(e, summary.games, games_path)
    if code:
        raise typer.Exit(code)
    summary.seconds = time.perf_counter() - t0
    data = summary.as_dict()
    try:
        write_atomic(out / "summary.json", json.dumps(data, indent=2) + "\n")
    except OSError as e:
        _error(_disk_full_or(e, out / "summary.json", 4096), summary.games, games_path)
        raise typer.Exit(1)
    _print_summary(data, games_path)


def _check_engine(engine: str, seed: int) -> None:
    """Build the first seat's player once, so an unknown engine or a model file that cannot be loaded
    (missing, empty, truncated: engine.errors.ModelFileError names it and the fix) ends the command
    with that message and exit 2 before OUT is touched. A neural player's model is cached, not loaded twice."""
    from engine.players import make_player
    try:
        make_player(engine, seed=seed)
    except ValueError as e:
        err_console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
        raise typer.Exit(2) from None


def _open_records(out: Path, games_path: Path) -> RecordFile:
    """OUT/games.jsonl opened for appending, or a clear error (not a traceback) and exit 2."""
    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{out} is a file; give a folder (games.jsonl and summary.json are written "
                                 "inside it)", param_hint="--out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        return RecordFile(games_path)
    except DiskFullError as e:
        _error(e, 0, games_path)
    except OSError as e:
        where = e.filename or games_path
        err_console.print(f"[bold red]error:[/] cannot write {escape(str(where))}: {escape(e.strerror or str(e))}. "
                          "Choose a folder you can write to with --out.", highlight=False)
    raise typer.Exit(2)


def _disk_full_or(e: OSError, path: Path, needed: int) -> Exception:
    return DiskFullError(path, needed) if is_disk_full(e) and not isinstance(e, DiskFullError) else e


def _error(e: BaseException, done: int, games_path: Path) -> None:
    kept = f" The {done} games finished before it are complete in {games_path}." if done else ""
    err_console.print(f"[bold red]error:[/] {escape(str(e))}{escape(kept)}", highlight=False)


def _open_writer(data_dir: Optional[Path], board: str, players: int, recreate_empty: bool):
    """The durable writer (infra imported only when asked for: plain selfplay stays light)."""
    from infra.data_config import load_data_config
    from infra.gamewriter import GameWriter

    cfg = load_data_config(None, data_dir=data_dir)
    return GameWriter(cfg, board, players, recreate_empty=recreate_empty)


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
