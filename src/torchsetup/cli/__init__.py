"""The command-line shell: a click group whose commands are imported only when run.

``torchsetup --help`` imports click and this module, nothing else: each command lives in its
own module (``torchsetup.cli.<name>``) and is loaded on demand. Commands parse options, call
the pure core, render results and return an exit code; they hold no logic of their own.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
from typing import Any, Optional

import click

from torchsetup import __version__
from torchsetup.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    TorchSetupError,
)

# name -> (module, attribute, short help). The short help lives here so that ``--help``
# can list the commands without importing them.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "doctor": (
        "torchsetup.cli.doctor",
        "doctor",
        "Explain this machine's PyTorch setup and how to fix it.",
    ),
    "install": (
        "torchsetup.cli.install",
        "install",
        "Pick the right PyTorch build, install it and verify it.",
    ),
    "verify": ("torchsetup.cli.verify", "verify", "Prove that torch really works here (CI gate)."),
    "matrix": ("torchsetup.cli.matrix", "matrix", "Show the PyTorch compatibility table."),
    "restore": (
        "torchsetup.cli.restore",
        "restore",
        "Put back the packages recorded before an install.",
    ),
    "guard": (
        "torchsetup.cli.guard",
        "guard",
        "Pin the installed torch build so later installs cannot swap it.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        entry = COMMANDS.get(cmd_name)
        if entry is None or not _available(cmd_name):
            return None
        module = importlib.import_module(entry[0])
        cmd = getattr(module, entry[1])
        assert isinstance(cmd, click.Command)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _available(name: str) -> bool:
    return importlib.util.find_spec(COMMANDS[name][0]) is not None


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="torchsetup")
def cli() -> None:
    """Set up and prove a PyTorch 2.x environment.

    \b
      torchsetup doctor                 what is this machine, what is wrong, how to fix it
      torchsetup install --cuda 12.8    resolve -> show plan -> install -> verify
      torchsetup verify                 exit non-zero unless torch really works here

    Exit codes: 0 ok, 1 problems found or verification failed, 2 bad usage or an
    impossible request, 3 an install step failed, 70 internal error (a bug: please report
    it), 130 interrupted.
    """


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _shown(message: str) -> str:
    """A message on its way out: credentials redacted, escape sequences removed, one line."""
    from torchsetup.redact import redact_url_credentials
    from torchsetup.sanitize import clean

    return _one_line(clean(redact_url_credentials(message)))


def _usage_error(exc: click.UsageError) -> int:
    msg = _shown(exc.format_message())
    cmd = exc.ctx.command_path if exc.ctx is not None else "torchsetup"
    click.echo(f"{cmd}: error: {msg} (see '{cmd} --help')", err=True)
    return EXIT_USAGE


def _json_error(args: list[str], message: str, exit_code: int, hint: Optional[str] = None) -> None:
    """With ``--json``, a command that fails before it has a result still prints one document
    (the error envelope) on stdout; the one-line message still goes to stderr."""
    words = args[: args.index("--")] if "--" in args else args
    if "--json" not in words or not words or words[0] not in COMMANDS:
        return
    from torchsetup.result import dumps

    error = {"message": message, "hint": hint or None}
    click.echo(dumps(words[0], None, exit_code=exit_code, error=error))


def _interrupted() -> int:
    """Ctrl-C, SIGTERM or SIGHUP: stop every child still running (a probe in a worker
    thread: a hung nvidia-smi), one line, exit 130."""
    from torchsetup.proc import stop_all

    stop_all()
    try:
        click.echo("torchsetup: interrupted", err=True)
    except OSError:  # SIGHUP: the terminal may be gone
        pass
    return EXIT_INTERRUPTED


def main(argv: Optional[list[str]] = None) -> None:
    """Console-script entry point: runs the group, maps every failure to one line and an exit code."""
    from torchsetup.proc import install_signal_handlers

    install_signal_handlers()  # SIGTERM and SIGHUP are handled like Ctrl-C (exit 130)
    for stream in (sys.stdout, sys.stderr):
        # PYTHONIOENCODING=ascii, a C locale: a character the stream cannot encode is escaped,
        # never an exception
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    code = run(argv)
    sys.exit(_flush_stdout(code))


def _flush_stdout(code: int) -> int:
    """Flush stdout before exit, so that a failed write (/dev/full, a closed pipe) is seen here
    and named, not reported by the interpreter at shutdown."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()
    except OSError as exc:
        _stdout_to_devnull()
        with contextlib.suppress(OSError):
            click.echo(
                f"torchsetup: error: cannot write the output: {exc.strerror or exc}", err=True
            )
        return code or EXIT_PROBLEMS
    return code


def _stdout_to_devnull() -> None:
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


MAX_ARGUMENT = 4096  # PATH_MAX; URLs longer than this are not index URLs


def _bad_argument(args: list[str]) -> Optional[str]:
    """The refusal for an argument holding a control character (a newline in an --index-url
    would end a comment line of an exported script; an escape would reach the terminal),
    longer than any path or URL, or empty (``--python "$PY"`` with PY unset must not mean
    "no --python": that would quietly pick another interpreter)."""
    import re

    for i, arg in enumerate(args):
        option = args[i - 1] if i > 0 and args[i - 1].startswith("--") else None
        what = f"the value of {option}" if option else f"argument {i + 1}"
        if arg == "" or (arg.startswith("--") and arg.endswith("=")):
            what = f"the value of {arg[:-1]}" if arg else what
            return f"{what} is empty (an unset shell variable?); leave the option out instead"
        if len(arg) > MAX_ARGUMENT:  # also: no 4,300-digit integer reaches int()
            return f"{what} is {len(arg)} characters long (at most {MAX_ARGUMENT})"
        m = re.search(r"[\x00-\x1f\x7f-\x9f]", arg)
        if m is None:
            continue
        from torchsetup.sanitize import clean

        shown = clean(arg).replace("\n", "\\x0a").replace("\t", "\\x09")
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return (
            f"{what} holds a control character (\\x{ord(m.group(0)):02x}): '{shown}'; "
            "URLs, paths and package names cannot"
        )
    return None


def run(argv: Optional[list[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)  # to see --json when reporting errors
    refusal = _bad_argument(args)
    if refusal is not None:
        _json_error(args, refusal, EXIT_USAGE)
        click.echo(f"torchsetup: error: {refusal}", err=True)
        return EXIT_USAGE
    try:
        rv: Any = cli.main(args=argv, prog_name="torchsetup", standalone_mode=False)
    except click.UsageError as exc:
        _json_error(args, _shown(exc.format_message()), EXIT_USAGE)
        return _usage_error(exc)
    except click.exceptions.Abort:
        return _interrupted()
    except click.ClickException as exc:
        _json_error(args, _shown(exc.format_message()), exc.exit_code)
        click.echo(f"torchsetup: error: {_shown(exc.format_message())}", err=True)
        return exc.exit_code
    except TorchSetupError as exc:
        from torchsetup.redact import redact_url_credentials
        from torchsetup.sanitize import clean

        message = redact_url_credentials(exc.message)
        hint = redact_url_credentials(exc.hint) if exc.hint else None
        _json_error(args, message, exc.exit_code, hint=hint)
        click.echo(f"torchsetup: error: {_one_line(clean(message))}", err=True)
        if hint:
            click.echo(f"  hint: {_one_line(clean(hint))}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return _interrupted()
    except BrokenPipeError:
        # `torchsetup doctor | head`: the reader went away; that is not an error.
        _stdout_to_devnull()
        return 0
    except OSError as exc:
        # the machine, not torchsetup: stdout on /dev/full, an unwritable cache or log folder
        where = f" ({exc.filename})" if exc.filename else ""
        with contextlib.suppress(OSError):
            click.echo(f"torchsetup: error: {exc.strerror or exc}{where}", err=True)
        _stdout_to_devnull()
        return EXIT_PROBLEMS
    except Exception as exc:
        if os.environ.get("TORCHSETUP_DEBUG"):
            raise
        click.echo(
            f"torchsetup: internal error: {type(exc).__name__}: {_shown(str(exc))} "
            "(please report it; rerun with TORCHSETUP_DEBUG=1 for the traceback)",
            err=True,
        )
        return EXIT_INTERNAL
    if isinstance(rv, int):
        return rv
    return 0
