"""Matches between 2-4 players with seats rotated, played in parallel across processes.

Why it looks like this:
- Seat order matters in RingRift (the first player places first), so a match is only fair when
  every entrant plays every seat equally often. Game i uses seating `seating(n, i)`: blocks of n
  consecutive games are the n cyclic rotations of one ordering, so seats balance every n games,
  and for 3-4 players the blocks walk through every ordering of who follows whom.
- Workers receive only specs and seeds (strings and ints) and build their own players, so a
  job pickles and a game is a pure function of (match seed, game index). Results are consumed in
  game order, which makes a match, SPRT early stop included, identical for any worker count.
- Each game of 3-4 players is scored by finishing rank (1 for first, 0 for last, ties share);
  for two players that is the usual win 1, draw 0.5, loss 0.
"""
from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import multiprocessing.context
import os
import random
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from engine.game import new_game
from engine.players import Player, make_player
from engine.ratings import ScoreEstimate, Sprt, SprtResult, rank_scores, score_interval
from engine.rules import apply_in_place, legal_moves
from engine.state import GameState

PlayerFactory = Callable[..., Player]  # factory(spec, seed=...) -> Player; must pickle by name


def _make(spec: str, seed: int | None = None) -> Player:
    """The default factory. Looks `make_player` up at call time so tests can swap it."""
    return make_player(spec, seed=seed)


def seating(num_players: int, index: int) -> tuple[int, ...]:
    """Entrant (0-based) in each seat for game `index`: seats[0] sits in seat 1."""
    bases = [(0,) + p for p in itertools.permutations(range(1, num_players))]
    block, rot = divmod(index, num_players)
    base = bases[block % len(bases)]
    return base[rot:] + base[:rot]


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any parts; stable across processes and Python hash seeds."""
    return random.Random(":".join(map(str, parts))).getrandbits(63)


def finishing_ranks(state: GameState) -> tuple[float, ...]:
    """Rank per seat (1 best; ties share the mean of their places) of a finished game.

    The winner is first. The others are ordered as RingRift's stalemate tiebreak orders them:
    territory, then rings eliminated. A game without a winner (move cap) ranks everyone equal.
    """
    n = state.num_players
    if state.winner is None:
        return tuple([(n + 1) / 2] * n)
    terr = [0] * (n + 1)
    for owner in state.collapsed:
        if owner > 0:
            terr[owner] += 1

    def key(p: int) -> tuple:
        return (p == state.winner, terr[p], state.elim[p])

    order = sorted(range(1, n + 1), key=key, reverse=True)
    ranks = [0.0] * (n + 1)
    i = 0
    while i < n:
        j = i
        while j + 1 < n and key(order[j + 1]) == key(order[i]):
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return tuple(ranks[1:])


@dataclass(frozen=True)
class GameResult:
    """One game of a match. `seats[k]` is the entrant (index into the match's specs) in seat k+1."""

    index: int
    seed: int
    seats: tuple[int, ...]
    specs: tuple[str, ...]
    winner_seat: int | None
    ranks: tuple[float, ...]
    outcome: str | None
    moves: int
    hit_cap: bool
    fingerprint: str
    seconds: float = field(default=0.0, compare=False)

    @property
    def winner(self) -> int | None:
        """The winning entrant, or None for a draw."""
        return None if self.winner_seat is None else self.seats[self.winner_seat - 1]

    @property
    def winner_spec(self) -> str | None:
        return None if self.winner_seat is None else self.specs[self.winner_seat - 1]

    def score(self, entrant: int) -> float:
        """The entrant's rank score in this game (1 first ... 0 last)."""
        return rank_scores(self.ranks)[self.seats.index(entrant)]

    def versus(self, a: int, b: int) -> float:
        """A's pairwise result against B: 1 if placed above, 0.5 level, 0 below."""
        ra, rb = self.ranks[self.seats.index(a)], self.ranks[self.seats.index(b)]
        return 1.0 if ra < rb else 0.5 if ra == rb else 0.0


@dataclass(frozen=True)
class _Job:
    board: str
    num_players: int
    specs: tuple[str, ...]
    index: int
    seed: int
    move_cap: int | None
    opening_plies: int
    factory: PlayerFactory


def _play(job: _Job) -> GameResult:
    """Play one game of a match (in a worker or in-process)."""
    gseed = derive_seed(job.seed, job.index)
    seats = seating(job.num_players, job.index)
    players = [job.factory(job.specs[e], seed=derive_seed(gseed, e)) for e in seats]
    return play_seated(job.board, job.specs, job.index, job.seed, players, move_cap=job.move_cap,
                       opening_plies=job.opening_plies)


def play_seated(board: str, specs: Sequence[str], index: int, seed: int, players: Sequence[Player], *,
                move_cap: int | None = None, opening_plies: int = 0, moves_out: list | None = None) -> GameResult:
    """Game `index` of a match of `specs` seeded `seed`, with `players` already built for its seats
    (seat k plays entrant seating(n, index)[k]): what every match runner shares, so a batched runner
    (engine.nn.match) plays exactly the games, seatings and openings play_match would. `moves_out`, when
    given, receives every move played (to record the game, e.g. for the game viewer)."""
    t0 = time.perf_counter()
    n = len(specs)
    seats = seating(n, index)
    block = index // n
    gseed = derive_seed(seed, index)
    state = new_game(board, n, move_cap=move_cap, game_id=f"match-{seed}-{index}")
    digest = hashlib.blake2b(digest_size=8)
    # The games of one block share a random opening, so each seating meets the same positions.
    opening = random.Random(derive_seed(seed, "opening", block))
    plies = 0
    while state.status == "active":
        if plies < opening_plies:
            moves = legal_moves(state)
            move = moves[opening.randrange(len(moves))]
        else:
            move = players[state.current_player - 1].choose(state)
        digest.update(f"{move.type}|{move.player}|{move.frm}|{move.to}|{move.target}|"
                      f"{move.count}|{move.option};".encode())
        apply_in_place(state, move)
        if moves_out is not None:
            moves_out.append(move)
        plies += 1
    winner = state.winner
    return GameResult(
        index=index, seed=gseed, seats=seats, specs=tuple(specs[e] for e in seats),
        winner_seat=winner, ranks=finishing_ranks(state),
        outcome=state.outcome or state.victory_reason, moves=plies,
        hit_cap=state.victory_reason == "move_cap", fingerprint=digest.hexdigest(),
        seconds=time.perf_counter() - t0,
    )


def _pool_context() -> multiprocessing.context.BaseContext:
    """Fork (fast, the default on Linux) unless this process has started CUDA: a forked child
    cannot use CUDA then, so neural players would fail in the workers; spawn them instead."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return multiprocessing.get_context("spawn")
    return multiprocessing.get_context()


def _one_thread_per_worker() -> None:
    """Match workers run one OpenMP/torch thread each: the workers already fill the cores, and
    torch's default of one thread per core in every worker oversubscribes them, where OpenMP's
    spinning threads made a 64-simulation net move take seconds instead of ~0.2 s (hex8, 2 cores)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    torch = sys.modules.get("torch")  # already imported in a forked worker: set it directly
    if torch is not None:
        torch.set_num_threads(1)


def _run(jobs: list[_Job], workers: int) -> Iterator[GameResult]:
    """Results in game order. With workers > 1 a bounded window of games is in flight, so an
    early stop wastes at most a few games; closing the iterator cancels what is queued."""
    if workers <= 1:
        for job in jobs:
            yield _play(job)
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), initializer=_one_thread_per_worker)
    try:
        pending: dict[int, Future] = {}
        todo = iter(jobs)
        window = workers * 3
        for job in itertools.islice(todo, window):
            pending[job.index] = pool.submit(_play, job)
        for job in jobs:
            result = pending.pop(job.index).result()
            nxt = next(todo, None)
            if nxt is not None:
                pending[nxt.index] = pool.submit(_play, nxt)
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class MatchResult:
    """The games of a match and what they add up to, per entrant and per seat."""

    board: str
    num_players: int
    specs: tuple[str, ...]
    games: list[GameResult] = field(default_factory=list)
    sprt: SprtResult | None = None
    seconds: float = 0.0

    def record(self, game: GameResult, sprt: Sprt | None) -> bool:
        """Add a game in game order; with `sprt`, test after each complete seat rotation (a
        block of num_players games, so no seat is favoured); True once the test has decided."""
        self.games.append(game)
        if sprt is None or len(self.games) % self.num_players:
            return False
        self.sprt = sprt.test(*self.wdl(0, 1))
        return self.sprt.decision != "continue"

    def conclude(self, sprt: Sprt | None) -> None:
        """Test every game played when the match ended mid-rotation or before any rotation."""
        if sprt is not None and (self.sprt is None or len(self.games) % self.num_players):
            self.sprt = sprt.test(*self.wdl(0, 1))

    @property
    def labels(self) -> list[str]:
        """Names for the entrants: the specs, made unique by slot letter when a spec repeats."""
        if len(set(self.specs)) == len(self.specs):
            return list(self.specs)
        return [f"{s} ({'abcd'[i]})" for i, s in enumerate(self.specs)]

    def wins(self) -> list[int]:
        counts = [0] * len(self.specs)
        for g in self.games:
            if g.winner is not None:
                counts[g.winner] += 1
        return counts

    @property
    def draws(self) -> int:
        return sum(g.winner is None for g in self.games)

    def scores(self, entrant: int) -> list[float]:
        """The entrant's score in each game."""
        return [g.score(entrant) for g in self.games]

    def score(self, entrant: int) -> ScoreEstimate:
        """Mean score per game with its 95% interval (and Elo equivalents)."""
        return score_interval(self.scores(entrant))

    def wdl(self, a: int = 0, b: int = 1) -> tuple[int, int, int]:
        """A's wins, draws and losses against B, counting each game's pairwise placing."""
        res = [g.versus(a, b) for g in self.games]
        return res.count(1.0), res.count(0.5), res.count(0.0)

    def seat_wins(self) -> list[int]:
        """Games won from each seat (index 0 = seat 1)."""
        counts = [0] * self.num_players
        for g in self.games:
            if g.winner_seat is not None:
                counts[g.winner_seat - 1] += 1
        return counts

    def seat_win_rates(self) -> list[float]:
        return [w / max(len(self.games), 1) for w in self.seat_wins()]

    def seat_counts(self) -> list[list[int]]:
        """Games each entrant played from each seat: [entrant][seat]."""
        counts = [[0] * self.num_players for _ in self.specs]
        for g in self.games:
            for seat, e in enumerate(g.seats):
                counts[e][seat] += 1
        return counts

    @property
    def distinct_games(self) -> int:
        """Different move sequences: far fewer than games means deterministic players repeat."""
        return len({g.fingerprint for g in self.games})

    @property
    def hit_cap(self) -> int:
        return sum(g.hit_cap for g in self.games)

    def as_dict(self) -> dict:
        """A JSON-ready summary (for reports and Prefect artifacts), one entry per entrant."""
        wins = self.wins()
        entrants = []
        for e, label in enumerate(self.labels):
            est = self.score(e)
            entrants.append({"player": label, "spec": self.specs[e], "wins": wins[e],
                             "score": round(est.score, 4), "scoreCI95": [round(est.lo, 4), round(est.hi, 4)]})
        out = {
            "board": self.board, "numPlayers": self.num_players, "games": len(self.games),
            "draws": self.draws, "hitMoveCap": self.hit_cap, "distinctGames": self.distinct_games,
            "seatWinRates": [round(r, 4) for r in self.seat_win_rates()],
            "entrants": entrants, "seconds": round(self.seconds, 3),
        }
        if self.sprt is not None:
            out["sprt"] = {"decision": self.sprt.decision, "llr": round(self.sprt.llr, 4),
                           "elo0": self.sprt.sprt.elo0, "elo1": self.sprt.sprt.elo1}
        return out


def play_match(
    board: str,
    specs: Sequence[str],
    games: int,
    *,
    seed: int = 0,
    workers: int = 1,
    move_cap: int | None = None,
    opening_plies: int = 0,
    sprt: Sprt | None = None,
    on_game: Callable[[GameResult, MatchResult], bool | None] | None = None,
    factory: PlayerFactory | None = None,
) -> MatchResult:
    """Play up to `games` games between `specs` (2-4 player specs, one per seat) on `board`.

    `seed` alone decides every game; `workers` > 1 plays games in that many processes with
    identical results. `opening_plies` random plies start each game (shared by the seatings of
    a block) so deterministic players do not replay one game. With `sprt`, the match stops at
    the first complete rotation block where the test of entrant 0 against entrant 1 decides.
    `on_game(game, match_so_far)` is called in game order, e.g. to advance a progress bar; when
    it returns True the match stops at the end of the current rotation block (a time budget).
    `factory(spec, seed=...)` builds players (default `make_player`); it must be a module-level
    function so workers can unpickle it.
    """
    n = len(specs)
    if not 2 <= n <= 4:
        raise ValueError(f"a match needs 2 to 4 players, got {n}")
    if games < 1:
        raise ValueError("a match needs at least one game")
    new_game(board, n)  # an unknown board fails here, before any worker starts
    factory = factory or _make
    for s in specs:
        factory(s, seed=0)  # unknown specs fail here, before any worker starts
    specs = tuple(specs)
    jobs = [_Job(board, n, specs, i, seed, move_cap, opening_plies, factory) for i in range(games)]
    match = MatchResult(board, n, specs)
    t0 = time.perf_counter()
    results = _run(jobs, workers)
    stop = False
    try:
        for g in results:
            decided = match.record(g, sprt)
            match.seconds = time.perf_counter() - t0
            stop = bool(on_game and on_game(g, match)) or stop
            if (decided or stop) and len(match.games) % n == 0:
                break
    finally:
        results.close()
    match.conclude(sprt)
    match.seconds = time.perf_counter() - t0
    return match
