"""Reading serialized RingRift states (RULES.md §15) for assertions and comparisons.

Everything here works on the JSON form (`state.to_json()` or a vector's state), so the
runner checks what the engine would hand to RingRift's tools, not its internals.
"""
from __future__ import annotations

from typing import Any, Iterator

from engine.conformance.model import Failure

# The four bookkeeping moves a host applies when they are the only legal move (R074-R076).
NO_ACTION_MOVES = frozenset(
    {"no_placement_action", "no_movement_action", "no_line_action", "no_territory_action"}
)


def board_of(state: dict) -> dict:
    return state.get("board") or {}


def position_key(pos: dict) -> str:
    """`"x,y"` or `"x,y,z"`, the key form of the board maps."""
    parts = [pos["x"], pos["y"]] + ([pos["z"]] if pos.get("z") is not None else [])
    return ",".join(str(int(p)) for p in parts)


def _norm_key(key: Any) -> str:
    """Board-map key normalised so that spacing or int/str differences never count."""
    text = str(key)
    try:
        return ",".join(str(int(p)) for p in text.split(","))
    except ValueError:
        return text


def stacks_of(state: dict) -> dict[str, list[int]]:
    """Stack rings by normalised key, top ring first."""
    return {_norm_key(k): list(v.get("rings") or []) for k, v in (board_of(state).get("stacks") or {}).items()}


def markers_of(state: dict) -> dict[str, int]:
    return {_norm_key(k): v.get("player") for k, v in (board_of(state).get("markers") or {}).items()}


def collapsed_of(state: dict) -> dict[str, int]:
    return {_norm_key(k): v for k, v in (board_of(state).get("collapsedSpaces") or {}).items()}


def board_eliminated(state: dict) -> dict[str, int]:
    """`board.eliminatedRings` with string keys and zero entries dropped (absent == 0)."""
    raw = board_of(state).get("eliminatedRings") or {}
    return {str(k): int(v) for k, v in raw.items() if int(v) != 0}


def s_invariant(state: dict) -> int:
    """S = |markers| + |collapsed| + Σ board.eliminatedRings, as the vectors assert (R191)."""
    return len(markers_of(state)) + len(collapsed_of(state)) + sum(board_eliminated(state).values())


def player_entry(state: dict, number: int) -> dict:
    for entry in state.get("players") or []:
        if entry.get("playerNumber") == number:
            return entry
    return {}


def cap_height(rings: list[int]) -> int:
    run = 0
    for ring in rings:
        if ring != rings[0]:
            break
        run += 1
    return run


def rings_of_player(state: dict, player: int) -> int:
    return sum(rings.count(player) for rings in stacks_of(state).values())


def _players_view(state: dict) -> dict[int, dict[str, Any]]:
    fields = ("ringsInHand", "eliminatedRings", "territorySpaces")
    return {
        entry.get("playerNumber"): {f: entry.get(f) for f in fields}
        for entry in state.get("players") or []
    }


def _map_diffs(path: str, expected: dict, actual: dict) -> Iterator[Failure]:
    for key in sorted(set(expected) | set(actual), key=_sort_key):
        exp, act = expected.get(key), actual.get(key)
        if exp != act:
            yield Failure(f'{path}["{key}"]', exp, act)


def _sort_key(key: Any) -> tuple:
    try:
        return (0, tuple(int(p) for p in str(key).split(",")))
    except ValueError:
        return (1, str(key))


def state_diffs(expected: dict, actual: dict, prefix: str = "") -> Iterator[Failure]:
    """Every differing key path between two serialized states, most telling first.

    Compared: gameStatus, currentPlayer, currentPhase, players' counters, then the board
    maps (stacks by rings top-first, markers by owner, collapsed spaces by owner,
    board.eliminatedRings with absent meaning 0). Caches and host fields are ignored.
    """
    for key in ("gameStatus", "currentPlayer", "currentPhase"):
        if expected.get(key) != actual.get(key):
            yield Failure(prefix + key, expected.get(key), actual.get(key))
    exp_players, act_players = _players_view(expected), _players_view(actual)
    for number in sorted(set(exp_players) | set(act_players), key=lambda n: (n is None, n)):
        exp_p, act_p = exp_players.get(number, {}), act_players.get(number, {})
        for field_name in ("ringsInHand", "eliminatedRings", "territorySpaces"):
            if exp_p.get(field_name) != act_p.get(field_name):
                yield Failure(f"{prefix}players[{number}].{field_name}", exp_p.get(field_name), act_p.get(field_name))
    yield from _map_diffs(prefix + "board.stacks", stacks_of(expected), stacks_of(actual))
    yield from _map_diffs(prefix + "board.markers", markers_of(expected), markers_of(actual))
    yield from _map_diffs(prefix + "board.collapsedSpaces", collapsed_of(expected), collapsed_of(actual))
    yield from _map_diffs(prefix + "board.eliminatedRings", board_eliminated(expected), board_eliminated(actual))


def first_state_diff(expected: dict, actual: dict, prefix: str = "") -> tuple[Failure | None, int]:
    """The first differing key path and how many differ in all (0 when equal)."""
    diffs = list(state_diffs(expected, actual, prefix))
    return (diffs[0] if diffs else None), len(diffs)
