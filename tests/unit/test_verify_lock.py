"""verify --expect-lock: exact versions, local tags included."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_cli_install import run_captured
from torchsetup.detect.model import Distribution
from torchsetup.resolve.lockfile import Lock, LockedPackage
from torchsetup.verify.lockcheck import lock_check
from torchsetup.verify.model import FAIL, PASS

LOCK = Lock(
    (
        LockedPackage("torch", "2.13.0+cpu", "https://download.pytorch.org/whl/cpu"),
        LockedPackage("typing_extensions", "4.16.0", "https://download.pytorch.org/whl/cpu"),
    )
)


def test_an_exact_match_passes_and_extras_are_listed() -> None:
    check = lock_check(
        LOCK,
        [
            Distribution("torch", "2.13.0+cpu"),
            Distribution("typing-extensions", "4.16.0"),
            Distribution("pip", "24.0"),
        ],
        "pylock.toml",
    )
    assert check.status == PASS and check.data["not_in_lock"] == ["pip"]


def test_another_local_tag_or_a_missing_package_fails() -> None:
    check = lock_check(LOCK, [Distribution("torch", "2.13.0+cu130")], "pylock.toml")
    assert check.status == FAIL
    assert "torch is 2.13.0+cu130, the lock has 2.13.0+cpu" in check.detail
    assert "typing_extensions 4.16.0 is not installed" in check.detail
    assert check.hint == "torchsetup install --lock pylock.toml"
    untagged = lock_check(
        LOCK, [Distribution("torch", "2.13.0"), Distribution("typing-extensions", "4.16.0")], "x"
    )
    assert untagged.status == FAIL


def test_an_unreadable_lock_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "pylock.toml"
    bad.write_text('lock-version = "1.0"\n')
    code, _, err = run_captured(["verify", "--expect-lock", str(bad)])
    assert code == 2 and "locks no packages" in err and "Traceback" not in err
    code, _, err = run_captured(["verify", "--expect-lock", str(tmp_path / "missing.toml")])
    assert code == 2 and "cannot read it" in err
