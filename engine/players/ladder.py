"""The difficulty ladder: D1..D10 mapped to a player and its budget, in `config/ladder.yaml`.

One table, validated once when first used (pydantic): every tier D1..D10 present, a known
engine per tier, and parameters that the engine's constructor accepts, so a typo in a budget
is refused with the file, the tier and the name instead of surfacing mid-match.

A tier with `neural: true` plays the net (engine.players.neural, with `neural_params`) when
it is given a model, and `engine` + `params` (its fallback) otherwise.
"""
from __future__ import annotations

import inspect
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

LADDER_ENV = "RIFT_LADDER"
TIERS = tuple(f"D{i}" for i in range(1, 11))
EngineName = Literal["random", "heuristic", "minimax", "mcts", "descent"]


class LadderError(ValueError):
    """A ladder file that cannot be used, with the file and the reason in the message."""


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engine: EngineName
    params: dict[str, Any] = Field(default_factory=dict)
    neural: bool = False  # the net plays this tier when a model is given; else engine + params
    neural_params: dict[str, Any] = Field(default_factory=dict)
    note: str = ""


class Ladder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    tiers: dict[str, Tier]

    @model_validator(mode="after")
    def _check(self) -> "Ladder":
        missing = [t for t in TIERS if t not in self.tiers]
        if missing:
            raise ValueError(f"missing tier {missing[0]} (a ladder maps every one of D1..D10)")
        extra = sorted(set(self.tiers) - set(TIERS))
        if extra:
            raise ValueError(f"unknown tier {extra[0]!r} (tiers are D1..D10)")
        from engine.players import ENGINES
        from engine.players.neural import accepted_params

        for name, tier in self.tiers.items():
            if tier.neural_params and not tier.neural:
                raise ValueError(f"tier {name}: neural_params without neural: true")
            bad = sorted(set(tier.neural_params) - accepted_params() - {"model"})
            if bad:
                raise ValueError(f"tier {name}: a neural player has no parameter {bad[0]!r} "
                                 f"(accepted: {', '.join(sorted(accepted_params() - {'model'}))})")
            accepted = set(inspect.signature(ENGINES[tier.engine]).parameters) - {"seed"}
            for p in tier.params:
                if p not in accepted:
                    raise ValueError(
                        f"tier {name}: {tier.engine} has no parameter {p!r} "
                        f"(accepted: {', '.join(sorted(accepted))})"
                    )
        return self

    def non_neural(self) -> list[str]:
        """Tiers played by a non-neural player in every case (what the ladder benchmark checks)."""
        return [t for t in TIERS if not self.tiers[t].neural]


def ladder_path() -> Path:
    env = os.environ.get(LADDER_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "config" / "ladder.yaml"


def parse_ladder(text: str, source: str = "<memory>") -> Ladder:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise LadderError(f"{source}: not valid YAML ({e})") from None
    try:
        return Ladder.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        raise LadderError(f"{source}: {where + ': ' if where else ''}{msg}") from None


@lru_cache(maxsize=8)
def _load(path: str) -> Ladder:
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise LadderError(f"{p}: no such ladder file") from None
    return parse_ladder(text, str(p))


def load_ladder(path: str | Path | None = None) -> Ladder:
    """The ladder (validated once per file and cached)."""
    return _load(str(path or ladder_path()))
