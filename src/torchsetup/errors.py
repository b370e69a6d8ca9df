"""Errors that carry their exit code.

Exit codes are a contract (docs/cli.md):
0 ok; 1 problems found / verification failed; 2 bad usage or an impossible request;
3 an install step failed; 70 internal error (a bug in torchsetup: an unexpected exception,
reported in one line; TORCHSETUP_DEBUG=1 shows the traceback); 130 interrupted (Ctrl-C, and
SIGTERM or SIGHUP, which are handled exactly like it: children stopped, result logged, restore
hint printed).

Bad input (an option, a snapshot, a report, a restore file) is exit 2 with exactly one line on
stderr, optionally followed by one ``  hint: ...`` line; with ``--json`` the error envelope is
printed on stdout as well. A fault of the machine (stdout on a full disk, an unwritable cache
folder) is exit 1 with one line naming it. Nothing else is an exit code of torchsetup.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_STEP_FAILED = 3
EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h
EXIT_INTERRUPTED = 130
EXIT_CODES = (EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_STEP_FAILED, EXIT_INTERNAL, EXIT_INTERRUPTED)


class TorchSetupError(Exception):
    """Base class: an error the user should see as one clear message, never a traceback."""

    exit_code = EXIT_PROBLEMS

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(TorchSetupError):
    """Bad input: an unknown value, a path that is not what it should be, a malformed version."""

    exit_code = EXIT_USAGE


class SnapshotError(UsageError):
    """A snapshot or report file that cannot be read or parsed."""


class ResolutionError(TorchSetupError):
    """An impossible request: the reason and, where one exists, the nearest request that works."""

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        nearest: str | None = None,
        reasons: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, hint=hint)
        self.nearest = nearest
        self.reasons = reasons


class InterruptedError_(TorchSetupError):
    """The user interrupted a running operation (SIGINT)."""

    exit_code = EXIT_INTERRUPTED
