"""Refresh the compatibility matrix from the live PyTorch indexes and show what changed.

For every build name the matrix knows (cu118, cpu, rocm6.2, ...), read
``<index>/<build>/torch/`` as a PEP 691 JSON page (or PEP 503 HTML when the server does not
speak JSON), parse the wheel file names and compare, per release, where wheels exist
(platforms) and for which Pythons with what matrix.json says.

    python tools/update_matrix.py                     # print the differences, change nothing
    python tools/update_matrix.py --variant cu130     # one build only
    python tools/update_matrix.py --write             # record what the index shows and re-curate

``--write`` stores the observed platform lists in tools/reference/index_observations.json and
re-runs tools/curate_matrix.py, which applies them on top of compat.json, so matrix.json stays
reproducible from files in the repository. New releases are reported, not invented: add them to
tools/reference/compat.json (with sources) and re-curate.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tools"))

import curate_matrix

from torchsetup import index, net
from torchsetup.matrix.load import matrix_from_dict
from torchsetup.matrix.model import Matrix
from torchsetup.versions import version_tuple

DEFAULT_INDEX = "https://download.pytorch.org/whl"


@dataclass
class Observed:
    """What one index shows for one torch version."""

    platforms: set[str] = field(default_factory=set)
    pythons: set[str] = field(default_factory=set)


def parse_wheel(filename: str) -> Optional[tuple[str, str, Optional[str], Optional[str]]]:
    """(public version, local label, platform key, python) of a torch wheel file name (one
    platform and Python: the first of a compressed tag set)."""
    facts = index.wheel_facts(filename)
    if facts is None or facts.name != "torch":
        return None
    platforms = [p for p in facts.platforms if p != "any"]
    return (
        facts.version,
        facts.local,
        platforms[0] if platforms else None,
        facts.pythons[0] if facts.pythons else None,
    )


def observe(names: Iterable[str]) -> dict[str, Observed]:
    """torch version -> platforms and Pythons with wheels (final releases only)."""
    out: dict[str, Observed] = {}
    for name in names:
        parsed = parse_wheel(name)
        if parsed is None or not re.fullmatch(r"\d+\.\d+\.\d+", parsed[0]):
            continue
        seen = out.setdefault(parsed[0], Observed())
        if parsed[2]:
            seen.platforms.add(parsed[2])
        if parsed[3]:
            seen.pythons.add(parsed[3])
    return out


def fetch_variant(base: str, variant: str) -> Optional[dict[str, Observed]]:
    """Read ``<base>/<variant>/torch/`` with the one index client (PEP 691 JSON, else HTML)."""
    url = index.project_url(f"{base.rstrip('/')}/{variant}", "torch")
    try:
        page = index.fetch_project(f"{base.rstrip('/')}/{variant}", "torch", timeout=30.0)
    except net.NetError as exc:  # a missing index is reported, not fatal
        print(f"  {variant}: cannot read {url} ({exc})")
        return None
    if page is None:
        print(f"  {variant}: cannot read {url} (HTTP 404)")
        return None
    return observe(f.filename for f in page.files)


def compare(matrix: Matrix, variant: str, seen: Mapping[str, Observed]) -> list[str]:
    """Human-readable differences between the matrix and one index."""
    lines = []
    for release in matrix.releases_with(variant):
        v = release.variant(variant)
        assert v is not None
        obs = seen.get(release.torch)
        if obs is None:
            lines.append(f"- {release.torch} {variant}: in matrix.json, no wheels on the index")
            continue
        if set(v.platforms) != obs.platforms:
            lines.append(
                f"~ {release.torch} {variant}: platforms {sorted(v.platforms)} -> index {sorted(obs.platforms)}"
            )
        listed = set(release.python) | {e.version for e in release.python_experimental}
        extra, missing = sorted(obs.pythons - listed), sorted(set(release.python) - obs.pythons)
        if extra or missing:
            lines.append(
                f"~ {release.torch} {variant}: Pythons on the index not listed {extra}, listed but absent {missing}"
            )
    known = {r.torch for r in matrix.releases}
    for version in sorted(set(seen) - known, key=version_tuple):
        if version_tuple(version) >= (2, 0):
            lines.append(
                f"+ {version} {variant}: on the index, not in matrix.json (add it to compat.json)"
            )
    return lines


def observations(index: str, results: Mapping[str, Mapping[str, Observed]]) -> dict[str, Any]:
    return {
        "index": index,
        "checked": datetime.date.today().isoformat(),
        "platforms": {
            variant: {version: sorted(obs.platforms) for version, obs in sorted(seen.items())}
            for variant, seen in sorted(results.items())
        },
    }


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default=DEFAULT_INDEX, help="base URL of the per-build indexes")
    parser.add_argument("--variant", action="append", help="only these builds (repeatable)")
    parser.add_argument(
        "--matrix", type=Path, default=curate_matrix.OUTPUT, help="matrix.json to compare with"
    )
    parser.add_argument("--observations", type=Path, default=curate_matrix.OBSERVATIONS)
    parser.add_argument(
        "--write", action="store_true", help="record the observations and re-curate"
    )
    args = parser.parse_args(argv)

    matrix = matrix_from_dict(json.loads(args.matrix.read_text(encoding="utf-8")))
    variants = args.variant or list(matrix.variant_names)
    results: dict[str, dict[str, Observed]] = {}
    differences = 0
    for variant in variants:
        seen = fetch_variant(args.index, variant)
        if seen is None:
            continue
        results[variant] = seen
        lines = compare(matrix, variant, seen)
        differences += len(lines)
        print(f"{variant}: {len(seen)} torch versions on the index, {len(lines)} differences")
        for line in lines:
            print(f"  {line}")
    if not args.write:
        print(f"{differences} differences; nothing written (use --write)")
        return 1 if differences else 0
    args.observations.write_text(
        json.dumps(observations(args.index, results), indent=1) + "\n", encoding="utf-8"
    )
    print(f"wrote {args.observations}")
    return curate_matrix.main(
        ["--write", "--observations", str(args.observations), "--output", str(args.matrix)]
    )


if __name__ == "__main__":
    sys.exit(main())
