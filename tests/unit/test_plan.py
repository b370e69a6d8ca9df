"""Plans as data: the JSON contract, redaction, step builders and the sh/requirements exporters."""

from __future__ import annotations

import shlex

import pytest

from tests.helpers.locks import fake_lock
from tests.unit.test_resolve import plan_for
from torchsetup.errors import UsageError
from torchsetup.resolve.exporters import (
    EXPORTERS,
    LOCK_EXPORTERS,
    check_requirements,
    export_requirements,
    export_sh,
)
from torchsetup.resolve.plan import Fact, Plan, Rejection, Step, max_build_jobs, source_steps

GiB = 1024**3


def test_json_contract() -> None:
    data = plan_for("linux-py311-nodriver", cuda="11.7").to_dict()
    assert set(data) == {"plan", "facts", "reasons", "rejected", "warnings"}
    assert {
        "method",
        "torch",
        "torchvision",
        "torchaudio",
        "variant",
        "index_url",
        "python",
        "steps",
    } <= set(data["plan"])
    step = data["plan"]["steps"][0]
    assert {"description", "argv", "env"} <= set(step) and isinstance(step["argv"], list)
    assert all({"name", "value", "source"} == set(f) for f in data["facts"])
    assert all({"torch", "variant", "reason"} == set(r) for r in data["rejected"])


def test_redaction_covers_every_output_field() -> None:
    secret = "https://alice:hunter2@mirror.example/simple?token=abc123"
    plan = Plan(
        method="pip",
        torch="2.4.1",
        variant="cu121",
        python="/py",
        index_url=secret,
        steps=(
            Step(
                id="install",
                description=f"from {secret}",
                argv=("/py", "--index-url", secret),
                env=(("PIP_INDEX_URL", secret),),
            ),
        ),
        reasons=(f"--index-url {secret}",),
        warnings=(f"mirror {secret}",),
        facts=(Fact("platform", "linux-x86_64", "test"),),
        rejected=(Rejection("2.5.1", "*", "x"),),
    )
    text = repr(plan.redacted().to_dict())
    assert "hunter2" not in text and "abc123" not in text and "alice" not in text
    assert "https://***@mirror.example/simple?token=***" in text


def test_max_build_jobs() -> None:
    assert max_build_jobs(16, 128 * GiB) == 16  # cores are the limit
    assert max_build_jobs(16, 8 * GiB) == 3  # memory is the limit (2.5 GB a job)
    assert max_build_jobs(4, 1 * GiB) == 1  # never zero
    assert max_build_jobs(None, 8 * GiB) is None


@pytest.mark.parametrize(
    ("build", "argv"),
    [
        ("setup-py-develop", ("py", "setup.py", "develop")),
        ("pip-editable", ("py", "-m", "pip", "install", "--no-build-isolation", "-v", "-e", ".")),
    ],
)
def test_source_steps(build: str, argv: tuple[str, ...]) -> None:
    clone, reqs, step = source_steps("py", "v2.4.1", build, [("MAX_JOBS", "4")])
    assert clone.argv[:5] == ("git", "clone", "--branch", "v2.4.1", "--recursive")
    assert reqs.cwd == step.cwd == "pytorch-v2.4.1"
    assert step.argv == argv and step.env_dict == {"MAX_JOBS": "4"}


def test_sh_export_quotes_and_runs_in_order() -> None:
    from tests.unit.test_resolve import snapshot
    from torchsetup.matrix.load import load_matrix
    from torchsetup.resolve.complete import plan_install
    from torchsetup.resolve.request import parse_request

    request = parse_request(venv="C:\\my envs\\t", create_venv=True)
    plan = plan_install(snapshot("windows-rtx3060"), request, load_matrix())
    script = export_sh(plan)
    lines = script.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    commands = [
        line for line in lines if line and not line.startswith("#") and line != "set -euo pipefail"
    ]
    parsed = [shlex.split(c) for c in commands]
    assert parsed[0][-1] == "C:\\my envs\\t"  # a path with a space survives quoting
    assert parsed[1][0] == "C:\\my envs\\t\\Scripts\\python.exe"
    assert parsed[1][-2:] == ["--index-url", "https://download.pytorch.org/whl/cu126"]


def test_sh_export_env_and_cwd() -> None:
    step = Step(
        id="build",
        description="b",
        argv=("python", "setup.py", "develop"),
        env=(("A", "x y"),),
        cwd="dir 1",
    )
    assert step.shell_line() == "( cd 'dir 1' && A='x y' python setup.py develop )"


def test_sh_export_redacts_and_says_so() -> None:
    plan = plan_for("h200-real", index_url="https://u:pw@m.example/simple")
    script = export_sh(plan)
    assert "pw@" not in script and "https://***@m.example/simple" in script
    assert script.splitlines()[0] == "#!/usr/bin/env bash"
    assert "Credentials in the index URL were redacted" in script


def test_requirements_export() -> None:
    plan = plan_for("linux-py311-nodriver", cuda="11.7")
    text = export_requirements(plan, fake_lock(plan))
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    sha = {p.name: p.wheel.sha256 for p in fake_lock(plan).packages if p.wheel}
    assert lines == [
        "--index-url https://download.pytorch.org/whl/cu117",
        f"torch==2.0.1+cu117 --hash=sha256:{sha['torch']}",
        f"torchvision==0.15.2+cu117 --hash=sha256:{sha['torchvision']}",
        f"torchaudio==2.0.2+cu117 --hash=sha256:{sha['torchaudio']}",
        f"filelock==3.20.0 --hash=sha256:{sha['filelock']}",
    ]


def test_requirements_export_refuses_conda_and_source() -> None:
    conda = plan_for("linux-py311-nodriver", cuda="11.7", method="conda")
    with pytest.raises(UsageError, match="needs --method pip or uv"):
        export_requirements(conda, fake_lock(conda))
    with pytest.raises(UsageError):
        check_requirements(plan_for("h200-real", method="source"))


def test_export_formats_match_the_cli() -> None:
    from torchsetup.cli.install import EXPORT_FORMATS

    assert (*EXPORTERS, *LOCK_EXPORTERS) == EXPORT_FORMATS
