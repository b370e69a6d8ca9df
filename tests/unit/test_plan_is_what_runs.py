"""The plan shown is the plan run: for every snapshot (and the same-version CPU -> CUDA switch),
``install --json`` steps, ``--export sh``, ``--export requirements`` (where a requirements file
can say it) and the commands the executor runs (a strict RecordingRunner) are one list.

The executor is handed the plan the install command makes, and its re-read of the target is
answered with a target-probe record of the snapshot's own interpreter, so it sees the machine
the plan was made for.
"""

from __future__ import annotations

import io
import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests.helpers.recording import PROBE, RecordingRunner
from tests.helpers.result import unwrap
from tests.unit.test_cli_install import invoke
from torchsetup import net
from torchsetup.detect.model import TargetPython
from torchsetup.detect.snapshot import load_environment
from torchsetup.errors import EXIT_OK, EXIT_USAGE, ResolutionError
from torchsetup.install.session import InstallDeps, run_install
from torchsetup.matrix.load import load_matrix
from torchsetup.resolve.complete import plan_install
from torchsetup.resolve.exporters import AFTER
from torchsetup.resolve.plan import Plan
from torchsetup.resolve.request import parse_request

SNAPSHOTS = Path(__file__).resolve().parents[1] / "data" / "snapshots"
NAMES = sorted(p.stem for p in SNAPSHOTS.glob("*.json"))
CASES = [(name, ()) for name in NAMES] + [
    ("h200-cpu-torch", ("--torch", "2.13.0")),  # the same-version CPU -> CUDA switch
    ("h200-cpu-torch", ("--torch", "2.13.0", "--method", "uv")),
    ("linux-py311-nodriver", ("--method", "source")),
    ("linux-py311-nodriver", ("--stack", "llm")),  # issue 13: the stack's steps run as shown
    ("h200-real", ("--with", "vllm==0.20.2,bitsandbytes")),
]


@pytest.fixture(autouse=True)
def offline_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """--export requirements/pylock read the index: here a made-up lock of the plan instead."""
    from tests.helpers.locks import fake_lock

    monkeypatch.setattr("torchsetup.install.lock.lock_plan", lambda plan, py, **_: fake_lock(plan))


def probe_record(py: TargetPython) -> str:
    """What resources/target_probe.py would print for ``py`` (the snapshot's interpreter)."""
    torch = py.torch
    return json.dumps(
        {
            "probe": "torchsetup-target/1",
            "python": {
                "executable": py.executable,
                "version": py.version,
                "implementation": py.implementation,
                "bits": py.bits,
                "platform": py.platform,
                "machine": py.machine,
                "prefix": py.prefix,
                "base_prefix": py.base_prefix,
                "env_kind": py.env_kind,
                "externally_managed": py.externally_managed,
                "purelib": py.purelib,
            },
            "distributions": [
                {
                    "name": d.name,
                    "version": d.version,
                    "location": d.location,
                    "requires": list(d.requires),
                    **({"installer": d.installer} if d.installer else {}),
                }
                for d in py.distributions
            ],
            "torch_locations": list(py.torch_locations),
            **(
                {
                    "torch_version_py": {
                        "__version__": torch.version,
                        "cuda": torch.cuda,
                        "hip": torch.hip,
                        "xpu": torch.xpu,
                    }
                }
                if torch is not None
                else {}
            ),
            "all_distributions": True,
        }
    )


def offline(*_a: Any, **_k: Any) -> net.Response:
    raise net.NetError("offline (unit test)")


def executed(plan: Plan, name: str, tmp: Path) -> list[tuple[tuple[str, ...], Any, Any]]:
    """(argv, env additions of the step, cwd) of every command the executor ran for ``plan``."""
    env = load_environment(str(SNAPSHOTS / f"{name}.json"))
    assert env.python is not None and plan.target is not None
    steps = {st.argv for st in plan.steps}
    runner = (
        RecordingRunner()
        .on(
            lambda a: a[0] == plan.target.python and PROBE in a[1],  # type: ignore[union-attr]
            output=probe_record(env.python),
        )
        .on(lambda a: a in steps)
    )
    base = {"PATH": str(tmp), "HOME": str(tmp), "TMPDIR": str(tmp)}
    result = run_install(
        plan,
        verify=lambda _: (True, "ok"),
        yes=True,
        force=True,
        console=Console(file=io.StringIO(), width=200),
        deps=InstallDeps(
            runner=runner,
            environ=base,
            get=offline,
            head=offline,
            free_disk=lambda _: 10**13,
            programs=lambda *a, **k: [],
        ),
    )
    assert result.exit_code == EXIT_OK, (result.message, result.hint)
    return [
        (c.argv, {k: v for k, v in c.env.items() if k not in base}, c.cwd)
        for c in runner.streamed()
    ]


@pytest.mark.parametrize(("name", "args"), CASES, ids=[f"{n}{' '.join(a)}" for n, a in CASES])
def test_json_export_and_executor_are_one_list(
    name: str, args: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHSETUP_CACHE_DIR", str(tmp_path / "cache"))
    shown = invoke(*args, "--dry-run", "--json", snapshot=name)
    options = dict(zip(args[::2], args[1::2]))
    try:
        plan = plan_install(
            load_environment(str(SNAPSHOTS / f"{name}.json")),
            # the install command's default method: auto (uv where the snapshot has it)
            parse_request(
                torch=options.get("--torch"),
                method=options.get("--method", "auto"),
                with_=options.get("--with"),
                stack=options.get("--stack"),
            ),
            load_matrix(),
        ).redacted()
    except ResolutionError:
        assert shown.code == EXIT_USAGE and "error" in json.loads(shown.out)
        return
    assert shown.code == EXIT_OK, shown.err
    json_steps = unwrap(shown.out)["plan"]["steps"]
    assert [s["argv"] for s in json_steps] == [list(st.argv) for st in plan.steps]

    sh = invoke(*args, "--export", "sh", snapshot=name)
    assert sh.code == EXIT_OK, sh.err
    lines = [
        x for x in sh.out.splitlines() if x and not x.startswith("#") and x != "set -euo pipefail"
    ]
    assert lines == [st.shell_line() for st in plan.steps]
    for line, st in zip(lines, plan.steps):
        if not st.env and not st.cwd:
            assert shlex.split(line) == list(st.argv), "each word quoted, nothing split"

    requirements = invoke(*args, "--export", "requirements", snapshot=name)
    # the bytecode and guard steps are no installs: a requirements file holds the rest (its
    # comments say how to do them)
    if plan.method in ("pip", "uv") and [st.id for st in plan.steps if st.id not in AFTER] == [
        "install"
    ]:
        assert requirements.code == EXIT_OK, requirements.err
        body = [x for x in requirements.out.splitlines() if not x.startswith("#")]
        install = next(st for st in plan.steps if st.id == "install").argv
        index = install[install.index("--index-url") + 1]
        pins = [a for a in install if "==" in a]
        # the plan's pins first, each as its locked exact version with the file's sha256
        assert body[0] == f"--index-url {index}"
        for pin, line in zip(pins, body[1:]):
            locked, _, digest = line.partition(" --hash=sha256:")
            assert locked.startswith(pin + "+") or locked == pin, (pin, line)
            assert len(digest) == 64
        assert all("--hash=sha256:" in line for line in body[1:])
    else:
        assert requirements.code == EXIT_USAGE, requirements.out

    ran = executed(plan, name, tmp_path)
    assert [argv for argv, _, _ in ran] == [st.argv for st in plan.steps]
    for (_, added, cwd), st in zip(ran, plan.steps):
        assert cwd == st.cwd and st.env_dict.items() <= added.items()


def test_the_cpu_to_cuda_switch_uninstalls_first() -> None:
    sh = invoke("--torch", "2.13.0", "--method", "pip", "--export", "sh", snapshot="h200-cpu-torch")
    assert sh.code == EXIT_OK, sh.err
    commands = [x for x in sh.out.splitlines() if x.startswith("/")]
    assert commands == [
        "/opt/torch/.venv/bin/python3 -m pip uninstall -y torch",
        (
            "/opt/torch/.venv/bin/python3 -m pip install torch==2.13.0 torchvision==0.28.0 "
            "--index-url https://download.pytorch.org/whl/cu130"
        ),
    ]
    assert "# Uninstall torch (torch 2.13.0+cpu is a cpu build, the plan installs cu130)" in sh.out


def test_the_executor_refuses_a_target_that_changed_since_planning(tmp_path: Path) -> None:
    plan = plan_install(
        load_environment(str(SNAPSHOTS / "h200-cpu-torch.json")),
        parse_request(torch="2.13.0"),
        load_matrix(),
    )
    env = load_environment(str(SNAPSHOTS / "h200-cpu-torch.json"))
    assert env.python is not None and plan.target is not None
    # Between the plan and the run, someone installed the CUDA build themselves.
    data = json.loads(probe_record(env.python))
    for d in data["distributions"]:
        if d["name"] == "torch":
            d["version"] = "2.13.0+cu130"
    data["torch_version_py"] = {"__version__": "2.13.0+cu130", "cuda": "13.0"}
    runner = RecordingRunner().on(PROBE, output=json.dumps(data))
    out = io.StringIO()
    result = run_install(
        plan,
        verify=lambda _: (True, "ok"),
        yes=True,
        console=Console(file=out, width=300),
        deps=InstallDeps(
            runner=runner, environ={"PATH": str(tmp_path)}, programs=lambda *a, **k: []
        ),
    )
    assert result.exit_code == EXIT_USAGE and runner.streamed() == []
    assert (
        "changed since the plan was made: torch was 2.13.0+cpu, is now 2.13.0+cu130"
        in out.getvalue()
    )
    assert "plan again" in out.getvalue()
