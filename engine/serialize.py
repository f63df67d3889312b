"""RingRift serialized game-state JSON <-> GameState.

Reading validates as it goes and raises StateFormatError naming the field and
the problem; a state is only returned when every part of it was understood.
"""
from __future__ import annotations

from typing import Any, NoReturn

from engine.errors import StateFormatError
from engine.geometry import SPECS
from engine.state import PHASES, GameState


def _fail(msg: str) -> NoReturn:
    raise StateFormatError(msg)


def _int(value: Any, field: str, lo: int | None = 0, hi: int | None = None) -> int:
    """A JSON integer in lo..hi (an integral float is accepted; bools, strings and NaN are not)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(f"{field} must be an integer, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        _fail(f"{field} is {value}; expected {lo if lo is not None else '...'}..{hi if hi is not None else ''}")
    return value


def _obj(d: dict, name: str, field: str) -> dict:
    """`d[name]` as a JSON object ({} when absent or null)."""
    value = d.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(f"{field} must be an object keyed by cell, got {type(value).__name__}")
    return value


def _cell(state: GameState, key: Any, where: str) -> int:
    geo = state.geo
    if not isinstance(key, str):
        _fail(f"{where}: {key!r} is not a position key")
    if key in geo.index:
        return geo.index[key]
    parts = key.split(",")
    try:
        vals = [int(v) for v in parts]
    except ValueError:
        _fail(f"{where}: {key!r} is not a position key")
    if geo.is_hex and len(vals) == 2:
        vals.append(-vals[0] - vals[1])
    k2 = ",".join(str(v) for v in vals)
    if k2 in geo.index:
        return geo.index[k2]
    _fail(f"{where}: cell {key!r} is not on a {state.board_type} board")


def _required(d: dict, name: str, partial: bool, default: Any) -> Any:
    if name in d and d[name] is not None:
        return d[name]
    if partial:
        return default
    _fail(f"game state has no {name!r} (only a test fixture may leave it out: from_json(..., partial=True))")


def state_from_json(d: Any, *, partial: bool = False) -> GameState:
    """Read a serialized state; raise StateFormatError naming the first bad field.

    By default the state must be complete and consistent: 2-4 players, `currentPlayer`,
    `currentPhase`, `gameStatus` and `turnNumber` present, no player owning more rings than
    the board type gives, counters matching the board. `partial=True` is for hand-made
    positions (contract vectors, test fixtures): missing fields take defaults, one seat may
    remain, and counters are taken as given. Types and ranges are checked in both modes.
    """
    if not isinstance(d, dict):
        _fail(f"a game state must be a JSON object, got {type(d).__name__}")
    board = d.get("board")
    if not isinstance(board, dict):
        _fail("game state has no 'board' object")
    board_type = board.get("type") or d.get("boardType")
    if not isinstance(board_type, str) or board_type not in SPECS:
        _fail(f"board.type {board_type!r} is not one of {', '.join(SPECS)}")
    players = d.get("players")
    # RULES.md §15: the length of `players` is the player count. Games start with 2-4;
    # a hand-made position may hold fewer once seats have left (some vectors carry one).
    least = 1 if partial else 2
    if not isinstance(players, list) or not least <= len(players) <= 4:
        _fail(f"'players' must be a list of {least} to 4 players")
    n = len(players)
    s = GameState(board_type, n)

    for key, st in _obj(board, "stacks", "board.stacks").items():
        rings = st.get("rings") if isinstance(st, dict) else None
        if not isinstance(rings, list) or not rings:
            _fail(f"board.stacks[{key!r}].rings must be a non-empty list")
        for r in rings:
            if not isinstance(r, int) or isinstance(r, bool) or not 1 <= r <= n:
                _fail(f"board.stacks[{key!r}].rings has ring owner {r!r}; players are 1..{n}")
        c = _cell(s, key, "board.stacks")
        s.stacks[c] = tuple(reversed(rings))  # wire is top-first; internal bottom-first
        s.stack_arrived(c)
    for key, mk in _obj(board, "markers", "board.markers").items():
        owner = mk.get("player") if isinstance(mk, dict) else mk
        if not isinstance(owner, int) or isinstance(owner, bool) or not 1 <= owner <= n:
            _fail(f"board.markers[{key!r}] has player {owner!r}")
        c = _cell(s, key, "board.markers")
        if s.stacks[c] is not None:
            _fail(f"board.markers: cell {key} holds both a stack and a marker")
        s.markers[c] = owner
    for key, owner in _obj(board, "collapsedSpaces", "board.collapsedSpaces").items():
        if not isinstance(owner, int) or isinstance(owner, bool) or not 0 <= owner <= n:
            _fail(f"board.collapsedSpaces[{key!r}] has owner {owner!r}")
        c = _cell(s, key, "board.collapsedSpaces")
        if s.stacks[c] is not None or s.markers[c]:
            _fail(f"board.collapsedSpaces: collapsed cell {key} also holds a stack or marker")
        s.collapsed[c] = owner if owner else -1  # -1: collapsed with no owner

    _read_players(s, players, partial)
    be = _obj(board, "eliminatedRings", "board.eliminatedRings")
    for num in range(1, n + 1):
        value = be.get(str(num), be.get(num, s.elim[num]))
        s.board_elim[num] = _int(0 if value is None else value, f"board.eliminatedRings[{num!r}]")
    total = d.get("totalRingsEliminated")
    s.total_elim = sum(s.board_elim) if total is None else _int(total, "totalRingsEliminated")
    rpp = s.geo.spec.rings_per_player
    for num in range(1, n + 1):
        on_board = s.rings_on_board(num)
        if not partial and s.hand[num] + on_board > rpp:
            _fail(f"players[{num - 1}].ringsInHand: {s.hand[num]} in hand and {on_board} on the board are more "
                  f"than the {rpp} rings a player has on {board_type}")
        # Not serialized: what conservation says must be gone (never negative for odd states).
        s.lost[num] = max(0, rpp - s.hand[num] - on_board)
    if not partial:
        _check_counters(s)
    _read_turn(s, d, partial)
    return s


def _read_players(s: GameState, players: list, partial: bool) -> None:
    for i, p in enumerate(players):
        if not isinstance(p, dict):
            _fail(f"players[{i}] must be an object")
        num = p.get("playerNumber", i + 1)
        if num != i + 1 or isinstance(num, bool):
            _fail(f"players[{i}].playerNumber is {num!r}; expected {i + 1}")
        for name, counter in (("ringsInHand", s.hand), ("eliminatedRings", s.elim),
                              ("territorySpaces", s.territory)):
            value = p.get(name)
            if value is None and not partial and name == "ringsInHand":
                _fail(f"players[{i}] has no 'ringsInHand'")
            counter[num] = _int(0 if value is None else value, f"players[{i}].{name}")


def _check_counters(s: GameState) -> None:
    """Counters a complete state keeps in step with its board (RULES.md §3)."""
    if sum(s.board_elim) != s.total_elim:
        _fail(f"totalRingsEliminated is {s.total_elim} but board.eliminatedRings adds up to {sum(s.board_elim)}")
    owned = [0] * (s.num_players + 1)
    for o in s.collapsed:
        if o > 0:
            owned[o] += 1
    for num in range(1, s.num_players + 1):
        if s.territory[num] != owned[num]:
            _fail(f"players[{num - 1}].territorySpaces is {s.territory[num]} but player {num} owns "
                  f"{owned[num]} collapsed cells")


def _read_turn(s: GameState, d: dict, partial: bool) -> None:
    n = s.num_players
    s.current_player = _int(_required(d, "currentPlayer", partial, 1), "currentPlayer", 1, n)
    phase = _required(d, "currentPhase", partial, "ring_placement")
    if not isinstance(phase, str) or phase not in PHASES:
        _fail(f"currentPhase {phase!r} is not one of {', '.join(PHASES)}")
    s.phase = phase
    status = _required(d, "gameStatus", partial, "active")
    if status in ("active", "waiting", "paused"):
        status = "active"
    elif not isinstance(status, str) or status not in ("completed", "abandoned", "finished"):
        _fail(f"gameStatus {status!r} is not understood")
    s.status = "active" if status == "active" else "completed"
    if s.status != "active":
        s.phase = "game_over" if phase != "ring_placement" else phase
    elif phase == "game_over" and not partial:
        _fail("currentPhase is 'game_over' but gameStatus says the game is active")
    winner = d.get("winner")
    s.winner = None if winner is None else _int(winner, "winner", 1, n)
    s.turn_number = max(1, _int(_required(d, "turnNumber", partial, 1), "turnNumber"))
    history = d.get("moveHistory")
    history = [] if history is None else history
    if not isinstance(history, list):
        _fail(f"moveHistory must be a list, got {type(history).__name__}")
    s.move_count = len(history)
    if d.get("victoryThreshold") is not None:
        s.victory_threshold = _int(d["victoryThreshold"], "victoryThreshold", 1)
    if d.get("territoryVictoryThreshold") is not None:
        s.territory_threshold = _int(d["territoryVictoryThreshold"], "territoryVictoryThreshold", 1)
        if n == 2:
            s.territory_minimum = s.territory_threshold
    if d.get("territoryVictoryMinimum") is not None:
        s.territory_minimum = _int(d["territoryVictoryMinimum"], "territoryVictoryMinimum", 1)
    mm = d.get("mustMoveFromStackKey")
    s.must_move = _cell(s, mm, "mustMoveFromStackKey") if mm not in (None, "") else -1
    cpos = d.get("chainCapturePosition")
    if cpos is not None:
        if isinstance(cpos, dict):
            try:
                s.chain_pos = s.geo.cell_of(cpos)
            except (KeyError, TypeError, ValueError):
                _fail(f"chainCapturePosition {cpos!r} is not a cell of a {s.board_type} board")
        else:
            s.chain_pos = _cell(s, cpos, "chainCapturePosition")
    options = d.get("rulesOptions")
    if options is not None and not isinstance(options, dict):
        _fail(f"rulesOptions must be an object, got {type(options).__name__}")
    s.rules_options = dict(options or {})
    s.swap_enabled = bool(s.rules_options.get("swapRuleEnabled"))
    s.game_id = str(d.get("gameId", ""))
    for h in history:
        if isinstance(h, dict) and isinstance(h.get("player"), int) and 1 <= h["player"] <= n:
            s.seat_moved[h["player"]] = True
            if h.get("type") == "swap_sides":
                s.swap_used = True


def state_to_json(s: GameState) -> dict:
    geo = s.geo
    n = s.num_players
    stacks = {}
    for c, st in enumerate(s.stacks):
        if st is None:
            continue
        rings = list(reversed(st))
        top = rings[0]
        cap = 0
        for r in rings:
            if r != top:
                break
            cap += 1
        stacks[geo.keys[c]] = {
            "position": geo.pos_of(c),
            "rings": rings,
            "stackHeight": len(rings),
            "capHeight": cap,
            "controllingPlayer": top,
        }
    markers = {
        geo.keys[c]: {"position": geo.pos_of(c), "player": p, "type": "regular"}
        for c, p in enumerate(s.markers) if p
    }
    collapsed = {geo.keys[c]: max(o, 0) for c, o in enumerate(s.collapsed) if o}
    d: dict[str, Any] = {
        "gameId": s.game_id,
        "board": {
            "type": s.board_type,
            "size": geo.spec.size,
            "stacks": stacks,
            "markers": markers,
            "collapsedSpaces": collapsed,
            "eliminatedRings": {str(p): s.board_elim[p] for p in range(1, n + 1)},
            "formedLines": [],
            "territories": {},
        },
        "players": [
            {
                "playerNumber": p,
                "ringsInHand": s.hand[p],
                "eliminatedRings": s.elim[p],
                "territorySpaces": s.territory[p],
                "isActive": True,
            }
            for p in range(1, n + 1)
        ],
        "currentPlayer": s.current_player,
        "currentPhase": s.phase,
        "turnNumber": s.turn_number,
        "moveHistory": [],
        "gameStatus": s.status,
        "victoryThreshold": s.victory_threshold,
        "territoryVictoryThreshold": s.territory_threshold,
        "territoryVictoryMinimum": s.territory_minimum,
        "totalRingsEliminated": s.total_elim,
    }
    if s.winner is not None:
        d["winner"] = s.winner
    if s.victory_reason is not None:
        d["victoryReason"] = s.victory_reason
    if s.must_move >= 0:
        d["mustMoveFromStackKey"] = geo.keys[s.must_move]
    if s.chain_pos >= 0:
        d["chainCapturePosition"] = geo.pos_of(s.chain_pos)
    if s.rules_options:
        d["rulesOptions"] = dict(s.rules_options)
    return d
