"""Write docs/cli.md from the commands' own --help (so the reference can't drift).

python tools/gen_cli_docs.py          # write docs/cli.md
python tools/gen_cli_docs.py --check  # exit 1 when docs/cli.md is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from torchsetup.cli import COMMANDS, cli

OUTPUT = ROOT / "docs" / "cli.md"


def help_text(args: list[str]) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="torchsetup", terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output.rstrip() + "\n"


def render() -> str:
    parts = [
        "# Command-line reference\n",
        (
            "Generated from each command's `--help` by `tools/gen_cli_docs.py` "
            "(a test fails when it is out of date).\n"
        ),
        (
            "Exit codes, for every command: 0 ok; 1 problems found or verification failed, or "
            "a fault of the machine named in one line (stdout on a full disk, an unwritable "
            "cache folder); 2 bad usage or an impossible request (exactly one line on stderr, "
            "optionally followed by one `  hint:` line; with `--json` also the error envelope "
            "on stdout; never a traceback); 3 an install step failed; 70 internal error (a bug "
            "in torchsetup: one line on stderr, TORCHSETUP_DEBUG=1 for the traceback; please "
            "report it); 130 interrupted: Ctrl-C, and SIGTERM or SIGHUP, handled exactly like "
            "it (children stopped, the result in the log, the restore hint). Arguments holding "
            "a control character or longer than 4096 characters are refused (exit 2); see "
            "docs/security.md.\n"
        ),
        "## torchsetup\n",
        "```\n" + help_text([]) + "```\n",
    ]
    for name in COMMANDS:
        parts.append(f"## torchsetup {name}\n")
        parts.append("```\n" + help_text([name]) + "```\n")
    return "\n".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = render()
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{OUTPUT} is out of date: run python tools/gen_cli_docs.py")
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
