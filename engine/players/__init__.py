"""AI players. Every player implements `choose(state) -> Move` and returns a legal move.

`make_player(spec, seed=...)` builds one from a spec:
- an engine name: `random`, `heuristic`, `minimax`, `mcts`, `descent`;
- `neural:model=path/to/model.pt,sims=64`: MCTS on a trained net (`sims=0`: its policy
  alone), engine.players.neural;
- a ladder tier `D1`..`D10` (`config/ladder.yaml`); a tier marked `neural` plays the net
  given by `model=` or $RIFT_NEURAL_MODEL, else its non-neural fallback (with a warning);
- either with budget overrides after a colon, `mcts:simulations=400,c_puct=2`, or as
  keyword arguments, `make_player("D6", seed=1, simulations=400)` (keywords win).
"""
from __future__ import annotations

from typing import Any

from engine.players.base import Player
from engine.players.descent import DescentPlayer
from engine.players.evaluator import Evaluator, HeuristicEvaluator
from engine.players.heuristic import HeuristicPlayer
from engine.players.mcts import MCTSPlayer
from engine.players.minimax import MinimaxPlayer
from engine.players.random_player import RandomPlayer

ENGINES: dict[str, type] = {
    "random": RandomPlayer,
    "heuristic": HeuristicPlayer,
    "minimax": MinimaxPlayer,
    "mcts": MCTSPlayer,
    "descent": DescentPlayer,
}

__all__ = [
    "ENGINES", "DescentPlayer", "Evaluator", "HeuristicEvaluator", "HeuristicPlayer",
    "MCTSPlayer", "MinimaxPlayer", "Player", "RandomPlayer", "make_player", "parse_spec",
]


def _value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """`"mcts:simulations=400,noise=true"` -> ("mcts", {"simulations": 400, "noise": True})."""
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, val = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"player spec {spec!r}: expected name=value, got {item!r}")
        params[key.strip()] = _value(val.strip())
    return name.strip(), params


def make_player(engine: str, seed: int | None = None, **overrides: Any) -> Player:
    """A player from an engine name or a ladder tier, with optional budget overrides."""
    from engine.players.ladder import TIERS, load_ladder

    name, params = parse_spec(engine)
    params.update(overrides)
    label = None
    if name.upper() in TIERS:
        label = name.upper()
        tier = load_ladder().tiers[label]
        model = None
        if tier.neural:
            from engine.players.neural import tier_model
            model = tier_model(label, params.pop("model", None))
        if model:
            params = {**tier.neural_params, **params, "model": model}
            name = "neural"
        else:
            params = {**tier.params, **params}
            name = tier.engine
    if name == "neural":
        from engine.players.neural import make_neural
        player = make_neural(seed, **params)
        if label:
            player.name = label
        return player
    cls = ENGINES.get(name)
    if cls is None:
        raise ValueError(
            f"unknown engine {engine!r}: available engines are: {', '.join(ENGINES)}, neural, "
            f"or a ladder tier D1..D10"
        )
    try:
        player = cls(seed, **params)
    except TypeError as e:
        raise ValueError(f"player spec {engine!r}: {e}") from None
    if label:
        player.name = label
    return player
