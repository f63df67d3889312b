"""The closed loop's phases as plain functions (no Prefect server), on the tiny-az profile: shards split
by game id, the gate's rule and its reported error rates, the first model against the anchor, and
settings that name players the loop cannot use. The loop end to end: test_closed_loop.py."""
from __future__ import annotations

import json

import pytest
import torch

from engine.arena import GameResult, MatchResult, seating
from engine.nn.learning import GateRule, is_holdout
from engine.nn.model import build_model, save_model
from infra.registry import ModelRegistry, ModelStatus
from tasks import closed_gate
from tasks.closed_train import export_split, holdout_dir
from tasks.common import PermanentPhaseError
from tasks.gate import run_gate
from tasks.selfplay import play_and_store
from tasks.train import net_config


def loop_ctx(make_ctx, **gate):
    """A tiny-az context, with `closed_loop.gate` settings changed."""
    ctx = make_ctx(profile="tiny-az")
    loop = ctx.settings.closed_loop
    loop = loop.model_copy(update={"gate": loop.gate.model_copy(update=gate)})
    return ctx.model_copy(update={"settings": ctx.settings.model_copy(update={"closed_loop": loop})})


def register(ctx, name: str, status: ModelStatus, iteration: int) -> str:
    torch.manual_seed(iteration)
    cfg = ctx.data()
    path = save_model(build_model(net_config(ctx)), cfg.data_dir / "models" / f"{name}.pt")
    with ModelRegistry(cfg.registry_path) as reg:
        return reg.register(ctx.board, ctx.players, path=str(path), status=status, iteration=iteration,
                            model_id=name)


def won_by_entrant_0(games: int) -> MatchResult:
    """A match record in which entrant 0 wins every game, seats rotated as the arena rotates them."""
    match = MatchResult("hex8", 2, ("cand", "best"))
    for i in range(games):
        seats = seating(2, i)
        win = seats.index(0) + 1
        match.games.append(GameResult(i, i, seats, ("cand", "best"), win, (1.0, 2.0) if win == 1 else (2.0, 1.0),
                                      "ring_elimination", 100, False, f"g{i}"))
    return match


def test_held_out_games_are_chosen_by_id_and_never_reach_the_training_shards(make_ctx):
    ctx = make_ctx(profile="tiny-az")
    played = play_and_store(ctx)
    assert played["source"] == "bootstrap" and played["engines"] == {"D2": 16}  # no model yet: teachers
    split = export_split(ctx, ctx.data())
    every = ctx.settings.closed_loop.train.holdout_every
    manifests = {part: [json.loads(p.read_text()) for p in (root / "hex8_2p").glob("*.json")]
                 for part, root in (("train", ctx.data().shards_dir), ("holdout", holdout_dir(ctx.data())))}
    train_ids = {g for m in manifests["train"] for g in m["sourceGames"]}
    held_ids = {g for m in manifests["holdout"] for g in m["sourceGames"]}
    assert train_ids and held_ids and len(train_ids | held_ids) == 8
    assert not any(is_holdout(g, every) for g in train_ids) and all(is_holdout(g, every) for g in held_ids)
    assert all(m["split"] == part and m["valueRows"] for part in manifests for m in manifests[part])
    assert export_split(ctx, ctx.data())["reused"] and split["holdout"]["games"] == len(held_ids)


def test_error_rates_are_simulated_once_per_rule_then_read_from_the_cache(tmp_path, monkeypatch):
    calls = []
    real = closed_gate.simulate_gate
    monkeypatch.setattr(closed_gate, "simulate_gate", lambda *a, **k: calls.append(a) or real(*a, **k))
    rule = GateRule(elo1=50, max_games=30)
    first = closed_gate.error_rates(rule, 200, tmp_path / "rates.json")
    assert len(calls) == 2 and first["trials"] == 200 and first["power_elo"] == 50
    assert 0.0 <= first["false_promotion"] <= first["power"] <= 1.0
    assert closed_gate.error_rates(rule, 200, tmp_path / "rates.json") == first and len(calls) == 2
    closed_gate.error_rates(GateRule(elo1=50, max_games=40), 200, tmp_path / "rates.json")
    assert len(calls) == 4  # another rule: simulated again
    assert "false promotion at equal strength" in closed_gate.rates_text(first)


def test_gate_promotes_only_when_the_sprt_accepts_and_retires_the_previous_best(make_ctx, monkeypatch):
    ctx = loop_ctx(make_ctx, max_games=40)
    best = register(ctx, "best", ModelStatus.ACTIVE, 0)
    cand = register(ctx, "cand", ModelStatus.CANDIDATE, 1)
    played = []

    def match(board, specs, games, **kw):
        played.append((specs, games, kw))
        return won_by_entrant_0(22)  # the arena stops at the first block where the test decides
    monkeypatch.setattr(closed_gate, "run_match", match)
    result = run_gate(ctx, [cand])
    (specs, games, kw), = played
    assert specs == [f"neural:sims=4,model={ctx.data().data_dir}/models/cand.pt",
                     f"neural:sims=4,model={ctx.data().data_dir}/models/best.pt"]  # the deployed player
    assert games == 40 and kw["opening"] == 4 and kw["sprt"].elo1 == 50
    assert result["promoted"] and result["reference"] == best and result["sprt"]["decision"] == "H1"
    assert "accepts H1 after 22 games" in result["reason"] and result["games"] == 22
    assert "power" in result["error_rates"]
    with ModelRegistry(ctx.data().registry_path) as reg:
        assert reg.get(cand)["status"] == "active" and reg.get(best)["status"] == "deprecated"
    assert run_gate(ctx, [cand]) == json.loads(closed_gate.gate_path(ctx).read_text())["result"]
    assert len(played) == 1  # a re-run returns the recorded decision


def test_first_model_must_pass_the_rule_against_the_anchor(make_ctx):
    """Real games: 4 cannot reach the bound of H1 (+50 Elo), so the first net is rejected, named."""
    ctx = loop_ctx(make_ctx, first_model="anchor", anchor="D1", max_games=4)
    cand = register(ctx, "first", ModelStatus.CANDIDATE, 1)
    result = run_gate(ctx, [cand])
    assert result["reference"] == "D1" and result["reference_kind"] == "anchor" and not result["promoted"]
    assert result["games"] == 4 and "undecided after 4 of at most 4 games" in result["reason"]
    record = json.loads(closed_gate.gate_path(ctx).read_text())
    assert record["players"]["reference"] == "D1" and record["error_rates"]["power"] == 0.0
    with ModelRegistry(ctx.data().registry_path) as reg:
        assert reg.get(cand)["status"] == "deprecated" and reg.best("hex8", 2) is None


@pytest.mark.parametrize("key, value, expected", [
    ("teachers", ["D9"], "closed_loop.bootstrap.teachers: 'D9' plays whatever net is best"),
    ("teachers", ["nosuch"], "closed_loop.bootstrap.teachers: player 'nosuch' is not available"),
    ("player", "D4", "closed_loop.player: 'D4' does not play the net"),
])
def test_players_the_loop_cannot_use_are_refused_before_any_game(make_ctx, key, value, expected):
    ctx = make_ctx(profile="tiny-az")
    loop = ctx.settings.closed_loop
    loop = (loop.model_copy(update={"player": value}) if key == "player" else
            loop.model_copy(update={"bootstrap": loop.bootstrap.model_copy(update={key: value})}))
    ctx = ctx.model_copy(update={"settings": ctx.settings.model_copy(update={"closed_loop": loop})})
    with pytest.raises(PermanentPhaseError, match=expected):
        play_and_store(ctx)
