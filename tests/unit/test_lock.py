"""Locking a plan from an index (a made-up PEP 691 index in memory), pylock.toml written and
read back, the requirements file with hashes and the uv project settings."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.unit.test_resolve import plan_for
from torchsetup import net
from torchsetup.detect.model import TargetPython
from torchsetup.errors import UsageError
from torchsetup.install.lock import lock_plan, marker_environment, read_lock
from torchsetup.resolve.exporters import export_pylock, export_pyproject, export_requirements
from torchsetup.resolve.lockfile import parse_pylock, toml_string
from torchsetup.resolve.plan import Plan

Universe = dict[str, list[tuple[str, tuple[str, ...]]]]


def toml_loads(text: str) -> Any:
    """tomllib (3.11+) as an independent TOML reader; the 3.9/3.10 runs skip these checks."""
    return pytest.importorskip("tomllib").loads(text)


INDEX = "https://download.pytorch.org/whl/cpu"
PY = TargetPython(
    executable="/v/bin/python",
    ok=True,
    version="3.11.7",
    implementation="cpython",
    platform="linux",
    machine="x86_64",
    sysconfig_platform="linux-x86_64",
    libc="glibc",
    libc_version="2.36",
)
TORCH_WHEEL = "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
# project -> [(filename, Requires-Dist lines)]
UNIVERSE: Universe = {
    "torch": [
        (
            TORCH_WHEEL,
            (
                "filelock",
                "sympy>=1.13.3",
                'nvidia-cublas==13.1.0.3; sys_platform == "win32"',
                'typing-extensions>=4.10; python_version >= "3.99"',
            ),
        ),
        ("torch-2.13.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl", ()),
        ("torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl", ()),  # the CUDA one, unlabelled
    ],
    "filelock": [
        ("filelock-3.19.0-py3-none-any.whl", ()),
        ("filelock-3.20.0-py3-none-any.whl", ()),
        ("filelock-3.21.0rc1-py3-none-any.whl", ()),
    ],
    "sympy": [("sympy-1.14.0-py3-none-any.whl", ("mpmath<1.4,>=1.1.0",))],
    "mpmath": [("mpmath-1.3.0-py3-none-any.whl", ()), ("mpmath-1.4.0-py3-none-any.whl", ())],
}


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def fake_get(universe: Universe = UNIVERSE) -> Any:
    asked: list[str] = []

    def get(url: str, *, timeout: float, accept: str | None = None, **_: Any) -> net.Response:
        asked.append(url)
        for project, files in universe.items():
            if url == f"{INDEX}/{project}/":
                doc = {
                    "meta": {"api-version": "1.1"},
                    "files": [
                        {
                            "filename": f,
                            "url": f"../../files/{f}",
                            "hashes": {"sha256": sha(f)},
                            "size": 1000,
                            "core-metadata": True,
                        }
                        for f, _ in files
                    ],
                }
                headers = {"content-type": "application/vnd.pypi.simple.v1+json"}
                return net.Response(url, 200, headers, json.dumps(doc).encode())
            for f, requires in files:
                if url.endswith(f"/files/{f}.metadata"):
                    meta = f"Metadata-Version: 2.1\nName: {project}\nVersion: 0\n" + "".join(
                        f"Requires-Dist: {r}\n" for r in requires
                    )
                    return net.Response(url, 200, {}, meta.encode())
        return net.Response(url, 404, {}, b"")

    get.asked = asked  # type: ignore[attr-defined]
    return get


def cpu_plan() -> Plan:
    plan = plan_for("linux-py311-nodriver", cpu=True, torch="2.13.0", method="pip")
    import dataclasses

    return dataclasses.replace(plan, torchvision=None, torchaudio=None, index_url=INDEX)


def test_the_lock_follows_the_dependencies_for_the_target() -> None:
    lock = lock_plan(cpu_plan(), PY, get=fake_get())
    got = {p.name: p.version for p in lock.packages}
    assert got == {
        "torch": "2.13.0+cpu",
        "filelock": "3.20.0",
        "sympy": "1.14.0",
        "mpmath": "1.3.0",
    }
    torch = next(p for p in lock.packages if p.name == "torch")
    assert torch.wheel is not None and torch.wheel.filename == TORCH_WHEEL
    assert torch.wheel.sha256 == sha(TORCH_WHEEL)
    assert torch.wheel.url == f"https://download.pytorch.org/whl/files/{TORCH_WHEEL}"
    assert torch.index == INDEX and lock.requires_python == "==3.11.*"


def test_a_file_without_a_hash_or_a_missing_dependency_is_refused() -> None:
    broken: Universe = {**UNIVERSE, "mpmath": [("mpmath-1.4.0-py3-none-any.whl", ())]}
    with pytest.raises(
        UsageError, match=r"no wheel of mpmath<1.4,>=1.1.0 .*needed by sympy 1.14.0"
    ):
        lock_plan(cpu_plan(), PY, get=fake_get(broken))


def test_markers_are_the_targets() -> None:
    env = marker_environment(PY)
    assert (env["sys_platform"], env["python_version"], env["platform_system"]) == (
        "linux",
        "3.11",
        "Linux",
    )


def test_pylock_is_valid_toml_and_reads_back(tmp_path: Any) -> None:
    plan = cpu_plan()
    lock = lock_plan(plan, PY, get=fake_get())
    text = export_pylock(plan, lock)
    data = toml_loads(text)
    assert data["lock-version"] == "1.0" and data["created-by"].startswith("torchsetup")
    names = [p["name"] for p in data["packages"]]
    assert names == sorted(names)
    torch = next(p for p in data["packages"] if p["name"] == "torch")
    assert torch["index"] == INDEX and torch["version"] == "2.13.0+cpu"
    assert torch["wheels"][0]["hashes"] == {"sha256": sha(TORCH_WHEEL)}
    path = tmp_path / "pylock.toml"
    path.write_text(text)
    back = read_lock(str(path))
    assert back.version_of("torch") == "2.13.0+cpu" and back.version_of("MPMath") == "1.3.0"
    assert parse_pylock(text).packages == back.packages


def test_toml_strings_cannot_break_out() -> None:
    nasty = 'a"b\\c\nd\x7f'
    assert toml_loads(f"x = {toml_string(nasty)}")["x"] == nasty


def test_the_requirements_file_pins_every_file_with_its_hash() -> None:
    plan = cpu_plan()
    text = export_requirements(plan, lock_plan(plan, PY, get=fake_get()))
    body = [x for x in text.splitlines() if not x.startswith("#")]
    assert body[0] == f"--index-url {INDEX}"
    assert body[1] == f"torch==2.13.0+cpu --hash=sha256:{sha(TORCH_WHEEL)}"
    assert {x.split("==")[0] for x in body[2:]} == {"filelock", "mpmath", "sympy"}


def test_pyproject_pins_torch_to_an_explicit_index() -> None:
    text = export_pyproject(plan_for("h200-real", torch="2.13.0"))
    data = toml_loads(text)
    assert data["tool"]["uv"]["index"] == [
        {"name": "pytorch-cu130", "url": "https://download.pytorch.org/whl/cu130", "explicit": True}
    ]
    assert data["tool"]["uv"]["sources"]["torch"] == [{"index": "pytorch-cu130"}]
    assert '"torch==2.13.0"' in text


def test_read_lock_refusals(tmp_path: Any) -> None:
    with pytest.raises(UsageError, match="no such file"):
        read_lock(str(tmp_path / "pylock.toml"))
    other = tmp_path / "lock.toml"
    other.write_text('lock-version = "1.0"\n')
    with pytest.raises(UsageError, match=r"named pylock\.toml"):
        read_lock(str(other))
    bad = tmp_path / "pylock.toml"
    bad.write_text('lock-version = "1.0"\n\n[[packages]]\nname = "torch"\nversion = "2.13.0"\n')
    with pytest.raises(UsageError, match="no wheel with a sha256 for torch"):
        read_lock(str(bad))


def _lock_file(tmp_path: Any) -> Any:
    from tests.helpers.locks import fake_lock

    plan = plan_for("h200-real", torch="2.13.0", method="uv")
    path = tmp_path / "pylock.toml"
    path.write_text(export_pylock(plan, fake_lock(plan)))
    return path


def test_install_lock_plans_exactly_the_lock_with_uv(tmp_path: Any) -> None:
    from tests.helpers.result import unwrap
    from tests.unit.test_cli_install import invoke

    path = _lock_file(tmp_path)
    r = invoke("--lock", str(path), "--dry-run", "--json", snapshot="h200-real")
    assert r.code == 0, r.err
    plan = unwrap(r.out, "install")["plan"]
    assert (plan["method"], plan["torch"], plan["variant"]) == ("uv", "2.13.0", "cu130")
    install = next(s for s in plan["steps"] if s["id"] == "install")
    assert install["argv"][0] == "/usr/local/bin/uv" and install["argv"][-2:] == ["-r", str(path)]
    assert "--preview-features" in install["argv"] and "--index-url" not in install["argv"]
    assert [s["id"] for s in plan["steps"]][-1] == "guard"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--method", "pip"), "pip cannot install a pylock.toml"),
        (("--export", "sh"), "--lock installs exactly its file"),
        (("--torch", "2.12.0"), "--lock installs exactly its file"),
    ],
)
def test_install_lock_refusals(tmp_path: Any, extra: tuple[str, ...], message: str) -> None:
    from tests.unit.test_cli_install import invoke

    r = invoke("--lock", str(_lock_file(tmp_path)), "--dry-run", *extra, snapshot="h200-real")
    assert r.code == 2 and message in r.err and "Traceback" not in r.err, r.err
