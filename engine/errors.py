"""Errors raised by the engine for bad input (rules, state and move JSON, model files). All are
ValueErrors, so callers can catch one type."""
from __future__ import annotations


class RulesError(ValueError):
    """Base class of every error the engine raises for bad input."""


class IllegalMoveError(RulesError):
    """A move that the rules do not allow in the given state. The state is left unchanged."""


class StateFormatError(RulesError):
    """Serialized game-state or move JSON that cannot be read; the message names the field."""


class ModelFileError(ValueError):
    """A model file that cannot be used: missing, empty, truncated, not a model export, or of another
    encoding/policy version. One error for every loader (selfplay, match, evaluation, training), so a
    damaged file is never a bare torch traceback or click's "Aborted." (an EOFError from an empty
    file). A ValueError: callers that report bad input catch it, and the pipeline treats it as
    permanent (retrying reads the same bytes). `kind` is "missing" or "unreadable"; `what` names the
    file's role ("model file", "parent model m-12:"), `remedy` what to do."""

    DEFAULT_REMEDY = ("train it again (`rift iterate`) or point at another model file "
                      "(neural:model=PATH, or RIFT_NEURAL_MODEL for the ladder's neural tiers)")

    def __init__(self, path: object, problem: str, remedy: str = DEFAULT_REMEDY, what: str = "model file",
                 kind: str = "unreadable") -> None:
        self.path, self.problem, self.remedy, self.what, self.kind = path, problem, remedy, what, kind
        subject = what if path is None else f"{what} {path}"  # None: no file is known (a registry entry without one)
        super().__init__(f"{subject} is {problem}. What to do: {remedy}")

    def __reduce__(self) -> tuple[type, tuple[object, str, str, str, str]]:
        """Rebuilt from its fields when it crosses a process boundary (match and selfplay workers)."""
        return type(self), (self.path, self.problem, self.remedy, self.what, self.kind)

    def retold(self, what: str, remedy: str) -> ModelFileError:
        """The same problem told for a caller that knows the file's role and the better remedy."""
        return ModelFileError(self.path, self.problem, remedy, what, self.kind)
