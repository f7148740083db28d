"""The `pgtune` command: one typer app, one sub-module per command group."""

import sys
from typing import Annotated

import typer

from pgtune import __version__
from pgtune.cli import audit, check, roles, tune

app = typer.Typer(
    name="pgtune",
    help="Make a PostgreSQL server fast and safe.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
)
tune.register(app)
check.register(app)
roles.register(app)
audit.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pgtune {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Make a PostgreSQL server fast and safe."""


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("pgtune: interrupted\n")
        sys.exit(130)
