"""The CLI surface, fuzzed in-process: every command's options with valid, odd and hostile
values (control characters, escapes, 4,300-digit integers, nan, empty strings, secrets), on
saved snapshots so nothing probes or changes this machine."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import examples
from tests.fuzz.invariants import check, written_files
from tests.fuzz.strategies import SECRET, hostile_text, secret_url, version_like
from tests.unit.test_cli_install import run_captured

SNAPSHOTS = Path(__file__).resolve().parents[1] / "data" / "snapshots"
SNAPSHOT_NAMES = sorted(p.stem for p in SNAPSHOTS.glob("*.json"))

INSTALL_VALUES = {
    "--torch": version_like,
    "--cuda": st.one_of(st.sampled_from(["11.8", "12.8", "13.0", "9.9"]), hostile_text),
    "--rocm": st.one_of(st.sampled_from(["6.2", "5.0"]), hostile_text),
    "--variant": st.one_of(st.sampled_from(["cu129", "cpu", "xpu", "rocm6.2.4"]), hostile_text),
    "--method": st.one_of(st.sampled_from(["pip", "uv", "conda", "source"]), hostile_text),
    "--with": st.one_of(
        st.sampled_from(["torchvision", "torchaudio,torchvision", ""]), hostile_text
    ),
    "--only": st.one_of(st.sampled_from(["torch", "torchvision"]), hostile_text),
    "--target-platform": st.one_of(
        st.sampled_from(["linux-x86_64", "macos-arm64", "windows-x86_64"]), hostile_text
    ),
    "--target-python": st.one_of(st.sampled_from(["3.9", "3.12", "2.7", "3.99"]), hostile_text),
    "--target-driver": st.one_of(st.sampled_from(["580.1", "none", "470.0"]), hostile_text),
    "--target-gpu": st.one_of(st.sampled_from(["8.6", "6.1,8.6", "12.0"]), hostile_text),
    "--target-glibc": st.one_of(st.sampled_from(["2.17", "2.39"]), hostile_text),
    "--find-links": hostile_text,
    "--venv": hostile_text,
    "--python": hostile_text,
}
MODES = [["--dry-run"], ["--dry-run", "--json"], ["--export", "sh"], ["--export", "requirements"]]


@st.composite
def install_argv(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    argv = ["install", *draw(st.sampled_from(MODES))]
    argv += ["--snapshot", str(SNAPSHOTS / f"{draw(st.sampled_from(SNAPSHOT_NAMES))}.json")]
    secrets: list[str] = []
    if draw(st.booleans()):
        secret = draw(SECRET)
        secrets.append(secret)
        argv += ["--index-url", draw(secret_url(secret))]
    for option in draw(st.lists(st.sampled_from(sorted(INSTALL_VALUES)), max_size=3, unique=True)):
        argv += [option, draw(INSTALL_VALUES[option])]
    if draw(st.booleans()):
        argv.append("--cpu")
    return argv, secrets


@settings(max_examples=examples(150))
@given(install_argv())
def test_install_plans_and_exports(case: tuple[list[str], list[str]]) -> None:
    argv, secrets = case
    code, out, err = run_captured(argv)
    check(
        argv,
        code,
        out,
        err,
        secrets=secrets,
        files=written_files(Path(os.environ["TORCHSETUP_CACHE_DIR"])),
    )


DOCTOR_OPTIONS = st.lists(
    st.sampled_from(["--json", "-v", "--strict", "--report", "--list-rules"]),
    max_size=2,
    unique=True,
)


@settings(max_examples=examples(60))
@given(
    st.sampled_from(SNAPSHOT_NAMES),
    DOCTOR_OPTIONS,
    st.one_of(st.none(), hostile_text, st.sampled_from(["TS001", "ts005", "TS999"])),
    st.one_of(st.none(), hostile_text, st.sampled_from(["0.5", "10"])),
)
def test_doctor_on_snapshots(
    name: str, options: list[str], explain: str | None, timeout: str | None
) -> None:
    argv = ["doctor", "--snapshot", str(SNAPSHOTS / f"{name}.json"), *options]
    if explain is not None:
        argv += ["--explain", explain]
    if timeout is not None:
        argv += ["--timeout", timeout]
    code, out, err = run_captured(argv)
    check(argv, code, out, err)


@settings(max_examples=examples(30))
@given(
    st.booleans(),
    st.one_of(st.none(), version_like),
    st.one_of(st.none(), st.sampled_from(["linux-x86_64", "macos-arm64"]), hostile_text),
)
def test_matrix(as_json: bool, torch: str | None, platform: str | None) -> None:
    argv = ["matrix", *(["--json"] if as_json else [])]
    argv += ["--torch", torch] if torch is not None else []
    argv += ["--platform", platform] if platform is not None else []
    code, out, err = run_captured(argv)
    check(argv, code, out, err)


@settings(max_examples=examples(30))
@given(
    st.lists(st.sampled_from(["--json", "--quick", "--require-gpu"]), max_size=2, unique=True),
    st.one_of(st.sampled_from(["/nonexistent/python", "/dev/null", "/"]), hostile_text),
    st.one_of(st.none(), hostile_text),
)
def test_verify_with_odd_interpreters(options: list[str], python: str, scale: str | None) -> None:
    argv = ["verify", *options, "--python", python]
    if scale is not None:
        argv += ["--timeout-scale", scale]
    code, out, err = run_captured(argv)
    check(argv, code, out, err)
