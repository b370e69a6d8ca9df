"""The drift guard's files in a Python prefix (a venv or a conda environment).

After an install, ``torchsetup guard on`` pins the torch build it installed (the version with
its local tag, ``torch==2.13.0+cpu``) and its companions for every later install in that prefix:

- ``<prefix>/torchsetup-constraints.txt``: the pins, one ``name==version`` a line;
- ``<prefix>/pip.conf`` (``pip.ini`` on Windows), pip's *site* configuration file, which pip
  reads for every ``pip install`` run by that prefix's interpreter (activated or not):
  ``[install] constraint = <the pins file> <constraints the user's own pip configuration
  already named>`` (a site value replaces a global or user one, so those are carried over);
- uv reads no per-environment configuration, only ``UV_CONSTRAINT``: the venv's ``bin/activate``
  (a conda environment: ``etc/conda/activate.d``) exports it, so ``uv pip install`` in an
  activated environment is held too.

``torchsetup guard off`` removes the pip.conf and the activation lines; the pins file stays,
emptied, so that a shell which exported ``UV_CONSTRAINT`` before keeps working.
This module only reads and writes those files (no processes): the install plan runs
``torchsetup guard on --python PY`` as a step, doctor reports :func:`status_of` of what the detect probe recorded (:func:`guard_files`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

PINS_FILE = "torchsetup-constraints.txt"
MARKER = "# torchsetup guard"
BEGIN = "# >>> torchsetup guard >>>"
END = "# <<< torchsetup guard <<<"
FAMILY = ("torch", "torchvision", "torchaudio", "triton", "pytorch-triton-rocm")


def pip_conf_name() -> str:
    return "pip.ini" if os.name == "nt" else "pip.conf"


@dataclass(frozen=True)
class GuardStatus:
    prefix: str
    pins: tuple[str, ...] = ()  # "torch==2.13.0+cpu", ...
    pip: bool = False  # the prefix's pip configuration names the pins file
    uv: bool = False  # the activation script exports UV_CONSTRAINT
    foreign_pip_conf: bool = False  # a pip.conf torchsetup did not write (left alone)

    @property
    def on(self) -> bool:
        return bool(self.pins) and (self.pip or self.uv)


def pins_path(prefix: str | os.PathLike[str]) -> Path:
    return Path(prefix) / PINS_FILE


def parse_pins(text: str) -> tuple[str, ...]:
    return tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def names_pins_file(pip_conf_text: str, prefix: str) -> bool:
    """Does this pip configuration text name the prefix's pins file as a constraint?"""
    return str(pins_path(prefix)) in pip_conf_text and MARKER in pip_conf_text


def status_from_text(
    prefix: str, *, pins_text: Optional[str], pip_conf_text: Optional[str], activate: str = ""
) -> GuardStatus:
    """The guard of ``prefix`` from its files' texts (None: the file does not exist)."""
    return GuardStatus(
        prefix=prefix,
        pins=parse_pins(pins_text or ""),
        pip=pip_conf_text is not None and names_pins_file(pip_conf_text, prefix),
        uv=BEGIN in activate,
        foreign_pip_conf=pip_conf_text is not None and MARKER not in pip_conf_text,
    )


def _read(path: Path) -> Optional[str]:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _activation_scripts(prefix: Path) -> list[tuple[Path, str]]:
    """(script, the lines that export UV_CONSTRAINT in it) for this prefix's activation."""
    import shlex  # (this module is on doctor's probe path: imports kept light)

    pins = str(pins_path(prefix))
    out = []
    for sub in ("bin", "Scripts"):
        script = prefix / sub / "activate"
        if script.is_file():
            out.append((script, f"export UV_CONSTRAINT={shlex.quote(pins)}\n"))
    if (prefix / "conda-meta").is_dir():
        conda = prefix / "etc" / "conda"
        out.append(
            (
                conda / "activate.d" / "torchsetup-guard.sh",
                f"export UV_CONSTRAINT={shlex.quote(pins)}\n",
            )
        )
        out.append((conda / "deactivate.d" / "torchsetup-guard.sh", "unset UV_CONSTRAINT\n"))
    return out


def guard_files(prefix: str | os.PathLike[str]) -> dict[str, str]:
    """{path: text} of the guard's files in ``prefix`` that exist (of an activation script only
    torchsetup's block): what the detect probe records and doctor judges (:func:`status_of`)."""
    root = Path(prefix)
    out: dict[str, str] = {}
    for path in (pins_path(root), root / pip_conf_name()):
        text = _read(path)
        if text is not None:
            out[str(path)] = text
    for script, _ in _activation_scripts(root):
        text = _read(script) or ""
        if BEGIN in text:
            out[str(script)] = BEGIN + text.partition(BEGIN)[2].partition(END)[0] + END + "\n"
    return out


def status_of(prefix: str, files: dict[str, str]) -> GuardStatus:
    """The guard of ``prefix`` from recorded files ({path: text}, as :func:`guard_files`)."""
    root = Path(prefix)
    return status_from_text(
        prefix,
        pins_text=files.get(str(pins_path(root))),
        pip_conf_text=files.get(str(root / pip_conf_name())),
        activate="".join(
            text for path, text in files.items() if BEGIN in text and Path(path).parent != root
        ),
    )


def read_status(prefix: str | os.PathLike[str]) -> GuardStatus:
    root = Path(prefix)
    activate = "".join(_read(s) or "" for s, _ in _activation_scripts(root))
    return status_from_text(
        str(root),
        pins_text=_read(pins_path(root)),
        pip_conf_text=_read(root / pip_conf_name()),
        activate=activate,
    )


def user_constraints(config_files: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The ``constraint`` values the user's global/user pip configuration files name (kept in
    the site value, which would otherwise replace them)."""
    import configparser

    out: list[str] = []
    for path in config_files:
        parser = configparser.RawConfigParser()
        try:
            parser.read(os.fspath(path), encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in ("global", "install"):
            if parser.has_option(section, "constraint"):
                out += [v for v in parser.get(section, "constraint").split() if v not in out]
    return out


def pip_config_files(environ: dict[str, str] | os._Environ[str]) -> list[str]:
    """pip's global and user configuration files (POSIX and Windows locations)."""
    home = os.path.expanduser("~")
    if os.name == "nt":
        appdata = environ.get("APPDATA", "")
        return [
            r"C:\ProgramData\pip\pip.ini",
            os.path.join(appdata, "pip", "pip.ini"),
            os.path.join(home, "pip", "pip.ini"),
        ]
    xdg = environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    return [
        *(os.path.join(d, "pip", "pip.conf") for d in xdg),
        "/etc/pip.conf",
        os.path.join(home, ".pip", "pip.conf"),
        os.path.join(
            environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"), "pip", "pip.conf"
        ),
    ]


def pip_conf_text(prefix: str | os.PathLike[str], keep: Sequence[str]) -> str:
    values = " ".join([str(pins_path(prefix)), *keep])
    return (
        f"{MARKER}: pins the torch build torchsetup installed here for every pip install\n"
        "# (torchsetup guard off removes this file; a deliberate upgrade: torchsetup install)\n"
        "[install]\n"
        f"constraint = {values}\n"
    )


def write_guard(
    prefix: str | os.PathLike[str], pins: Sequence[str], *, keep: Sequence[str] = ()
) -> GuardStatus:
    """Write the pins, the prefix's pip.conf (unless one not written by torchsetup is there)
    and the UV_CONSTRAINT activation lines. Returns the status afterwards."""
    root = Path(prefix)
    pins_path(root).write_text(
        f"{MARKER}: the torch build installed here (torchsetup guard off lifts it)\n"
        + "".join(f"{p}\n" for p in pins),
        encoding="utf-8",
    )
    conf = root / pip_conf_name()
    existing = _read(conf)
    if existing is None or MARKER in existing:
        conf.write_text(pip_conf_text(root, keep), encoding="utf-8")
    for script, lines in _activation_scripts(root):
        text = _strip_block(_read(script) or "")
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(f"{text}{BEGIN}\n{lines}{END}\n", encoding="utf-8")
    return read_status(root)


def _strip_block(text: str) -> str:
    if BEGIN not in text:
        return text
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + tail.lstrip("\n")


def remove_guard(prefix: str | os.PathLike[str]) -> GuardStatus:
    """Lift the guard: torchsetup's pip.conf and activation lines go, the pins file is emptied."""
    root = Path(prefix)
    conf = root / pip_conf_name()
    text = _read(conf)
    if text is not None and MARKER in text:
        conf.unlink()
    for script, _ in _activation_scripts(root):
        current = _read(script)
        if current is None or BEGIN not in current:
            continue
        stripped = _strip_block(current)
        if script.name == "torchsetup-guard.sh" and not stripped.strip():
            script.unlink()
        else:
            script.write_text(stripped, encoding="utf-8")
    if pins_path(root).exists():
        pins_path(root).write_text(f"{MARKER}: off (torchsetup guard off)\n", encoding="utf-8")
    return read_status(root)


__all__ = [
    "FAMILY",
    "PINS_FILE",
    "GuardStatus",
    "guard_files",
    "pip_conf_text",
    "pip_config_files",
    "read_status",
    "remove_guard",
    "status_from_text",
    "status_of",
    "user_constraints",
    "write_guard",
]
