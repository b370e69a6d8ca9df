"""Files written before a field was removed still load: the reader ignores keys it no longer
has (records.from_jsonable), so old snapshots and ``doctor --json`` outputs stay usable."""

from __future__ import annotations

import dataclasses
import json

from tests.conftest import DATA
from torchsetup.detect.model import TargetPython, environment_to_dict
from torchsetup.detect.snapshot import load_environment

# TargetPython.torch_import_error: never set by any probe, always null; removed.
OLD_FILE = DATA / "snapshots" / "h200-cpu-torch.json"


def test_an_old_file_with_torch_import_error_loads() -> None:
    raw = json.loads(OLD_FILE.read_text(encoding="utf-8"))
    assert "torch_import_error" in raw["environment"]["python"]  # written before the removal
    env = load_environment(str(OLD_FILE))
    assert env.python is not None and env.python.torch is not None
    assert env.python.torch.version == "2.13.0+cpu"
    assert "torch_import_error" not in environment_to_dict(env)["python"]
    assert "torch_import_error" not in {f.name for f in dataclasses.fields(TargetPython)}
