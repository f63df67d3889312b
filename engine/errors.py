"""Errors raised by the rules engine. All are ValueErrors, so callers can catch one type."""
from __future__ import annotations


class RulesError(ValueError):
    """Base class of every error the engine raises for bad input."""


class IllegalMoveError(RulesError):
    """A move that the rules do not allow in the given state. The state is left unchanged."""


class StateFormatError(RulesError):
    """Serialized game-state or move JSON that cannot be read; the message names the field."""
