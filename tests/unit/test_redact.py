"""Redaction (issue 15, items 3 and 6): every credential form pip accepts, never a package name
that happens to be the host name, and linear time on hostile input."""

from __future__ import annotations

import time

import pytest

from torchsetup.redact import redact_report, redact_url_credentials

SECRET_URLS = [
    ("http://user:hunter2@secret@host/simple", "hunter2", "http://***@host/simple"),
    ("http://user:pass word@host/simple", "pass word", "http://***@host/simple"),
    (
        "https://h/simple?private_token=s3cr3t&x=1",
        "s3cr3t",
        "https://h/simple?private_token=***&x=1",
    ),
    ("https://h/simple?auth_token=s3cr3t", "s3cr3t", "https://h/simple?auth_token=***"),
    ("https://s3/x?X-Amz-Signature=s3cr3t&a=1", "s3cr3t", "https://s3/x?X-Amz-Signature=***&a=1"),
    ("https://h/simple#token=s3cr3t", "s3cr3t", "https://h/simple#token=***"),
    ("https://h/simple;token=s3cr3t", "s3cr3t", "https://h/simple;token=***"),
    (
        "https://h/t/Ab12Cd34Ef56Gh78Ij90Kl12/simple",
        "Ab12Cd34Ef56Gh78Ij90Kl12",
        "https://h/t/***/simple",
    ),
    ("https://h/ghp_abcdef123456/simple", "ghp_abcdef123456", "https://h/***/simple"),
    ("https://tok3n@h/simple", "tok3n", "https://***@h/simple"),
]


@pytest.mark.parametrize(
    ("url", "secret", "shown"), SECRET_URLS, ids=[u for u, _, _ in SECRET_URLS]
)
def test_no_credential_form_survives(url: str, secret: str, shown: str) -> None:
    text = f"pip install torch --index-url {url} failed"
    out = redact_url_credentials(text)
    assert secret not in out
    assert out == f"pip install torch --index-url {shown} failed"
    assert secret not in redact_report(text)


def test_ordinary_urls_and_hashes_are_kept() -> None:
    for text in (
        "https://download.pytorch.org/whl/cu128",
        "http://127.0.0.1:8000/files/torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl#sha256=abc123",
        "--index-url https://pypi.org/simple torch==2.13.0",
    ):
        assert redact_url_credentials(text) == text


def test_a_host_named_like_a_package_keeps_the_package() -> None:
    text = "[pip3] torch==2.13.0\n[conda] torch 2.13.0 py311\nHostname: torch\nssh torch:22"
    out = redact_report(text, hostname="torch")
    assert "[pip3] torch==2.13.0" in out and "[conda] torch 2.13.0 py311" in out
    assert "Hostname: <host>" in out and "ssh <host>:22" in out


@pytest.mark.parametrize(
    "line",
    [
        "a" * 50_000_000,
        "x" * 50_000_000 + "://",
        "/home/" + "b" * 50_000_000,
        "http://" + "c" * 50_000_000,
    ],
    ids=["letters", "scheme-run", "home", "url"],
)
def test_a_50_mb_line_is_redacted_in_linear_time(line: str) -> None:
    started = time.monotonic()
    redact_report(line, home="/home/alice", user="alice", hostname="gpu-node-7")
    assert time.monotonic() - started < 10.0  # was quadratic: 64 KB took 4.7 s


def test_many_short_urls_scale_linearly() -> None:
    def took(n: int) -> float:
        text = "see http://u:p@h/x?token=t " * n
        started = time.monotonic()
        out = redact_url_credentials(text)
        assert "u:p" not in out
        return time.monotonic() - started

    small, large = took(2_000), took(40_000)
    assert large < 20 * small * 3 + 0.5  # 20x the input, well under 400x the time
