"""Moves: every action and decision a player makes, in RingRift's move vocabulary.

A `Move` names cells by RingRift position keys ("x,y" / "x,y,z") so that it is
independent of any one state; the rules resolve keys to cell indices through the
board's geometry. Equality and hashing use only the rule-relevant fields, so a
recorded move (with ids, timestamps, informational extras) equals the legal move
the engine generates.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from engine.errors import StateFormatError

MOVE_TYPES = frozenset(
    {
        "place_ring", "skip_placement", "no_placement_action", "swap_sides",
        "move_stack", "overtaking_capture", "continue_capture_segment", "skip_capture",
        "no_movement_action", "recovery_slide", "skip_recovery",
        "process_line", "choose_line_option", "no_line_action",
        "choose_territory_option", "skip_territory_processing", "no_territory_action",
        "eliminate_rings_from_stack", "forced_elimination",
        "resign", "timeout",
    }
)
# Moves that do not count as "acting" this turn (RULES.md §4.3).
PASSIVE_MOVES = frozenset(
    {
        "no_placement_action", "no_movement_action", "no_line_action", "no_territory_action",
        "skip_placement", "skip_capture", "skip_recovery", "skip_territory_processing",
    }
)
CAPTURE_MOVES = frozenset({"overtaking_capture", "continue_capture_segment"})
HEX_BOARDS = frozenset({"hex8", "hexagonal"})


def cube_key(key: str | None) -> str | None:
    """A hex position key with z derived when it was given as "x,y" (x + y + z = 0),
    as the state loader reads board keys."""
    if key is None or key.count(",") != 1:
        return key
    x, y = key.split(",")
    try:
        return f"{int(x)},{int(y)},{-int(x) - int(y)}"
    except ValueError:
        return key  # not a position: it matches no cell, and the rules say so


_INT = re.compile(r"\s*-?[0-9]+\s*")


def _int(value: Any, field: str, lo: int | None = None, hi: int | None = None) -> int:
    """A JSON integer (an integral float is accepted; bools, strings and NaN are not)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise StateFormatError(f"move field {field!r} must be an integer, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise StateFormatError(f"move field {field!r} is {value}; expected {lo}..{hi}")
    return value


def _key(pos: Any, field: str) -> str:
    """A position key from a JSON position dict (or an already-formed key)."""
    if isinstance(pos, str):
        parts = pos.split(",")
        if not 2 <= len(parts) <= 3 or not all(_INT.fullmatch(p) for p in parts):
            raise StateFormatError(f"move field {field!r} is not a position key 'x,y[,z]': {pos!r}")
        return ",".join(str(int(p)) for p in parts)
    if not isinstance(pos, dict) or "x" not in pos or "y" not in pos:
        raise StateFormatError(f"move field {field!r} is not a position {{x, y[, z]}}: {pos!r}")
    x, y = _int(pos["x"], f"{field}.x"), _int(pos["y"], f"{field}.y")
    if pos.get("z") is not None:
        return f"{x},{y},{_int(pos['z'], f'{field}.z')}"
    return f"{x},{y}"


def _list(d: dict, name: str) -> list:
    value = d.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise StateFormatError(f"move field {name!r} must be a list, got {type(value).__name__}")
    return value


def _first(d: dict, name: str, inner: str) -> list:
    """`d[name][0][inner]` (formedLines / disconnectedRegions), checked; [] when absent."""
    items = _list(d, name)
    if not items:
        return []
    if not isinstance(items[0], dict):
        raise StateFormatError(f"move field '{name}[0]' must be an object, got {items[0]!r}")
    value = items[0].get(inner)
    if value is None:
        return []
    if not isinstance(value, list):
        raise StateFormatError(f"move field '{name}[0].{inner}' must be a list of positions")
    return value


ELIMINATION_CONTEXTS = ("line", "territory", "forced", "recovery")
RECOVERY_MODES = ("line", "fallback", "stack_strike")


def _choice(d: dict, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = d.get(name) or default
    if value not in allowed:
        raise StateFormatError(f"move field {name!r} is {value!r}; expected one of {', '.join(allowed)}")
    return value


def _pos(key: str) -> dict:
    parts = [int(v) for v in key.split(",")]
    if len(parts) == 3:
        return {"x": parts[0], "y": parts[1], "z": parts[2]}
    return {"x": parts[0], "y": parts[1]}


class Move:
    """One move. Cells are position keys; multi-cell fields are tuples of keys.

    Fields: type, player, frm, to, target (capture target), count (placement count),
    line (the formed line's cells, in order), cells (collapsed markers of a line
    option, or collapse positions of a recovery Option 2), region (frozenset of the
    territory region's cells), context (elimination context), mode / option /
    extraction (recovery).
    """

    __slots__ = (
        "type", "player", "frm", "to", "target", "count", "line", "cells",
        "region", "context", "mode", "option", "extraction", "_sig",
    )

    def __init__(
        self,
        type: str,
        player: int,
        to: str | None = None,
        frm: str | None = None,
        target: str | None = None,
        count: int = 1,
        line: tuple[str, ...] | None = None,
        cells: tuple[str, ...] | None = None,
        region: frozenset[str] | None = None,
        context: str | None = None,
        mode: str | None = None,
        option: int | None = None,
        extraction: tuple[str, ...] | None = None,
    ):
        self.type = type
        self.player = player
        self.to = to
        self.frm = frm
        self.target = target
        self.count = count
        self.line = line
        self.cells = cells
        self.region = region
        self.context = context
        self.mode = mode
        self.option = option
        self.extraction = extraction
        self._sig = None

    # --- identity ------------------------------------------------------------------------------

    def sig(self) -> tuple:
        """The rule-relevant fields, used for equality and hashing."""
        s = self._sig
        if s is None:
            t = self.type
            if t == "place_ring":
                s = (t, self.player, self.to, self.count)
            elif t == "move_stack":
                s = (t, self.player, self.frm, self.to)
            elif t in CAPTURE_MOVES:
                s = (t, self.player, self.frm, self.target, self.to)
            elif t in ("process_line", "choose_line_option"):
                s = (t, self.player, frozenset(self.line or ()), frozenset(self.cells or ()))
            elif t == "choose_territory_option":
                s = (t, self.player, self.region if self.region is not None else self.to)
            elif t == "eliminate_rings_from_stack":
                s = (t, self.player, self.to, self.context or "territory")
            elif t == "forced_elimination":
                s = (t, self.player, self.to)
            elif t == "recovery_slide":
                s = (
                    t, self.player, self.frm, self.to, self.mode, self.option,
                    frozenset(self.cells or ()), tuple(self.extraction or ()),
                )
            else:
                s = (t, self.player)
            self._sig = s
        return s

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Move) and self.sig() == other.sig()

    def __hash__(self) -> int:
        return hash(self.sig())

    def __repr__(self) -> str:
        parts = [self.type, f"p{self.player}"]
        for name in ("frm", "target", "to"):
            v = getattr(self, name)
            if v is not None:
                parts.append(f"{name}={v}")
        if self.type == "place_ring":
            parts.append(f"x{self.count}")
        for name in ("context", "mode", "option"):
            v = getattr(self, name)
            if v is not None:
                parts.append(f"{name}={v}")
        if self.cells:
            parts.append(f"cells={len(self.cells)}")
        if self.region:
            parts.append(f"region={len(self.region)}")
        return f"Move({' '.join(parts)})"

    # --- JSON ----------------------------------------------------------------------------------

    def with_cube_keys(self) -> "Move":
        """This move with every position key in cube form ("x,y,z") for a hex board.

        RingRift move JSON may give hex cells as {x, y} only; the state loader derives
        z for board keys and so must the move, or its cells name nothing on the board.
        Returns `self` when every key already has three parts.
        """
        fields = (self.to, self.frm, self.target, *(self.line or ()), *(self.cells or ()),
                  *(self.region or ()), *(self.extraction or ()))
        if all(k is None or k.count(",") != 1 for k in fields):
            return self

        def many(keys):
            return None if keys is None else tuple(cube_key(k) for k in keys)

        return Move(
            self.type, self.player, cube_key(self.to), cube_key(self.frm), cube_key(self.target),
            self.count, many(self.line), many(self.cells),
            None if self.region is None else frozenset(many(self.region)),
            self.context, self.mode, self.option, many(self.extraction),
        )

    @classmethod
    def from_json(cls, d: dict, board_type: str | None = None) -> "Move":
        """Read RingRift move JSON (RULES.md §14); raises StateFormatError naming the bad field.

        With `board_type` hex8 or hexagonal, positions given as {x, y} get z = -x - y.
        """
        m = cls._from_json(d)
        return m.with_cube_keys() if board_type in HEX_BOARDS else m

    @classmethod
    def _from_json(cls, d: dict) -> "Move":
        if not isinstance(d, dict):
            raise StateFormatError(f"a move must be a JSON object, got {type(d).__name__}")
        t = d.get("type")
        if not isinstance(t, str) or t not in MOVE_TYPES:
            raise StateFormatError(f"unknown move type {t!r}")
        if "player" not in d:
            raise StateFormatError(f"{t} move needs an integer 'player'")
        m = cls(t, _int(d["player"], "player", 1, 4))
        if t in ("move_stack", "overtaking_capture", "continue_capture_segment", "recovery_slide"):
            if "from" not in d:
                raise StateFormatError(f"{t} move needs 'from'")
            m.frm = _key(d["from"], "from")
        if "to" in d and d["to"] is not None:
            m.to = _key(d["to"], "to")
        if t in CAPTURE_MOVES:
            if "captureTarget" not in d:
                raise StateFormatError(f"{t} move needs 'captureTarget'")
            m.target = _key(d["captureTarget"], "captureTarget")
        if t == "place_ring":
            count = d.get("placementCount")
            m.count = 1 if count is None else _int(count, "placementCount", 1, 3)
        if t in ("process_line", "choose_line_option"):
            line = _first(d, "formedLines", "positions")
            if line:
                m.line = tuple(_key(p, "formedLines") for p in line)
            if t == "choose_line_option" and d.get("collapsedMarkers") is not None:
                m.cells = tuple(_key(p, "collapsedMarkers") for p in _list(d, "collapsedMarkers"))
            elif t == "choose_line_option":
                m.cells = m.line
        if t == "choose_territory_option":
            spaces = _first(d, "disconnectedRegions", "spaces")
            if spaces:
                m.region = frozenset(_key(p, "disconnectedRegions") for p in spaces)
        if t == "eliminate_rings_from_stack":
            m.context = _choice(d, "eliminationContext", ELIMINATION_CONTEXTS, "territory")
        if t == "recovery_slide":
            m.mode = _choice(d, "recoveryMode", RECOVERY_MODES, "line")
            opt = d.get("recoveryOption", d.get("option"))
            m.option = _int(opt, "recoveryOption", 1, 2) if opt is not None else None
            if d.get("collapsePositions"):
                m.cells = tuple(_key(p, "collapsePositions") for p in _list(d, "collapsePositions"))
            m.extraction = tuple(_key(p, "extractionStacks") for p in _list(d, "extractionStacks"))
        return m

    def to_json(self, extras: dict | None = None) -> dict:
        """RingRift move JSON. `extras` (id, moveNumber, ...) are merged in as given."""
        d: dict[str, Any] = {"type": self.type, "player": self.player}
        if self.frm is not None:
            d["from"] = _pos(self.frm)
        d["to"] = _pos(self.to) if self.to is not None else {"x": 0, "y": 0}
        if self.target is not None:
            d["captureTarget"] = _pos(self.target)
        t = self.type
        if t == "place_ring":
            d["placementCount"] = self.count
        if t in ("process_line", "choose_line_option") and self.line:
            d["formedLines"] = [{
                "positions": [_pos(k) for k in self.line],
                "player": self.player,
                "length": len(self.line),
            }]
            if t == "choose_line_option":
                d["collapsedMarkers"] = [_pos(k) for k in (self.cells or self.line)]
        if t == "choose_territory_option" and self.region is not None:
            d["disconnectedRegions"] = [{
                "spaces": [_pos(k) for k in sorted(self.region)],
                "controllingPlayer": self.player,
                "isDisconnected": True,
            }]
        if t == "eliminate_rings_from_stack":
            d["eliminationContext"] = self.context or "territory"
        if t == "recovery_slide":
            d["recoveryMode"] = self.mode
            if self.option is not None:
                d["recoveryOption"] = self.option
            if self.cells:
                d["collapsePositions"] = [_pos(k) for k in self.cells]
            d["extractionStacks"] = list(self.extraction or ())
        if extras:
            d.update(extras)
        return d


def moves_from_json(items: Iterable[dict]) -> list[Move]:
    return [Move.from_json(d) for d in items]
