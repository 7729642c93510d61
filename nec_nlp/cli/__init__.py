"""The ``nec-nlp`` command line: a typer app, one module per command.

Each command module exposes ``register(app)``; commands parse and validate, call a plain library function,
and render. A :class:`~nec_nlp.errors.NecNlpError` is shown as a one-line message with exit code 2.
"""

import sys
from importlib import import_module
from importlib.metadata import version as _dist_version
from typing import Annotated, Optional

import typer

from nec_nlp.errors import NecNlpError

app = typer.Typer(
    name="nec-nlp",
    help="Score provider notes: ICD-10-CM specificity (exact / NEC / NOS) for every diagnosis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = ("code", "lookup", "score", "train", "evaluate", "batch", "audit", "extract")


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"nec-nlp {_dist_version('nec-nlp')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version and exit."),
    ] = None,
) -> None:
    """nec-nlp: NEC vs NOS for every diagnosis in a note."""


for _name in COMMAND_MODULES:
    try:
        _module = import_module(f"nec_nlp.cli.{_name}_cmd")
    except ModuleNotFoundError as exc:  # a command not built yet
        if exc.name != f"nec_nlp.cli.{_name}_cmd":
            raise
        continue
    _module.register(app)


def main() -> None:
    """Console entry point: runs the app; user errors become one-line messages, never tracebacks.

    A :class:`NecNlpError` exits with 2; a usage error (bad option, missing file) is shown by click/typer with
    its own exit code (2); ``typer.Exit(code)`` exits with that code.
    """
    try:
        rc = app(standalone_mode=False)
    except NecNlpError as exc:
        typer.secho(f"Error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except (KeyboardInterrupt, EOFError):
        typer.echo("Aborted.", err=True)
        sys.exit(130)
    except Exception as exc:
        # click's (or typer's vendored click's) ClickException: usage errors, bad parameters, aborts
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):
            show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            typer.echo("Aborted.", err=True)
            sys.exit(1)
        raise
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
