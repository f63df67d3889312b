"""Evaluate phase: seat-rotated matches of the candidate against the current best and fixed baselines.

The candidate is the model the train phase registered (found among the upstream ids, else the
newest candidate of this iteration). It plays `evaluate.games` games against the current best
model (when there is one) and against each baseline (ladder tiers, e.g. D1, D2), seats rotated
(engine.arena), as a `NeuralPlayer` loaded from its exported file (the raw policy), or, in a
closed-loop profile, as the deployed player (`closed_loop.player`, tasks.players.deployed_spec).

Ratings: every evaluation game of the config is kept in `data/pipeline/<config>/rated-games.json`
(one entry per iteration, so a re-run replaces rather than duplicates), and the ratings are fitted
over all of them (engine.ratings: anchored Bradley-Terry for 2 players, the first baseline at 0 Elo;
openskill Plackett-Luce for 3-4), so a rating means the same thing from one iteration to the next.
Each rated model's new rating is appended to its history in the registry. The match records
(W/D/L per opponent, seat win rates) go to `evaluate-i<n>.json` for the gate; the task returns a
small summary.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.arena import derive_seed, play_match
from engine.files import write_atomic
from engine.ratings import RatingPool
from infra.data_config import DataConfig
from infra.registry import ModelRegistry
from tasks.common import PhaseContext, emit, phase_task, run_phase, short_hash
from tasks.players import deployed_spec, needs_model, pipeline_player


def pipeline_dir(cfg: DataConfig, config: str) -> Path:
    return cfg.data_dir / "pipeline" / config


def write_json(path: Path, value: Any) -> None:
    write_atomic(path, json.dumps(value, indent=1))


def evaluation_path(cfg: DataConfig, ctx: PhaseContext) -> Path:
    return pipeline_dir(cfg, ctx.config) / f"evaluate-i{ctx.iteration}.json"


def find_candidate(reg: ModelRegistry, ctx: PhaseContext, upstream: list[str]) -> dict[str, Any]:
    for uid in reversed(upstream):
        try:
            model = reg.get(uid)
        except (LookupError, ValueError):
            continue
        if model["config"] == ctx.config:
            return model
    frame = reg.models_frame(ctx.board, ctx.players, status="candidate")
    frame = frame[frame["iteration"] == ctx.iteration]
    if frame.empty:
        raise ValueError(f"no candidate model for {ctx.config} iteration {ctx.iteration}: run train first")
    return reg.get(str(frame.iloc[0]["id"]))


def _entrants(n: int, a: str, b: str) -> list[str]:
    """Two entrants for any player count: the opponent fills every seat but one."""
    return [a] + [b] * (n - 1)


def fit_ratings(board: str, players: int, games: list[list[Any]], anchor: str) -> dict[str, dict[str, float]]:
    """Ratings of every name in `games` ([names per seat, ranks]), anchored at `anchor` = 0."""
    pool = RatingPool(board, players)
    for names, ranks in games:
        pool.add_game(board, names, ranks)
    if players == 2:
        fit = pool.fit({anchor: 0.0})
        return {k: {"rating": r.elo, "lo": r.lo, "hi": r.hi, "games": r.games} for k, r in fit.items()}
    skill = pool.openskill(anchor=anchor)
    return {k: {"rating": mu, "lo": mu - 2 * sigma, "hi": mu + 2 * sigma, "games": 0} for k, (mu, sigma) in skill.items()}


def check_baselines(ctx: PhaseContext) -> None:
    ev = ctx.settings.evaluate
    if not ev.baselines:
        raise ValueError("evaluate.baselines is empty: the ratings need at least one fixed baseline as anchor")
    moving = [b for b in ev.baselines if needs_model(b)]
    if moving:
        raise ValueError(f"evaluate.baselines {moving}: a baseline anchors the ratings, so it must play the same "
                         "way every iteration, and these play whatever net is best now; use D1..D8, "
                         "profile:<file> or neural:model=<fixed file>")


def contenders(ctx: PhaseContext, reg: ModelRegistry,
               upstream: list[str]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the candidate, the best model to play it against or None): the coordinator's choice."""
    check_baselines(ctx)
    cand = find_candidate(reg, ctx, upstream)
    best = reg.best(ctx.board, ctx.players)
    if best and best["id"] == cand["id"]:
        best = None
    if best and not (best.get("path") and Path(best["path"]).exists()):
        best = None
    return cand, best


def play_matches(ctx: PhaseContext, cand_id: str, cand_path: str, best_id: str | None,
                 best_path: str | None) -> tuple[dict[str, Any], list[list[Any]]]:
    """The matches (the expensive part, runnable on any host): (per-opponent records, [names, ranks] per game)."""
    ev = ctx.settings.evaluate
    opponents: list[tuple[str, str, str | None]] = []  # (name, spec, model id)
    if best_id and best_path:
        opponents.append((best_id, deployed_spec(ctx.settings, best_path), best_id))
    opponents += [(b, b, None) for b in ev.baselines]
    cand_spec = deployed_spec(ctx.settings, cand_path)
    matches: dict[str, Any] = {}
    new_games: list[list[Any]] = []
    kept = False  # one of the candidate's games, recorded for the game viewer (viewer/evalgame.py)
    for name, spec, model_id in opponents:
        specs = _entrants(ctx.players, cand_spec, spec)
        names = [cand_id] + [name if ctx.players == 2 else f"{name}#{k}" for k in range(1, ctx.players)]
        seed = derive_seed("evaluate", ctx.config, ctx.iteration, name)
        if ctx.settings.closed:  # search players on nets: batched (engine.nn.match), as the gate plays them
            from tasks.closed_gate import run_match
            match = run_match(ctx.board, specs, ev.games, seed=seed, workers=1, opening=2, sprt=None,
                              move_cap=ctx.settings.selfplay.move_cap)
        else:
            match = play_match(ctx.board, specs, ev.games, seed=seed, workers=1,
                               move_cap=ctx.settings.selfplay.move_cap, opening_plies=2, factory=pipeline_player)
            if not kept:
                from viewer.evalgame import keep_evaluation_game
                kept = keep_evaluation_game(
                    pipeline_dir(ctx.data(), ctx.config) / f"evaluate-i{ctx.iteration}-games.jsonl", ctx.board,
                    specs, names, seed, match.games, factory=pipeline_player, move_cap=ctx.settings.selfplay.move_cap,
                    opening_plies=2, game_id=f"eval-{ctx.config}-i{ctx.iteration}-vs-{name}")
        w, d, l = match.wdl(0, 1)
        score = match.score(0)
        matches[name] = {"opponent": name, "model": model_id, "games": len(match.games),
                         "wins": w, "draws": d, "losses": l, "score": round(score.score, 4),
                         "score_lo": round(score.lo, 4), "score_hi": round(score.hi, 4),
                         "seat_win_rates": [round(x, 4) for x in match.seat_win_rates()],
                         "hit_cap": match.hit_cap, "seconds": round(match.seconds, 3)}
        for g in match.games:
            new_games.append([[names[e] for e in g.seats], list(g.ranks)])
    return matches, new_games


def rate(ctx: PhaseContext, reg: ModelRegistry, cand: dict[str, Any], best: dict[str, Any] | None,
         matches: dict[str, Any], new_games: list[list[Any]]) -> dict[str, Any]:
    """Record the matches on the coordinator: rated-games history, ratings, rating history, the gate's record."""
    cfg = ctx.data()
    ev = ctx.settings.evaluate
    # every evaluation game of the config, one entry per iteration (a re-run replaces its own)
    history_path = pipeline_dir(cfg, ctx.config) / "rated-games.json"
    history = json.loads(history_path.read_text()) if history_path.exists() else {}
    history[str(ctx.iteration)] = new_games
    write_json(history_path, history)
    all_games = [g for k in sorted(history, key=int) for g in history[k]]
    anchor = ev.baselines[0]
    ratings = fit_ratings(ctx.board, ctx.players, all_games, anchor)
    match_id = f"eval-{ctx.config}-i{ctx.iteration}"
    rated = {}
    for name, r in ratings.items():
        try:
            reg.get(name)
        except (LookupError, ValueError):
            continue
        vs = matches.get(name) if name != cand["id"] else None
        reg.record_rating(name, r["rating"], uncertainty=(r["hi"] - r["lo"]) / 2, match_id=match_id,
                          opponent_id=None if name == cand["id"] else cand["id"],
                          games=(sum(m["games"] for m in matches.values()) if name == cand["id"]
                                 else (vs or {}).get("games", 0)),
                          score=round(1 - vs["score"], 4) if vs else None)
        rated[name] = round(r["rating"], 1)
    record = {"iteration": ctx.iteration, "candidate": cand["id"], "best": best["id"] if best else None,
              "baselines": list(ev.baselines), "matches": matches,
              "ratings": {k: {kk: round(vv, 2) for kk, vv in v.items()} for k, v in ratings.items()},
              "anchor": anchor}
    write_json(evaluation_path(cfg, ctx), record)
    total = sum(m["games"] for m in matches.values())
    return {"id": f"{match_id}-{short_hash(cand['id'], json.dumps(matches, sort_keys=True))}",
            "candidate": cand["id"], "best": record["best"], "games": total,
            "vs": {k: f"{m['wins']}-{m['draws']}-{m['losses']}" for k, m in matches.items()},
            "rating": rated.get(cand["id"]), "ratings": rated}


def run_evaluation(ctx: PhaseContext, upstream: list[str]) -> dict[str, Any]:
    """The phase's work as a plain function: choose, play, rate (placed: tasks/placed.py splits them)."""
    with ModelRegistry(ctx.data().registry_path) as reg:
        cand, best = contenders(ctx, reg, upstream)
        matches, games = play_matches(ctx, cand["id"], cand["path"], best and best["id"], best and best["path"])
        return rate(ctx, reg, cand, best, matches, games)


@phase_task("evaluate")
def evaluate(ctx: PhaseContext, upstream: list[str]) -> dict[str, Any]:
    """Matches of the candidate against the best and baselines; ratings updated; returns a summary."""
    def body() -> dict[str, Any]:
        result = run_evaluation(ctx, upstream)
        emit("model.evaluated", ctx, {"model": result["candidate"], "rating": result["rating"], "vs": result["vs"]})
        return result
    return run_phase("evaluate", ctx, body)
