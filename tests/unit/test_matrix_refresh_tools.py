"""The weekly data refresh: tools/matrix_diff.py's readable diff and the workflow that opens
the pull request with it (pure: files only)."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "matrix-drift.yml"


def matrix_diff() -> ModuleType:
    spec = importlib.util.spec_from_file_location("matrix_diff", REPO / "tools" / "matrix_diff.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_diff_names_added_and_changed_releases() -> None:
    after = json.loads((REPO / "src/torchsetup/resources/matrix.json").read_text(encoding="utf-8"))
    before = copy.deepcopy(after)
    before["releases"] = before["releases"][1:]  # the newest release is new
    changed = before["releases"][0]
    changed["torchvision"] = "0.0.1"
    first = next(iter(changed["variants"].values()))
    first["platforms"] = []
    text = matrix_diff().render(before, after, None)
    newest = after["releases"][0]["torch"]
    assert f"**added torch {newest}**" in text
    assert f"- torch {changed['torch']}:" in text and "companions: torchvision 0.0.1" in text
    assert "builds " in text and " -> " in text
    assert matrix_diff().render(after, after, None).endswith("No change to the curated data.\n")


def test_the_diff_lists_what_the_indexes_show_beyond_the_data() -> None:
    observed = {
        "result": {
            "releases": [
                {
                    "torch": "2.99.0",
                    "inferred_facts": [
                        {"what": "python", "value": "3.12–3.13", "rule": "wheel tags"}
                    ],
                }
            ],
            "data": {"not_served": ["2.0.0 cu117: not on PyPI"], "refresh_error": None},
        }
    }
    text = matrix_diff().render({"releases": []}, {"releases": []}, observed)
    assert "**torch 2.99.0** is on the indexes but not in the curated data" in text
    assert "  - python: 3.12–3.13 (wheel tags)" in text
    assert "- no longer served: 2.0.0 cu117: not on PyPI" in text


def test_the_weekly_job_opens_a_pull_request_with_a_pinned_action() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    uses = re.findall(r"uses: (peter-evans/create-pull-request)@([0-9a-f]+)", text)
    assert uses == [("peter-evans/create-pull-request", "5f6978faf089d4d20b00c7766989d076bb2fc7f1")]
    assert "python tools/matrix_diff.py --observed" in text and "body-path:" in text
    assert "torchsetup matrix --refresh --json" in text
    assert "pull-requests: write" in text
    nox = (REPO / "noxfile.py").read_text(encoding="utf-8")
    assert "def matrix_refresh(" in nox and "tools/matrix_diff.py" in nox
