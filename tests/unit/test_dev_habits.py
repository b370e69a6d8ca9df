"""The repository's hygiene promises (CONTRIBUTING.md): pinned actions, bounded CI jobs, tools
that write where the package reads, a changelog that names the version being shipped."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import torchsetup
from tests.conftest import REPO
from torchsetup import resources

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}  # v\d+(\.\d+)*$")


def test_there_are_workflows() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "matrix-drift.yml"}


def test_every_action_is_pinned_by_commit_sha_with_its_version() -> None:
    for path in WORKFLOWS:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = re.match(r"^\s*(?:-\s+)?uses:\s*(.*)$", line)
            if m:
                assert PINNED.match(m.group(1)), (
                    f"{path.name}:{n}: {m.group(1)!r} is not SHA-pinned"
                )


def _jobs(text: str) -> dict[str, str]:
    """job id -> its block of ``jobs:`` (two-space-indented keys), without a YAML parser."""
    body = text.split("\njobs:\n", 1)[1]
    parts = re.split(r"^  ([\w-]+):\s*$", body, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_job_has_a_timeout() -> None:
    for path in WORKFLOWS:
        jobs = _jobs(path.read_text(encoding="utf-8"))
        assert jobs, path.name
        for name, block in jobs.items():
            assert re.search(r"^    timeout-minutes: \d+$", block, re.MULTILINE), (
                f"{path.name}: job {name} has no timeout-minutes"
            )


def test_the_drift_job_runs_update_matrix_on_a_schedule() -> None:
    text = (REPO / ".github" / "workflows" / "matrix-drift.yml").read_text(encoding="utf-8")
    assert "schedule:" in text and "cron:" in text
    assert "python tools/update_matrix.py" in text


def _tool(name: str) -> object:
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_curation_writes_the_matrix_the_package_reads() -> None:
    """tools/curate_matrix.py --write (and update_matrix.py's default --matrix) is the file
    torchsetup loads, not a path from before a move."""
    output = _tool("curate_matrix").OUTPUT  # type: ignore[attr-defined]
    assert Path(output).resolve() == Path(resources.MATRIX).resolve()
    assert Path(output).is_file()


def test_changelog_has_unreleased_and_the_current_version() -> None:
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\]", text, re.MULTILINE)
    assert headings[0] == "Unreleased", headings
    assert torchsetup.__version__ in headings, (torchsetup.__version__, headings)


REPO_PATH = re.compile(
    r"\b((?:tools|tests|docs|src/torchsetup|\.github)/[\w./-]+\.(?:py|md|json|yml))"
)


def test_contributing_names_files_that_exist() -> None:
    """Every repository path the guide spells out is there (a move must update the guide)."""
    text = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    paths = set(REPO_PATH.findall(text))
    assert "tools/curate_matrix.py" in paths and "src/torchsetup/resources/smoke.py" in paths
    for rel in sorted(paths):
        assert (REPO / rel).exists(), f"CONTRIBUTING.md names {rel}, which does not exist"
