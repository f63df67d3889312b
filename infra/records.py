"""RingRift game records as the data layer sees them: validated dicts with a content hash.

The engine produces game records in RingRift's JSON format (see
shared/vectors/golden). The data layer does not import the engine: it checks the
fields it relies on with a pydantic model, keeps the dict as it is otherwise, and
derives what the store indexes (seat engines, length, move-cap flag, source host).

The content hash identifies a game by what was played, not by its id or timing,
so the same game arriving twice (from two hosts, or one host re-sending) is
recognised as a duplicate.
"""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

# Move fields that describe bookkeeping, not the rules: excluded from the hash.
NON_RULE_MOVE_FIELDS = frozenset({"id", "timestamp", "thinkTime", "thinkTimeMs", "moveNumber"})


class PlayerSeat(BaseModel):
    """One seat of a game; only the fields the store uses are checked."""

    model_config = ConfigDict(extra="allow")

    playerNumber: int = Field(ge=1, le=4)
    aiType: str | None = None
    tier: str | None = None
    aiDifficulty: int | None = None


class GameRecordModel(BaseModel):
    """The shape a game record must have to be stored."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    boardType: Literal["square8", "square19", "hex8", "hexagonal"]
    numPlayers: int = Field(ge=2, le=4)
    players: list[PlayerSeat]
    moves: list[dict[str, Any]]
    winner: int | None = None
    outcome: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> GameRecordModel:
        if len(self.players) != self.numPlayers:
            raise ValueError(f"{len(self.players)} players listed for numPlayers={self.numPlayers}")
        if self.winner is not None and not 1 <= self.winner <= self.numPlayers:
            raise ValueError(f"winner {self.winner} is not a seat of a {self.numPlayers}-player game")
        engines = self.metadata.get("engines")
        if engines is not None and len(engines) != self.numPlayers:
            raise ValueError(f"metadata.engines has {len(engines)} entries for {self.numPlayers} players")
        return self


def validate_record(record: dict[str, Any]) -> GameRecordModel:
    """Raise pydantic.ValidationError when `record` is not a storable game record."""
    return GameRecordModel.model_validate(record)


def seat_engines(record: dict[str, Any]) -> list[str]:
    """Engine identity of each seat, e.g. ['mcts:D7', 'heuristic:D4'], in seat order.

    `metadata.engines` wins when present (strings, or dicts with name/tier);
    otherwise each player's `aiType` plus its `tier` (or `aiDifficulty` as Dn).
    """
    engines = (record.get("metadata") or {}).get("engines")
    if engines:
        out = []
        for e in engines:
            if isinstance(e, dict):
                name, tier = e.get("name") or e.get("aiType") or "unknown", e.get("tier")
                out.append(f"{name}:{tier}" if tier else str(name))
            else:
                out.append(str(e))
        return out
    seats = sorted(record.get("players", []), key=lambda p: p.get("playerNumber", 0))
    out = []
    for p in seats:
        name = p.get("aiType") or p.get("playerType") or "unknown"
        tier = p.get("tier") or (f"D{p['aiDifficulty']}" if p.get("aiDifficulty") is not None else None)
        out.append(f"{name}:{tier}" if tier else str(name))
    return out


_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def canonical_json(value: Any) -> bytes:
    """Deterministic UTF-8 JSON: sorted keys, no whitespace (orjson: JSON encoding dominates write cost)."""
    return orjson.dumps(value, option=_JSON_OPTIONS | orjson.OPT_SORT_KEYS)


def dumps(value: Any) -> str:
    """Compact JSON text for database columns."""
    return orjson.dumps(value, option=_JSON_OPTIONS).decode()


def rule_moves(moves: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Moves reduced to their rule-relevant fields."""
    return [{k: v for k, v in m.items() if k not in NON_RULE_MOVE_FIELDS} for m in moves]


def content_hash(record: dict[str, Any]) -> str:
    """sha256 over board, player count, seat engines, rule-relevant moves and result."""
    payload = {
        "boardType": record["boardType"],
        "numPlayers": record["numPlayers"],
        "engines": seat_engines(record),
        "moves": rule_moves(record.get("moves", [])),
        "outcome": record.get("outcome"),
        "winner": record.get("winner"),
    }
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stored_fields(record: dict[str, Any], default_host: str) -> dict[str, Any]:
    """The indexed columns of a game row, derived from a validated record."""
    meta = record.get("metadata") or {}
    positions = record.get("positions")
    samples_ref = positions if isinstance(positions, str) else meta.get("samples")
    return {
        "id": record["id"],
        "board_type": record["boardType"],
        "num_players": int(record["numPlayers"]),
        "engines": dumps(seat_engines(record)),
        "outcome": record.get("outcome"),
        "winner": record.get("winner"),
        "length": len(record.get("moves", [])),
        "hit_cap": int(bool(meta.get("hitMoveCap", False))),
        "created_at": meta.get("createdAt") or record.get("endedAt") or utc_now_iso(),
        "source_host": meta.get("sourceHost") or default_host,
        "samples_ref": samples_ref if isinstance(samples_ref, str) else None,
    }
