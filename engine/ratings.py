"""Ratings: Elo for continuity, an anchored Bradley-Terry fit, Plackett-Luce for 3-4 players, SPRT.

Why several: the old pipeline tracked sequential Elo (K=32), so we keep it for comparison, but
sequential Elo depends on the order games were played and drifts. Gating decisions use the
Bradley-Terry maximum-likelihood fit over *all* games instead (BayesElo-style: draws count as
half a win each, a small prior of virtual draws keeps perfect records finite), anchored to fixed
baselines so a rating means the same thing next week. Multiplayer games (3-4 seats) are rated
with openskill's Plackett-Luce model, which uses the whole finishing order. Promotion questions
("is A stronger than B?") are answered by a sequential probability ratio test with explicit Elo
bounds, which stops as soon as the evidence is enough instead of after a fixed game count.

Ratings are kept per board and player count (`RatingPool`) and never mixed: a square8 2-player
rating says nothing about hexagonal 4-player play.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

ELO_PER_NAT = 400.0 / math.log(10.0)  # Elo points per unit of logistic strength
Z95 = 1.959963984540054


class RatingConfigError(ValueError):
    """Games or pools of different (board, player count) configurations were mixed."""


# --- Elo --------------------------------------------------------------------------------------


def expected_score(ra: float, rb: float) -> float:
    """Expected score of A against B under the logistic Elo model."""
    return 1.0 / (1.0 + 10.0 ** ((rb - ra) / 400.0))


def elo_update(ra: float, rb: float, score_a: float, k: float = 32.0) -> tuple[float, float]:
    """Both ratings after one game in which A scored `score_a` (1 win, 0.5 draw, 0 loss)."""
    delta = k * (score_a - expected_score(ra, rb))
    return ra + delta, rb - delta


def elo_from_score(score: float) -> float:
    """The Elo difference that makes `score` the expected score (±inf at 0 and 1)."""
    if score <= 0.0:
        return -math.inf
    if score >= 1.0:
        return math.inf
    return -400.0 * math.log10(1.0 / score - 1.0)


def format_elo(x: float) -> str:
    """'+70', '-12', '+∞': signed whole Elo points, never '-0'."""
    return ("+∞" if x > 0 else "−∞") if math.isinf(x) else f"{round(x) + 0:+d}"


# --- score with a confidence interval ---------------------------------------------------------


@dataclass(frozen=True)
class ScoreEstimate:
    """Mean score per game over `games` with its 95% interval, and the same in Elo."""

    games: int
    score: float
    lo: float
    hi: float

    @property
    def elo(self) -> float:
        return elo_from_score(self.score)

    @property
    def elo_lo(self) -> float:
        return elo_from_score(self.lo)

    @property
    def elo_hi(self) -> float:
        return elo_from_score(self.hi)


def score_interval(scores: Sequence[float], z: float = Z95) -> ScoreEstimate:
    """Mean of per-game scores in [0, 1] with a 95% interval.

    Normal approximation with the observed per-game variance (so draws narrow the interval,
    as they should). When every game scored the same the variance is zero and says nothing;
    the Wilson interval for a proportion is used instead, so 20 straight wins give [0.84, 1].
    """
    n = len(scores)
    if n == 0:
        return ScoreEstimate(0, 0.5, 0.0, 1.0)
    x = np.asarray(scores, dtype=float)
    mean = float(x.mean())
    var = float(x.var(ddof=1)) if n > 1 else 0.0
    if var > 0.0:
        half = z * math.sqrt(var / n)
        return ScoreEstimate(n, mean, max(0.0, mean - half), min(1.0, mean + half))
    denom = 1.0 + z * z / n
    centre = (mean + z * z / (2 * n)) / denom
    half = z * math.sqrt(mean * (1 - mean) / n + z * z / (4 * n * n)) / denom
    return ScoreEstimate(n, mean, max(0.0, centre - half), min(1.0, centre + half))


# --- Bradley-Terry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rating:
    """A fitted rating in Elo with its 95% interval (relative to the anchors, which have none)."""

    name: str
    elo: float
    lo: float
    hi: float
    games: int
    anchored: bool = False


def bradley_terry(
    results: Iterable[tuple[str, str, float]],
    anchors: dict[str, float],
    *,
    prior_draws: float = 1.0,
    iterations: int = 100,
) -> dict[str, Rating]:
    """Maximum-likelihood Bradley-Terry ratings (Elo scale) with 95% intervals.

    `results` are (a, b, score of a) games; `anchors` fixes some players' Elo, which removes the
    model's free offset so ratings never drift with match order. `prior_draws` adds that many
    virtual draws between every pair that met (as BayesElo's prior does), keeping a perfect
    record finite. Intervals come from the inverse Fisher information of the free ratings.
    Every group of players connected by games needs an anchor, else its level is undefined.
    """
    pair: dict[tuple[str, str], list[float]] = {}  # (a, b) with a < b -> [score of a, games]
    games: dict[str, int] = {}
    for a, b, s in results:
        if a == b:
            raise ValueError(f"a player cannot be rated against itself ({a!r})")
        key, s = ((a, b), s) if a < b else ((b, a), 1.0 - s)
        acc = pair.setdefault(key, [0.0, 0.0])
        acc[0] += s
        acc[1] += 1.0
        games[a] = games.get(a, 0) + 1
        games[b] = games.get(b, 0) + 1
    names = sorted(set(games) | set(anchors))
    _check_anchored(names, pair, anchors)
    free = [p for p in names if p not in anchors]
    idx = {p: i for i, p in enumerate(free)}
    theta = {p: anchors[p] / ELO_PER_NAT for p in anchors}
    start = sum(theta.values()) / len(theta)
    theta.update({p: start for p in free})
    edges = [(a, b, s + prior_draws / 2, g + prior_draws) for (a, b), (s, g) in pair.items()]
    hess = np.zeros((len(free), len(free)))
    for _ in range(iterations):
        grad = np.zeros(len(free))
        hess[:] = 0.0
        for a, b, s, g in edges:
            p = 1.0 / (1.0 + math.exp(theta[b] - theta[a]))
            d, w = s - g * p, g * p * (1.0 - p)  # d/dθa of the log-likelihood and its curvature
            ia, ib = idx.get(a), idx.get(b)
            if ia is not None:
                grad[ia] += d
                hess[ia, ia] += w
            if ib is not None:
                grad[ib] -= d
                hess[ib, ib] += w
            if ia is not None and ib is not None:
                hess[ia, ib] -= w
                hess[ib, ia] -= w
        if not free:
            break
        step = np.linalg.solve(hess, grad)
        # Damped: far from the optimum the curvature is tiny and a full Newton step overshoots.
        step *= min(1.0, 2.0 / max(float(np.max(np.abs(step))), 1e-300))
        for p, i in idx.items():
            theta[p] += float(step[i])
        if float(np.max(np.abs(step))) < 1e-10:
            break
    cov = np.linalg.inv(hess) if free else hess
    out = {}
    for p in names:
        elo = theta[p] * ELO_PER_NAT
        half = Z95 * math.sqrt(max(cov[idx[p], idx[p]], 0.0)) * ELO_PER_NAT if p in idx else 0.0
        out[p] = Rating(p, elo, elo - half, elo + half, games.get(p, 0), anchored=p in anchors)
    return out


def connected_groups(pairs: Iterable[tuple[str, str]]) -> list[set[str]]:
    """Players split into groups linked by games: each group's level needs its own anchor."""
    links: dict[str, set[str]] = {}
    for a, b in pairs:
        links.setdefault(a, set()).add(b)
        links.setdefault(b, set()).add(a)
    groups, seen = [], set()
    for p in links:
        if p in seen:
            continue
        group, todo = {p}, [p]
        while todo:
            for q in links[todo.pop()] - group:
                group.add(q)
                todo.append(q)
        seen |= group
        groups.append(group)
    return groups


def _check_anchored(names: list[str], pair: dict, anchors: dict[str, float]) -> None:
    """Refuse a fit where some players are not connected by games to any anchor."""
    if not anchors:
        raise ValueError("Bradley-Terry needs at least one anchor (e.g. {'random': 0.0})")
    loose = sorted(p for g in connected_groups(pair) if not g & set(anchors) for p in g)
    if loose:
        raise ValueError(f"no games connect {', '.join(loose)} to an anchor ({', '.join(anchors)})")


# --- SPRT -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sprt:
    """Bounds of a sequential test of 'A is stronger than B': H0 elo = elo0 vs H1 elo = elo1."""

    elo0: float = 0.0
    elo1: float = 70.0
    alpha: float = 0.05
    beta: float = 0.05

    def __post_init__(self) -> None:
        if not self.elo1 > self.elo0:
            raise ValueError(f"SPRT needs elo1 > elo0 (got {self.elo0}, {self.elo1})")
        if not (0 < self.alpha < 0.5 and 0 < self.beta < 0.5):
            raise ValueError("SPRT alpha and beta must lie in (0, 0.5)")

    @property
    def lower(self) -> float:
        return math.log(self.beta / (1.0 - self.alpha))

    @property
    def upper(self) -> float:
        return math.log((1.0 - self.beta) / self.alpha)

    def test(self, wins: int, draws: int, losses: int) -> "SprtResult":
        """The log-likelihood ratio of H1 over H0 for A's W/D/L record, and the decision."""
        llr = sprt_llr(wins, draws, losses, self.elo0, self.elo1)
        decision = "H1" if llr >= self.upper else "H0" if llr <= self.lower else "continue"
        return SprtResult(self, wins, draws, losses, llr, decision)


@dataclass(frozen=True)
class SprtResult:
    """Where the test stands: 'H1' (A is stronger by about elo1), 'H0' (not), or 'continue'."""

    sprt: Sprt
    wins: int
    draws: int
    losses: int
    llr: float
    decision: str

    def describe(self) -> str:
        word = {"H1": "accept H1", "H0": "accept H0", "continue": "undecided"}[self.decision]
        s = self.sprt
        return (f"{word} (LLR {self.llr:+.2f} in [{s.lower:.2f}, {s.upper:.2f}], "
                f"elo0={s.elo0:g} elo1={s.elo1:g})")


def sprt_llr(wins: int, draws: int, losses: int, elo0: float, elo1: float) -> float:
    """Generalized SPRT log-likelihood ratio on trinomial (W, D, L) counts, as fishtest computes it.

    Under each hypothesis the outcome distribution is the maximum-likelihood trinomial whose
    mean score is the hypothesis' expected score; the LLR is the count-weighted log ratio of
    the two. Zero counts are regularized (1e-3) so early all-win records give a finite LLR.
    """
    n = wins + draws + losses
    if n == 0:
        return 0.0
    counts = [c if c > 0 else 1e-3 for c in (losses, draws, wins)]
    total = sum(counts)
    p = [c / total for c in counts]
    q0 = _mle_with_mean(p, expected_score(elo0, 0.0))
    q1 = _mle_with_mean(p, expected_score(elo1, 0.0))
    return n * sum(pi * math.log(b / a) for pi, a, b in zip(p, q0, q1))


def _mle_with_mean(p: list[float], s: float) -> list[float]:
    """argmax_q Σ p log q over scores (0, ½, 1) subject to mean score s:
    q_i = p_i / (1 + λ (v_i − s)), with λ found by bisection (the constraint is monotone in λ)."""
    d = (-s, 0.5 - s, 1.0 - s)
    lo, hi = -1.0 / d[2], -1.0 / d[0]  # every denominator 1 + λ d_i stays positive
    for _ in range(100):
        lam = 0.5 * (lo + hi)
        if sum(pi * di / (1.0 + lam * di) for pi, di in zip(p, d)) > 0.0:
            lo = lam
        else:
            hi = lam
    lam = 0.5 * (lo + hi)
    q = [pi / (1.0 + lam * di) for pi, di in zip(p, d)]
    total = sum(q)
    return [x / total for x in q]


# --- rating pools -----------------------------------------------------------------------------


def rank_scores(ranks: Sequence[float]) -> list[float]:
    """Per-seat score from finishing ranks (1 best, ties share): 1 first, 0 last."""
    n = len(ranks)
    return [(n - r) / (n - 1) for r in ranks]


@dataclass
class RatingPool:
    """All rated games of one (board, player count): sequential Elo, anchored fits, openskill.

    Games are added as finishing orders; a game or pool of another configuration is refused
    with `RatingConfigError` rather than silently blended in.
    """

    board: str
    num_players: int
    k: float = 32.0
    initial_elo: float = 1500.0
    elo: dict[str, float] = field(default_factory=dict)
    games: list[tuple[tuple[str, ...], tuple[float, ...]]] = field(default_factory=list)

    def _check(self, board: str, num_players: int) -> None:
        if (board, num_players) != (self.board, self.num_players):
            raise RatingConfigError(
                f"ratings are kept per board and player count: this pool is "
                f"{self.board} {self.num_players}p, not {board} {num_players}p")

    def add_game(self, board: str, players: Sequence[str], ranks: Sequence[float]) -> None:
        """One game: the player in each seat and its finishing rank (1 best; ties share)."""
        self._check(board, len(players))
        if len(ranks) != len(players):
            raise ValueError("one rank per player")
        if len(set(players)) != len(players):
            raise ValueError(f"a player appears twice in one game: {list(players)}")
        self.games.append((tuple(players), tuple(float(r) for r in ranks)))
        for p in players:
            self.elo.setdefault(p, self.initial_elo)
        # Sequential Elo over every pair in the game, K shared across the n-1 opponents.
        k = self.k / (len(players) - 1)
        before = dict(self.elo)
        for i, a in enumerate(players):
            for j, b in enumerate(players):
                if i != j:
                    s = 1.0 if ranks[i] < ranks[j] else 0.5 if ranks[i] == ranks[j] else 0.0
                    self.elo[a] += k * (s - expected_score(before[a], before[b]))

    def add_match(self, match) -> None:
        """Every game of an `engine.arena.MatchResult` (entrants named by their labels)."""
        self._check(match.board, match.num_players)
        labels = match.labels
        for g in match.games:
            self.add_game(match.board, [labels[e] for e in g.seats], g.ranks)

    def merge(self, other: "RatingPool") -> None:
        """Append another pool's games (refused across configurations); Elo is replayed."""
        self._check(other.board, other.num_players)
        for players, ranks in other.games:
            self.add_game(other.board, players, ranks)

    def pairwise(self) -> list[tuple[str, str, float]]:
        """Every game as (a, b, score of a) for each pair of seats in it."""
        out = []
        for players, ranks in self.games:
            for i in range(len(players)):
                for j in range(i + 1, len(players)):
                    s = 1.0 if ranks[i] < ranks[j] else 0.5 if ranks[i] == ranks[j] else 0.0
                    out.append((players[i], players[j], s))
        return out

    def fit(self, anchors: dict[str, float], prior_draws: float = 1.0) -> dict[str, Rating]:
        """Anchored Bradley-Terry over all games (2-player pools)."""
        if self.num_players != 2:
            raise RatingConfigError("Bradley-Terry is for 2-player pools; use openskill() for 3-4")
        return bradley_terry(self.pairwise(), anchors, prior_draws=prior_draws)

    def openskill(self, anchor: str | None = None) -> dict[str, tuple[float, float]]:
        """Plackett-Luce (openskill) mu and sigma per player over the games in order; with an
        anchor, every mu is given relative to the anchor's."""
        from openskill.models import PlackettLuce

        model = PlackettLuce()
        table = {}
        for players, ranks in self.games:
            teams = [[table.setdefault(p, model.rating(name=p))] for p in players]
            rated = model.rate(teams, ranks=list(ranks))
            for p, team in zip(players, rated):
                table[p] = team[0]
        base = table[anchor].mu if anchor is not None and anchor in table else 0.0
        return {p: (r.mu - base, r.sigma) for p, r in table.items()}
