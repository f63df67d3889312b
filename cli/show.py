"""`rift show GAME_OR_FILE`: a game as a self-contained HTML page (board as SVG, step-through, move list).

GAME_OR_FILE is a record file (one record, a list, {games: [...]} or JSON lines; `--game` picks
a game by id, `--index` by position) or the id of a game in the data folder's game stores.
"""
from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()


def find_stored(game_id: str, data_dir: Path | None = None) -> dict[str, Any] | None:
    """The record of `game_id` from any config's game store in the data folder, else None."""
    from infra.data_config import load_data_config
    from infra.gamestore import GameStore
    data = load_data_config(data_dir=data_dir)
    for db in sorted(data.games_dir.glob("*.db")) if data.games_dir.is_dir() else []:
        with GameStore(db, data.source_host, read_only=True) as store:
            record = store.get(game_id)
        if record is not None:
            return record
    return None


def load_game(game_or_file: str, game: str | None = None, index: int | None = None,
              data_dir: Path | None = None) -> dict[str, Any]:
    """The one record `game_or_file` names; raises ValueError saying what was looked at."""
    from engine.records import iter_records
    path = Path(game_or_file)
    if path.is_file():
        records = list(iter_records(path))
        if not records:
            raise ValueError(f"{path}: holds no game records")
        if game is not None:
            found = [r for r in records if str(r.get("id")) == game]
            if not found:
                raise ValueError(f"{path}: no game with id {game!r} among its {len(records)} records")
            return found[0]
        if index is not None:
            if not 0 <= index < len(records):
                raise ValueError(f"{path}: --index {index} is out of range (it holds {len(records)} records)")
            return records[index]
        if len(records) > 1:
            console.print(f"{path} holds {len(records)} games: showing the first ({records[0].get('id')}); "
                          "pick another with --game ID or --index N")
        return records[0]
    record = find_stored(game_or_file, data_dir)
    if record is None:
        raise ValueError(f"{game_or_file!r} is neither a file nor the id of a game in the game stores of the data "
                         "folder (--data-dir, RIFT_DATA_DIR or ./data)")
    return record


def write_page(record: dict[str, Any], out: Path, start: str = "start") -> Path:
    from viewer.page import game_page
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(game_page(record, start=start), encoding="utf-8")
    return out


def show(
    game_or_file: Annotated[str, typer.Argument(help="A game-record file, or a game id in the game stores.")],
    game: Annotated[str | None, typer.Option("--game", help="Game id inside a file of several games.")] = None,
    index: Annotated[int | None, typer.Option("--index", help="Position (from 0) inside a file of several.")]
    = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="HTML file (default runs/show/<game id>.html).")]
    = None,
    at_end: Annotated[bool, typer.Option("--end", help="Open the page on the final position.")] = False,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")] = False,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data folder (default RIFT_DATA_DIR or ./data).")]
    = None,
) -> None:
    """Write a game as a self-contained HTML page: the board as SVG, step-through controls, the move list."""
    from engine.errors import StateFormatError
    try:
        record = load_game(game_or_file, game, index, data_dir)
        name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(record.get("id") or "game"))
        target = write_page(record, out or Path("runs") / "show" / f"{name}.html", "end" if at_end else "start")
    except (ValueError, StateFormatError) as exc:
        console.print(f"[red]rift show: {exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"game {record.get('id')}: {record.get('boardType')} {record.get('numPlayers')}p, "
                  f"{len(record.get('moves') or [])} moves -> {target}")
    if open_browser:
        webbrowser.open(target.resolve().as_uri())


def register(app: typer.Typer) -> None:
    app.command("show")(show)
