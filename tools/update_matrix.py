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
import html.parser
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tools"))

import curate_matrix

from torchsetup import net
from torchsetup.matrix.load import matrix_from_dict
from torchsetup.matrix.model import Matrix
from torchsetup.versions import version_tuple

DEFAULT_INDEX = "https://download.pytorch.org/whl"
PEP691 = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{PEP691}, text/html;q=0.1"

# torch-2.0.1+cu117-cp310-cp310-linux_x86_64.whl (PEP 427; the build tag is optional)
_WHEEL = re.compile(
    r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$"
)


@dataclass
class Observed:
    """What one index shows for one torch version."""

    platforms: set[str] = field(default_factory=set)
    pythons: set[str] = field(default_factory=set)


def platform_of(tag: str) -> Optional[str]:
    """A wheel platform tag (possibly compressed: a.b) -> matrix platform key."""
    for part in tag.split("."):
        if part.endswith("x86_64") and ("linux" in part):
            return "linux-x86_64"
        if part.endswith("aarch64") and "linux" in part:
            return "linux-aarch64"
        if part == "win_amd64":
            return "windows-x86_64"
        if part.startswith("macosx") and part.endswith(("arm64", "universal2")):
            return "macos-arm64"
        if part.startswith("macosx") and part.endswith("x86_64"):
            return "macos-x86_64"
    return None


def python_of(py_tag: str, abi: str) -> Optional[str]:
    """cp310 / cp310 -> '3.10'; cp313 / cp313t -> '3.13t' (free-threaded)."""
    m = re.fullmatch(r"cp3(\d+)", py_tag)
    if not m:
        return None
    return f"3.{m.group(1)}" + ("t" if abi.endswith("t") else "")


def parse_wheel(filename: str) -> Optional[tuple[str, str, Optional[str], Optional[str]]]:
    """(public version, local label, platform key, python) of a torch wheel file name."""
    m = _WHEEL.match(
        filename.split("#", maxsplit=1)[0].rsplit("/", maxsplit=1)[-1].replace("%2B", "+")
    )
    if not m or m.group("name").lower() != "torch":
        return None
    public, _, local = m.group("version").partition("+")
    return public, local, platform_of(m.group("plat")), python_of(m.group("py"), m.group("abi"))


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href") or ""
            self.names.append(href.split("#")[0].rsplit("/", 1)[-1])


def file_names(content_type: str, body: str) -> list[str]:
    """Wheel file names from a PEP 691 JSON or PEP 503 HTML project page."""
    if PEP691 in content_type or content_type.startswith("application/json"):
        return [f["filename"] for f in json.loads(body).get("files", [])]
    parser = _Links()
    parser.feed(body)
    return parser.names


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


def fetch_variant(index: str, variant: str) -> Optional[dict[str, Observed]]:
    url = urljoin(index.rstrip("/") + "/", f"{variant}/torch/")
    try:
        response = net.get(url, timeout=30.0, accept=ACCEPT)
    except net.NetError as exc:  # a missing index is reported, not fatal
        print(f"  {variant}: cannot read {url} ({exc})")
        return None
    if not response.ok:
        print(f"  {variant}: cannot read {url} (HTTP {response.status})")
        return None
    return observe(file_names(response.headers.get("content-type", ""), response.text))


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
