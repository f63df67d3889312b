"""Batched inference: the server batches concurrent games, reloads through its own control path,
and the evaluator and player built on it answer for legal moves only."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from engine import apply, legal_moves, new_game
from engine.nn.evaluator import NeuralEvaluator, NeuralPlayer, _priors
from engine.nn.inference import InferenceConfig, InferenceServer
from engine.nn.model import NetConfig, build_model, model_bytes
from engine.nn.policy import legal_indices
from engine.nn.runner import BatchRunner

from .positions import CONFIGS, positions


def tiny(board="square8", n=2, seed=0):
    torch.manual_seed(seed)
    return build_model(NetConfig.preset("tiny", board, n)).eval()


def test_the_server_batches_requests_from_many_threads():
    states = positions("square8", 2)[50:90]
    legal = [legal_indices(s)[1] for s in states]
    direct = BatchRunner(tiny()).evaluate(states, legal)
    results: dict[int, list] = {}
    with InferenceServer(tiny(), InferenceConfig(max_batch_size=64, batch_timeout_ms=50)) as server:
        barrier = threading.Barrier(len(states))

        def game(i):
            barrier.wait()
            results[i] = server.evaluate([states[i]], [legal[i]], timeout=30)

        threads = [threading.Thread(target=game, args=(i,)) for i in range(len(states))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert server.stats.positions == len(states) and max(server.stats.batch_sizes) > 1
    assert server.stats.batches < len(states)
    for i, d in enumerate(direct):
        (got,) = results[i]
        np.testing.assert_allclose(got.priors, d.priors, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(got.values, d.values, rtol=1e-4, atol=1e-6)
        assert got.priors.sum() == pytest.approx(1.0, abs=1e-5)


def test_a_request_larger_than_a_batch_spans_batches():
    states = positions("hex8", 3)[:100]
    legal = [legal_indices(s)[1] for s in states]
    with InferenceServer(tiny("hex8", 3), InferenceConfig(max_batch_size=16, batch_timeout_ms=1)) as server:
        preds = server.evaluate(states, legal, timeout=30)
    assert len(preds) == 100 and all(p is not None for p in preds)
    assert max(server.stats.batch_sizes) == 16 and server.stats.batches == 7


def test_reloads_during_inference_lose_no_request_and_are_timed():
    states = positions("square8", 2)[:60]
    legal = [legal_indices(s)[1] for s in states]
    new = tiny(seed=1)
    answered, stop = [], threading.Event()
    with InferenceServer(tiny(), InferenceConfig(max_batch_size=32, batch_timeout_ms=2)) as server:
        def game(i):
            while not stop.is_set():
                answered.append(server.evaluate([states[i]], [legal[i]], timeout=30)[0])

        threads = [threading.Thread(target=game, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        tickets = [server.reload(src, reload_id=f"r{i}") for i, src in
                   enumerate([new, new.state_dict(), model_bytes(new)])]
        traces = [t.wait(30, until_used=True) for t in tickets]
        stop.set()
        for t in threads:
            t.join()
        after = server.evaluate([states[0]], [legal[0]])[0]
    assert [t.reload_id for t in traces] == ["r0", "r1", "r2"] and not any(t.error for t in traces)
    for t in traces:
        assert t.queued_s >= 0 and t.load_s > 0 and t.first_use_s >= 0 and t.total_s is not None
    assert len(answered) > 8 and all(a.priors.sum() == pytest.approx(1.0, abs=1e-5) for a in answered)
    want = BatchRunner(new).run([states[0]], [legal[0]])[0]
    np.testing.assert_allclose(after.values, want.values, rtol=1e-4, atol=1e-6)


def test_a_reload_is_never_queued_behind_pending_requests(monkeypatch):
    states = positions("square8", 2)[:1]
    legal = [legal_indices(states[0])[1]]
    server = InferenceServer(tiny(), InferenceConfig(max_batch_size=1, batch_timeout_ms=0))
    real_run = server.runner.run

    def slow_run(s, lg):
        time.sleep(0.05)
        return real_run(s, lg)

    monkeypatch.setattr(server.runner, "run", slow_run)
    with server:
        requests = [server.submit(states, legal) for _ in range(40)]  # about 2 s of queued work
        time.sleep(0.06)
        trace = server.reload(tiny(seed=2)).wait(5)
        still_pending = sum(not r.event.is_set() for r in requests)
        for r in requests:
            r.wait(30)
    assert trace.queued_s < 0.2, trace
    assert still_pending > 20, "the reload must be applied while most requests still wait"


def test_the_evaluator_answers_the_search_protocol():
    model = tiny("hex8", 3)
    over = positions("hex8", 3)[-1].copy()
    over.status, over.winner = "completed", 2
    states = list(positions("hex8", 3)[100:104]) + [over]
    out = NeuralEvaluator.from_model(model).evaluate(states)
    with InferenceServer(model) as server:
        served = NeuralEvaluator(server).evaluate(states)
    for s, (priors, values), (priors2, values2) in zip(states[:-1], out, served):
        assert set(priors) == set(legal_moves(s)) and sum(priors.values()) == pytest.approx(1.0)
        assert len(values) == 3 and all(-1 <= v <= 1 for v in values)
        assert values == pytest.approx(values2, abs=1e-5)
    assert out[-1] == (None, [-1.0, 1.0, -1.0])


def test_moves_without_an_index_get_the_smallest_prior():
    priors = _priors(["a", "b", "c"], np.array([5, -1, 7]), np.array([0.8, 0.0, 0.2]))
    assert priors == pytest.approx({"a": 0.8 / 1.2, "b": 0.2 / 1.2, "c": 0.2 / 1.2})


@pytest.mark.parametrize("board,n", CONFIGS)
def test_the_neural_player_plays_only_legal_moves(board, n):
    model = tiny(board, n)
    evaluator = NeuralEvaluator.from_model(model)
    for temperature in (0.0, 1.0):
        player = NeuralPlayer(evaluator, temperature=temperature, seed=1)
        s = new_game(board, n)
        for _ in range(24 if board in ("square8", "hex8") else 6):
            if s.status != "active":
                break
            move = player.choose(s)
            assert move in legal_moves(s)
            s = apply(s, move)


def test_concurrent_neural_selfplay_shares_the_servers_batches():
    from engine.nn.selfplay import play_neural_games
    from engine.records import replay
    with InferenceServer(tiny(), InferenceConfig(max_batch_size=64, batch_timeout_ms=20)) as server:
        records = play_neural_games(NeuralEvaluator(server), "square8", 2, 6, concurrency=6, move_cap=60, seed=5)
    assert [r["id"] for r in records] == [f"nn-square8-2p-{5 + i}" for i in range(6)]
    assert max(server.stats.batch_sizes) > 1
    for r in records:
        assert r["totalMoves"] <= 60 and replay(r).move_count == r["totalMoves"]
