"""Play games between players and summarise them. Pure library: the CLI and the
pipeline's selfplay task both call `play_game` / `play_games`."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator

from engine.game import new_game
from engine.moves import Move
from engine.players import Player, make_player
from engine.records import game_record, record_outcome
from engine.rules import apply_in_place


def play_game(
    board: str,
    num_players: int,
    players: list[Player],
    *,
    game_id: str,
    seed: int | None = None,
    move_cap: int | None = None,
    rules_options: dict | None = None,
) -> dict:
    """Play one game to its end (or the move cap) and return its RingRift record."""
    start = new_game(board, num_players, rules_options=rules_options, move_cap=move_cap,
                     game_id=game_id)
    state = start.copy()
    moves: list[Move] = []
    t0 = time.perf_counter()
    started = datetime.now(timezone.utc)
    while state.status == "active":
        move = players[state.current_player - 1].choose(state)
        apply_in_place(state, move)
        moves.append(move)
    ms = int((time.perf_counter() - t0) * 1000)
    return game_record(
        game_id, start, moves, state,
        engines=[p.name for p in players], seed=seed, started_at=started, duration_ms=ms,
    )


@dataclass
class SelfplaySummary:
    """What a batch of games looked like: the numbers `rift selfplay` prints."""

    board: str
    num_players: int
    engine: str
    games: int = 0
    moves: int = 0
    wins: dict[int, int] = field(default_factory=dict)
    draws: int = 0
    hit_cap: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, record: dict) -> None:
        self.games += 1
        self.moves += record["totalMoves"]
        w = record.get("winner")
        if w:
            self.wins[w] = self.wins.get(w, 0) + 1
        else:
            self.draws += 1
        if record["metadata"].get("hitMoveCap"):
            self.hit_cap += 1
        o = record.get("outcome") or "unknown"
        self.outcomes[o] = self.outcomes.get(o, 0) + 1

    def as_dict(self) -> dict:
        g = max(self.games, 1)
        return {
            "board": self.board,
            "numPlayers": self.num_players,
            "engine": self.engine,
            "games": self.games,
            "moves": self.moves,
            "meanLength": round(self.moves / g, 1),
            "winsPerSeat": {str(p): self.wins.get(p, 0) for p in range(1, self.num_players + 1)},
            "draws": self.draws,
            "hitMoveCap": self.hit_cap,
            "moveCapRate": round(self.hit_cap / g, 4),
            "outcomes": dict(sorted(self.outcomes.items())),
            "seconds": round(self.seconds, 3),
            "gamesPerSecond": round(self.games / self.seconds, 3) if self.seconds else None,
        }


def play_games(
    board: str,
    num_players: int,
    games: int,
    *,
    engine: str = "random",
    seed: int = 0,
    move_cap: int | None = None,
    id_prefix: str = "rift",
    on_game: Callable[[dict], None] | None = None,
) -> Iterator[dict]:
    """Yield `games` records; game i uses seed `seed + i`, so any one game reproduces alone."""
    for i in range(games):
        gseed = seed + i
        players = [make_player(engine, seed=gseed * 10 + p) for p in range(num_players)]
        rec = play_game(
            board, num_players, players,
            game_id=f"{id_prefix}-{board}-{num_players}p-{gseed}", seed=gseed, move_cap=move_cap,
        )
        if on_game:
            on_game(rec)
        yield rec
