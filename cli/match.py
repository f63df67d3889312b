"""`rift match`: play a match between 2-4 players with seats rotated and print who is stronger."""
from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli import output
from engine.arena import MatchResult, play_match
from engine.geometry import BOARD_TYPES
from engine.ratings import RatingPool, Sprt, format_elo

console = output.console()


def parse_sprt(text: str | None) -> Sprt | None:
    """'elo0,elo1' -> Sprt bounds (alpha = beta = 0.05)."""
    if not text:
        return None
    try:
        elo0, elo1 = (float(v) for v in text.split(","))
        return Sprt(elo0, elo1)
    except ValueError as e:
        raise typer.BadParameter(f"--sprt wants 'elo0,elo1' with elo1 > elo0 ({e})") from None


def match(
    board: str = typer.Option("square8", help=f"Board: {', '.join(BOARD_TYPES)}."),
    players: int = typer.Option(2, min=2, max=4, help="Number of players (seats)."),
    a: str = typer.Option(..., "--a", help="Player A: a spec such as D4, heuristic, random."),
    b: str = typer.Option(..., "--b", help="Player B."),
    c: str = typer.Option(None, "--c", help="Player C (3-4 player games)."),
    d: str = typer.Option(None, "--d", help="Player D (4 player games)."),
    games: int = typer.Option(100, min=1, help="Games to play (a multiple of the player count keeps seats balanced)."),
    workers: int = typer.Option(1, min=1, help="Processes playing games in parallel."),
    seed: int = typer.Option(0, help="Match seed: decides every game, whatever the worker count."),
    sprt: str = typer.Option(None, help="Stop early on an SPRT decision for 'A stronger than B': 'elo0,elo1'."),
    opening_plies: int = typer.Option(0, help="Random plies opening each game (shared within a seat rotation)."),
    move_cap: int = typer.Option(-1, help="Move cap (-1: the default for the config; 0: none)."),
) -> None:
    """Play GAMES games between A, B (and C, D) with every player in every seat equally often,
    then print wins, draws, score with its 95% interval, Elo difference and seat win rates."""
    if board not in BOARD_TYPES:
        raise typer.BadParameter(f"unknown board {board!r}; choose one of {', '.join(BOARD_TYPES)}")
    specs = [s for s in (a, b, c, d) if s]
    if len(specs) != players or (d and not c):
        raise typer.BadParameter(f"--players {players} needs exactly {players} of --a --b --c --d, in order")
    test = parse_sprt(sprt)
    try:
        from engine.players.neural import with_reference
        specs = [with_reference(s, board, players) for s in specs]  # D9/D10 play the shipped net
        with Progress(
            TextColumn("[bold]match[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=True,
        ) as progress:
            task = progress.add_task(f"{board} {players}p {' vs '.join(specs)}", total=games)
            result = play_match(
                board, specs, games, seed=seed, workers=workers, sprt=test,
                opening_plies=opening_plies, move_cap=None if move_cap < 0 else move_cap,
                on_game=lambda g, m: progress.advance(task),
            )
    except ValueError as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(2)
    print_match(result)


def print_match(m: MatchResult) -> None:
    """The results (one column per player, so 4 players fit 80 columns), seats, the verdict."""
    labels, n = m.labels, m.num_players
    t = Table(title=f"match {m.board} {n}p: {len(m.games)} games, {m.seconds:.1f} s",
              title_justify="left")
    t.add_column("", no_wrap=True)
    for label in labels:
        t.add_column(label, justify="right", no_wrap=True)
    ests = [m.score(e) for e in range(len(labels))]
    wins = m.wins()
    rows = {
        "wins": [str(w) for w in wins],
        "draws": [str(m.draws)] * len(labels),
        "losses": [str(len(m.games) - w - m.draws) for w in wins],
        "score": [f"{e.score:.1%}" for e in ests],
        "score 95% CI": [f"{e.lo:.1%}–{e.hi:.1%}" for e in ests],
    }
    if n == 2:
        a = ests[0]
        rows["Elo vs other"] = [format_elo(a.elo), format_elo(-a.elo)]
        rows["Elo 95% CI"] = [f"[{format_elo(a.elo_lo)}, {format_elo(a.elo_hi)}]",
                              f"[{format_elo(-a.elo_hi)}, {format_elo(-a.elo_lo)}]"]
    else:
        pool = RatingPool(m.board, n)
        pool.add_match(m)
        skill = pool.openskill()
        rows["openskill μ±σ"] = [f"{skill[x][0]:.1f}±{skill[x][1]:.1f}" for x in labels]
    counts = m.seat_counts()
    for seat in range(n):
        rows[f"seat {seat + 1} games"] = [str(counts[e][seat]) for e in range(len(labels))]
    for name, values in rows.items():
        t.add_row(name, *values)
    console.print(t)
    seats = ", ".join(f"{i + 1}: {r:.1%}" for i, r in enumerate(m.seat_win_rates()))
    console.print(f"seat win rates {seats}; draws {m.draws} (move cap {m.hit_cap}); "
                  f"distinct games {m.distinct_games}", soft_wrap=True)
    if m.sprt is not None:
        console.print(f"SPRT {labels[0]} vs {labels[1]}: {m.sprt.describe()}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("match")(match)
