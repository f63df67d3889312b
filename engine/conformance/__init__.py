"""Conformance runner: RingRift's contract vectors, rules-parity fixtures, golden games and
random-game records, run against our engine (see /shared/vectors/README.md).

A pure library: discovery (`collect_cases`) yields `Case`s, each `Case.run()` yields a
`Result` with its failures (assertion, expected, actual) and uncounted notes. The `rift
vectors` command (cli/vectors.py) adds the presentation, progress and exit codes.
"""
from engine.conformance.discover import (
    classify, collect_cases, find_files, load_disputed, load_exclusions,
)
from engine.conformance.model import (
    CONTRACT,
    GOLDEN,
    KINDS,
    PARITY,
    RANDOM,
    Case,
    ConformanceInputError,
    Failure,
    Result,
)

__all__ = [
    "CONTRACT", "GOLDEN", "KINDS", "PARITY", "RANDOM",
    "Case", "ConformanceInputError", "Failure", "Result",
    "classify", "collect_cases", "find_files", "load_disputed", "load_exclusions",
]
