"""The `pgtune` command: one typer app, one sub-module per command group.

A command's module is imported only when that command runs (or when help lists them all), so
`pgtune generate` never pays for the roles, audit or check machinery.
"""

import importlib
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from pgtune import __version__

# Command name -> the pgtune.cli module whose register() adds it, in the order help lists them
# (typer lists plain commands before command groups).
COMMANDS: dict[str, str] = {
    "detect": "tune",
    "generate": "tune",
    "check": "check",
    "audit": "audit",
    "roles": "roles",
    "report": "audit",
}


class LazyGroup(TyperGroup):
    """Registers a command module's commands the first time one of its commands is looked up."""

    def _load(self, module: str) -> None:
        sub = typer.Typer(rich_markup_mode=None, add_completion=False)
        importlib.import_module(f"pgtune.cli.{module}").register(sub)
        group = typer.main.get_group(sub)
        for name, command in group.commands.items():
            self.commands.setdefault(name, command)

    def _load_all(self) -> None:
        for module in dict.fromkeys(COMMANDS.values()):
            self._load(module)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            if cmd_name in COMMANDS:
                self._load(COMMANDS[cmd_name])
            else:
                self._load_all()  # unknown name: "did you mean" needs every name
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: Any) -> list[str]:
        self._load_all()
        return [name for name in COMMANDS if name in self.commands]


app = typer.Typer(
    name="pgtune",
    cls=LazyGroup,
    help="Make a PostgreSQL server fast and safe.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
)


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
