"""Preflight: probe parsing, wheel tags, index pages, matching, disk and programs (no network)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.recording import (
    PROBE,
    RecordingRunner,
    fake_index,
    parsed_probe,
    probe_output,
    torch_version_py,
)
from torchsetup import net
from torchsetup.detect.model import TargetPython
from torchsetup.errors import EXIT_USAGE, UsageError
from torchsetup.install.preflight import (
    DiskNeed,
    FileLink,
    Refused,
    check_disk,
    check_folder,
    check_index,
    check_programs,
    disk_needs,
    fetch_project,
    install_source,
    match_distribution,
    parse_simple_html,
    parse_simple_json,
    run_preflight,
    target_tags,
)
from torchsetup.install.targets import probe
from torchsetup.resolve.plan import Plan, Step

PY = "/envs/t/bin/python"
WHEEL = "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"


def state(**kw: Any) -> TargetPython:
    return parsed_probe(PY, **kw)


def plan(variant: str = "cpu", **kw: Any) -> Plan:
    return Plan(
        method="pip",
        torch="2.13.0",
        variant=variant,
        python=PY,
        python_version="3.11",
        steps=(Step("install", "i", (PY, "-m", "pip", "install", "torch==2.13.0")),),
        **kw,
    )


def link(name: str, size: int = 100, requires_python: str | None = None) -> FileLink:
    return FileLink(name, f"https://i/{name}", size, requires_python)


# --- the probe -------------------------------------------------------------------------------


def test_parse_probe_builds_target_python_and_torch_build() -> None:
    s = state(
        dists=[("pip", "24.2"), ("Torch", "2.13.0+cu128")],
        torch_version_py=torch_version_py("2.13.0+cu128", "12.8"),
        extra={"Torch": {"requires": ["filelock", "nvidia-cudnn-cu12==9.1"]}},
    )
    py = s
    assert py.env_kind == "venv" and py.minor == "3.11" and py.pip_version == "24.2"
    assert py.dist("torch") is not None and py.dist("torch").version == "2.13.0+cu128"  # type: ignore[union-attr]
    assert py.torch is not None and py.torch.variant == "cu128" and py.torch.cuda == "12.8"
    assert py.torch.requires == ("filelock", "nvidia-cudnn-cu12==9.1")
    assert py.libc == "glibc" and py.libc_version == "2.36"
    assert py.sysconfig_platform == "linux-x86_64" and py.all_distributions


def test_parse_probe_environment_kinds() -> None:
    assert state(prefix="/usr", base_prefix="/usr").env_kind == "system"
    assert state(prefix="/opt/conda", base_prefix="/opt/conda", conda=True).env_kind == "conda"
    assert state(prefix="/usr", base_prefix="/usr", externally_managed=True).externally_managed


def test_probe_failure_is_a_refusal() -> None:
    runner = RecordingRunner().on(PROBE, returncode=None, error="not found: /nope/python")
    with pytest.raises(UsageError) as exc:
        probe("/nope/python", runner=runner, env={})
    assert exc.value.exit_code == EXIT_USAGE and "does not run: target Python" in exc.value.message


def test_probe_is_the_one_target_probe_as_the_users_python_runs_it() -> None:
    runner = RecordingRunner().on(PROBE, output=probe_output(PY))
    py = probe(PY, runner=runner, env={"A": "1"})
    (call,) = runner.calls
    assert call.argv[0] == PY and call.argv[1].endswith("resources/target_probe.py")
    assert call.argv[2:] == ("--all-distributions",) and call.env == {"A": "1"}
    assert py.executable == PY and py.pip_version == "24.2"


# --- wheel tags --------------------------------------------------------------------------------


def test_tags_glibc_236_accept_manylinux_2_28_and_2014() -> None:
    tags = {str(t) for t in target_tags(state())}
    assert "cp311-cp311-manylinux_2_28_x86_64" in tags
    assert "cp311-cp311-manylinux2014_x86_64" in tags
    assert "cp311-abi3-manylinux_2_17_x86_64" in tags and "py3-none-any" in tags
    assert "cp312-cp312-manylinux_2_28_x86_64" not in tags


def test_tags_glibc_227_reject_manylinux_2_28() -> None:  # failures.md #23
    tags = {str(t) for t in target_tags(state(libc=("glibc", "2.27")))}
    assert "cp311-cp311-manylinux_2_28_x86_64" not in tags
    assert "cp311-cp311-manylinux_2_27_x86_64" in tags


def test_tags_macos_and_windows() -> None:
    mac = state(platform="macosx-11.0-arm64")
    assert "cp311-cp311-macosx_14_0_arm64" in {str(t) for t in target_tags(mac)}
    win = state(platform="win-amd64")
    assert "cp311-cp311-win_amd64" in {str(t) for t in target_tags(win)}


# --- index pages ---------------------------------------------------------------------------------


def test_parse_simple_json_resolves_relative_urls() -> None:
    doc = {
        "files": [
            {"filename": WHEEL, "url": "../../f/" + WHEEL, "size": 5, "requires-python": ">=3.10"}
        ]
    }
    (f,) = parse_simple_json(json.dumps(doc).encode(), "https://h/simple/torch/")
    assert f == FileLink(WHEEL, "https://h/f/" + WHEEL, 5, ">=3.10")


def test_parse_simple_html_reads_anchors() -> None:
    html = (
        '<html><body><a href="/whl/torch-2.13.0%2Bcpu-cp311-cp311-linux_x86_64.whl#sha256=1" '
        'data-requires-python="&gt;=3.10">torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl</a><br>'
        '<a href="/whl/x.whl"></a></body></html>'
    )
    first, second = parse_simple_html(html, "https://h/simple/torch/")
    assert first.filename == "torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl"
    assert first.requires_python == ">=3.10" and first.size is None
    assert second.filename == "x.whl"


def test_fetch_project_asks_for_json_and_handles_404_and_errors() -> None:
    seen: list[str] = []

    def get(url: str, *, timeout: float, accept: str | None = None, **_: Any) -> net.Response:
        seen.append(accept or "")
        return fake_index({"torch": [(WHEEL, 7)]})(url, timeout=timeout, accept=accept)

    assert fetch_project("https://h/simple/", "Torch", get=get) == [
        FileLink(WHEEL, "https://h/files/" + WHEEL, 7)
    ]
    assert seen[0].startswith("application/vnd.pypi.simple.v1+json")
    assert fetch_project("https://h/simple", "nope", get=get) is None
    with pytest.raises(net.NetError, match="HTTP 500"):
        fetch_project("https://h/simple", "torch", get=fake_index({"torch": []}, status=500))


def test_check_index_unreachable_is_a_note_not_a_refusal() -> None:
    def down(url: str, **_: Any) -> net.Response:
        raise net.NetError("ConnectionError: refused")

    checks, notes = check_index(plan(), state(), "https://h/simple", get=down)
    assert (
        checks == []
        and "could not check torch" in notes[0]
        and "the installer will try" in notes[0]
    )


def test_check_index_html_size_from_head() -> None:
    def head(url: str, *, timeout: float) -> net.Response:
        return net.Response(url, 200, {"content-length": "191794682"})

    (check,), _ = check_index(
        plan(),
        state(),
        "https://h/simple",
        get=fake_index({"torch": [(WHEEL, None)]}, html=True),
        head=head,
    )
    assert check.file is not None and check.file.size == 191_794_682


def test_net_errors_never_show_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    class Session:
        def request(self, method: str, url: str, **_: Any) -> Any:
            raise requests.ConnectionError(f"Max retries exceeded with url: {url}")

    monkeypatch.setattr(net, "_session", Session)
    with pytest.raises(net.NetError) as exc:
        net.get("https://bob:hunter2@mirror.example/simple/torch/", timeout=1)
    assert "hunter2" not in str(exc.value) and "***@mirror.example" in str(exc.value)


# --- matching ------------------------------------------------------------------------------------


def test_match_picks_the_best_wheel() -> None:
    files = [
        link("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", 1),
        link("torch-2.13.0+cpu-cp311-cp311-win_amd64.whl", 2),
        link("torch-2.12.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", 3),
    ]
    check = match_distribution("torch", "2.13.0", "cpu", files, py=state(), where="the index")
    assert check.problem == "" and check.file == files[0]


def test_match_missing_version_lists_what_is_offered() -> None:
    files = [link(f"torch-2.{m}.0-cp311-cp311-manylinux_2_28_x86_64.whl") for m in (10, 11, 12)]
    check = match_distribution("torch", "2.13.0", "cpu", files, py=state(), where="the index X")
    assert check.problem == "the index X has no torch 2.13.0 (it has 2.12.0, 2.11.0, 2.10.0)"


def test_match_no_wheel_for_this_python() -> None:  # failures.md #12
    files = [link(f"torch-2.13.0+cpu-cp3{m}-cp3{m}-manylinux_2_28_x86_64.whl") for m in (10, 12)]
    check = match_distribution(
        "torch", "2.13.0", "cpu", files, py=state(version="3.9.18"), where="the index X"
    )
    assert check.problem == (
        "the index X has torch 2.13.0 for cp310, cp312 on manylinux_2_28_x86_64; "
        "your Python is cp39 on manylinux_2_36_x86_64 (glibc 2.36)"
    )


def test_match_glibc_too_old() -> None:  # failures.md #23
    files = [link("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")]
    check = match_distribution(
        "torch", "2.13.0", "cpu", files, py=state(libc=("glibc", "2.27")), where="I"
    )
    assert (
        "for cp311 on manylinux_2_28_x86_64; your Python is cp311 on manylinux_2_27_x86_64 (glibc 2.27)"
        in check.problem
    )


def test_match_requires_python_filters() -> None:
    files = [link("torch-2.13.0-py3-none-any.whl", requires_python=">=3.12")]
    check = match_distribution("torch", "2.13.0", "cpu", files, py=state(), where="I")
    assert check.file is None and "py3" in check.problem


def test_match_wrong_variant_on_the_index() -> None:  # failures.md #1
    files = [link("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")]
    check = match_distribution("torch", "2.13.0", "cu128", files, py=state(), where="the index X")
    assert check.problem == (
        "the index X offers torch 2.13.0 only as +cpu, but the plan is for cu128: "
        "is it the right index?"
    )


def test_match_unlabelled_wheels_accepted_for_any_variant() -> None:  # PyPI names no variant
    files = [link("torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl")]
    assert (
        match_distribution("torch", "2.13.0", "cu128", files, py=state(), where="I").file
        == files[0]
    )


def test_check_folder(tmp_path: Path) -> None:
    (tmp_path / WHEEL).write_bytes(b"1234")
    (check,) = check_folder(plan(), state(), str(tmp_path))
    assert check.file is not None and check.file.size == 4
    (missing,) = check_folder(plan(), state(), str(tmp_path / "nope"))
    assert "is not a folder" in missing.problem


# --- disk ------------------------------------------------------------------------------------------

ENV = {"HOME": "/home/u", "TMPDIR": "/tmp"}


def test_disk_needs_pip() -> None:
    needs = disk_needs(
        method="pip",
        variant="cpu",
        wheel_bytes=192_000_000,
        site_dir="/env/site",
        install_argv=(),
        env=ENV,
        device_of=lambda p: 1,
    )
    assert needs == [
        DiskNeed("site-packages", "/env/site", 768_000_000),
        DiskNeed("TMPDIR", "/tmp", 211_200_000),
        DiskNeed("pip cache", "/home/u/.cache/pip", 211_200_000),
    ]
    no_cache = disk_needs(
        method="pip",
        variant="cu128",
        wheel_bytes=1_000_000_000,
        site_dir="/s",
        install_argv=("--no-cache-dir",),
        env=ENV,
        device_of=lambda p: 1,
    )
    assert [n.label for n in no_cache] == ["site-packages", "TMPDIR"] and no_cache[
        0
    ].bytes == 8_000_000_000
    env_no_cache = disk_needs(
        method="pip",
        variant="cpu",
        wheel_bytes=1,
        site_dir="/s",
        install_argv=(),
        env={**ENV, "PIP_NO_CACHE_DIR": "1"},
        device_of=lambda p: 1,
    )
    assert "pip cache" not in [n.label for n in env_no_cache]


def test_disk_needs_uv_hardlinks_on_one_file_system() -> None:
    same = disk_needs(
        method="uv",
        variant="cpu",
        wheel_bytes=100,
        site_dir="/s",
        install_argv=(),
        env=ENV,
        device_of=lambda p: 1,
    )
    assert same == [DiskNeed("uv cache", "/home/u/.cache/uv", 400)]
    other = disk_needs(
        method="uv",
        variant="cpu",
        wheel_bytes=100,
        site_dir="/s",
        install_argv=("--no-cache",),
        env=ENV,
        device_of=lambda p: 1 if p == "/tmp" else 2,
    )
    assert other == [DiskNeed("TMPDIR", "/tmp", 400), DiskNeed("site-packages", "/s", 400)]


def test_check_disk_adds_needs_per_file_system() -> None:
    needs = [DiskNeed("site-packages", "/a", 600_000_000), DiskNeed("TMPDIR", "/b", 300_000_000)]
    assert check_disk(needs, free_bytes=lambda p: 700_000_000, device_of=lambda p: 1) == [
        "not enough free disk: 900 MB needed (site-packages /a: 600 MB, TMPDIR /b: 300 MB), 700 MB free"
    ]
    assert check_disk(needs, free_bytes=lambda p: 700_000_000, device_of=lambda p: ord(p[-1])) == []


# --- programs, sources, the whole ---------------------------------------------------------------


def test_check_programs(tmp_path: Path) -> None:
    steps = [
        Step("a", "a", ("definitely-not-a-program-xyz", "x")),
        Step("b", "b", (str(tmp_path / "v/bin/python"),)),
        Step("c", "c", (str(tmp_path / "missing/python"),)),
    ]
    problems = check_programs(steps, {"PATH": str(tmp_path)}, created=[str(tmp_path / "v")])
    assert problems == [
        "step 'a' needs definitely-not-a-program-xyz, which is not on PATH",
        f"step 'c' needs {tmp_path / 'missing/python'}, which does not exist",
    ]


def test_install_source() -> None:
    assert install_source(("pip", "install", "--index-url", "U"), "pip", {}).index_url == "U"
    assert install_source(("pip", "install", "-i=U"), "pip", {}).index_url == "U"
    assert (
        install_source(("pip", "install", "--no-index", "--find-links", "D"), "pip", {}).find_links
        == "D"
    )
    assert install_source(("pip", "install"), "pip", {"PIP_INDEX_URL": "E"}).index_url == "E"
    assert (
        install_source(("uv", "pip", "install"), "uv", {"UV_DEFAULT_INDEX": "E"}).index_url == "E"
    )
    assert install_source(("pip", "install"), "pip", {}).index_url is None


def test_run_preflight_without_an_index_notes_the_skip() -> None:
    report = run_preflight(
        plan(), state(), (PY, "-m", "pip", "install", "torch"), site_dir="/", env={}
    )
    assert report.problems == () and any("index check skipped" in n for n in report.notes)


def test_refused_carries_every_problem_and_exit_2() -> None:
    exc = Refused(["a", "b"])
    assert exc.exit_code == EXIT_USAGE and exc.message == "refusing to install: 2 problems: a; b"
