"""Gate phase: promote the candidate when it is stronger than the current best, and place it on the tier ladder.

The decision reads the evaluate phase's record (`evaluate-i<n>.json`). The reference opponent
is the current best model, or, before any model is promoted, the strongest configured baseline
(the last of `evaluate.baselines`). The sequential probability ratio test (engine.ratings.Sprt,
bounds `gate.sprt`) on the candidate's W/D/L against it decides when it has decided: accept H1
promotes, accept H0 rejects. While it is undecided the configured threshold decides (score
>= `gate.win_rate` over >= `gate.min_games` games); with fewer games the candidate is not
promoted. The result reports which rule decided and its numbers.

Tiers: the candidate's tier is the highest of `gate.tiers` (D2 -> D4 -> D6 -> D8) among the
baselines it met whose threshold it passed (the same win-rate / min-games rule, or the SPRT).
A promoted candidate becomes the active model and the previous best is deprecated; a rejected
one is deprecated with the reason. Emits `rift.model.promoted`.

A closed-loop profile (`closed_loop:`) is gated by tasks.closed_gate instead: the deployed player
of the candidate against the best's, a truncated SPRT, and the rule's error rates in the report.
"""
from __future__ import annotations

import json
from typing import Any

from engine.ratings import Sprt
from infra.pipeline_config import GateSettings
from infra.registry import ModelRegistry
from tasks.common import PhaseContext, emit, phase_task, run_phase
from tasks.evaluate import evaluation_path


def decide(wins: int, draws: int, losses: int, gate: GateSettings) -> dict[str, Any]:
    """Promote or not from a W/D/L record: the SPRT when decided, else the threshold rule."""
    games = wins + draws + losses
    score = (wins + 0.5 * draws) / games if games else 0.0
    s = gate.sprt
    test = Sprt(elo0=s.elo0, elo1=s.elo1, alpha=s.alpha, beta=s.beta).test(wins, draws, losses)
    out = {"games": games, "wins": wins, "draws": draws, "losses": losses, "score": round(score, 4),
           "sprt": {"elo0": s.elo0, "elo1": s.elo1, "alpha": s.alpha, "beta": s.beta, "llr": round(test.llr, 3),
                    "lower": round(test.sprt.lower, 3), "upper": round(test.sprt.upper, 3),
                    "decision": test.decision}}
    if test.decision == "H1":
        return {**out, "promote": True, "rule": "sprt", "reason": f"SPRT accepts H1 (LLR {test.llr:.2f} >= "
                                                                 f"{test.sprt.upper:.2f})"}
    if test.decision == "H0":
        return {**out, "promote": False, "rule": "sprt", "reason": f"SPRT accepts H0 (LLR {test.llr:.2f} <= "
                                                                  f"{test.sprt.lower:.2f})"}
    if games < gate.min_games:
        return {**out, "promote": False, "rule": "too-few-games",
                "reason": f"SPRT undecided and {games} < {gate.min_games} games"}
    ok = score >= gate.win_rate
    return {**out, "promote": ok, "rule": "threshold",
            "reason": f"SPRT undecided (LLR {test.llr:.2f}); score {score:.1%} {'>=' if ok else '<'} "
                      f"{gate.win_rate:.0%} over {games} games"}


def tier_of(matches: dict[str, Any], gate: GateSettings) -> str | None:
    """The highest tier of `gate.tiers` the candidate passed among the baselines it met."""
    passed = None
    for tier in gate.tiers:
        m = matches.get(tier)
        if m and decide(m["wins"], m["draws"], m["losses"], gate)["promote"]:
            passed = tier
    return passed


def run_gate(ctx: PhaseContext, upstream: list[str] | None = None) -> dict[str, Any]:
    """The phase's work as a plain function: decide from the evaluation record, update the registry
    (a closed-loop profile: tasks.closed_gate plays its own sequential match of the deployed players)."""
    if ctx.settings.closed:
        from tasks.closed_gate import run_closed_gate
        return run_closed_gate(ctx, list(upstream or []))
    cfg = ctx.data()
    path = evaluation_path(cfg, ctx)
    if not path.exists():
        raise ValueError(f"no evaluation for {ctx.config} iteration {ctx.iteration} ({path}): run evaluate first")
    record = json.loads(path.read_text())
    matches = record["matches"]
    ref = record["best"] or (record["baselines"][-1] if record["baselines"] else None)
    if ref not in matches:
        raise ValueError(f"the evaluation has no match against {ref!r}")
    m = matches[ref]
    verdict = decide(m["wins"], m["draws"], m["losses"], ctx.settings.gate)
    tier = tier_of(matches, ctx.settings.gate)
    cand = record["candidate"]
    with ModelRegistry(cfg.registry_path) as reg:
        current = reg.get(cand)
        if tier:
            reg.set_tier(cand, tier)
        reg.update_metrics(cand, gate={k: verdict[k] for k in ("rule", "score", "games", "promote")},
                           gate_reference=ref, gate_llr=verdict["sprt"]["llr"])
        if verdict["promote"] and current["status"] != "active":
            reg.promote(cand)
            if record["best"]:
                reg.deprecate(record["best"], f"superseded by {cand} (iteration {ctx.iteration})")
        elif not verdict["promote"] and current["status"] == "candidate":
            reg.deprecate(cand, f"gate: {verdict['reason']} vs {ref}")
    return {"id": f"gate-{cand}-{'promoted' if verdict['promote'] else 'kept'}", "candidate": cand,
            "reference": ref, "promoted": verdict["promote"], "rule": verdict["rule"], "reason": verdict["reason"],
            "score": verdict["score"], "games": verdict["games"], "wdl": f"{m['wins']}-{m['draws']}-{m['losses']}",
            "sprt": verdict["sprt"], "tier": tier}


@phase_task("gate")
def gate(ctx: PhaseContext, upstream: list[str]) -> dict[str, Any]:
    """Promote the candidate if the test (or the threshold) says it is stronger; returns the decision."""
    def body() -> dict[str, Any]:
        result = run_gate(ctx, upstream)
        if result["promoted"]:
            emit("model.promoted", ctx, {k: result[k] for k in ("candidate", "reference", "rule", "score", "games")})
        return result
    return run_phase("gate", ctx, body)
