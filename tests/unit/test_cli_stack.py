"""``torchsetup install --stack llm`` / ``--with COMPONENT``: the plan, its refusals (exit 2)."""

from __future__ import annotations

from tests.helpers.result import unwrap
from tests.unit.test_cli_install import invoke


def _plan(*args: str, snapshot: str = "linux-py311-nodriver") -> dict:  # type: ignore[type-arg]
    r = invoke(*args, "--dry-run", "--json", snapshot=snapshot)
    assert r.code == 0, r.err
    return unwrap(r.out, "install")  # type: ignore[no-any-return]


def test_stack_llm_cpu_plan_pins_torch_for_every_stack_step() -> None:
    data = _plan("--cpu", "--stack", "llm", "--torch", "2.13.0")
    steps = data["plan"]["steps"]
    ids = [s["id"] for s in steps]
    # the stack installs under its constraints file; the drift guard pins the result last
    assert ids[-3:] == ["stack-constraints", "install-stack", "guard"]  # pip: compiles all
    write, install = steps[-3]["argv"], steps[-2]["argv"]
    constraints = write[3]
    assert constraints.endswith("torchsetup-stack-constraints.txt")
    assert "torch==2.13.0" in write[4:]
    assert install[install.index("-c") + 1] == constraints
    assert "transformers==5.23.0" in install and "peft==0.21.2" in install
    stack = data["stack"]
    assert {c["name"] for c in stack["choices"]} == {
        "transformers",
        "accelerate",
        "datasets",
        "tokenizers",
        "safetensors",
        "peft",
    }
    assert any(r["name"] == "transformers" and r["version"] == "5.24.0" for r in stack["rejected"])
    assert any(r.startswith("transformers 5.23.0:") for r in data["reasons"])


def test_vllm_pin_chooses_torch() -> None:
    data = _plan("--with", "vllm==0.20.2", snapshot="h200-real")
    assert data["plan"]["torch"].startswith("2.11.0")
    assert data["stack"]["choices"][0]["name"] == "vllm"
    assert data["stack"]["choices"][0]["version"] == "0.20.2"


def test_flash_attn_on_a_t4_is_refused_with_the_nearest_request() -> None:
    r = invoke("--with", "flash-attn", "--dry-run", snapshot="t4-driver470")
    assert r.code == 2
    assert "compute capability 8.0+" in r.err and "sm_75" in r.err
    assert "Nearest request that works" in r.err and "Traceback" not in r.err


def test_vllm_with_a_torch_no_vllm_pins_is_refused() -> None:
    r = invoke("--with", "vllm", "--torch", "2.12", "--dry-run", snapshot="h200-real")
    assert r.code == 2 and "--with vllm==" in r.err


def test_transformers_5_24_with_peft_is_refused() -> None:
    r = invoke("--stack", "llm", "--with", "transformers==5.24.0", "--dry-run")
    assert r.code == 2
    assert "peft" in r.err and "--with transformers==5.23.0" in r.err


def test_bad_stack_input_is_one_line_exit_2() -> None:
    for args in (("--stack", "nlp"), ("--with", "vllm>>1"), ("--with", "flashattn")):
        r = invoke(*args, "--dry-run")
        assert r.code == 2 and "Traceback" not in r.err, args
    r = invoke("--only", "torch", "--stack", "llm", "--dry-run")
    assert r.code == 2


def test_companions_stay_default_when_with_names_only_stack_components() -> None:
    data = _plan("--cpu", "--with", "transformers", "--torch", "2.13.0")
    assert data["plan"]["torchvision"] is not None
