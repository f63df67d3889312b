"""Output shared by the benchmarks: markdown tables (pasted into docs/benchmarks.md as printed)."""
from __future__ import annotations

from collections.abc import Sequence


def print_markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A markdown table: the header, its rule, one line per row."""
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
