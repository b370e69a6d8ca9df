"""Release day: a local index on 127.0.0.1 serves torch 2.99.0+cpu and torchvision 0.99.0+cpu
(stand-in wheels with real METADATA, tests/helpers/standin.py), which the bundled data has never
heard of. ``matrix --refresh`` observes it, ``install`` plans it with every inferred fact marked,
installs it into a new venv, and the data is not changed. Also: conditional requests, and an
index that refuses connections (the plan still comes, from the bundled data, as fast)."""

from __future__ import annotations

import hashlib
import json
import socket
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import standin
from tests.helpers.index import IndexServer
from tests.helpers.result import unwrap
from tests.helpers.venvs import isolated_pip_env, venv_python

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "src/torchsetup/resources/matrix.json"
NEWEST_CURATED = json.loads(MATRIX.read_text(encoding="utf-8"))["releases"][0]["torch"]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    with IndexServer(standin.build(tmp_path_factory.mktemp("standin"))) as server:
        yield server


def online_env(tmp_path: Path, pypi: str, pytorch: str) -> dict[str, str]:
    return isolated_pip_env(
        TORCHSETUP_OFFLINE="0",
        TORCHSETUP_CACHE_DIR=str(tmp_path / "cache"),
        TORCHSETUP_PYPI_URL=pypi,
        TORCHSETUP_PYTORCH_INDEX=pytorch,
        PIP_NO_CACHE_DIR="1",
    )


def run(exe: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, env=env, timeout=600, check=False
    )


def wheels(index: IndexServer) -> list[str]:
    return [p for p in index.downloads() if p.endswith(".whl")]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_release_the_data_never_heard_of_is_planned_and_installed(
    torchsetup_exe: str, index: IndexServer, tmp_path: Path
) -> None:
    before = digest(MATRIX)
    env = online_env(tmp_path, index.url, index.base + "/whl")
    r = run(torchsetup_exe, env, "matrix", "--refresh", "--torch", standin.TORCH, "--json")
    assert r.returncode == 0, r.stderr
    doc = unwrap(r.stdout)
    assert doc["data"]["refreshed"] and doc["data"]["inferred_releases"] == [standin.TORCH]
    (release,) = doc["releases"]
    assert (release["torch"], release["torchvision"]) == (standin.TORCH, standin.TORCHVISION)
    assert release["python"] == list(standin.PYTHONS)
    inferred = {f["what"]: f for f in release["inferred_facts"]}
    assert inferred["companion torchvision"]["value"] == standin.TORCHVISION
    assert "torch==2.99.0" in inferred["companion torchvision"]["rule"]  # from its METADATA
    assert inferred["PyPI default build (linux-x86_64)"]["value"] == "cpu"
    assert any(r.path.endswith(".metadata") for r in index.requests)  # PEP 658, not the wheel
    assert not wheels(index)  # the metadata files were read, no wheel

    venv = tmp_path / "venv"
    r = run(torchsetup_exe, env, "install", "--cpu", "--venv", str(venv), "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    plan = unwrap(r.stdout)
    assert (plan["plan"]["torch"], plan["plan"]["variant"], plan["plan"]["torchvision"]) == (
        standin.TORCH,
        standin.VARIANT,
        standin.TORCHVISION,
    )
    assert plan["plan"]["index_url"] == index.base + "/whl/cpu"
    sources = {f["name"]: f["source"] for f in plan["facts"]}
    assert sources[f"torch {standin.TORCH} python"].startswith("inferred: wheel tags")
    assert sources[f"torch {standin.TORCH} companion torchvision"].startswith("inferred: ")
    assert any("Inferred data" in w for w in plan["warnings"])
    text = run(torchsetup_exe, env, "install", "--cpu", "--venv", str(venv), "--dry-run")
    assert "inferred: torch 2.99.0" in text.stderr and "Facts used" in text.stdout
    assert "(inferred: wheel tags" in text.stdout

    # The stand-in torch cannot pass verify --quick (no tensors): --no-verify, then the
    # installed versions are read in the venv itself.
    r = run(torchsetup_exe, env, "install", "--cpu", "--venv", str(venv), "--yes", "--no-verify")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert sorted(Path(p).name.split("-")[0] for p in wheels(index)) == [
        "torch",
        "torchvision",
    ]
    out = subprocess.run(
        [
            str(venv_python(venv)),
            "-c",
            (
                "import importlib.metadata as m, torch, torchvision; "
                "print(m.version('torch'), torch.__version__, m.version('torchvision'))"
            ),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.split() == ["2.99.0+cpu", "2.99.0+cpu", "0.99.0+cpu"]
    assert digest(MATRIX) == before  # no change to the data


def test_refresh_asks_conditionally_and_keeps_the_observations(
    torchsetup_exe: str, index: IndexServer, tmp_path: Path
) -> None:
    env = online_env(tmp_path, index.url, index.base + "/whl")
    assert run(torchsetup_exe, env, "matrix", "--refresh").returncode == 0
    first = len(index.requests)
    r = run(torchsetup_exe, env, "matrix", "--refresh", "--json")
    assert r.returncode == 0, r.stderr
    served = ("/simple/torch/", "/simple/torchvision/", "/whl/cpu/torch/", "/whl/cpu/torchvision/")
    again = [q for q in index.requests[first:] if q.path in served]
    assert sorted(q.path for q in again) == sorted(served)
    assert all(q.if_none_match.startswith('"') and q.status == 304 for q in again), again
    assert not any(q.path.endswith(".metadata") for q in index.requests[first:])
    doc = unwrap(r.stdout)
    assert standin.TORCH in doc["data"]["inferred_releases"]  # kept from the 304'd pages


def refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/simple"  # nothing listens: connections are refused


def test_a_refusing_index_still_plans_from_the_bundled_data_as_fast(
    torchsetup_exe: str, tmp_path: Path
) -> None:
    url = refused_url()
    args = ("install", "--dry-run", "--cpu", "--target-platform", "linux-x86_64", "--json")
    offline = {
        **online_env(tmp_path, url, url.replace("/simple", "/whl")),
        "TORCHSETUP_OFFLINE": "1",
    }
    online = online_env(tmp_path, url, url.replace("/simple", "/whl"))

    def timed(env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
        t = time.perf_counter()
        r = run(torchsetup_exe, env, *args)
        return time.perf_counter() - t, r

    usual, refusing = [], []
    marker = tmp_path / "cache" / "observations.failed"
    for _ in range(3):
        usual.append(timed(offline)[0])
        marker.unlink(missing_ok=True)  # ask every time (else: once an hour, below)
        seconds, r = timed(online)
        refusing.append(seconds)
        assert r.returncode == 0, r.stderr
        assert "refresh failed" in r.stderr and "bundled matrix only" in r.stderr
        plan = unwrap(r.stdout)
        assert plan["plan"]["torch"] == NEWEST_CURATED
    assert statistics.median(refusing) <= statistics.median(usual) + 1.0, (usual, refusing)
    # Within the hour after a failed refresh the index is not asked again, and the line says so.
    r = run(torchsetup_exe, online, *args)
    assert r.returncode == 0 and "asked again after an hour" in r.stderr, r.stderr
