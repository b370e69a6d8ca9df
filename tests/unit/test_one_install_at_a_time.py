"""One install or restore per target at a time (issue 15, item 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.recording import RecordingRunner
from tests.unit.test_restore import PY, record
from tests.unit.test_restore_hostile import restore
from torchsetup.errors import EXIT_USAGE, UsageError
from torchsetup.install.one_at_a_time import target_lock
from torchsetup.install.preflight import Source
from torchsetup.install.restore import write_record

pytest.importorskip("fcntl")


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHSETUP_CACHE_DIR", str(tmp_path / "cache"))


def test_a_second_run_into_the_same_target_is_refused() -> None:
    with target_lock(PY):
        busy = pytest.raises(UsageError, match="another torchsetup install or restore is running")
        with busy, target_lock(PY):
            pass
        with target_lock("/other/python"):  # another target: fine
            pass
    with target_lock(PY):  # released
        pass


def test_restore_while_another_run_holds_the_target(tmp_path: Path) -> None:
    path = write_record(record(source=Source(index_url="https://idx/simple")), tmp_path)
    runner = RecordingRunner()
    with target_lock(PY):
        result, out = restore(path, runner, yes=True)
    assert result.exit_code == EXIT_USAGE and "is running into" in out
    assert runner.calls == []
