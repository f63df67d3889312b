"""Result types of the conformance runner.

Kept free of engine imports so that discovery, exclusion handling and the CLI can be
exercised (and fail with clear input errors) before any engine code is touched.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

CONTRACT = "contract"
PARITY = "rules-parity"
GOLDEN = "golden"
RANDOM = "random-game"
KINDS = (CONTRACT, PARITY, GOLDEN, RANDOM)


class ConformanceInputError(Exception):
    """A path that cannot be run: missing, unreadable, not JSON, or of no known kind.

    Raised before anything runs so that a typo in a path never turns into a silent
    "0 passed, 0 failed".
    """


@dataclass(frozen=True)
class Failure:
    """One assertion that differed: what the data expects and what our engine produced."""

    assertion: str
    expected: Any
    actual: Any

    def describe(self) -> str:
        return f"{self.assertion}: expected {self.expected!r}, got {self.actual!r}"


@dataclass
class Result:
    """Outcome of one counted unit (a vector, a fixture, or a whole game).

    `notes` carry what is reported but never counted: whether the engine considers a
    trusted-replay move legal, the loosely used `status` field, bookkeeping moves the
    runner applied, fields it could not check.
    """

    id: str
    kind: str
    source: Path
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    legal: bool | None = None
    excluded: bool = False
    exclusion_reason: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def fail(self, assertion: str, expected: Any, actual: Any) -> None:
        self.failures.append(Failure(assertion, expected, actual))


@dataclass(frozen=True)
class Case:
    """A unit found by discovery, not yet run.

    Cases exist before running so the CLI knows totals for its progress bar and can
    filter by id; `size` weights progress by the number of moves a case replays.
    """

    id: str
    kind: str
    source: Path
    runner: Callable[[], Result]
    size: int = 1
    exclusion_reason: str | None = None

    def run(self) -> Result:
        """Run the case; an exception escaping a runner becomes a failure, not a crash."""
        try:
            result = self.runner()
        except Exception as exc:  # the runner must report, not abort the whole run
            result = Result(self.id, self.kind, self.source)
            result.fail("runner", "no exception", describe_error(exc))
        if self.exclusion_reason is not None:
            result.excluded = True
            result.exclusion_reason = self.exclusion_reason
        return result


def describe_error(exc: BaseException) -> str:
    """Exception as `Type: message`, the form failures show for engine errors."""
    return f"{type(exc).__name__}: {exc}"
