"""smoke.py runs in the target: stdlib + torch only, Python 3.8 syntax, the same sentinel.

Its checks run for real in tests/integration; here its pure parts are read and imported
(importing it runs nothing: torch is only imported inside functions).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from argparse import Namespace
from pathlib import Path
from types import ModuleType

import pytest

from torchsetup.verify import protocol
from torchsetup.verify.runner import smoke_path

SOURCE = smoke_path().read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def smoke() -> ModuleType:
    spec = importlib.util.spec_from_file_location("torchsetup_smoke_under_test", smoke_path())
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def imported_modules(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_smoke_parses_as_python_3_8() -> None:
    ast.parse(SOURCE, feature_version=(3, 8))


def _stdlib_names() -> set[str]:
    names = getattr(sys, "stdlib_module_names", None)  # Python 3.10+
    if names is not None:
        return set(names)
    import pkgutil
    import sysconfig

    stdlib = sysconfig.get_paths()["stdlib"]
    found = {m.name for m in pkgutil.iter_modules([stdlib, stdlib + "/lib-dynload"])}
    return found | set(sys.builtin_module_names)


def test_smoke_imports_only_the_stdlib_and_torch() -> None:
    third_party = imported_modules(ast.parse(SOURCE)) - _stdlib_names()
    assert third_party == {"torch", "torchvision"}


def test_smoke_imports_torch_only_inside_functions() -> None:
    top_level = imported_modules(
        ast.Module(
            body=[n for n in ast.parse(SOURCE).body if isinstance(n, (ast.Import, ast.ImportFrom))],
            type_ignores=[],
        )
    )
    assert "torch" not in top_level


def test_the_sentinel_is_the_same_on_both_sides(smoke: ModuleType) -> None:
    assert smoke.SENTINEL == protocol.SENTINEL


def test_plan_quick_and_full(smoke: ModuleType) -> None:
    quick = Namespace(mode="quick")
    assert [n for n, _, _ in smoke.make_plan(quick, ["cuda:0", "cuda:1"])] == [
        "cpu.tensor",
        "cuda:0.tensor",
        "cuda:1.tensor",
    ]
    full = [n for n, _, _ in smoke.make_plan(Namespace(mode="full"), ["cuda:0"])]
    assert full[:5] == ["cpu.math", "cpu.autograd", "cuda:0.matmul", "cuda:0.conv", "cuda:0.memory"]
    assert full[-3:] == ["cpu.compile", "cuda:0.compile", "cuda:0.train"]
    assert [n for n, _, _ in smoke.make_plan(Namespace(mode="full"), [])][-1] == "cpu.train"


def test_every_planned_check_kind_has_a_timeout(smoke: ModuleType) -> None:
    names = [n for n, _, _ in smoke.make_plan(Namespace(mode="full"), ["cuda:0", "mps"])]
    names += [n for n, _, _ in smoke.make_plan(Namespace(mode="quick"), ["mps"])]
    assert {protocol.check_kind(n) for n in names} - {"torchvision"} <= set(protocol.TIMEOUTS)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("2.13.0+cpu", (2, 13)), ("2.4.0a0+git1234", (2, 4)), ("2.10", (2, 10)), ("3", (3,))],
)
def test_version_tuple(smoke: ModuleType, text: str, parsed: tuple[int, ...]) -> None:
    assert smoke.version_tuple(text) == parsed


def test_smoke_has_no_dynamo_table_of_its_own(smoke: ModuleType) -> None:
    assert not hasattr(smoke, "DYNAMO_MIN_TORCH")
    assert "3.12" not in SOURCE and "(3, 12)" not in SOURCE


def test_the_dynamo_floor_comes_from_the_matrix(smoke: ModuleType, tmp_path: Path) -> None:
    from torchsetup.matrix.load import load_matrix
    from torchsetup.verify.model import VerifyOptions
    from torchsetup.verify.runner import smoke_argv

    argv = smoke_argv("python3", VerifyOptions(), tmp_path)
    assert sum(a.startswith("--dynamo-min-torch=") for a in argv) == 1
    args = smoke.parse_args(argv[argv.index(str(smoke_path())) + 1 :])
    assert args.dynamo_min_torch["floors"] == dict(load_matrix().dynamo.floors)
    assert smoke.dynamo_floor(args.dynamo_min_torch, (3, 13)) == (2, 6)
    assert smoke.dynamo_floor(args.dynamo_min_torch, (3, 11)) == (2, 1)
    assert smoke.dynamo_floor(args.dynamo_min_torch, (3, 9)) == (2, 0)  # older: every 2.x
    assert smoke.dynamo_floor(args.dynamo_min_torch, (3, 99)) is None  # unknown: torch decides
    assert smoke.dynamo_floor(None, (3, 13)) is None  # an old caller: no precheck


def test_compile_precheck_refuses_below_the_passed_floor(smoke: ModuleType) -> None:
    old_torch = Namespace(__version__="2.3.1+cu121")
    table = {"floors": {f"{sys.version_info[0]}.{sys.version_info[1]}": "2.4"}, "older": "2.0"}
    with pytest.raises(smoke.NotRun, match=r"needs torch >= 2\.4"):
        smoke.compile_precheck(old_torch, "cpu", "aot_eager", table)
    smoke.compile_precheck(Namespace(__version__="2.4.0"), "cpu", "aot_eager", table)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """setup_caches writes os.environ: start without its variables, and put them back after."""
    for var in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "TORCHINDUCTOR_COMPILE_THREADS"):
        monkeypatch.setenv(var, "recorded")  # so that undo removes what setup_caches sets
        monkeypatch.delenv(var)
    return monkeypatch


def test_caches_go_under_torchsetups_cache_per_torch(
    smoke: ModuleType, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setattr(smoke, "static_torch_version", lambda: "2.11.0+cu130")
    clean_env.setattr(smoke.os, "cpu_count", lambda: 2)
    smoke.setup_caches("/cache/inductor")
    tag = f"torch-2.11.0_cu130-py{sys.version_info[0]}{sys.version_info[1]}"
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == os.path.join("/cache/inductor", tag)
    assert os.environ["TRITON_CACHE_DIR"] == os.path.join("/cache/inductor", tag, "triton")
    assert os.environ["TORCHINDUCTOR_COMPILE_THREADS"] == "1"


def test_large_machines_keep_inductors_compile_pool(
    smoke: ModuleType, clean_env: pytest.MonkeyPatch
) -> None:
    """On 16 vCPUs (the H200) the pool halved a cold compile: only small machines go to 1."""
    clean_env.setattr(smoke, "static_torch_version", lambda: "2.11.0+cu130")
    clean_env.setattr(smoke.os, "cpu_count", lambda: 16)
    smoke.setup_caches("/cache/inductor")
    assert "TORCHINDUCTOR_COMPILE_THREADS" not in os.environ


def test_a_users_own_cache_dir_wins(smoke: ModuleType, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TORCHINDUCTOR_CACHE_DIR", "/mine")
    smoke.setup_caches("/cache/inductor")
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == "/mine"


def test_cxx_compiler_follows_cxx(smoke: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CXX", "definitely-not-a-compiler-xyz")
    assert smoke.cxx_compiler() is None


def test_clip_keeps_both_ends(smoke: ModuleType) -> None:
    text = "A" * 2000 + "Python.h: No such file"
    clipped = smoke.clip(text)
    assert len(clipped) < 1600
    assert clipped.endswith("Python.h: No such file")


def test_worker_identity_and_store_prefix(smoke: ModuleType) -> None:
    env = {"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4"}
    ident = smoke.rank_identity(dict(env, GROUP_RANK="1"))
    assert (ident["rank"], ident["world_size"], ident["local_rank"], ident["node"]) == (5, 8, 1, 1)
    assert smoke.rank_identity(dict(env, SLURM_NODEID="3"))["node"] == 3
    torchrun = {"TORCHELASTIC_RUN_ID": "abc", "TORCHELASTIC_RESTART_COUNT": "2"}
    assert smoke.store_prefix(torchrun) == "torchsetup-verify/abc/2/"
    slurm = {"SLURM_JOB_ID": "77", "SLURM_STEP_ID": "1"}
    assert smoke.store_prefix(slurm) == "torchsetup-verify/77.1/0/"


def test_bandwidth_sizes_go_up_by_four_to_the_largest(smoke: ModuleType) -> None:
    assert smoke.bandwidth_sizes(16 * 2**20) == [2**18, 2**20, 2**22, 2**24]
    assert smoke.bandwidth_sizes(2**30)[-1] == 2**30
    assert smoke.bandwidth_sizes(1000) == [1000]


def test_first_failure_names_the_check(smoke: ModuleType) -> None:
    record = {
        "checks": [{"name": "a", "status": "pass"}, {"name": "b", "status": "fail", "detail": "x"}]
    }
    assert smoke.first_failure(record) == "b: x"
    assert smoke.first_failure({"checks": []}) == "failed"


def test_skip_and_only_are_parsed(smoke: ModuleType) -> None:
    args = smoke.parse_args(["--mode", "full", "--skip", "cpu.compile"])
    assert args.skip == ["cpu.compile"] and args.only == []
    assert smoke.parse_args(["--only", "cpu.compile"]).only == ["cpu.compile"]


class _FakeXpu:
    """torch.xpu as the XPU build has it, for the pure parts of the Intel GPU checks."""

    def __init__(self, mem_get_info: bool = True) -> None:
        self.synced: list[str] = []
        if mem_get_info:
            self.mem_get_info = lambda device: (6 * 2**30, 16 * 2**30)

    def is_available(self) -> bool:
        return True

    def device_count(self) -> int:
        return 1

    def get_device_properties(self, index: object) -> Namespace:
        return Namespace(name="Intel(R) Arc(TM) A770 Graphics", total_memory=16 * 2**30)

    def is_bf16_supported(self) -> bool:
        return True

    def synchronize(self, device: str) -> None:
        self.synced.append(device)


def _fake_torch(xpu: _FakeXpu) -> Namespace:
    return Namespace(xpu=xpu, bfloat16="bf16", float16="fp16")


def test_xpu_devices_are_found_through_torch_xpu(smoke: ModuleType) -> None:
    (device,) = smoke.xpu_devices(_fake_torch(_FakeXpu()))
    assert (device["name"], device["kind"]) == ("xpu:0", "xpu")
    assert device["model"] == "Intel(R) Arc(TM) A770 Graphics"
    assert smoke.xpu_devices(Namespace()) == []  # a torch without torch.xpu


def test_xpu_checks_use_torch_xpu_not_torch_cuda(smoke: ModuleType) -> None:
    xpu = _FakeXpu()
    torch = _fake_torch(xpu)
    smoke.sync(torch, "xpu:0")
    assert xpu.synced == ["xpu:0"]
    assert [v[0] for v in smoke.matmul_variants(torch, "xpu:0")] == ["fp32", "bf16", "fp16"]
    assert smoke.memory_info(torch, "xpu:0") == (6 * 2**30, 16 * 2**30)
    assert smoke.memory_info(_fake_torch(_FakeXpu(mem_get_info=False)), "xpu:0") == (
        None,
        16 * 2**30,
    )
    assert smoke.precision_for(torch, "xpu:0") == ("bf16", False, "bf16 autocast")
    assert smoke.cudnn_tf32(torch, "xpu:0") is False
    plan = smoke.make_plan(Namespace(mode="full"), ["xpu:0"])
    assert {"xpu:0.matmul", "xpu:0.conv", "xpu:0.memory", "xpu:0.train"} <= {n for n, _, _ in plan}
