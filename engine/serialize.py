"""RingRift serialized game-state JSON <-> GameState.

Reading validates as it goes and raises StateFormatError naming the field and
the problem; a state is only returned when every part of it was understood.
"""
from __future__ import annotations

from typing import Any

from engine.errors import StateFormatError
from engine.geometry import SPECS
from engine.state import PHASES, GameState


def _fail(msg: str) -> None:
    raise StateFormatError(msg)


def _cell(state: GameState, key: str, where: str) -> int:
    geo = state.geo
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


def state_from_json(d: Any) -> GameState:
    if not isinstance(d, dict):
        _fail(f"a game state must be a JSON object, got {type(d).__name__}")
    board = d.get("board")
    if not isinstance(board, dict):
        _fail("game state has no 'board' object")
    board_type = board.get("type") or d.get("boardType")
    if board_type not in SPECS:
        _fail(f"board.type {board_type!r} is not one of {', '.join(SPECS)}")
    players = d.get("players")
    if not isinstance(players, list) or not 2 <= len(players) <= 4:
        _fail("'players' must be a list of 2 to 4 players")
    n = len(players)
    s = GameState(board_type, n)

    for key, st in (board.get("stacks") or {}).items():
        rings = st.get("rings") if isinstance(st, dict) else None
        if not isinstance(rings, list) or not rings:
            _fail(f"board.stacks[{key!r}].rings must be a non-empty list")
        for r in rings:
            if not isinstance(r, int) or not 1 <= r <= n:
                _fail(f"board.stacks[{key!r}] has ring owner {r!r}; players are 1..{n}")
        c = _cell(s, key, "board.stacks")
        s.stacks[c] = tuple(reversed(rings))  # wire is top-first; internal bottom-first
        s.stack_arrived(c)
    for key, mk in (board.get("markers") or {}).items():
        owner = mk.get("player") if isinstance(mk, dict) else mk
        if not isinstance(owner, int) or not 1 <= owner <= n:
            _fail(f"board.markers[{key!r}] has player {owner!r}")
        c = _cell(s, key, "board.markers")
        if s.stacks[c] is not None:
            _fail(f"cell {key} holds both a stack and a marker")
        s.markers[c] = owner
    for key, owner in (board.get("collapsedSpaces") or {}).items():
        if not isinstance(owner, int) or not 0 <= owner <= n:
            _fail(f"board.collapsedSpaces[{key!r}] has owner {owner!r}")
        c = _cell(s, key, "board.collapsedSpaces")
        if s.stacks[c] is not None or s.markers[c]:
            _fail(f"collapsed cell {key} also holds a stack or marker")
        s.collapsed[c] = owner if owner else -1  # -1: collapsed with no owner

    for i, p in enumerate(players):
        if not isinstance(p, dict):
            _fail(f"players[{i}] must be an object")
        num = p.get("playerNumber", i + 1)
        if num != i + 1:
            _fail(f"players[{i}].playerNumber is {num!r}; expected {i + 1}")
        try:
            s.hand[num] = int(p.get("ringsInHand", 0))
            s.elim[num] = int(p.get("eliminatedRings", 0))
            s.territory[num] = int(p.get("territorySpaces", 0))
        except (TypeError, ValueError):
            _fail(f"players[{i}] has a non-integer counter")
    be = board.get("eliminatedRings") or {}
    for num in range(1, n + 1):
        s.board_elim[num] = int(be.get(str(num), be.get(num, s.elim[num])) or 0)
    s.total_elim = int(d.get("totalRingsEliminated", sum(s.board_elim)))
    rpp = s.geo.spec.rings_per_player
    for num in range(1, n + 1):
        # Not serialized: what conservation says must be gone (never negative for odd states).
        s.lost[num] = max(0, rpp - s.hand[num] - s.rings_on_board(num))

    cp = d.get("currentPlayer", 1)
    if not isinstance(cp, int) or not 1 <= cp <= n:
        _fail(f"currentPlayer {cp!r} is not a seat 1..{n}")
    s.current_player = cp
    phase = d.get("currentPhase", "ring_placement")
    if phase not in PHASES:
        _fail(f"currentPhase {phase!r} is not one of {', '.join(PHASES)}")
    s.phase = phase
    status = d.get("gameStatus", "active")
    if status in ("active", "waiting", "paused"):
        status = "active"
    elif status not in ("completed", "abandoned", "finished"):
        _fail(f"gameStatus {status!r} is not understood")
    s.status = "active" if status == "active" else "completed"
    if s.status != "active":
        s.phase = "game_over" if phase != "ring_placement" else phase
    s.winner = d.get("winner")
    s.turn_number = int(d.get("turnNumber", 1) or 1)
    s.move_count = len(d.get("moveHistory") or [])
    if d.get("victoryThreshold"):
        s.victory_threshold = int(d["victoryThreshold"])
    if d.get("territoryVictoryThreshold"):
        s.territory_threshold = int(d["territoryVictoryThreshold"])
        if n == 2:
            s.territory_minimum = s.territory_threshold
    if d.get("territoryVictoryMinimum"):
        s.territory_minimum = int(d["territoryVictoryMinimum"])
    mm = d.get("mustMoveFromStackKey")
    s.must_move = _cell(s, mm, "mustMoveFromStackKey") if mm else -1
    cpos = d.get("chainCapturePosition")
    if cpos:
        s.chain_pos = s.geo.cell_of(cpos) if isinstance(cpos, dict) else _cell(s, cpos, "chain")
    s.rules_options = dict(d.get("rulesOptions") or {})
    s.swap_enabled = bool(s.rules_options.get("swapRuleEnabled"))
    s.game_id = str(d.get("gameId", ""))
    for h in d.get("moveHistory") or []:
        if isinstance(h, dict) and isinstance(h.get("player"), int) and 1 <= h["player"] <= n:
            s.seat_moved[h["player"]] = True
            if h.get("type") == "swap_sides":
                s.swap_used = True
    return s


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
