"""Reading any paste: encodings, terminal controls, error text, nvidia-smi, package lists,
the sectioned and wrapped collect_env shapes, and what a paste cannot say."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers.result import unwrap
from torchsetup.cli import run
from torchsetup.cli.doctor import doctor
from torchsetup.detect.from_report import read_paste
from torchsetup.detect.parse.collect_env import clean_lines, parse_collect_env
from torchsetup.detect.parse.paste import parse_paste
from torchsetup.sanitize import decode_paste, sanitize

REPORTS = Path(__file__).resolve().parent.parent / "data" / "reports"
H200 = (
    Path(__file__).resolve().parent.parent
    / "data"
    / "real"
    / "h200-ubuntu24.04-driver580-torch2.11cu130"
    / "collect_env.txt"
).read_text()


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in clean_lines(text)]


# --- encodings and terminal controls ------------------------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("utf-8"),
        lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
        lambda t: t.encode("utf-16"),  # BOM + LE: PowerShell's `>` and Out-File
        lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
        lambda t: t.encode("utf-16-le"),  # no BOM: found by its NUL bytes
        lambda t: t.replace("\n", "\r\n").encode("utf-8"),
    ],
    ids=["utf8", "utf8-bom", "utf16-le-bom", "utf16-be-bom", "utf16-le-no-bom", "crlf"],
)
def test_every_console_encoding_gives_the_same_report(encode: object) -> None:
    text = decode_paste(encode(H200))  # type: ignore[operator]
    assert parse_collect_env(text).fields == parse_collect_env(H200).fields
    assert "\r" not in text and not text.startswith("\ufeff")


def test_sanitize_removes_every_terminal_control() -> None:
    evil = (
        "GPU 0: \x1b[31mRTX\x1b[0m \x1b]0;pwned\x07title \x1b]52;c;Y2xpcA==\x1b\\clip "
        "\x9b2J\x1bPdcs\x1b\\ bell\x07 nul\x00 del\x7f c1\x85 rtl\u202eevil"
    )
    out = sanitize(evil)
    assert out == "GPU 0: RTX title clip  bell nul del c1 rtlevil"
    assert all(ord(c) >= 32 or c in "\t\n" for c in out)
    assert sanitize("a\tb\nc", one_line=True) == "a b c"


def test_escape_sequences_in_a_paste_never_reach_the_terminal() -> None:
    text = (REPORTS / "cpu-wheel-windows-pytorch-122924.txt").read_text()
    text = text.replace("NVIDIA GeForce RTX 4080", "NVIDIA GeForce \x1b]0;owned\x07RTX\x1b[2J 4080")
    result = CliRunner().invoke(
        doctor, ["--from-report", "-"], input=text.encode("utf-8"), standalone_mode=False
    )
    assert result.exception is None
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "TS001" in result.output and "> GPU 0: NVIDIA GeForce RTX 4080" in result.output
    assert "> [pip3] torch==2.2.2" in result.output and "torchaudio==" not in result.output


# --- error text ---------------------------------------------------------------------------------

TRACEBACK = """Traceback (most recent call last):
  File "/home/u/train.py", line 1, in <module>
    import torch
  File "/home/u/.venv/lib/python3.10/site-packages/torch/__init__.py", line 235, in <module>
    from torch._C import *  # noqa: F403
ImportError: libcudnn.so.8: cannot open shared object file: No such file or directory
"""


@pytest.mark.parametrize(
    ("text", "kind", "values"),
    [
        (TRACEBACK, "missing-library", {"lib": "libcudnn.so.8"}),
        (
            "ImportError: /x/site-packages/torchvision/_C.so: undefined symbol: _ZN3c106detail14torchCheckFailEPKcS2_jRKSs",
            "undefined-symbol",
            {"so": "/x/site-packages/torchvision/_C.so"},
        ),
        (
            "RuntimeError: CUDA error: no kernel image is available for execution on the device",
            "no-kernel-image",
            {},
        ),
        (
            "UserWarning: CUDA initialization: The NVIDIA driver on your system is too old (found version 11040).",
            "driver-too-old",
            {"found": "11040"},
        ),
        ("RuntimeError: Found no NVIDIA driver on your system.", "no-driver", {}),
        (
            "RuntimeError: module compiled against API version 0xe but this version of numpy is 0xd",
            "numpy-c-api",
            {"built": "0xe", "have": "0xd"},
        ),
        (
            "UserWarning: Failed to initialize NumPy: _ARRAY_API not found",
            "numpy-init",
            {"why": "_ARRAY_API not found"},
        ),
        (
            "RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:1269, unhandled cuda error",
            "nccl",
            {},
        ),
        (
            "ERROR: Could not find a version that satisfies the requirement torch==1.4.0 (from versions: none)",
            "pip-no-version",
            {"req": "torch==1.4.0", "versions": "none"},
        ),
        (
            "vllm 0.7.3 requires torch==2.5.1, but you have torch 2.4.0+cu124 which is incompatible.",
            "pip-conflict",
            {"pkg": "vllm", "req": "torch==2.5.1", "havever": "2.4.0+cu124"},
        ),
        (
            "RuntimeError: FlashAttention only supports Ampere GPUs or newer.",
            "flash-attn-arch",
            {},
        ),
        (
            "Disabling PyTorch because PyTorch >= 2.1 is required but found 2.0.1",
            "transformers-torch-gate",
            {"need": "2.1", "have": "2.0.1"},
        ),
        (
            (
                "Found GPU0 GeForce 210 which is of cuda capability 1.2.\n"
                "    PyTorch no longer supports this GPU because it is too old."
            ),
            "gpu-too-old",
            {"name": "GeForce 210", "cc": "1.2"},
        ),
    ],
)
def test_error_signals(text: str, kind: str, values: dict[str, str]) -> None:
    paste = parse_paste(_lines(text))
    found = paste.first(kind)
    assert found is not None, [s.kind for s in paste.signals]
    for key, value in values.items():
        assert found.value(key) == value
    assert found.text in text.replace("\n    ", " ") or found.text in text


def test_a_traceback_of_import_torch_is_an_import_failure_with_its_quote() -> None:
    reading = read_paste(TRACEBACK, "x")
    assert reading.formats == ("traceback",)
    assert reading.env.deep is not None and reading.env.deep.imported is False
    assert reading.env.deep.error is not None and "libcudnn.so.8" in reading.env.deep.error
    assert reading.evidence["signal:missing-library"].startswith("ImportError: libcudnn.so.8")


def test_a_cut_off_traceback_says_so() -> None:
    reading = read_paste(TRACEBACK.rsplit("\n", 2)[0], "x")
    assert any("cut off before its exception line" in n for n in reading.notes)


# --- nvidia-smi and package lists ---------------------------------------------------------------

SMI = """+-----------------------------------------------------------------------------+
| NVIDIA-SMI 470.82.01    Driver Version: 470.82.01    CUDA Version: 11.4     |
|-------------------------------+----------------------+----------------------+
| GPU  Name        Persistence-M| Bus-Id        Disp.A | Volatile Uncorr. ECC |
|===============================+======================+======================|
|   0  NVIDIA GeForce ...  Off  | 00000000:01:00.0  On |                  N/A |
|   1  Tesla K80           Off  | 00000000:02:00.0 Off |                    0 |
+-------------------------------+----------------------+----------------------+
"""


def test_nvidia_smi_table() -> None:
    smi = parse_paste(_lines(SMI)).smi
    assert smi is not None and smi.driver == "470.82.01" and smi.cuda == "11.4"
    assert smi.gpus == ((0, "NVIDIA GeForce ..."), (1, "Tesla K80"))
    env = read_paste(SMI, "x").env
    assert env.nvidia.status == "ok" and env.nvidia.cuda_driver_version == "11.4"


@pytest.mark.parametrize(
    ("text", "fmt", "torch"),
    [
        (
            "Package    Version\n---------- ---------\nnumpy      1.26.4\ntorch      2.2.2+cu121\ntorchvision 0.17.2+cu121\n",
            "pip list",
            "2.2.2+cu121",
        ),
        (
            "numpy==1.26.4\ntorch==2.2.2\ntorchvision==0.17.2\nfilelock==3.13.1\n",
            "pip freeze",
            "2.2.2",
        ),
        (
            (
                "# packages in environment at /opt/conda/envs/x:\n#\n# Name Version Build Channel\n"
                "numpy 1.26.4 py310h5f9d8c6_0\npytorch 2.1.0 py3.10_cuda12.1_cudnn8.9.2_0 pytorch\n"
                "pytorch-cuda 12.1 ha16c6d3_5 pytorch\n"
            ),
            "conda list",
            "2.1.0",
        ),
    ],
)
def test_package_lists(text: str, fmt: str, torch: str) -> None:
    reading = read_paste(text, "x")
    assert fmt in reading.formats
    py = reading.env.python
    assert py is not None and py.torch is not None and py.torch.version == torch
    if fmt == "conda list":
        assert py.torch.cuda == "12.1" and py.conda("pytorch-cuda") is not None


# --- collect_env shapes -------------------------------------------------------------------------


def test_sectioned_format_reads_every_field() -> None:
    sectioned = """Collecting environment information...
==============================
        System Info
==============================
OS                           : Ubuntu 22.04.5 LTS (x86_64)
GCC version                  : (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0
Libc version                 : glibc-2.35

==============================
       PyTorch Info
==============================
PyTorch version              : 2.7.0+cu126
Is debug build               : False
CUDA used to build PyTorch   : 12.6
INFO 05-16 12:00:00 [__init__.py:239] Automatically detected platform cuda.

==============================
       CUDA / GPU Info
==============================
Is CUDA available            : True
GPU models and configuration : GPU 0: NVIDIA GeForce RTX 5090
Nvidia driver version        : 570.124.06

==============================
Versions of relevant libraries
==============================
[pip3] torch==2.7.0
[conda] Could not collect

==============================
         vLLM Info
==============================
ROCM Version                 : Could not collect
"""
    r = parse_collect_env(sectioned)
    assert r.get("os") == "Ubuntu 22.04.5 LTS (x86_64)" and r.get("torch") == "2.7.0+cu126"
    assert r.get("driver") == "570.124.06" and r.gpus == [(0, "NVIDIA GeForce RTX 5090")]
    assert r.pip == [("torch", "2.7.0")] and r.packages_complete
    assert read_paste(sectioned, "x").formats[0] == "collect_env (sectioned)"


def test_a_console_that_wraps_mid_word_is_unwrapped() -> None:
    path = "cuDNN version: C:\\Program Files\\NVIDIA GPU Computing Toolkit\\CUDA\\v10.0\\bin\\cudnn64_7.dll"
    text = f"PyTorch version: 1.2.0\nIs debug build: No\n{path[:80]}\n{path[80:]}\n\nok: yes\n"
    assert parse_collect_env(text).get("cudnn") == path.split(": ", 1)[1]
    # A longest line that ends at a word boundary is not joined with the next.
    whole = "OS: " + "x" * 75 + "."
    assert clean_lines(f"{whole}\nGCC version: 9\n")[:2] == [whole, "GCC version: 9"]


def test_torch_not_importable_in_collect_env_is_import_failure() -> None:
    text = """PyTorch version: N/A
Is debug build: N/A
CUDA used to build PyTorch: N/A
ROCM used to build PyTorch: N/A

OS: Ubuntu 20.04.6 LTS (x86_64)
Is CUDA available: N/A

Versions of relevant libraries:
[pip3] torch==2.1.0
[conda] Could not collect
"""
    env = read_paste(text, "x").env
    assert env.deep is not None and env.deep.imported is False
    assert "torch==2.1.0" in (env.deep.error or "")


def test_a_cut_off_report_says_where_and_what_it_disabled() -> None:
    reading = read_paste((REPORTS / "driver-too-old-warning-lhotse-793.txt").read_text(), "x")
    (note,) = reading.notes
    assert "cut off after" in note and "TS011" in note and "the OS and Python" in note


def test_nothing_to_diagnose_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"thanks for the help!\n")))
    assert run(["doctor", "--from-report", "-"]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "stdin holds nothing to diagnose" in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_the_bug_report_block_of_a_paste_carries_no_terminal_controls() -> None:
    text = (REPORTS / "sm120-cu126-pytorch-150733.txt").read_text()
    text = text.replace("RTX 5090 D", "RTX 5090 D\x1b]8;;http://evil\x07link\x1b]8;;\x07")
    result = CliRunner().invoke(
        doctor, ["--from-report", "-", "--report"], input=text.encode(), standalone_mode=False
    )
    assert result.exception is None
    assert "GPU 0: NVIDIA GeForce RTX 5090 Dlink" in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output


@pytest.mark.parametrize(
    ("packages", "rule"),
    [
        ("", "TS105"),  # cut before the package list: torch cannot be imported, cause unknown
        (
            "Versions of relevant libraries:\n[pip3] numpy==1.26.4\n[conda] Could not collect\n",
            "TS101",
        ),
    ],
    ids=["cut-off", "listed-without-torch"],
)
def test_every_torch_field_na_always_says_something(packages: str, rule: str) -> None:
    from torchsetup.doctor import diagnose

    text = (
        "PyTorch version: N/A\nIs debug build: N/A\nCUDA used to build PyTorch: N/A\n\n"
        "OS: Microsoft Windows 10 Enterprise\nPython version: 3.5\nIs CUDA available: N/A\n\n"
        + packages
    )
    fired = {f.id for f in diagnose(read_paste(text, "x").env).findings}
    assert rule in fired, fired


def test_json_has_the_paste_formats_and_notes() -> None:
    text = (REPORTS / "driver-too-old-warning-lhotse-793.txt").read_bytes()
    result = CliRunner().invoke(
        doctor, ["--from-report", "-", "--json"], input=text, standalone_mode=False
    )
    data = unwrap(result.output)
    assert data["paste"]["formats"] == ["collect_env", "error text"]
    assert "cut off after" in data["paste"]["notes"][0]
    ts003 = next(f for f in data["findings"] if f["id"] == "TS003")
    assert any("found version 9010" in line for line in ts003["evidence"])


def test_torch_1_0_printed_the_full_cuda_version() -> None:
    text = "PyTorch version: 1.0.0\nIs debug build: No\nCUDA used to build PyTorch: 9.0.176\n"
    env = read_paste(text, "x").env
    assert env.python is not None and env.python.torch is not None
    assert env.python.torch.cuda == "9.0" and env.python.torch.variant == "cu90"


@pytest.mark.parametrize(
    ("build", "cuda"),
    [
        ("py3.10_cuda12.1_cudnn8.9.2_0", "12.1"),
        ("cuda118_py310h1234_0", "11.8"),  # conda-forge
        ("cuda100py37h53c1284_0", "10.0"),  # anaconda's 1.x builds
        ("py36_4cu75", "7.5"),  # the soumith channel of 0.x
        ("py3.10_cpu_0", ""),
        ("cpu_mkl_py310h1", ""),
        ("h123abc_0", None),  # says neither: unknown, not CPU
    ],
)
def test_conda_build_strings(build: str, cuda: object) -> None:
    from torchsetup.detect.from_report import conda_build_cuda

    assert conda_build_cuda(build) == cuda
