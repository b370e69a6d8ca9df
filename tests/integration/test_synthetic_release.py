"""The installed console script against a copy of the data with a synthetic release added
(tests/helpers/synthetic.py), chosen with TORCHSETUP_MATRIX: real processes, no code change."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.helpers import synthetic
from tests.helpers.result import unwrap
from tests.helpers.synthetic import INDEX, TORCH, TORCHVISION, VARIANT


def torchsetup(exe: str, matrix: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TORCHSETUP_MATRIX=str(matrix))
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, timeout=60, check=False, env=env
    )


def test_listed_and_planned(torchsetup_exe: str, tmp_path: Path) -> None:
    matrix = synthetic.write_matrix(tmp_path)
    r = torchsetup(torchsetup_exe, matrix, "matrix", "--torch", TORCH)
    assert r.returncode == 0, r.stderr
    assert TORCH in r.stdout and VARIANT in r.stdout and TORCHVISION in r.stdout
    snapshot = synthetic.write_snapshot(tmp_path)
    r = torchsetup(
        torchsetup_exe, matrix, "install", "--dry-run", "--json", "--snapshot", str(snapshot)
    )
    assert r.returncode == 0, r.stderr
    plan = unwrap(r.stdout)["plan"]
    assert (plan["torch"], plan["variant"], plan["index_url"]) == (TORCH, VARIANT, INDEX)
    install = next(s for s in plan["steps"] if s["id"] == "install")
    assert install["argv"][-2:] == ["--index-url", INDEX]


def test_a_broken_copy_is_one_line_and_exit_2(torchsetup_exe: str, tmp_path: Path) -> None:
    data = synthetic.synthetic_matrix()
    data["cuda"][-1]["max_gcc"] = "16"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    r = torchsetup(torchsetup_exe, bad, "matrix")
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "torchsetup: error: matrix.json cuda[14.0].max_gcc: must be an integer or null, not '16'"
    )
    assert "Traceback" not in r.stderr
