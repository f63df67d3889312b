"""Settings of the closed loop (a profile's `closed_loop:` section), validated with the profile.

Why a section of its own: a profile without it runs the loop as before (selfplay from an
engine mix, training on everything, the threshold/SPRT gate on the evaluation's games); a
profile with it closes the loop (docs/pipeline.md, "The closed loop"). Every closed-loop knob
lives here, so an open-loop profile has none it would ignore, while the shared sections keep
their meaning in both: `selfplay.games` (net games per iteration), `train.*` (window, epochs,
learning rate, net size), `gate.sprt` (the test's bounds). A closed-loop profile does not read
`selfplay.mix` nor the threshold rule `gate.win_rate` / `gate.min_games`.

No Prefect and no engine imports: the CLI's dry run reads these models too. Specs (teachers,
the deployed player, the anchor) are checked against the engine when selfplay starts
(tasks/closed_selfplay.check_closed), before any game.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_plies(plies: tuple[int, int]) -> None:
    lo, hi = plies
    if not 0 <= lo <= hi:
        raise ValueError(f"opening_plies: needs 0 <= lo <= hi, got [{lo}, {hi}]")


class BootstrapSettings(_Strict):
    """Teacher games played while the config has no best model: the engines' moves are one-hot
    policy targets, after a random opening (so deterministic teachers do not repeat games)."""

    teachers: list[str] = Field(default_factory=lambda: ["D5"], min_length=1,
                                description="Player specs; seat p of game i plays teachers[(i + p) % len].")
    games: int | None = Field(None, gt=0, description="Games per bootstrap iteration; null = selfplay.games.")
    opening_plies: tuple[int, int] = Field((2, 8), description="Random plies first, uniform in [lo, hi].")
    per_iteration: int = Field(0, ge=0, description="Teacher games added to every net iteration's selfplay, so "
                                                    "the replay window keeps their share (learning run 3).")

    @model_validator(mode="after")
    def _plies(self) -> BootstrapSettings:
        _check_plies(self.opening_plies)
        return self


class NetSelfplaySettings(_Strict):
    """Selfplay of the best net (engine.nn.learning.neural_games): MCTS with playout caps (a full
    search with probability full_prob, its policy a training target; else a fast one), a Gumbel
    or PUCT root, random opening plies; every position of a game is a value row."""

    full_sims: int = Field(32, gt=0)
    fast_sims: int = Field(8, ge=0, description="0 = the net's prior, no search, on fast moves.")
    full_prob: float = Field(0.25, gt=0, le=1)
    temperature: float = Field(1.0, ge=0)
    temperature_plies: int | None = Field(None, ge=0, description="Sample moves for this many plies of a game, "
                                                                  "then play the search's best; null = all game.")
    root: Literal["puct", "gumbel"] = "gumbel"
    search_batch: int = Field(8, gt=0, description="Leaves evaluated per batch inside one search.")
    opening_plies: tuple[int, int] = (2, 8)
    concurrency: int = Field(16, gt=0, description="Games at once per worker process (one InferenceServer).")
    cpu_bf16: bool = Field(True, description="The net in bf16 on CPUs with bf16 instructions (1.25x the "
                                             "games at 64/16 sims; fp32 elsewhere; GPUs autocast anyway).")

    def play_options(self) -> dict[str, Any]:
        """These settings as engine.nn.learning.neural_games takes them."""
        return {"full_sims": self.full_sims, "fast_sims": self.fast_sims, "full_prob": self.full_prob,
                "temperature": self.temperature, "temperature_plies": self.temperature_plies,
                "search": {"root": self.root, "batch_size": self.search_batch},
                "opening_plies": tuple(self.opening_plies), "concurrency": self.concurrency,
                "cpu_bf16": self.cpu_bf16}

    @model_validator(mode="after")
    def _sims(self) -> NetSelfplaySettings:
        if self.fast_sims > self.full_sims:
            raise ValueError(f"fast_sims ({self.fast_sims}) exceeds full_sims ({self.full_sims})")
        _check_plies(self.opening_plies)
        return self


class ScratchSettings(_Strict):
    """Training of a net with no parent (the first of a lineage) learns from nothing: more epochs."""

    epochs: int = Field(3, gt=0)
    lr: float = Field(0.002, gt=0)
    schedule: Literal["cosine", "step", "constant"] = "cosine"


class LoopTrainSettings(_Strict):
    continue_from: Literal["latest", "best"] = Field(
        "latest", description="latest: the newest model of the lineage, promoted or not (the net keeps "
                              "learning while the gate decides who plays); best: the current best model.")
    subset: int = Field(0, ge=0, description="Rows drawn from the window per iteration; 0 = the whole window.")
    holdout_every: int = Field(10, ge=2, description="About one game in N (by a hash of its id) is held out.")
    val_window: int = Field(20000, gt=0, description="Newest held-out samples used for validation.")
    schedule: Literal["cosine", "step", "constant"] = "constant"
    scratch: ScratchSettings = ScratchSettings()


class LoopGateSettings(_Strict):
    max_games: int = Field(120, ge=2, description="The truncated SPRT rejects when still undecided here.")
    opening_plies: int = Field(4, ge=0, description="Random plies shared by a block's seatings.")
    first_model: Literal["accept", "anchor"] = Field(
        "anchor", description="Before any model is best: accept the first candidate, or require it to "
                              "pass the rule against `anchor`.")
    anchor: str = Field("D1", min_length=1, description="A fixed player spec: an engine, a tier that does "
                                                        "not play the net, or neural:model=<fixed file>.")
    error_trials: int = Field(2000, ge=100, description="Simulated gates behind the reported error rates.")


class ClosedLoopSettings(_Strict):
    """The closed loop: bootstrap, then the best net's selfplay; continued training with held-out
    games; the gate on the deployed player with a truncated SPRT."""

    player: str = Field("neural:sims=64", min_length=1,
                        description="The deployed player, as a spec that plays the net without naming it "
                                    "(neural:sims=N or a neural tier such as D9): the gate and the "
                                    "evaluation play each model this way.")
    bootstrap: BootstrapSettings = BootstrapSettings()
    selfplay: NetSelfplaySettings = NetSelfplaySettings()
    train: LoopTrainSettings = LoopTrainSettings()
    gate: LoopGateSettings = LoopGateSettings()

    @model_validator(mode="after")
    def _player(self) -> ClosedLoopSettings:
        if "model=" in self.player.replace(" ", ""):
            raise ValueError(f"player: {self.player!r} names a model; the loop fills in each model itself")
        return self
