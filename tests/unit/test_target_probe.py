"""The one target probe (resources/target_probe.py), its functions run in-process on made-up
site folders, and its one parser (detect/parse/target_probe.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from tests.helpers.recording import parsed_probe, probe_output, torch_version_py
from torchsetup.detect.parse.target_probe import build_python, externally_managed
from torchsetup.detect.probes.record import ProbeRecord
from torchsetup.resources import TARGET_PROBE


def probe_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("target_probe_under_test", TARGET_PROBE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dist(site: Path, name: str, version: str, **files: str) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Name: {name}\nVersion: {version}\n\nbody\n")
    for fname, text in files.items():
        (info / fname).write_text(text)


def test_only_torch_kin_by_default_every_distribution_when_asked(tmp_path: Path) -> None:
    probe = probe_module()
    origin = '{"url": "file:///src/six", "dir_info": {"editable": true}}'
    dist(tmp_path, "torch", "2.13.0+cpu", INSTALLER="pip\n")
    dist(tmp_path, "six", "1.17.0", **{"direct_url.json": origin})
    default = {d["name"] for d in probe.scan_distributions([str(tmp_path)])}
    assert default == {"torch"}
    every = {d["name"]: d for d in probe.scan_distributions([str(tmp_path)], True)}
    assert set(every) == {"torch", "six"}
    assert every["six"]["direct_url"] == origin and every["torch"]["installer"] == "pip"


def test_platform_facts_are_what_wheel_tags_need() -> None:
    facts = probe_module().platform_facts()
    assert set(facts) == {"sysconfig_platform", "abiflags", "libc", "libc_version", "mac_version"}
    assert isinstance(facts["sysconfig_platform"], str) and facts["sysconfig_platform"]


def test_the_script_folder_is_not_the_users_sys_path() -> None:
    probe = probe_module()
    here = str(Path(TARGET_PROBE).parent)
    assert here not in probe.user_sys_path()


def test_one_parser_reads_torch_platform_and_origins() -> None:
    py = parsed_probe(
        "/v/bin/python",
        dists=[("pip", "24.2"), ("torch", "2.13.0+cu128")],
        torch_version_py=torch_version_py("2.13.0+cu128", "12.8"),
        extra={"pip": {"direct_url": '{"url": "https://x/pip.whl"}'}},
        platform="macosx-11.0-arm64",
    )
    assert py.torch is not None and py.torch.variant == "cu128"
    assert py.sysconfig_platform == "macosx-11.0-arm64" and py.mac_version == "14.5"
    assert py.dist("pip").direct_url == '{"url": "https://x/pip.whl"}'  # type: ignore[union-attr]
    assert py.all_distributions is True


def test_a_record_without_the_platform_section_still_parses() -> None:
    data = json.loads(probe_output("/v/bin/python"))
    del data["platform"], data["all_distributions"]
    py = build_python(ProbeRecord("python", ok=True, data=data))
    assert py is not None and py.ok and py.sysconfig_platform is None
    assert py.all_distributions is False


def test_externally_managed_applies_to_the_base_interpreter_only() -> None:
    assert externally_managed(True, "system") is True
    assert externally_managed(True, "venv") is False
    assert externally_managed(None, "system") is None
