"""The one door for subprocesses.

Everything torchsetup runs goes through :func:`run` (capture output, for probes) or
:func:`stream` (line by line, for install steps). Both take an argv list (never a shell
string), a timeout, an optional environment addition and a working directory, and neither
raises for a failed, missing or hung program: the result says what happened.

A hung child is killed together with its own children (the process group on POSIX), so a
stand-in ``nvidia-smi`` that forks a ``sleep`` cannot hold torchsetup past its timeout.

Signals: children run in their own session, so a terminal's Ctrl-C or hang-up never reaches
them directly; torchsetup stops them itself. :func:`install_signal_handlers` (the CLI calls it)
makes SIGTERM and SIGHUP raise :class:`Terminated`, a KeyboardInterrupt, so they get exactly
what Ctrl-C gets: the running step's tree stopped, the result written to the log, the restore
hint, exit 130. Every live child is registered; :func:`stop_all` kills what is left (a probe
running in a worker thread when the main thread was interrupted).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

_POSIX = os.name == "posix"
# SIGINT and what is handled like it (SIGTERM, SIGHUP); SIGHUP does not exist on Windows
_STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
_live: set[subprocess.Popen[str]] = set()
_live_lock = threading.Lock()


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C (a KeyboardInterrupt) everywhere."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP raise :class:`Terminated` in the main thread (an ignored one, as under
    ``nohup``, stays ignored)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _STOP_SIGNALS:
        if signum == signal.SIGINT or signal.getsignal(signum) == signal.SIG_IGN:
            continue

        def handler(sig: int, frame: object) -> None:
            raise Terminated(sig)

        signal.signal(signum, handler)


def stop_all() -> None:
    """Kill every child still running (with its process group)."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _kill_tree(proc)


def _register(proc: subprocess.Popen[str]) -> None:
    with _live_lock:
        _live.add(proc)


def _unregister(proc: subprocess.Popen[str]) -> None:
    with _live_lock:
        _live.discard(proc)


@dataclass(frozen=True)
class ProcResult:
    """What running one program produced. ``error`` is set when it could not run to completion."""

    argv: tuple[str, ...]
    returncode: Optional[int]
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    error: Optional[str] = None
    timed_out: bool = False
    not_found: bool = False
    interrupted: bool = False
    signal: Optional[int] = field(default=None)

    @property
    def ok(self) -> bool:
        return self.error is None and self.returncode == 0

    def describe_failure(self) -> str:
        """One line saying why this did not succeed (empty when it did)."""
        if self.ok:
            return ""
        if self.error:
            return self.error
        if self.signal is not None:
            name = _signal_name(self.signal)
            return f"killed by signal {self.signal} ({name})"
        tail = (self.stderr.strip() or self.stdout.strip()).splitlines()
        last = tail[-1] if tail else ""
        return f"exit code {self.returncode}" + (f": {last}" if last else "")


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return "unknown signal"


def merged_env(
    extra: Optional[Mapping[str, str]] = None,
    base: Optional[Mapping[str, str]] = None,
    remove: Sequence[str] = (),
) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    for key in remove:
        env.pop(key, None)
    if extra:
        env.update(extra)
    return env


def _prepare(
    argv: Sequence[str], env: Optional[Mapping[str, str]], extra_env: Optional[Mapping[str, str]]
) -> tuple[tuple[str, ...], Optional[dict[str, str]]]:
    """argv as strings (never empty) and the child's environment (None: inherit ours)."""
    args = tuple(str(a) for a in argv)
    if not args:
        raise ValueError("empty argv")
    return args, merged_env(extra_env, env) if (env is not None or extra_env) else None


def _popen_kwargs() -> dict[str, object]:
    if _POSIX:
        return {"start_new_session": True}
    return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}


def _kill_tree(proc: subprocess.Popen[str], sig: int = signal.SIGKILL if _POSIX else 9) -> None:
    try:
        if _POSIX:
            os.killpg(proc.pid, sig)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _not_started(argv: tuple[str, ...], exc: OSError, started: float) -> ProcResult:
    not_found = isinstance(exc, FileNotFoundError)
    if not_found:
        msg = f"not found: {argv[0]}"
    elif isinstance(exc, PermissionError):
        msg = f"permission denied: {argv[0]}"
    else:
        msg = f"could not start {argv[0]}: {exc.strerror or exc}"
    return ProcResult(
        argv=argv,
        returncode=None,
        duration_s=time.perf_counter() - started,
        error=msg,
        not_found=not_found,
    )


def _finish(
    argv: tuple[str, ...],
    rc: Optional[int],
    out: str,
    err: str,
    started: float,
    *,
    timed_out: bool = False,
    timeout: float = 0.0,
    interrupted: bool = False,
) -> ProcResult:
    duration = time.perf_counter() - started
    sig = None
    error = None
    if timed_out:
        error = f"timed out after {timeout:g} s: {argv[0]}"
    elif interrupted:
        error = "interrupted"
    elif rc is not None and rc < 0 and _POSIX:
        sig = -rc
    return ProcResult(
        argv=argv,
        returncode=rc,
        stdout=out,
        stderr=err,
        duration_s=duration,
        error=error,
        timed_out=timed_out,
        interrupted=interrupted,
        signal=sig,
    )


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Optional[Mapping[str, str]] = None,
    extra_env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    input: Optional[str] = None,
) -> ProcResult:
    """Run ``argv`` to completion (or ``timeout``), capturing stdout and stderr as text.

    Never raises for the program's failures; ``KeyboardInterrupt`` kills the child and is
    re-raised.
    """
    args, full_env = _prepare(argv, env, extra_env)
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            cwd=cwd,
            text=True,
            encoding="utf-8",
            errors="replace",
            **_popen_kwargs(),  # type: ignore[call-overload]
        )
    except OSError as exc:
        return _not_started(args, exc, started)
    _register(proc)
    try:
        return _communicate(proc, args, input, timeout, started)
    finally:
        _unregister(proc)


MAX_CAPTURE = 16 * 1024 * 1024  # characters kept of each of stdout and stderr
TRUNCATED = "\n[torchsetup: output cut at 16 MB]\n"


class _Capture:
    """One output pipe read to its end in a thread; at most :data:`MAX_CAPTURE` characters kept
    (2 million nvidia-smi rows or a runaway tool cannot fill torchsetup's memory), the rest
    read and dropped so the child never blocks on a full pipe."""

    def __init__(self, pipe: Any) -> None:
        self.parts: list[str] = []
        self.kept = 0
        self.cut = False
        self.thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self.thread.start()

    def _read(self, pipe: Any) -> None:
        try:
            while True:
                chunk = pipe.read(65536)
                if not chunk:
                    break
                room = MAX_CAPTURE - self.kept
                if room > 0:
                    self.parts.append(chunk[:room])
                    self.kept += min(room, len(chunk))
                if len(chunk) > room:
                    self.cut = True
        except (OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                pipe.close()

    def text(self, wait: float) -> str:
        self.thread.join(wait)
        return "".join(self.parts) + (TRUNCATED if self.cut else "")


def _communicate(
    proc: subprocess.Popen[str],
    args: tuple[str, ...],
    input: Optional[str],
    timeout: float,
    started: float,
) -> ProcResult:
    out, err = _Capture(proc.stdout), _Capture(proc.stderr)
    if proc.stdin is not None:

        def feed() -> None:
            assert proc.stdin is not None
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.write(input or "")
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()

        threading.Thread(target=feed, daemon=True).start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(proc)
        _reap(proc)
        return _finish(
            args, None, out.text(2), err.text(2), started, timed_out=True, timeout=timeout
        )
    except KeyboardInterrupt:
        _kill_tree(proc)
        _reap(proc)
        raise
    # a grandchild that kept the pipes open must not hold us: its output is what came so far
    return _finish(args, proc.returncode, out.text(5), err.text(5), started)


LineCallback = Callable[[str], None]


def stream(
    argv: Sequence[str],
    *,
    timeout: Optional[float],
    on_line: LineCallback,
    env: Optional[Mapping[str, str]] = None,
    extra_env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    keep_lines: int = 200,
    deadline: Optional[Callable[[], Optional[float]]] = None,
) -> ProcResult:
    """Run ``argv`` with stdout and stderr merged, calling ``on_line`` for each line as it comes.

    ``stdout`` of the result holds the last ``keep_lines`` lines. A timeout kills the process
    tree. ``deadline``, if given, is asked every 0.1 s for the current absolute
    ``time.perf_counter()`` deadline (None: none for now); passing it kills the tree like a
    timeout does, so a caller can move it on as output arrives (a timeout per step).
    ``KeyboardInterrupt`` (SIGINT) stops the child tree (SIGINT, then SIGKILL after a
    grace period) and returns a result with ``interrupted=True`` instead of raising, so the
    caller can report and clean up.
    """
    args, full_env = _prepare(argv, env, extra_env)
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            **_popen_kwargs(),  # type: ignore[call-overload]
        )
    except OSError as exc:
        return _not_started(args, exc, started)
    _register(proc)
    try:
        return _follow(proc, args, started, timeout, on_line, keep_lines, deadline)
    finally:
        _unregister(proc)


def _follow(
    proc: subprocess.Popen[str],
    args: tuple[str, ...],
    started: float,
    timeout: Optional[float],
    on_line: LineCallback,
    keep_lines: int,
    deadline: Optional[Callable[[], Optional[float]]],
) -> ProcResult:
    tail: list[str] = []
    reader_done = threading.Event()

    def _reader() -> None:
        assert proc.stdout is not None
        try:
            for raw in proc.stdout:
                line = raw.rstrip("\r\n")
                tail.append(line)
                if len(tail) > keep_lines:
                    del tail[0]
                try:
                    on_line(line)
                except Exception:  # noqa: BLE001 - a display error must not kill the install
                    pass
        finally:
            proc.stdout.close()  # else the pipe leaks (ResourceWarning) once the child is done
            reader_done.set()

    reader = threading.Thread(target=_reader, name="torchsetup-stream", daemon=True)
    reader.start()
    end = None if timeout is None else started + timeout
    with _counting_sigint() as sigint:
        try:
            while True:
                if sigint.n:
                    raise KeyboardInterrupt
                try:
                    rc = proc.wait(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    now = time.perf_counter()
                    moving = deadline() if deadline is not None else None
                    past_end = end is not None and now > end
                    if past_end or (moving is not None and now > moving):
                        _kill_tree(proc)
                        _reap(proc)
                        reader_done.wait(2)
                        waited = (timeout or 0.0) if past_end else round(now - started, 1)
                        return _finish(
                            args,
                            None,
                            "\n".join(tail),
                            "",
                            started,
                            timed_out=True,
                            timeout=waited,
                        )
        except KeyboardInterrupt:
            _interrupt_tree(proc, sigint)
            reader_done.wait(2)
            return _finish(args, proc.returncode, "\n".join(tail), "", started, interrupted=True)
    reader_done.wait(5)
    return _finish(args, rc, "\n".join(tail), "", started)


class _SigintCount:
    n = 0
    signum: int = signal.SIGINT


@contextlib.contextmanager
def _counting_sigint() -> Iterator[_SigintCount]:
    """While active in the main thread, SIGINT (and SIGTERM, SIGHUP: handled alike) is counted
    instead of raising KeyboardInterrupt.

    A KeyboardInterrupt raised inside ``Popen.wait`` can leave Popen's internal waitpid lock
    held (between its ``acquire`` and ``try``); every later ``wait()`` then blocks forever. So
    :func:`stream` raises it itself, between waits, where nothing is held.
    """
    count = _SigintCount()
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():

        def handler(signum: int, frame: object) -> None:
            count.n += 1
            count.signum = signum

        for signum in _STOP_SIGNALS:
            current = signal.getsignal(signum)
            if current not in (signal.SIG_IGN, None):
                previous[signum] = signal.signal(signum, handler)
    try:
        yield count
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)  # type: ignore[arg-type]


def _reap(proc: subprocess.Popen[str], seconds: float = 10.0) -> None:
    """Wait for a killed child, bounded: never block forever on Popen's internal lock (which an
    interrupt inside an earlier ``wait`` can leave held); reap it directly as a last resort."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        try:
            proc.wait(timeout=0.2)
            return
        except subprocess.TimeoutExpired:
            continue
    if _POSIX:
        with contextlib.suppress(ChildProcessError, OSError):
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)


def _interrupt_tree(proc: subprocess.Popen[str], sigint: _SigintCount, grace: float = 5.0) -> None:
    """Ask the child tree to stop (SIGINT), then kill it if it does not within ``grace`` or on a
    second Ctrl-C."""
    if _POSIX:
        try:
            # Ctrl-C is passed on as SIGINT (pip stops cleanly on it); SIGTERM/SIGHUP as SIGTERM
            os.killpg(proc.pid, signal.SIGINT if sigint.signum == signal.SIGINT else signal.SIGTERM)
        except (ProcessLookupError, PermissionError, OSError):
            pass
    else:  # pragma: no cover - Windows
        proc.terminate()
    end = time.perf_counter() + grace
    first = sigint.n
    while proc.poll() is None:
        if sigint.n > first or time.perf_counter() > end:
            _kill_tree(proc)
            _reap(proc)
            return
        time.sleep(0.05)


def python_argv(python: str, *args: str) -> list[str]:
    """argv to run ``python`` isolated from the user's PYTHON* variables and cwd."""
    return [python, "-I", *args]


def target_argv(python: str, script: str, *args: str) -> list[str]:
    """argv to run a stdlib-only ``script`` by path in the *target* interpreter as the user's
    plain ``python`` would: no ``-I`` (user site and ``PYTHONPATH`` count, as they do for the
    user), and running a file by path never puts the cwd on sys.path. The script takes its own
    folder off sys.path first thing. The target probe and smoke.py run this way."""
    return [python, script, *args]


# --- the runner: the executor's only way to start programs -----------------------------------


class Runner(Protocol):
    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str],
        cwd: Optional[str] = None,
    ) -> ProcResult: ...

    def stream(
        self,
        argv: Sequence[str],
        *,
        timeout: Optional[float],
        on_line: LineCallback,
        env: Mapping[str, str],
        cwd: Optional[str] = None,
    ) -> ProcResult: ...


class ProcRunner:
    """The real runner: :mod:`torchsetup.proc`, the one door for subprocesses."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str],
        cwd: Optional[str] = None,
    ) -> ProcResult:
        return run(argv, timeout=timeout, env=env, cwd=cwd)

    def stream(
        self,
        argv: Sequence[str],
        *,
        timeout: Optional[float],
        on_line: LineCallback,
        env: Mapping[str, str],
        cwd: Optional[str] = None,
    ) -> ProcResult:
        return stream(argv, timeout=timeout, on_line=on_line, env=env, cwd=cwd)
