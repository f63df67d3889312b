"""State -> planes: shapes on every configuration, seat rotation, content of each plane family."""
from __future__ import annotations

import numpy as np
import pytest

from engine import new_game
from engine.nn.encoding import (
    NUM_PLANES, PLANE, encode, encode_batch, plane_shape, seats_to_values, values_to_seats,
)
from engine.nn.grid import grid

from .positions import CONFIGS, make_state, positions


def at(planes: np.ndarray, board: str, key: str, name: str) -> float:
    """The value of plane `name` at the cell with position key `key`."""
    from engine.geometry import geometry
    g = grid(board)
    pos = int(g.pos[geometry(board).index[key]])
    return float(planes[PLANE[name]].reshape(-1)[pos])


@pytest.mark.parametrize("board,n", CONFIGS)
def test_shapes_mask_and_batches_on_every_config(board, n):
    states = positions(board, n)[::25]
    batch = encode_batch(states)
    g = grid(board)
    assert batch.shape == (len(states), *plane_shape(board)) and batch.dtype == np.float32
    assert plane_shape(board)[0] == NUM_PLANES
    assert g.mask.sum() == len(g.pos) == states[0].geo.num_cells
    np.testing.assert_array_equal(batch[:, PLANE["valid"]], np.broadcast_to(g.mask, batch[:, 0].shape))
    assert not batch[:, :, g.mask == 0].any(), "nothing is written off the board"
    np.testing.assert_array_equal(batch[-1], encode(states[-1]))
    assert batch[0, PLANE[f"players_{n}"]].sum() == g.mask.sum()
    for k in range(4):  # absent seats stay empty
        assert (batch[:, PLANE[f"seat{k}_in_play"]].any() if k < n else not batch[:, PLANE[f"seat{k}_hand"]].any())


def test_start_position_planes():
    s = new_game("hex8", 3)
    x = encode(s)
    cells = grid("hex8").mask.sum()
    assert x[PLANE["empty"]].sum() == cells
    assert x[PLANE["phase_ring_placement"]].sum() == cells and x[PLANE["phase_movement"]].sum() == 0
    for k in range(3):
        assert x[PLANE[f"seat{k}_hand"]].sum() == cells  # 18/18 rings in hand
    assert x[PLANE["seat3_hand"]].sum() == 0


def test_board_planes_from_the_movers_point_of_view():
    s = make_state("square8", 3, stacks={"0,0": [2, 1, 2], "3,3": [1, 1, 3], "5,5": [3]},
                   markers={"1,1": 2, "2,2": 3}, collapsed={"7,7": 1}, hands=[1, 2, 3], current=2)
    x = encode(s)
    # Seat 2 is to move: slot 0 = seat 2, slot 1 = seat 3, slot 2 = seat 1.
    assert at(x, "square8", "0,0", "seat0_stack") == 1 and at(x, "square8", "0,0", "seat2_stack") == 0
    assert at(x, "square8", "0,0", "seat0_height") == 3 / 8 and at(x, "square8", "0,0", "seat0_cap") == 1 / 8
    assert at(x, "square8", "0,0", "seat0_rings") == 2 / 8 and at(x, "square8", "0,0", "seat2_rings") == 1 / 8
    assert at(x, "square8", "0,0", "seat2_buried") == 1 and at(x, "square8", "0,0", "seat0_buried") == 1
    assert at(x, "square8", "3,3", "seat2_stack") == 1 and at(x, "square8", "3,3", "seat2_cap") == 2 / 8
    assert at(x, "square8", "3,3", "seat1_buried") == 1 and at(x, "square8", "5,5", "seat1_stack") == 1
    assert at(x, "square8", "1,1", "seat0_marker") == 1 and at(x, "square8", "2,2", "seat1_marker") == 1
    assert at(x, "square8", "7,7", "seat2_territory") == 1 and at(x, "square8", "7,7", "empty") == 0
    assert at(x, "square8", "4,4", "empty") == 1
    assert at(x, "square8", "4,4", "seat0_hand") == pytest.approx(2 / 18)
    assert at(x, "square8", "4,4", "seat2_hand") == pytest.approx(1 / 18)
    assert at(x, "square8", "4,4", "phase_movement") == 1


def test_value_frames_round_trip():
    s = make_state("square8", 4, current=3)
    rel = seats_to_values(s, [0.1, 0.2, 0.3, 0.4])
    assert rel == [0.3, 0.4, 0.1, 0.2]
    assert values_to_seats(s, rel) == [0.1, 0.2, 0.3, 0.4]


def test_a_mixed_batch_is_refused():
    with pytest.raises(ValueError):
        encode_batch([new_game("square8", 2), new_game("hex8", 2)])
