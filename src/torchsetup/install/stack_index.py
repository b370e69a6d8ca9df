"""What an index offers of a stack package, read at planning time (PEP 691 JSON, else PEP 503).

One small function, :func:`index_versions`, is the stack's only door to an index: the shared
index client of issue 10 can replace it later. ``install --stack/--with`` asks it for the newest
peft, so a peft release that lands after stack.json was curated counts the same day
(transformers 5.24.0 needs peft 0.22.0, which the curated data does not have).
"""

from __future__ import annotations

from typing import Optional

from torchsetup import net
from torchsetup.install.preflight import Get, fetch_project

PYPI = "https://pypi.org/simple"


def index_versions(
    name: str, *, index_url: str = PYPI, get: Get = net.get, timeout: float = 10.0
) -> Optional[list[str]]:
    """The release versions ``index_url`` lists for ``name`` (wheels and sdists), oldest first;
    None when it cannot tell (no such project, the network failed)."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )
    from packaging.version import InvalidVersion

    try:
        files = fetch_project(index_url, name, get=get, timeout=timeout)
    except net.NetError:
        return None
    if files is None:
        return None
    found = set()
    for f in files:
        try:
            if f.filename.endswith(".whl"):
                found.add(parse_wheel_filename(f.filename)[1])
            else:
                found.add(parse_sdist_filename(f.filename)[1])
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
    return [str(v) for v in sorted(found)]


def newest_release(name: str, **kw: object) -> Optional[str]:
    """The newest final (not pre-) release on the index, or None."""
    from packaging.version import Version

    versions = index_versions(name, **kw)  # type: ignore[arg-type]
    finals = [v for v in versions or () if not Version(v).is_prerelease]
    return finals[-1] if finals else None


__all__ = ["PYPI", "index_versions", "newest_release"]
