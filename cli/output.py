"""Consoles for `rift` output that stay readable outside a terminal.

Rich fits tables into the terminal's width, and without a terminal (a pipe, a log file, CI, a test)
into 80 columns, squeezing cells to "con..." and "ite...". Here output that does not go to a terminal
gets PIPED_WIDTH columns: tables are as wide as their content, never squeezed below it.
"""
from __future__ import annotations

import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

PIPED_WIDTH = 240


def console(stderr: bool = False, **options: Any) -> Console:
    """A Console on stdout (or stderr): the terminal's width on a terminal, PIPED_WIDTH elsewhere."""
    stream = sys.stderr if stderr else sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        tty = False
    return Console(stderr=stderr, width=None if tty else PIPED_WIDTH, **options)


def fail(message: str, code: int = 2) -> NoReturn:
    """End the command: `message` as an error on stderr (never wrapped mid-command), exit status `code`."""
    console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {message}")
    raise typer.Exit(code)
