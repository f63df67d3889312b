"""Vectorized line and region detection agree with the reference on self-play positions."""
from __future__ import annotations

import pytest
import torch

from engine.batched.lines import has_line
from engine.batched.scan import stack_tops
from engine.batched.state import from_states
from engine.batched.territory import processable_exists
from engine.rules import lines as L
from engine.rules import territory as T
from tests.gpu.test_state_roundtrip import CONFIGS, sample_positions

torch.set_num_threads(1)


@pytest.mark.parametrize("board,n", CONFIGS)
def test_lines_and_regions_match_reference(board: str, n: int) -> None:
    cap = 400 if board in ("square8", "hex8") else 300
    states = []
    for seed in range(3 if board in ("square8", "hex8") else 1):
        states += sample_positions(board, n, 100 + seed, 40, cap)
    bs = from_states(states)
    top, _ = stack_tops(bs)
    for p in range(1, n + 1):
        pt = torch.full((len(states),), p, dtype=torch.long)
        lines = has_line(bs, pt).tolist()
        regions = processable_exists(bs, top, pt).tolist()
        for s, li, re in zip(states, lines, regions):
            assert li == bool(L.find_lines(s, p))
            assert re == bool(T.processable_regions(s, p))
