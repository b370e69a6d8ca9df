"""The plan's ``bytecode`` step, run *inside the target interpreter* (stdlib only, Python 3.8+).

It imports torch once with bytecode writing on (also where ``PYTHONDONTWRITEBYTECODE`` is set),
so every module the first ``import torch`` loads gets its ``.pyc``: about a sixth of torch's
sources, which is what makes an import fast. pip compiles all of them at install; this takes
about a third of the time and the next ``import torch`` is as fast as after pip.

With ``--cache DIR`` (a plan for this machine: torchsetup's cache) the ``.pyc`` files it wrote
are kept there under a key of the exact build (torch's RECORD, this Python's cache tag), and the
next venv that gets the same build (uv links the same files out of its cache) starts from a copy
of them: the import then compiles nothing. Python checks every ``.pyc`` against its source (its
size and mtime) before using it, so a copy that does not match is simply compiled again.

An import that fails leaves the install as it is (the verify after it says why): the error goes
to stderr in one line and the step exits 0. Otherwise it prints one line: how many modules were
loaded from site-packages, how many of them have a ``.pyc``, how many were copied from the cache.
"""

import hashlib
import os
import shutil
import sys

KEEP = 4  # builds kept in the cache, newest first by use


def _site_dirs():
    import sysconfig

    dirs = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    return sorted(os.path.realpath(d) + os.sep for d in dirs if d)


def _key():
    """The exact torch build: its RECORD lists every file with its hash (not the scripts in
    bin/, whose first line names this venv's python, nor the dist-info an installer writes)."""
    try:
        from importlib import metadata
    except ImportError:  # pragma: no cover - Python < 3.8 has no torch anyway
        return None
    try:
        record = metadata.distribution("torch").read_text("RECORD")
    except Exception:
        return None
    if not record:
        return None
    lines = [
        line
        for line in record.splitlines()
        if line and not line.startswith("..") and ".dist-info/" not in line.split(",", 1)[0]
    ]
    digest = hashlib.sha256("\n".join(sorted(lines)).encode("utf-8", "replace")).hexdigest()[:24]
    return "%s-%s" % (sys.implementation.cache_tag, digest)


def _restore(folder, sites):
    """Copy the cached .pyc files into site-packages, next to their sources, where none is yet."""
    copied = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if not name.endswith(".pyc"):
                continue
            src = os.path.join(root, name)
            rel = os.path.relpath(src, folder)  # pkg/__pycache__/mod.cpython-311.pyc
            package = os.path.dirname(os.path.dirname(rel))
            source = os.path.join(package, name.split(".", 1)[0] + ".py")
            site = next((s for s in sites if os.path.isfile(os.path.join(s, source))), None)
            if site is None or os.path.exists(os.path.join(site, rel)):
                continue
            dest = os.path.join(site, rel)
            try:
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                tmp = dest + ".torchsetup-tmp"
                shutil.copyfile(src, tmp)
                os.replace(tmp, dest)
                copied += 1
            except OSError:
                continue
    try:
        os.utime(folder)  # most recently used
    except OSError:
        pass
    return copied


def _loaded(sites):
    """(module source, its .pyc) for every module loaded from site-packages."""
    out = []
    for module in list(sys.modules.values()):
        spec = getattr(module, "__spec__", None)
        origin = getattr(spec, "origin", None) if spec is not None else None
        cached = getattr(spec, "cached", None) if spec is not None else None
        if not origin or not cached or not origin.endswith(".py"):
            continue
        real = os.path.realpath(origin)
        if any(real.startswith(s) for s in sites):
            out.append((real, cached))
    return out


def _keep(folder, sites, loaded):
    """Copy the .pyc files of what was loaded into the cache (one folder per build)."""
    tmp = folder + ".tmp-%d" % os.getpid()
    try:
        for _source, cached in loaded:
            real = os.path.realpath(cached)
            site = next((s for s in sites if real.startswith(s)), None)
            if site is None or not os.path.isfile(real):
                continue
            dest = os.path.join(tmp, os.path.relpath(real, site))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copyfile(real, dest)
        if os.path.isdir(folder):
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        return
    parent = os.path.dirname(folder)
    try:
        builds = sorted(
            (os.path.join(parent, n) for n in os.listdir(parent) if ".tmp-" not in n),
            key=lambda p: os.stat(p).st_mtime,
            reverse=True,
        )
    except OSError:
        return
    for old in builds[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)


def main(argv):
    cache = None
    if "--cache" in argv:
        i = argv.index("--cache")
        cache = argv[i + 1] if i + 1 < len(argv) else None
    sites = _site_dirs()
    key = _key() if cache else None
    folder = os.path.join(cache, key) if cache and key else None
    restored = _restore(folder, sites) if folder and os.path.isdir(folder) else 0
    sys.dont_write_bytecode = False
    try:
        import torch  # noqa: F401
    except Exception as exc:
        print(
            "bytecode: import torch failed: %s: %s" % (type(exc).__name__, str(exc)[:300]),
            file=sys.stderr,
        )
        return 0
    loaded = _loaded(sites)
    compiled = [c for _s, c in loaded if os.path.isfile(c)]
    if folder is not None and not restored:
        try:
            os.makedirs(cache, exist_ok=True)
            _keep(folder, sites, loaded)
        except OSError:
            pass
    print(
        "bytecode: %d of the %d modules import torch loads have their .pyc (%d copied from %s)"
        % (len(compiled), len(loaded), restored, folder or "no cache")
    )
    return 0


if __name__ == "__main__":
    sys.path[:1] = []  # this folder: nothing here is what the target imports
    sys.exit(main(sys.argv[1:]))
