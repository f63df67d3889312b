"""The `rift` command line: one typer app with a sub-module per command group."""
