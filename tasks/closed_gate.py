"""The closed loop's gate: the deployed player of the candidate against the best, decided sequentially.

Why this shape:
- It tests the player that will be used (`closed_loop.player`, e.g. D9 = MCTS with 64 simulations
  on the net) on both sides, not the raw policy: search can widen or hide a policy's gain.
- engine.nn.learning.GateRule decides: a truncated SPRT (bounds `gate.sprt`) over seat-rotated
  blocks, stopped as soon as it decides (engine.arena.play_match with `sprt`); promotion only when
  it accepts H1 within `closed_loop.gate.max_games`, so a test still undecided at the cap rejects.
  Each block starts from its own random opening (`opening_plies`), so the games differ.
- Before any model is best, `first_model` says what the first candidate must do: `accept` (it
  becomes best without a match) or `anchor` (pass the same rule against a fixed weak player, D1 in
  the shipped profile). Not against the strongest bootstrap teacher: a net imitating a few thousand
  teacher games is often weaker than the teacher for a while, yet its selfplay is how it improves;
  the anchor only keeps a broken net (wrong sign, untrained) from driving selfplay. A rejected
  first net is deprecated; the next iteration bootstraps again and trains on (from that net).
- The report states the rule's error rates: the share of simulated gates (engine.nn.learning.
  simulate_gate, decisive games) that promote a candidate of equal strength (false promotion)
  and one 50 Elo stronger (power). They are computed once per rule and cached in
  `data/pipeline/gate-error-rates.json`, since thousands of simulated gates take seconds to minutes.
The decision goes to the registry (promote and deprecate the previous best, or deprecate the
candidate with the reason) and to `gate-i<n>.json`; a re-run returns that record unchanged. The
candidate's tier is the highest of `gate.tiers` whose evaluation match the rule's SPRT calls won.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from engine.arena import MatchResult, derive_seed, play_match
from engine.nn.match import net_form, play_net_match
from engine.files import write_atomic
from engine.nn.learning import GateRule, p_win_at, simulate_gate
from engine.ratings import Sprt
from infra.pipeline_config import Profile
from infra.registry import ModelRegistry
from tasks.common import PhaseContext
from tasks.evaluate import _entrants, evaluation_path, find_candidate, pipeline_dir
from tasks.players import deployed_spec, pipeline_player

POWER_ELO = 50.0  # the strength gap at which the report states the rule's power


def gate_rule(settings: Profile) -> GateRule:
    """The rule of a closed-loop profile: `gate.sprt` bounds, `closed_loop.gate.max_games`."""
    s, loop = settings.gate.sprt, settings.closed_loop
    assert loop is not None
    return GateRule(elo0=s.elo0, elo1=s.elo1, alpha=s.alpha, beta=s.beta, max_games=loop.gate.max_games)


def describe_rule(rule: GateRule) -> str:
    return (f"truncated SPRT, H0 {rule.elo0:+g} Elo vs H1 {rule.elo1:+g} Elo (alpha {rule.alpha:g}, "
            f"beta {rule.beta:g}), at most {rule.max_games} games in seat-rotated blocks; promote only on H1")


def error_rates(rule: GateRule, trials: int, cache: Path) -> dict[str, Any]:
    """False-promotion rate at equal strength and power at +50 Elo of `rule` (simulated, cached)."""
    key = json.dumps([rule.elo0, rule.elo1, rule.alpha, rule.beta, rule.max_games, trials, POWER_ELO])
    try:
        table = json.loads(cache.read_text())
    except (FileNotFoundError, ValueError):
        table = {}
    if key in table:
        return table[key]
    t0 = time.perf_counter()
    false, power = simulate_gate(rule, 0.5, trials, seed=0), simulate_gate(rule, p_win_at(POWER_ELO), trials, seed=1)
    entry = {"false_promotion": false, "false_promotion_se": round(math.sqrt(false * (1 - false) / trials), 4),
             "power": power, "power_se": round(math.sqrt(power * (1 - power) / trials), 4), "power_elo": POWER_ELO,
             "trials": trials, "simulated": "decisive games, tested after every block of 2",
             "seconds": round(time.perf_counter() - t0, 2)}
    table[key] = entry
    write_atomic(cache, json.dumps(table, indent=1))
    return entry


def rates_text(rates: dict[str, Any]) -> str:
    return (f"false promotion at equal strength {rates['false_promotion']:.1%} (±{rates['false_promotion_se']:.1%}), "
            f"power at +{rates['power_elo']:g} Elo {rates['power']:.1%} (±{rates['power_se']:.1%}); "
            f"simulated over {rates['trials']} gates of {rates['simulated']}")


def _match(board: str, specs: list[str], games: int, seed: int, workers: int, opening: int, sprt: Sprt | None,
           move_cap: int | None, spawn: bool) -> MatchResult:
    if spawn:  # this is a fresh spawned process: its match workers are spawned too, never forked
        multiprocessing.set_start_method("spawn", force=True)
    return play_match(board, specs, games, seed=seed, workers=workers, move_cap=move_cap, opening_plies=opening,
                      sprt=sprt, factory=pipeline_player)


def run_match(board: str, specs: list[str], games: int, *, seed: int, workers: int, opening: int, sprt: Sprt | None,
              move_cap: int | None) -> MatchResult:
    """The gate's match; with several workers it runs in a spawned process whose workers are spawned
    as well (processes forked after torch has run in the parent can hang, see bench/learning.py)."""
    forms = [net_form(s) for s in specs]
    budgets = {(f[1], tuple(sorted(f[2].items()))) for f in forms if f}
    plain = all(f or ":" not in s for f, s in zip(forms, specs))  # no nn:/profile: specs of pipeline_player
    if len(budgets) == 1 and plain:  # search players on nets: many games at once through batched inference
        sims, search = budgets.pop()
        return play_net_match(board, [f[0] if f else s for f, s in zip(forms, specs)], games, seed=seed,
                              sims=sims, search=dict(search), workers=workers, opening_plies=opening,
                              move_cap=move_cap, sprt=sprt)
    if workers <= 1:
        return _match(board, specs, games, seed, 1, opening, sprt, move_cap, False)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_match, board, specs, games, seed, workers, opening, sprt, move_cap, True).result()


def tier_of(matches: dict[str, Any], tiers: list[str], rule: GateRule) -> str | None:
    """The highest of `tiers` (gate.tiers) whose evaluation match the SPRT of the rule calls won
    (H1 accepted on its W/D/L), among the baselines the evaluation played."""
    passed = None
    for tier in tiers:
        m = matches.get(tier)
        if m and rule.sprt.test(m["wins"], m["draws"], m["losses"]).decision == "H1":
            passed = tier
    return passed


def gate_path(ctx: PhaseContext) -> Path:
    return pipeline_dir(ctx.data(), ctx.config) / f"gate-i{ctx.iteration}{ctx.stream}.json"


def _opponent(ctx: PhaseContext, best: dict[str, Any] | None) -> tuple[str, str | None, str | None]:
    """(kind, reference name, its spec): the best model's deployed player, the anchor, or none (accept)."""
    loop = ctx.settings.closed_loop
    assert loop is not None
    if best and best.get("path") and Path(best["path"]).exists():
        return "best", best["id"], deployed_spec(ctx.settings, best["path"])
    if loop.gate.first_model == "accept":
        return "accept", None, None
    return "anchor", loop.gate.anchor, loop.gate.anchor


def _verdict(ctx: PhaseContext, rule: GateRule, kind: str, specs: list[str]) -> dict[str, Any]:
    if kind == "accept":
        return {"promoted": True, "games": 0, "wins": 0, "draws": 0, "losses": 0, "score": 0.0, "llr": 0.0,
                "decision": "accepted", "reason": "first model of the config: accepted without a match "
                                                  "(closed_loop.gate.first_model: accept)"}
    from tasks.selfplay import worker_processes
    loop = ctx.settings.closed_loop
    assert loop is not None
    match = run_match(ctx.board, specs, rule.max_games, seed=derive_seed("gate", ctx.config, ctx.iteration, ctx.stream),
                      workers=worker_processes(ctx.settings.selfplay.processes, rule.max_games),
                      opening=loop.gate.opening_plies, sprt=rule.sprt, move_cap=ctx.settings.selfplay.move_cap)
    promoted, used = rule.decide([g.versus(0, 1) for g in match.games], block=ctx.players)
    w, d, l = match.wdl(0, 1)
    test = rule.sprt.test(w, d, l)
    if test.decision == "H1" and promoted:
        reason = f"truncated SPRT accepts H1 after {used} games (LLR {test.llr:.2f} >= {test.sprt.upper:.2f})"
    elif test.decision == "H0":
        reason = f"truncated SPRT accepts H0 after {used} games (LLR {test.llr:.2f} <= {test.sprt.lower:.2f})"
    else:
        reason = (f"truncated SPRT undecided after {used} of at most {rule.max_games} games (LLR {test.llr:.2f} "
                  f"in ({test.sprt.lower:.2f}, {test.sprt.upper:.2f})): not promoted")
    return {"promoted": promoted, "games": len(match.games), "wins": w, "draws": d, "losses": l,
            "score": round((w + 0.5 * d) / max(w + d + l, 1), 4), "llr": round(test.llr, 3),
            "decision": test.decision, "reason": reason, "distinct_games": match.distinct_games,
            "seat_win_rates": [round(x, 4) for x in match.seat_win_rates()], "seconds": round(match.seconds, 2)}


def run_closed_gate(ctx: PhaseContext, upstream: list[str]) -> dict[str, Any]:
    """The closed loop's gate as a plain function: play, decide, update the registry, write the record."""
    cfg = ctx.data()
    rule = gate_rule(ctx.settings)
    rates = error_rates(rule, ctx.settings.closed_loop.gate.error_trials,  # type: ignore[union-attr]
                        pipeline_dir(cfg, ctx.config).parent / "gate-error-rates.json")
    with ModelRegistry(cfg.registry_path) as reg:
        cand = find_candidate(reg, ctx, upstream)
        path = gate_path(ctx)
        if path.exists() and json.loads(path.read_text()).get("candidate") == cand["id"]:
            return json.loads(path.read_text())["result"]  # decided before (a re-run): the same answer
        best = reg.best(ctx.board, ctx.players)
        best = None if best and best["id"] == cand["id"] else best
    kind, reference, ref_spec = _opponent(ctx, best)
    cand_spec = deployed_spec(ctx.settings, cand["path"])
    specs = _entrants(ctx.players, cand_spec, ref_spec) if ref_spec else [cand_spec]
    v = _verdict(ctx, rule, kind, specs)
    evaluation = evaluation_path(cfg, ctx)
    tier = tier_of(json.loads(evaluation.read_text())["matches"], ctx.settings.gate.tiers, rule) \
        if evaluation.exists() else None
    rule_name = "first-model" if kind == "accept" else "truncated-sprt"
    with ModelRegistry(cfg.registry_path) as reg:
        if tier:
            reg.set_tier(cand["id"], tier)
        reg.update_metrics(cand["id"], gate={"rule": rule_name, "reference": reference, "games": v["games"],
                                             "score": v["score"], "promote": v["promoted"], "llr": v["llr"]},
                           gate_reference=reference, gate_llr=v["llr"])
        if v["promoted"]:
            reg.promote(cand["id"])
            if best:
                reg.deprecate(best["id"], f"superseded by {cand['id']} (iteration {ctx.iteration})")
        else:
            reg.deprecate(cand["id"], f"gate: {v['reason']} vs {reference}")
    s = rule.sprt
    result = {"id": f"gate-{cand['id']}-{'promoted' if v['promoted'] else 'kept'}", "candidate": cand["id"],
              "reference": reference, "reference_kind": kind, "promoted": v["promoted"],
              "rule": rule_name, "reason": v["reason"],
              "score": v["score"], "games": v["games"], "wdl": f"{v['wins']}-{v['draws']}-{v['losses']}",
              "sprt": {"elo0": s.elo0, "elo1": s.elo1, "alpha": s.alpha, "beta": s.beta, "llr": v["llr"],
                       "lower": round(s.lower, 3), "upper": round(s.upper, 3), "decision": v["decision"]},
              "tier": tier, "rule_text": describe_rule(rule), "error_rates": rates, "record": str(gate_path(ctx))}
    record = {"iteration": ctx.iteration, "candidate": cand["id"], "reference": reference, "reference_kind": kind,
              "players": {"candidate": cand_spec, "reference": ref_spec}, "max_games": rule.max_games,
              "opening_plies": ctx.settings.closed_loop.gate.opening_plies,  # type: ignore[union-attr]
              "rule": result["rule_text"], "error_rates": rates, "error_rates_text": rates_text(rates), **v,
              "result": result}
    write_atomic(gate_path(ctx), json.dumps(record, indent=1))
    return result
