"""Training shards: round trip, manifest, and the replay window of the newest K samples."""
from __future__ import annotations

import json

import numpy as np
import pytest

from infra.shards import Samples, SparsePolicy, list_shards, load_shard, replay_window, sha256_file, write_shard


def make(start: int, n: int, sparse: bool) -> Samples:
    ids = np.arange(start, start + n)
    features = np.broadcast_to(ids[:, None, None, None], (n, 4, 8, 8)).astype(np.float32)
    if sparse:
        policy = SparsePolicy.from_pairs([[(int(i) % 64, 0.75), ((int(i) + 1) % 64, 0.25)][: 1 + int(i) % 2]
                                          for i in ids])
    else:
        policy = np.zeros((n, 64), np.float32)
        policy[np.arange(n), ids % 64] = 1.0
    values = np.stack([np.where(ids % 2 == 0, 1.0, -1.0), np.where(ids % 2 == 0, -1.0, 1.0)], axis=1)
    return Samples(features, policy, values.astype(np.float32))


@pytest.mark.parametrize("sparse", [False, True])
def test_shard_round_trip_and_manifest(cfg, sparse):
    samples = make(0, 50, sparse)
    info = write_shard(cfg.shards_dir, "square8", 2, samples, ["g1", "g2"], extra={"encoder": "v1"})
    manifest = json.loads(info.path.with_suffix(".json").read_text())
    assert manifest["count"] == 50 and manifest["sourceGames"] == ["g1", "g2"] and manifest["config"] == "square8_2p"
    assert manifest["sha256"] == sha256_file(info.path) and manifest["encoder"] == "v1" and manifest["createdAt"]
    back = load_shard(list_shards(cfg.shards_dir, "square8", 2)[0])
    np.testing.assert_array_equal(back.features, samples.features)
    np.testing.assert_array_equal(back.values, samples.values)
    if sparse:
        np.testing.assert_array_equal(back.policy.to_dense(64), samples.policy.to_dense(64))
    else:
        np.testing.assert_array_equal(back.policy, samples.policy)
    assert not list(info.path.parent.glob(".*tmp")), "no temporary files left behind"


@pytest.mark.parametrize("sparse", [False, True])
def test_replay_window_is_the_newest_k_samples_in_order(cfg, sparse):
    for start in (0, 30, 60):
        write_shard(cfg.shards_dir, "square8", 2, make(start, 30, sparse), [f"from-{start}"])
    window, skipped = replay_window(cfg.shards_dir, "square8", 2, 45)
    assert skipped == [] and len(window) == 45
    np.testing.assert_array_equal(window.features[:, 0, 0, 0], np.arange(45, 90))
    expected = make(45, 45, sparse)
    if sparse:
        np.testing.assert_array_equal(window.policy.to_dense(64), expected.policy.to_dense(64))
    else:
        np.testing.assert_array_equal(window.policy, expected.policy)
    np.testing.assert_array_equal(window.values, expected.values)
    everything, _ = replay_window(cfg.shards_dir, "square8", 2, 10_000)
    assert len(everything) == 90


def test_configs_are_separate_and_empty_window_is_none(cfg):
    write_shard(cfg.shards_dir, "square8", 2, make(0, 5, False), [])
    assert replay_window(cfg.shards_dir, "hex8", 2, 10) == (None, [])


def test_inconsistent_arrays_are_refused(cfg):
    s = make(0, 10, False)
    with pytest.raises(ValueError, match="sample count"):
        write_shard(cfg.shards_dir, "square8", 2, Samples(s.features, s.policy[:9], s.values), [])
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        write_shard(cfg.shards_dir, "square8", 3, s, [])
