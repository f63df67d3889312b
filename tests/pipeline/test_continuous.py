"""Continuous mode: the ledger, selfplay batches, training on new games only, and the chains as flows
against the session's Prefect server, with prefect.yaml's triggers checked against the events the
flows really emitted (read back through the server's events API)."""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
import yaml

from infra.data_config import load_data_config
from infra.gamestore import GameStore
from infra.registry import ModelRegistry
from tasks.common import phase_key
from tasks.ledger import claim_batch, read_ledger, record_training, untrained
from tasks.selfplay import play_and_store, player_version, seed_base
from tasks.train import MOVES_PER_SAMPLE, export_shard

from . import api

REPO = Path(__file__).resolve().parents[2]


def continuous_triggers() -> dict[str, dict]:
    """`<flow>/<board>` -> the trigger declared in prefect.yaml, for the continuous deployments."""
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    flows = {"flows/continuous.py:train_on_games": "continuous-train",
             "flows/continuous.py:evaluate_and_gate": "continuous-evaluate"}
    return {f"{flows[d['entrypoint']]}/{d['name']}": d["triggers"][0] for d in spec["deployments"]
            if d["entrypoint"] in flows and d.get("triggers")}


def test_batches_play_new_seeds_and_training_takes_only_new_games(make_ctx, tmp_path):
    data = load_data_config(data_dir=tmp_path / "data")

    def continuous(**fields):  # a window that holds every game here (the next test caps it)
        return make_ctx(train={"window_samples": 10**6}).model_copy(update={"mode": "continuous", **fields})
    first, second = (continuous(batch=claim_batch(data, "hex8_2p")) for _ in range(2))
    assert (first.batch, second.batch) == (1, 2) and read_ledger(data, "hex8_2p")["next_batch"] == 3
    assert seed_base(first) != seed_base(second)
    assert phase_key("selfplay", first, []) != phase_key("selfplay", second, [])
    assert phase_key("selfplay", make_ctx(), []) == phase_key("selfplay", make_ctx(), [])  # iterations unchanged
    for ctx in (first, second):
        assert play_and_store(ctx)["inserted"] == 6
    assert untrained(data, "hex8", 2) == (0, 12, 12)
    shard = export_shard(continuous(rows=(0, 12)), data)
    assert shard["games"] == 12 and not shard["reused"]
    assert export_shard(continuous(rows=(0, 12)), data)["reused"]  # a retry writes nothing
    record_training(data, "hex8_2p", 12, iteration=1)
    assert untrained(data, "hex8", 2) == (12, 12, 0)
    with GameStore(data.game_db_path("hex8", 2), "t", read_only=True) as store:
        tags = [row[4] for row in store.json_rows(["$.metadata.pipeline.batch"])]
    assert sorted(set(tags)) == [1, 2]


def test_training_exports_only_the_newest_games_its_window_holds(make_ctx, tmp_path):
    """Selfplay can outrun training (issue 18's soak: 7,000 games behind, a 4 GB training run): the
    export takes the newest games until their positions fill `train.window_samples`."""
    data = load_data_config(data_dir=tmp_path / "data")
    ctx = make_ctx().model_copy(update={"mode": "continuous", "batch": claim_batch(data, "hex8_2p")})
    assert play_and_store(ctx)["inserted"] == 6
    with GameStore(data.game_db_path("hex8", 2), "t", read_only=True) as store:
        games = list(store.records_between(0, 6))
    lengths = [len(g["moves"]) for g in games]
    window = (lengths[-1] + lengths[-2]) // MOVES_PER_SAMPLE  # the newest two games' moves reach 3x it
    kept = next(k for k in range(1, 7) if sum(lengths[-k:]) >= MOVES_PER_SAMPLE * window)
    assert 1 <= kept <= 2
    small = make_ctx(train={"window_samples": window}).model_copy(update={"mode": "continuous", "rows": (0, 6)})
    shard = export_shard(small, data)
    assert shard["games"] == kept < 6  # the older games of the backlog are not exported
    full = export_shard(make_ctx(train={"window_samples": 10**6}, iteration=2).model_copy(
        update={"mode": "continuous", "rows": (0, 6)}), data)
    assert full["games"] == 6 and full["samples"] > shard["samples"]


def test_each_seat_records_the_profile_version_it_played_with():
    from engine.players import make_player
    from engine.players.profiles import load_profile
    version = load_profile("hex8", 2).version
    assert player_version(make_player("heuristic", seed=1), "hex8", 2) == f"heuristic@{version}"
    assert player_version(make_player("mcts", seed=1), "hex8", 2) == f"mcts@{version}"
    assert player_version(make_player("random", seed=1), "hex8", 2) == "random"


def test_the_evaluation_trigger_is_declared_off_and_training_has_none():
    """Training is queued by the selfplay loop on the amount of new data (tasks/continuous_control.py), not
    by a count of events: no continuous-train deployment has a trigger."""
    triggers = continuous_triggers()
    boards = ("square8", "square19", "hex8", "hexagonal")
    assert set(triggers) == {f"continuous-evaluate/{b}" for b in boards}
    assert not any(t["enabled"] for t in triggers.values())
    evaluate = triggers["continuous-evaluate/hex8"]
    assert evaluate["expect"] == ["rift.model.registered"]
    assert evaluate["parameters"]["model"] == "{{ event.payload.model }}"


def test_the_chains_run_as_flows_and_the_triggers_match_their_events(prefect_api, tmp_path):
    """selfplay_loop -> train_on_games -> evaluate_and_gate, called here in order (the end-to-end test
    lets the server's triggers start them); a second training finds no new games and does not train."""
    from prefect.server.events.schemas.automations import EventTrigger
    from prefect.server.events.schemas.events import ReceivedEvent

    from flows.continuous import evaluate_and_gate, selfplay_loop, train_on_games
    data = str(tmp_path / "data")
    played = selfplay_loop("square8", 2, "tiny", batches=2, data_dir=data)
    assert played == {"config": "square8_2p", "batches": 2, "games": 12, "trainings": 0}  # no deployment here
    trained = train_on_games("square8", 2, "tiny", data_dir=data)
    assert trained["trained"] and trained["new_games"] == 12 and trained["iteration"] == 1
    again = train_on_games("square8", 2, "tiny", data_dir=data)
    assert again == {"config": "square8_2p", "trained": False, "new_games": 0, "min_games": 6}
    rated = evaluate_and_gate("square8", trained["model"], trained["iteration"], 2, "tiny", data_dir=data)
    assert rated["model"] == trained["model"] and rated["rating"] is not None
    twice = evaluate_and_gate("square8", trained["model"], trained["iteration"], 2, "tiny", data_dir=data)
    assert twice["skipped"] in ("active", "deprecated")  # the trigger and `off` both asked: evaluated once
    with ModelRegistry(tmp_path / "data" / "registry.db") as reg:
        models = reg.models_frame("square8", 2)
    assert list(models["id"]) == [trained["model"]] and models["rating"].notna().all()
    nxt = selfplay_loop("square8", 2, "tiny", batches=1, data_dir=data)  # plays for iteration 2 now
    assert nxt["games"] == 6
    with GameStore(tmp_path / "data" / "games" / "square8_2p.db", "t", read_only=True) as store:
        newest = store.json_rows(["$.metadata.pipeline.iteration", "$.metadata.pipeline.model"], 1)[0]
    assert newest[4:] == (2, trained["model"] if rated["promoted"] else None)  # the best model then, if any

    # the events the flows emitted, as the server stored them, against prefect.yaml's triggers
    wanted = {"filter": {"event": {"name": ["rift.games.added", "rift.model.registered"]},
                         "resource": {"id": ["rift.config.square8_2p"]}}, "limit": 50}
    deadline = time.monotonic() + 30
    while True:  # the client sends events in the background: give the last ones a moment to arrive
        events: dict[str, list[ReceivedEvent]] = {}
        for e in api.post(api.current_api(), "/events/filter", wanted)["events"]:
            events.setdefault(e["event"], []).append(ReceivedEvent.model_validate(e))
        if len(events.get("rift.games.added", [])) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(events["rift.games.added"]) == 3 and len(events["rift.model.registered"]) == 1
    registered = events["rift.model.registered"][0]
    assert registered.payload["model"] == trained["model"] and registered.payload["iteration"] == 1
    for name, trigger in continuous_triggers().items():
        server = EventTrigger.model_validate({"posture": "Reactive", **{
            k: trigger[k] for k in ("expect", "match", "for_each", "threshold", "within") if k in trigger}})
        ours = name.endswith("/square8")
        assert not any(server.covers(e) for e in events["rift.games.added"]), name
        assert server.covers(registered) == ours, name
        iteration_event = registered.model_copy(update={"resource": registered.resource.model_copy(
            update={"root": {**registered.resource.root, "rift.mode": "iteration"}})})
        assert not server.covers(iteration_event)  # `rift iterate`'s own events start nothing


def test_selfplay_plays_with_the_synced_best_profile(make_ctx, tmp_path):
    """profile_sync's best profile (data/profiles/<config>.json) is what selfplay's heuristic seats
    play with, and each game records its version; without one, config/profiles is used."""
    from engine.players.profiles import load_profile, profile_path, save_profile
    from tasks.cmaes import local_profiles_dir

    data = load_data_config(data_dir=tmp_path / "data")
    ctx = make_ctx(selfplay={"games": 2, "mix": "heuristic-only"})
    play_and_store(ctx)
    repo_version = load_profile("hex8", 2).version
    tuned = load_profile("hex8", 2)
    tuned = dataclasses.replace(tuned, version="tuned-by-cmaes-7")
    save_profile(tuned, profile_path("hex8", 2, local_profiles_dir(data)))
    play_and_store(make_ctx(iteration=2, selfplay={"games": 2, "mix": "heuristic-only"}))
    # profile_sync rewrites the same file later: this process (processes 1) must not keep the old one
    save_profile(dataclasses.replace(tuned, version="tuned-by-cmaes-8"), profile_path("hex8", 2, local_profiles_dir(data)))
    play_and_store(make_ctx(iteration=3, selfplay={"games": 2, "mix": "heuristic-only"}))
    with GameStore(data.game_db_path("hex8", 2), "t", read_only=True) as store:
        rows = store.json_rows(["$.metadata.pipeline.iteration", "$.metadata.playerVersions"])
    versions = {row[4]: set() for row in rows}
    for row in rows:
        versions[row[4]].update(json.loads(row[5]) if isinstance(row[5], str) else row[5])
    assert versions == {1: {f"heuristic@{repo_version}"}, 2: {"heuristic@tuned-by-cmaes-7"},
                        3: {"heuristic@tuned-by-cmaes-8"}}


def test_every_searching_seat_takes_the_synced_profile(tmp_path):
    """MCTS, minimax and descent evaluate with heuristic weights, so a tuned profile reaches them as
    it reaches the heuristic; random has no weights and the neural player its own net."""
    from engine.players import make_player
    from engine.players.profiles import load_profile, save_profile
    from tasks.players import tuned_player

    path = tmp_path / "hex8_2p.json"
    save_profile(dataclasses.replace(load_profile("hex8", 2), version="tuned-9"), path)
    for spec in ("heuristic", "mcts:simulations=4", "minimax", "descent", "D6"):
        player = tuned_player(spec, 1, str(path))
        assert player_version(player, "hex8", 2) == f"{player.name}@tuned-9", spec
    assert player_version(tuned_player("random", 1, str(path)), "hex8", 2) == "random"
    with pytest.raises(ValueError, match="not both"):
        make_player("mcts", seed=1, profile=load_profile("hex8", 2), evaluator=object())
