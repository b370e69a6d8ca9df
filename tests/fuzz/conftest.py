"""The fuzz suite (issue 15): property-based runs of the CLI, hostile files, stand-in tools and a
hostile local index, each checked against the invariants in :mod:`tests.fuzz.invariants`.

Its budget is fixed and its runs are reproducible: the ``fuzz`` hypothesis profile draws
derandomized examples (the same on every run and machine), a few hundred in all, in about two
minutes on two cores. ``TORCHSETUP_FUZZ_EXAMPLES=N`` scales every test's examples (a longer
local hunt: ``TORCHSETUP_FUZZ_EXAMPLES=2000 python -m pytest tests/fuzz``).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

SCALE = float(os.environ.get("TORCHSETUP_FUZZ_EXAMPLES", "0") or 0) / 100 or 1.0

settings.register_profile(
    "fuzz",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("fuzz")


def examples(n: int) -> int:
    """This test's share of the budget."""
    return max(1, int(n * SCALE))


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logs and restore files of fuzzed runs land in a scratch folder, never the user's."""
    cache = tmp_path_factory.mktemp("fuzz-cache")
    monkeypatch.setenv("TORCHSETUP_CACHE_DIR", str(cache))
