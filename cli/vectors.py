"""`rift vectors PATH...`: run RingRift's conformance data against our engine.

Presentation only; finding, classifying and running cases is engine.conformance. The
last line is always exactly `N passed, M failed` so scripts and CI can read it; excluded
cases are reported apart and never counted; exit 1 on any failure, 2 on bad input.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine.conformance import KINDS, Case, ConformanceInputError, Result, collect_cases, load_disputed

# Vectors this project disputes, each with the rule it cites (see docs/conformance.md).
DEFAULT_DISPUTED = Path(__file__).resolve().parents[1] / "docs" / "conformance-disputed.json"

_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Attach the `vectors` command to the `rift` app."""
    app.command("vectors")(vectors)


def vectors(
    paths: list[Path] = typer.Argument(..., help="Files or folders (searched recursively) of conformance data."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every pass and its notes too."),
    only: Optional[str] = typer.Option(None, "--only", help="Run only cases whose id contains this substring."),
    disputed: Optional[Path] = typer.Option(
        None, "--disputed",
        help="JSON of disputed ids with the rule each cites (default: docs/conformance-disputed.json).",
    ),
) -> None:
    """Run contract vectors, rules-parity fixtures, golden games and random-game records."""
    try:
        source = disputed or (DEFAULT_DISPUTED if DEFAULT_DISPUTED.is_file() else None)
        cases = collect_cases(paths, only=only, disputed=load_disputed(source) if source else None)
    except ConformanceInputError as exc:
        _err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2)
    results = _run_all(cases)
    counted = [r for r in results if not r.excluded]
    for result in counted:
        if not result.passed:
            _print_result(result, "FAIL", "red", show_notes=True)
        elif verbose:
            _print_result(result, "PASS", "green", show_notes=True)
    excluded = [r for r in results if r.excluded]
    if excluded:
        _out.print(f"\nExcluded or disputed (not counted): {len(excluded)}", style="yellow", markup=False)
        for result in excluded:
            verdict = "would pass" if result.passed else f"fails: {result.failures[0].describe()}"
            _out.print(f"  {result.id} - {result.exclusion_reason} [{verdict}]", markup=False)
    _print_summary(results)
    failed = sum(1 for r in counted if not r.passed)
    typer.echo(f"{len(excluded)} excluded")
    typer.echo(f"{len(counted) - failed} passed, {failed} failed")
    raise typer.Exit(1 if failed else 0)


def _run_all(cases: list[Case]) -> list[Result]:
    """Run every case under a progress bar weighted by moves replayed."""
    results: list[Result] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=_err, transient=True) as progress:
        task = progress.add_task("vectors", total=sum(c.size for c in cases))
        for case in cases:
            progress.update(task, description=f"{case.kind} {case.id}")
            results.append(case.run())
            progress.advance(task, case.size)
    return results


def _print_result(result: Result, label: str, style: str, show_notes: bool) -> None:
    _out.print(f"{label} {result.kind} {result.id} ({result.source})", style=style, markup=False)
    for failure in result.failures:
        _out.print(f"    {failure.describe()}", markup=False)
    if show_notes:
        for note in result.notes:
            _out.print(f"    note: {note}", style="dim", markup=False)


def _print_summary(results: list[Result]) -> None:
    tally: Counter[tuple[str, str]] = Counter()
    for r in results:
        tally[(r.kind, "excluded" if r.excluded else "passed" if r.passed else "failed")] += 1
    table = Table(title="Conformance by kind", show_edge=False)
    for column in ("kind", "passed", "failed", "excluded"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for kind in KINDS:
        row = [tally[(kind, k)] for k in ("passed", "failed", "excluded")]
        if any(row):
            table.add_row(kind, *map(str, row))
    _out.print()
    _out.print(table)
