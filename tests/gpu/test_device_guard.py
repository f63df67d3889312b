"""The batched engine keeps every tensor on its device (what CUDA needs and a CPU run cannot show).

The games run under `DeviceGuard` with the pretend device `DEV` (device_guard.py): a factory
call without `device=` in engine/batched, or an op mixing a device tensor with a host one,
would have made a CPU tensor on CUDA and crashed there (or copied behind our back). The
host syncs per step are counted and printed (run with -s), not failed.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.batched.check import replay_check
from engine.batched.step import BatchedGames
from engine.batched.tables import board_tables

from .device_guard import DEV, DeviceGuard

torch.set_num_threads(1)

# (board, players, games, player, move cap): every board 2p, a 3p and a 4p game, mixed seats,
# the pie rule (the per-game fallback's round trip through the reference engine), and square8's
# 8 games on 4 slots (refilled: ended games read out, new ones started on the device).
CONFIGS = [
    ("square8", 2, 8, "random", None, None),
    ("hex8", 2, 4, "heuristic", None, None),
    ("square19", 2, 2, "heuristic", 200, None),
    ("hexagonal", 2, 2, "random", 200, None),
    ("square8", 3, 3, ["heuristic", "random", "heuristic"], None, None),
    ("hex8", 4, 3, "random", None, None),
    ("square8", 2, 4, "random", None, {"swapRuleEnabled": True}),
]


def guarded_games(board: str, n: int, games: int, player, cap, rules,
                  slots: int | None = None) -> tuple[BatchedGames, DeviceGuard]:
    board_tables.cache_clear()  # tables made under the guard carry their virtual device
    guard = DeviceGuard(("engine/batched/",))
    with guard:
        g = BatchedGames(board, n, slots or games, player=player, device=str(DEV), seed=3, move_cap=cap,
                         rules_options=rules, games=games)
        g.play()
        moves, finals = g.moves(), g.final_states()
    assert g.active == 0 and len(finals) == games
    assert replay_check(board, n, moves, finals, move_cap=cap, rules_options=rules) == []
    return g, guard


@pytest.mark.parametrize("board,n,games,player,cap,rules", CONFIGS)
def test_batched_games_make_no_host_tensors(board, n, games, player, cap, rules) -> None:
    g, guard = guarded_games(board, n, games, player, cap, rules)
    assert not guard.factories and not guard.mismatches, "\n" + guard.report()
    # the guard did follow the device tensors: a step waits for them a few times at least
    assert sum(guard.syncs.values()) > g.steps
    per_step = sum(guard.syncs.values()) / g.steps
    print(f"\n{board} {n}p {player}: {per_step:.1f} host syncs per step over {g.steps} steps; top:")
    for where, count in guard.syncs.most_common(8):
        print(f"  {where}: {count / g.steps:.2f}/step")


def test_refilled_slots_make_no_host_tensors() -> None:
    """8 games on 4 slots: ended games are read out and new ones started on the device."""
    g, guard = guarded_games("square8", 2, 8, "random", None, None, slots=4)
    assert g.bs.batch == 4 and g.started == 8
    assert not guard.factories and not guard.mismatches, "\n" + guard.report()


def test_the_pretend_device_plays_the_same_games_as_the_cpu() -> None:
    a = BatchedGames("square8", 2, 6, player="heuristic", device="cpu", seed=11)
    a.play()
    b, _ = guarded_games("square8", 2, 6, "heuristic", None, None)
    a2 = BatchedGames("square8", 2, 6, player="heuristic", device="cpu", seed=3)
    a2.play()
    assert a2.moves() == b.moves() and a.moves() != b.moves()


def _factory_bug(x: torch.Tensor) -> torch.Tensor:
    return x + torch.arange(x.shape[0])  # no device=: a CPU tensor on CUDA


def _numpy_bug(x: torch.Tensor) -> torch.Tensor:
    return x * torch.from_numpy(np.ones(x.shape[0], np.float32))  # never moved to x's device


def _fine(x: torch.Tensor) -> torch.Tensor:
    y = x + torch.arange(x.shape[0], device=x.device)
    y = y * torch.from_numpy(np.ones(x.shape[0], np.float32)).to(x.device)
    y = y + torch.tensor(2.0)  # a CPU scalar is allowed next to CUDA tensors
    return y[torch.tensor([0, 1])]  # and so are CPU indices into a CUDA tensor


def test_the_guard_finds_factory_calls_and_mixes() -> None:
    guard = DeviceGuard(("tests/gpu/",))
    with guard:
        x = torch.zeros(4, device=DEV)
        assert x.device == DEV and (x + 1).device == DEV
        _factory_bug(x)
        _numpy_bug(x)
        bool((x > 0).any())
    assert [k.split(":")[0] for k in guard.factories] == ["tests/gpu/test_device_guard.py"]
    assert any("torch.arange" in k for k in guard.factories)
    assert len(guard.mismatches) == 2 and all("mixed" in k for k in guard.mismatches)
    assert any("__bool__" in k for k in guard.syncs)


def test_the_guard_accepts_what_cuda_accepts() -> None:
    guard = DeviceGuard(("tests/gpu/",))
    with guard:
        _fine(torch.zeros(4, device=DEV))
    assert not guard.mismatches, guard.report()
    assert [k for k in guard.factories if "tensor" not in k] == []


def test_a_moved_tensor_leaves_its_source_on_the_host() -> None:
    guard = DeviceGuard(("tests/gpu/",))
    with guard:
        x = torch.zeros(4, device=DEV)
        host = torch.ones(4, device="cpu")
        moved = host.to(x.device)
        x + moved
        assert not guard.mismatches
        x + host
    assert len(guard.mismatches) == 1
