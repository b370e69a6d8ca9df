"""A readable diff of the compatibility data, for people (the body of the weekly data PR).

    python tools/matrix_diff.py                              # HEAD's matrix.json vs the work tree
    python tools/matrix_diff.py --before old.json --after new.json
    python tools/matrix_diff.py --observed refresh.json      # + `torchsetup matrix --refresh --json`

Compares release by release: releases added or removed, and per release the companions, the
Python range, the builds and the platforms each build serves, the PyPI default per platform and
the kernel lists. With ``--observed``, it also lists the releases the indexes show that the
curated data lacks (planned with inferred facts until someone curates them) and the curated
builds the indexes no longer serve. Prints Markdown; exit 0 always (a diff is not an error).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
MATRIX = ROOT / "src" / "torchsetup" / "resources" / "matrix.json"
REL = "src/torchsetup/resources/matrix.json"


def _head_matrix() -> dict[str, Any]:
    out = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"HEAD:{REL}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return dict(json.loads(out.stdout))


def _summary(release: dict[str, Any]) -> dict[str, Any]:
    variants = release.get("variants", {})
    return {
        "companions": f"torchvision {release.get('torchvision')}, torchaudio {release.get('torchaudio')}",
        "python": ", ".join(release.get("python", []))
        + "".join(f", {e['version']} (exp.)" for e in release.get("python_experimental", [])),
        "builds": {name: ", ".join(v.get("platforms", [])) or "-" for name, v in variants.items()},
        "pypi default": {
            key: p.get("pypi_default")
            for key, p in release.get("platforms", {}).items()
            if p.get("available")
        },
        "kernels": {
            f"{name} {key}": a.get("list")
            for name, v in variants.items()
            for key, a in (v.get("arch") or {}).items()
        },
    }


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    old = {r["torch"]: r for r in before.get("releases", [])}
    new = {r["torch"]: r for r in after.get("releases", [])}
    lines: list[str] = []
    for torch in [t for t in new if t not in old]:
        s = _summary(new[torch])
        lines.append(f"- **added torch {torch}**: {s['companions']}; Python {s['python']}")
        for name, where in s["builds"].items():
            lines.append(f"  - {name}: {where}")
    for torch in [t for t in old if t not in new]:
        lines.append(f"- **removed torch {torch}**")
    for torch in [t for t in new if t in old]:
        a, b = _summary(old[torch]), _summary(new[torch])
        changes = []
        for key in ("companions", "python"):
            if a[key] != b[key]:
                changes.append(f"{key}: {a[key]} -> {b[key]}")
        for key in ("builds", "pypi default", "kernels"):
            for name in sorted(set(a[key]) | set(b[key])):
                x, y = a[key].get(name), b[key].get(name)
                if x != y:
                    changes.append(f"{key} {name}: {x} -> {y}")
        if changes:
            lines.append(f"- torch {torch}:")
            lines += [f"  - {c}" for c in changes]
    return lines


def observed_lines(doc: dict[str, Any]) -> list[str]:
    result = doc.get("result") or {}
    data = result.get("data") or {}
    lines = []
    for release in result.get("releases", []):
        facts = release.get("inferred_facts") or []
        if not facts:
            continue
        lines.append(
            f"- **torch {release['torch']}** is on the indexes but not in the curated data "
            "(planned with inferred facts; curate it in tools/reference/compat.json):"
        )
        lines += [f"  - {f['what']}: {f['value']} ({f['rule']})" for f in facts]
    lines += [f"- no longer served: {line}" for line in data.get("not_served", [])]
    if data.get("refresh_error"):
        lines.append(f"- refresh: {data['refresh_error']}")
    return lines


def render(
    before: dict[str, Any], after: dict[str, Any], observed: Optional[dict[str, Any]]
) -> str:
    out = ["## matrix.json", ""]
    changes = diff(before, after)
    out += changes or ["No change to the curated data."]
    if observed is not None:
        out += ["", "## What the indexes show beyond the data", ""]
        out += observed_lines(observed) or ["Nothing: every release on the indexes is curated."]
    return "\n".join(out) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="matrix.json before (default: git HEAD's)")
    parser.add_argument("--after", type=Path, default=MATRIX, help="matrix.json after")
    parser.add_argument(
        "--observed", type=Path, help="output of torchsetup matrix --refresh --json"
    )
    args = parser.parse_args(argv)
    before = json.loads(args.before.read_text(encoding="utf-8")) if args.before else _head_matrix()
    after = json.loads(args.after.read_text(encoding="utf-8"))
    observed = json.loads(args.observed.read_text(encoding="utf-8")) if args.observed else None
    sys.stdout.write(render(before, after, observed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
