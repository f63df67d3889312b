"""profile_sync compares scores only against the same reference: it keeps the better of two profiles
measured against the configured reference (ties keep the current best), and re-measures or refuses
a profile measured against another reference, so a 1.0 on another scale no longer blocks the best."""
from __future__ import annotations

import json
from pathlib import Path

from engine.players.profiles import load_profile, profile_from_vector, profile_to_dict, save_profile, weights_vector
from infra.storage import ArtifactStore
from tasks import profile_sync as sync
from tasks.tuning import measure, resolve_reference

SYNCED = Path("profiles") / "hex8_2p.json"


def variant(delta: float, version: str, score: float | None = None, reference: str | None = None,
            fitness: float | None = None):
    """The default hex8 2p weights with `mobility` moved by `delta`, with a recorded measurement."""
    x = weights_vector(load_profile("hex8", 2))
    x[list(load_profile("hex8", 2).weights).index("mobility")] += delta
    meta = None
    if score is not None:
        meta = {"reference": {"name": "r", "id": reference},
                "confirm": {"reference": reference, "reference_name": "r", "games": 200, "seed": 11,
                            "opening_plies": 4, "score": score, "ci95": [score - 0.07, score + 0.07]}}
    return profile_from_vector(x, version=version, fitness=score if fitness is None else fitness, metadata=meta)


def losing(version: str, fitness: float | None = None):
    """Every weight negated: a heuristic that prefers the worst move, so it loses to the default."""
    return profile_from_vector(-weights_vector(load_profile("hex8", 2)), version=version, fitness=fitness)


def publish(ctx, key: str, profile) -> None:
    store = ArtifactStore.from_config(ctx.data())
    try:
        store.write_bytes(f"profiles/hex8_2p/{key}.json", json.dumps(profile_to_dict(profile)).encode())
    finally:
        store.close()


def synced(ctx) -> dict:
    return json.loads((ctx.data().data_dir / SYNCED).read_text())


def test_keeps_the_better_of_two_profiles_measured_against_the_same_reference(make_ctx):
    ctx = make_ctx()
    ref = resolve_reference("default", "hex8", 2).id
    publish(ctx, "host-a/i1", variant(0.1, "a", 0.58, ref))
    publish(ctx, "host-b/i1", variant(0.2, "b", 0.62, ref))
    publish(ctx, "host-c/i1", variant(0.3, "c-tie", 0.62, ref))  # a tie does not replace b
    out = sync.merge_profiles(ctx)
    assert out["best"] == "b" and out["changed"] and out["fitness"] == 0.62 and out["reference"] == ref
    assert out["refused"] == [] and out["remeasured"] == 0  # recorded scores, no games played
    assert synced(ctx)["metadata"]["confirm"]["score"] == 0.62 and synced(ctx)["version"] == "b"
    publish(ctx, "host-d/i2", variant(0.4, "d", 0.60, ref))
    again = sync.merge_profiles(ctx)
    assert not again["changed"] and again["best"] == "b"
    publish(ctx, "host-e/i3", variant(0.5, "e", 0.66, ref))
    assert sync.merge_profiles(ctx)["best"] == "e"


def test_real_measurements_against_the_reference_decide(make_ctx, tmp_path):
    """Two real profile files measured by real matches (8 games each) on the same reference: the
    higher measured score is kept, and the measurement travels with it."""
    ctx = make_ctx()
    ref = resolve_reference("default", "hex8", 2)
    scores = {}
    for name, prof in (("weak", losing("weak")), ("mild", variant(0.3, "mild"))):
        path = tmp_path / f"{name}.json"
        save_profile(prof, path)
        m = measure("hex8", 2, path, ref, 8, seed=123, opening_plies=4, move_cap=None)
        assert m.games == 8 and m.reference == ref.id and m.lo <= m.score <= m.hi
        scores[name] = m.score
        publish(ctx, f"host/{name}", profile_from_vector(weights_vector(prof), version=name, fitness=m.score,
                                                         metadata={"confirm": m.to_dict()}))
    assert scores["weak"] < 0.5
    out = sync.merge_profiles(ctx)
    winner = max(scores, key=scores.get) if max(scores.values()) > 0.5 else "default-v1"
    assert out["best"] == winner and out["remeasured"] == 0


def test_another_reference_is_refused_with_the_reason_when_remeasuring_is_off(make_ctx):
    ctx = make_ctx(cmaes={"remeasure": False})
    ref = resolve_reference("default", "hex8", 2).id
    publish(ctx, "host-a/i1", variant(0.1, "other-scale", 0.99, "old-best-v3#0123456789ab"))
    publish(ctx, "host-b/i1", variant(0.2, "same-scale", 0.55, ref))
    out = sync.merge_profiles(ctx)
    assert out["best"] == "same-scale" and out["changed"] and out["remeasured"] == 0
    [refused] = out["refused"]
    assert refused["profile"] == "profiles/hex8_2p/host-a/i1.json"
    assert "old-best-v3#0123456789ab" in refused["reason"] and ref in refused["reason"]
    assert "not comparable" in refused["reason"]


def test_another_reference_is_remeasured_and_its_old_number_is_not_trusted(make_ctx):
    """A losing profile that claims 0.99 against another reference is re-measured against the
    configured one (real games), loses, and is not kept; the measurement is cached."""
    ctx = make_ctx()  # tiny: confirm_games 4, remeasure on
    ref = resolve_reference("default", "hex8", 2).id
    claimed = losing("claims-0.99")
    claimed = profile_from_vector(weights_vector(claimed), version=claimed.version, fitness=0.99,
                                  metadata=variant(0, "x", 0.99, "old-best-v3#0123456789ab").metadata)
    publish(ctx, "host-a/i1", claimed)
    out = sync.merge_profiles(ctx)
    assert out["remeasured"] == 1 and out["refused"] == [] and not out["changed"]
    assert out["best"] == "default-v1" and out["fitness"] == 0.5
    cache = json.loads((ctx.data().data_dir / "pipeline" / "hex8_2p" / "measurements.json").read_text())
    [m] = cache.values()
    assert m["reference"] == ref and m["games"] == 4 and m["score"] < 0.5 and "re-measured" in m["how"]
    again = sync.merge_profiles(ctx)
    assert again["remeasured"] == 0 and not again["changed"]


def test_a_legacy_best_at_fitness_one_is_replaced_by_a_better_confirmed_profile(make_ctx):
    """The old rule kept a 1.0 forever. A synced best without a recorded reference is re-measured
    (here it loses), so a profile confirmed at 0.56 against the reference replaces it."""
    ctx = make_ctx()
    save_profile(losing("legacy-1.0", fitness=1.0), ctx.data().data_dir / SYNCED)
    ref = resolve_reference("default", "hex8", 2).id
    publish(ctx, "host-a/i4", variant(0.2, "confirmed", 0.56, ref))
    out = sync.merge_profiles(ctx)
    assert out["remeasured"] == 1 and out["changed"] and out["best"] == "confirmed" and out["fitness"] == 0.56
    assert synced(ctx)["version"] == "confirmed"
    blocked = make_ctx(cmaes={"remeasure": False}, data_dir=ctx.data().data_dir.parent / "other")
    save_profile(losing("legacy-1.0", fitness=1.0), blocked.data().data_dir / SYNCED)
    publish(blocked, "host-a/i4", variant(0.2, "confirmed", 0.56, ref))
    out = sync.merge_profiles(blocked)
    assert not out["changed"] and out["best"] == "legacy-1.0" and out["fitness"] is None
    assert any("no confirmed measurement" in r["reason"] for r in out["refused"])
