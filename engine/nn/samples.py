"""Selfplay side of training: game records (+ search visit counts) -> shard arrays.

Each decision position of a game becomes one sample: its planes, a policy
target over policy indices (the search's visit distribution when one is given,
else the move actually played, one-hot), and the game's outcome per seat in the
mover-relative frame of the encoding (slot 0 = the player to move). Positions
with a single legal move (the bookkeeping no-action moves, forced single
choices) teach nothing and are skipped.

A record played with playout-cap randomisation (engine.nn.selfplay) carries its
targets in metadata["searchTargets"]; then only the positions that had a full
search become samples, for the policy *and* the value. Why not values for the
fast ones too: a shard row holds both targets (the loss has no mask), and the
extra rows would be near-copies of their neighbours with the same outcome; the
value gain of playout caps comes from playing more games per compute, not from
more rows per game (KataGo records only full-search turns as well).

Augmentation happens here, where the states and moves exist: with
`augment="random"` each position is written under one random board symmetry,
with "all" under every symmetry (engine.nn.symmetry explains why policy targets
cannot be permuted later without the state).
"""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from engine.game import new_game
from engine.moves import Move
from engine.nn.encoding import ENCODING_VERSION, encode_batch, outcome_values, seats_to_values
from engine.nn.policy import POLICY_VERSION, indices_of
from engine.nn.symmetry import num_symmetries, transform_sample
from engine.records import SEARCH_TARGETS, SEARCH_VALUES
from engine.rules import apply_in_place, legal_moves
from engine.state import GameState
from infra.shards import Samples, ShardInfo, SparsePolicy, write_shard

Augment = Literal["none", "random", "all"]
Visits = Mapping[Move, float] | None


def _target(state: GameState, moves: Sequence[Move], weights: Sequence[float]) -> list[tuple[int, float]]:
    """(index, probability) pairs; moves without a policy index are dropped and the rest renormalised."""
    idx = indices_of(state, moves, strict=False)
    pairs = [(int(i), float(w)) for i, w in zip(idx, weights) if i >= 0 and w > 0]
    total = sum(w for _, w in pairs)
    return [(i, w / total) for i, w in pairs] if total > 0 else []


def search_values(record: dict) -> list[list[float] | None] | None:
    """The record's per-move search values (metadata["searchValues"]: per seat, index 0 = seat 1,
    None where the move had no search), or None when the record has none."""
    return (record.get("metadata") or {}).get(SEARCH_VALUES)


def game_positions(record: dict, visits: Sequence[Visits] | None = None, *, value_rows: bool = False
                   ) -> tuple[list[tuple[GameState, Move, Visits]], GameState]:
    """Replay a record: (state before the move, the legal move played, its visits) at every
    position that had more than one legal move, and the final state. Without `visits`, a
    record's own search targets are used, and positions without one are left out, or with
    `value_rows` kept with an empty target ({}: a value-only row)."""
    positions, final = _indexed_positions(record, visits, value_rows)
    return [p[1:] for p in positions], final


def _indexed_positions(record: dict, visits: Sequence[Visits] | None, value_rows: bool
                       ) -> tuple[list[tuple[int, GameState, Move, Visits]], GameState]:
    """game_positions with each position's move index first."""
    state = new_game(record["boardType"], int(record["numPlayers"]),
                     rules_options=record.get("rulesOptions"), move_cap=0)
    recorded = (record.get("metadata") or {}).get(SEARCH_TARGETS) if visits is None else None
    out = []
    for i, raw in enumerate(record["moves"]):
        move = Move.from_json(raw) if isinstance(raw, dict) else raw
        legal = legal_moves(state)
        played = next((m for m in legal if m == move), None)
        if played is None:
            raise ValueError(f"game {record.get('id')}: move {i + 1} ({move!r}) is not legal in the replay")
        if len(legal) > 1 and recorded is not None:
            if recorded[i]:
                out.append((i, state.copy(), played, {legal[int(j)]: float(p) for j, p in recorded[i]}))
            elif value_rows:
                out.append((i, state.copy(), played, {}))
        elif len(legal) > 1:
            out.append((i, state.copy(), played, visits[i] if visits is not None else None))
        apply_in_place(state, played)
    return out, state


def value_target(outcome: Sequence[float], searched: Sequence[float] | None, mix: float) -> list[float]:
    """Per-seat value target: the game's outcome, blended with the search's value of the position
    where one was recorded ((1 - mix) * outcome + mix * search). Why: an outcome is one noisy
    draw at the end of a long game (a value head fit on outcomes alone stayed near MSE 0.92, nearly
    blind); the search's value of the position is what it believed with far less variance, and
    the blend keeps the outcome's unbiased signal (as KataGo and Leela blend q and z)."""
    if searched is None or mix <= 0:
        return list(outcome)
    return [(1.0 - mix) * float(z) + mix * float(q) for z, q in zip(outcome, searched)]


def samples_from_games(
    records: Sequence[dict],
    visits: Sequence[Sequence[Visits] | None] | None = None,
    *,
    augment: Augment = "random",
    seed: int = 0,
    value_rows: bool = False,
    value_mix: float = 0.0,
) -> Samples | None:
    """Samples from finished games; `visits[g][i]` is the visit distribution of game g's
    move i (None where the move was not searched: the played move is the target).

    With `value_rows`, positions of searched games that have no policy target (fast searches,
    random opening plies) become value-only rows (no policy pairs: they add nothing to the
    policy loss): every position's outcome teaches the value head, not only the ~25% that had
    a full search, which is most of the value data a game holds."""
    rng = random.Random(seed)
    states: list[GameState] = []
    pairs: list[list[tuple[int, float]]] = []
    values: list[list[float]] = []
    for g, record in enumerate(records):
        positions, final = _indexed_positions(record, visits[g] if visits is not None else None, value_rows)
        outcome = outcome_values(final)
        searched = search_values(record) if value_mix > 0 else None
        for i, state, played, dist in positions:
            value = seats_to_values(state, value_target(outcome, searched[i] if searched else None, value_mix))
            value_only = dist is not None and len(dist) == 0
            moves, weights = (list(dist), list(dist.values())) if dist else ([played], [1.0])
            n_sym = num_symmetries(state.board_type)
            ks = {"none": [0], "random": [rng.randrange(n_sym)], "all": range(n_sym)}[augment]
            for k in ks:
                ts, tmoves = transform_sample(state, moves, k)
                target = [] if value_only else _target(ts, tmoves, weights)
                if not target and not value_only:
                    continue
                states.append(ts)
                pairs.append(target)
                values.append(value)
    if not states:
        return None
    features = np.concatenate([encode_batch(states[i:i + 512]) for i in range(0, len(states), 512)])
    return Samples(features.astype(np.float16), SparsePolicy.from_pairs(pairs), np.asarray(values, np.float32))


def write_game_shard(
    shards_dir: Path,
    records: Sequence[dict],
    visits: Sequence[Sequence[Visits] | None] | None = None,
    *,
    augment: Augment = "random",
    seed: int = 0,
    store: Any | None = None,
) -> ShardInfo | None:
    """Encode games of one configuration and write them as one shard (None when no sample).

    The shard is durable locally on return; with `store` (infra.storage.ArtifactStore) it and
    its manifest are also uploaded in the background under shards/<config>/."""
    if not records:
        return None
    board, n = records[0]["boardType"], int(records[0]["numPlayers"])
    if any(r["boardType"] != board or int(r["numPlayers"]) != n for r in records):
        raise ValueError("write_game_shard: every record must share one board type and player count")
    samples = samples_from_games(records, visits, augment=augment, seed=seed)
    if samples is None:
        return None
    extra = {"encodingVersion": ENCODING_VERSION, "policyVersion": POLICY_VERSION,
             "valueFrame": "mover", "augment": augment}
    info = write_shard(shards_dir, board, n, samples, [r.get("id", "") for r in records], extra=extra)
    if store is not None:
        for path in (info.path, info.path.with_suffix(".json")):
            store.save_and_upload(path, f"shards/{info.manifest['config']}/{path.name}")
    return info
