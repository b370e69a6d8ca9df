"""The one index client's pure parts, and the merge rule of observed index data (no network)."""

from __future__ import annotations

import json
from typing import Any

from torchsetup import index
from torchsetup.matrix import observed
from torchsetup.matrix.load import load_matrix

PAGE = "https://h/simple/torch/"


def test_json_page_with_core_metadata_and_yanked() -> None:
    doc = {
        "meta": {"api-version": "1.1"},
        "files": [
            {
                "filename": "torch-2.99.0-cp312-cp312-manylinux_2_28_x86_64.whl",
                "url": "../../f/torch-2.99.0-cp312-cp312-manylinux_2_28_x86_64.whl",
                "hashes": {"sha256": "ab"},
                "size": 9,
                "requires-python": ">=3.11",
                "core-metadata": {"sha256": "cd"},
            },
            {"filename": "torch-2.98.0-cp312-cp312-win_amd64.whl", "url": "x", "yanked": "bad"},
        ],
    }
    first, second = index.parse_json(json.dumps(doc).encode(), PAGE)
    assert first.url == "https://h/f/torch-2.99.0-cp312-cp312-manylinux_2_28_x86_64.whl"
    assert (first.size, first.requires_python, first.sha256) == (9, ">=3.11", "ab")
    assert first.core_metadata == "sha256=cd" and first.metadata_url.endswith(".whl.metadata")
    assert second.yanked and second.core_metadata is None


def test_html_page_reads_pep_658_and_714_attributes() -> None:
    html = (
        '<a href="/f/torch-2.99.0%2Bcpu-cp312-cp312-linux_x86_64.whl#sha256=ee" '
        'data-requires-python="&gt;=3.11" data-core-metadata="sha256=ff">'
        "torch-2.99.0+cpu-cp312-cp312-linux_x86_64.whl</a>"
        '<a href="/f/torch-2.0.0-cp38-none-macosx_11_0_arm64.whl" data-yanked="">x</a>'
    )
    first, second = index.parse_html(html, PAGE)
    assert first.filename == "torch-2.99.0+cpu-cp312-cp312-linux_x86_64.whl"
    assert (first.sha256, first.core_metadata, first.requires_python) == (
        "ee",
        "sha256=ff",
        ">=3.11",
    )
    assert second.yanked and second.core_metadata is None


def test_metadata_and_wheel_names() -> None:
    meta = index.parse_metadata(
        b"Metadata-Version: 2.1\nName: torchvision\nVersion: 0.99.0\nRequires-Python: >=3.11\n"
        b"Requires-Dist: numpy\nRequires-Dist: torch==2.99.0\n\nlong description"
    )
    assert meta == ("torchvision", "0.99.0", ">=3.11", ("numpy", "torch==2.99.0"))
    facts = index.wheel_facts("torch-2.15.0-cp314-cp314t-manylinux_2_28_x86_64.whl")
    assert facts is not None and facts.pythons == ("3.14t",)
    assert facts.platforms == ("linux-x86_64",) and facts.local == ""
    assert index.wheel_facts("not-a-wheel.tar.gz") is None
    assert index.warehouse_json_url("https://pypi.org/simple/") == "https://pypi.org/pypi"
    assert index.warehouse_json_url("https://mirror.example/simple") is None


def test_cuda_of_requires_dist() -> None:
    reqs = [
        'cuda-toolkit[cublas]==13.2.2; platform_system == "Linux"',
        'nvidia-nccl-cu13==2.30.7; platform_system == "Linux"',
        'optree>=0.13.0; extra == "optree"',
    ]
    assert observed.cuda_of_requirements(reqs, "linux-x86_64")[0] == "13.2"
    assert observed.cuda_of_requirements(reqs, "windows-x86_64")[0] is None
    assert observed.cuda_of_requirements(reqs[1:], "linux-x86_64")[0] == "13"


def _obs(**projects: Any) -> observed.Observations:
    pages = {}
    for key, by_project in projects.items():
        base = "https://pypi.org/simple" if key == "pypi" else f"https://d/whl/{key}"
        for project in by_project:
            pages[f"{base}/{project}/"] = {"ok": True}
    return observed.Observations(0.0, "https://pypi.org/simple", "https://d/whl", projects, pages)


def _entry(pythons: list[str], platforms: dict[str, list[str]], **kw: Any) -> dict[str, Any]:
    return {"pythons": pythons, "platforms": platforms, **kw}


TORCH_LINUX = {"linux-x86_64": ["manylinux_2_28_x86_64"]}


def test_merge_infers_a_new_release_and_marks_every_fact() -> None:
    matrix = load_matrix()
    obs = _obs(
        pypi={
            "torch": {
                "2.99.0": _entry(
                    ["3.12", "3.13", "3.13t"],
                    TORCH_LINUX,
                    requires_dist=['cuda-toolkit==13.2.2; platform_system == "Linux"'],
                ),
                **{r.torch: _entry(["3.12"], TORCH_LINUX) for r in matrix.releases},
            },
            "torchvision": {
                "0.99.0": _entry([], {"any": ["any"]}, requires_dist=["torch==2.99.0"]),
                "0.98.0": _entry([], {"any": ["any"]}, requires_dist=["torch==2.98.0"]),
            },
        }
    )
    merged = observed.merge(matrix, obs)
    new = merged.matrix.releases[0]
    assert (new.torch, new.inferred, new.torchvision, new.torchaudio) == (
        "2.99.0",
        True,
        "0.99.0",
        None,
    )
    assert new.python == ("3.12", "3.13") and new.python_experimental[0].version == "3.13t"
    linux = new.platform("linux-x86_64")
    assert linux is not None and linux.pypi_default == "cu132" and linux.wheel.min_glibc == "2.28"
    cu132 = new.variant("cu132")
    assert cu132 is not None and cu132.inferred
    arch = cu132.arch_list("linux-x86_64")
    assert arch is not None and arch.inferred and "9.0" in arch.text
    whats = {f.what for f in merged.inferred["2.99.0"]}
    assert {"python", "companion torchvision", "PyPI default build (linux-x86_64)"} <= whats
    assert all(f.rule for f in merged.inferred["2.99.0"])
    assert merged.matrix.releases[1:] == matrix.releases  # curated releases untouched


def test_curated_facts_win_and_an_unserved_build_is_not_planned() -> None:
    matrix = load_matrix()
    newest = matrix.releases[0]
    variant = next(v for v in newest.variants if v.platforms)
    obs = _obs(
        pypi={"torch": {r.torch: _entry(["3.9"], TORCH_LINUX) for r in matrix.releases}},
        **{variant.name: {"torch": {"2.0.0": _entry(["3.10"], TORCH_LINUX)}}},
    )
    merged = observed.merge(matrix, obs)
    got = merged.matrix.release(newest.torch)
    assert got is not None and got.python == newest.python  # the curated Python range wins
    dropped = got.variant(variant.name)
    assert dropped is not None and dropped.platforms == ()
    assert any(variant.name in r for r in merged.removed)


def test_an_unreadable_page_removes_nothing() -> None:
    matrix = load_matrix()
    obs = _obs(pypi={"torch": {"2.0.0": _entry(["3.10"], TORCH_LINUX)}})
    obs.pages = {k: {"ok": False, "error": "refused"} for k in obs.pages}
    merged = observed.merge(matrix, obs)
    assert merged.removed == () and merged.matrix.releases == matrix.releases


def test_observations_round_trip_and_reject_other_versions() -> None:
    obs = _obs(pypi={"torch": {"2.99.0": _entry(["3.12"], TORCH_LINUX)}})
    again = observed.Observations.from_dict(json.loads(json.dumps(obs.to_dict())))
    assert again == obs
    assert observed.Observations.from_dict({**obs.to_dict(), "version": 99}) is None


def test_status_line_says_which_data_and_how_old() -> None:
    status = observed.DataStatus(
        "bundled+observations",
        7200.0,
        False,
        True,
        None,
        ("https://pypi.org/simple",),
        ("2.99.0",),
        (),
    )
    line = status.line()
    assert "2 h old" in line and "inferred: torch 2.99.0" in line and "(offline)" in line
    assert observed.DataStatus("bundled", None, False, False, "refused", (), (), ()).line() == (
        "data: the bundled matrix only; refresh failed: refused"
    )


def _fake_pypi(url: str, **_: Any) -> Any:
    from torchsetup import net

    files = {
        "torch": ["torch-2.99.0-cp312-cp312-manylinux_2_28_x86_64.whl"],
        "torchvision": ["torchvision-0.99.0-py3-none-any.whl"],
    }
    name = url.rstrip("/").rsplit("/", 1)[-1]
    if "/simple/" not in url or name not in files:
        return net.Response(url, 404)
    doc = {"files": [{"filename": f, "url": f, "hashes": {}} for f in files[name]]}
    return net.Response(
        url, 200, {"content-type": index.SIMPLE_JSON, "etag": '"e1"'}, json.dumps(doc).encode()
    )


def test_refresh_stores_no_credentials_and_keeps_validators() -> None:
    obs = observed.refresh(
        load_matrix(),
        pypi_url="https://bob:hunter2@mirror.example/simple",
        pytorch_index="https://bob:hunter2@mirror.example/whl",
        get=_fake_pypi,
        deadline_s=5,
    )
    text = json.dumps(obs.to_dict())
    assert "hunter2" not in text and "***@mirror.example" in text
    page = obs.pages["https://***@mirror.example/simple/torch/"]
    assert page == {"ok": True, "etag": '"e1"', "last_modified": None}
    assert "2.99.0" in obs.versions("pypi", "torch")
    assert obs.pages["https://***@mirror.example/whl/cpu/torch/"]["missing"]


def test_install_refreshes_a_stale_cache_and_doctor_never_looks(
    monkeypatch: Any, tmp_path: Any
) -> None:
    """install --dry-run with a day-old cache refreshes (here against a fake index); doctor,
    online or not, opens no connection (the unit guard would fail the test if it did)."""
    from torchsetup import net
    from torchsetup.cli import run

    monkeypatch.setenv("TORCHSETUP_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("TORCHSETUP_OFFLINE", "0")
    old = _obs(pypi={"torch": {}})
    old.fetched_at = 1.0  # 1970: older than a day
    observed.save_cache(old)
    calls: list[str] = []

    def fake(url: str, **kw: Any) -> Any:
        calls.append(url)
        return _fake_pypi(url, **kw)

    monkeypatch.setattr(net, "get", fake)
    snapshot = "tests/data/snapshots/h200-real.json"
    assert run(["doctor", "--snapshot", snapshot]) in (0, 1)
    assert calls == []
    assert run(["install", "--dry-run", "--snapshot", snapshot, "--json"]) == 0
    assert any(c.endswith("/simple/torch/") for c in calls)
    fresh = observed.load_cache()
    assert fresh is not None and fresh.age_s() < 60


def test_an_index_that_did_not_answer_is_asked_again_after_an_hour(
    monkeypatch: Any, tmp_path: Any
) -> None:
    from torchsetup import net

    monkeypatch.setenv("TORCHSETUP_CACHE_DIR", str(tmp_path))
    calls: list[str] = []

    def down(url: str, **_: Any) -> Any:
        calls.append(url)
        raise net.NetError("ConnectionError: refused")

    env = {"TORCHSETUP_OFFLINE": "0"}
    _, status = observed.current(load_matrix(), env=env, get=down)
    assert calls and status.source == "bundled" and "refused" in (status.error or "")
    asked = len(calls)
    _, status = observed.current(load_matrix(), env=env, get=down)
    assert len(calls) == asked and "asked again after an hour" in status.line()
    other = {**env, "TORCHSETUP_PYPI_URL": "https://mirror.example/simple"}
    observed.current(load_matrix(), env=other, get=down)  # another index: asked at once
    assert len(calls) > asked
    _, status = observed.current(load_matrix(), env=env, refresh_now=True, get=down)
    assert "refused" in (status.error or "")  # --refresh always asks
