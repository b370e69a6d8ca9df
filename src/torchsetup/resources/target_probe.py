"""Probe run *inside the target interpreter* by torchsetup (stdlib only, Python 3.8+).

It never imports torch (or anything outside the standard library): installed packages are
read from their metadata files, torch's build from torch/version.py. It prints one JSON
object on stdout. It must stay fast (it is on doctor's critical path) and must not fail:
every section is guarded and reports its own error.

It is *the* probe of the target: doctor, install and verify all read the interpreter through it,
run by path and without ``-I``, so it sees what the user's plain ``python`` imports (user site,
``PYTHONPATH``); only this script's own folder is taken off ``sys.path`` first.
``--all-distributions`` lists every installed distribution (install's restore file needs them);
by default only the torch-related ones are read (doctor's start-up).
"""

import os
import sys

INTERESTING_PREFIXES = ("torch", "triton", "pytorch-triton", "nvidia-", "cuda-", "intel-openmp")
INTERESTING_NAMES = {"numpy", "pip", "setuptools", "mkl", "xformers", "uv", "jax", "jaxlib"}
MAX_METADATA_LINES = 400


def canonical(name):
    out = name.lower().replace("_", "-").replace(".", "-")
    while "--" in out:
        out = out.replace("--", "-")
    return out


def interesting(name):
    return name in INTERESTING_NAMES or name.startswith(INTERESTING_PREFIXES)


def read_metadata(path):
    """Name, version and Requires-Dist from a METADATA/PKG-INFO file (headers only)."""
    name = version = None
    requires = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for i, line in enumerate(fh):
                if i > MAX_METADATA_LINES or line in ("\n", "\r\n"):
                    break
                key, sep, value = line.partition(":")
                if not sep:
                    continue
                value = value.strip()
                if key == "Name" and name is None:
                    name = value
                elif key == "Version" and version is None:
                    version = value
                elif key == "Requires-Dist" and "extra ==" not in value:
                    requires.append(value)
    except OSError:
        return None
    if not name or not version:
        return None
    return name, version, requires


def read_small(path, limit=4096):
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(limit)
    except OSError:
        return None


def scan_distributions(paths, everything=False):
    dists = []
    seen_dirs = set()
    for entry in paths:
        if not entry or not os.path.isdir(entry):
            continue
        real = os.path.realpath(entry)
        if real in seen_dirs:
            continue
        seen_dirs.add(real)
        try:
            names = os.listdir(entry)
        except OSError:
            continue
        for fname in names:
            if fname.endswith(".dist-info"):
                meta_file = "METADATA"
            elif fname.endswith(".egg-info"):
                meta_file = "PKG-INFO"
            else:
                continue
            stem = fname.rsplit(".", 1)[0]
            guess = canonical(stem.split("-", 1)[0])
            if not everything and not interesting(guess):
                continue
            d = os.path.join(entry, fname)
            meta = read_metadata(os.path.join(d, meta_file)) if os.path.isdir(d) else None
            if meta is None:
                continue
            name, version, requires = meta
            cname = canonical(name)
            if not everything and not interesting(cname):
                continue
            item = {
                "name": cname,
                "version": version,
                "location": entry,
                "requires": requires,
            }
            installer = read_small(os.path.join(d, "INSTALLER"), 200)
            if installer:
                item["installer"] = installer.strip()
            direct_url = read_small(os.path.join(d, "direct_url.json"), 8192)
            if direct_url:
                item["direct_url"] = direct_url
            wheel = read_small(os.path.join(d, "WHEEL"), 2000)
            if wheel:
                item["wheel_tags"] = [
                    line.split(":", 1)[1].strip()
                    for line in wheel.splitlines()
                    if line.startswith("Tag:")
                ]
            dists.append(item)
    return dists


VERSION_KEYS = ("__version__", "debug", "cuda", "git_version", "hip", "rocm", "xpu")


def parse_literal(text):
    text = text.strip()
    if text in ("None",):
        return None
    if text in ("True", "False"):
        return text == "True"
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return int(text)
    except ValueError:
        return text


def read_torch_version(pkg_dir):
    text = read_small(os.path.join(pkg_dir, "version.py"), 8192)
    if text is None:
        return None
    info = {}
    for line in text.splitlines():
        left, sep, right = line.partition("=")
        key = left.split(":", 1)[0].strip()
        if sep and key in VERSION_KEYS and not line.startswith((" ", "\t")):
            info[key] = parse_literal(right.split("#", 1)[0])
    return info


def torch_bytecode(pkg_dir):
    """Has torch/__init__.py its .pyc for this Python ("present"); if not, will the next import
    write it ("absent") or not ("absent-not-written": PYTHONDONTWRITEBYTECODE / -B, or a folder
    this user cannot write): then every import torch compiles its modules again. None: the
    bytecode lives elsewhere (PYTHONPYCACHEPREFIX) or this Python writes none."""
    tag = getattr(sys.implementation, "cache_tag", None)
    if not tag or getattr(sys, "pycache_prefix", None):
        return None
    cache = os.path.join(pkg_dir, "__pycache__")
    if os.path.isfile(os.path.join(cache, "__init__.%s.pyc" % tag)):
        return "present"
    folder = cache if os.path.isdir(cache) else pkg_dir
    if sys.flags.dont_write_bytecode or not os.access(folder, os.W_OK):
        return "absent-not-written"
    return "absent"


def find_torch(paths):
    locations = []
    for entry in paths:
        if not entry:
            continue
        pkg = os.path.join(entry, "torch")
        if os.path.isfile(os.path.join(pkg, "__init__.py")):
            real = os.path.realpath(pkg)
            if real not in [os.path.realpath(p) for p in locations]:
                locations.append(pkg)
    return locations


def _string(s):
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def dumps(obj):
    """JSON for str/int/float/bool/None/list/tuple/dict (no json import: it costs start-up time)."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, (int, float)):
        return repr(obj)
    if isinstance(obj, str):
        return _string(obj)
    if isinstance(obj, dict):
        return "{" + ",".join(_string(str(k)) + ":" + dumps(v) for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in obj) + "]"
    return _string(str(obj))


def section(result, key, fn):
    try:
        result[key] = fn()
    except Exception as exc:  # a broken section is reported, never fatal
        result.setdefault("errors", []).append("%s: %s: %s" % (key, type(exc).__name__, exc))


def python_facts():
    # No sysconfig/platform imports: this runs on doctor's critical path. site is already loaded.
    import site

    try:
        user_site = site.getusersitepackages() if hasattr(site, "getusersitepackages") else None
        user_enabled = bool(getattr(site, "ENABLE_USER_SITE", False))
    except Exception:
        user_site, user_enabled = None, None
    try:
        site_dirs = site.getsitepackages()
    except Exception:
        site_dirs = []
    prefix = sys.prefix
    base = getattr(sys, "base_prefix", prefix)
    ver = "%d.%d" % sys.version_info[:2]
    if os.name == "nt":
        include = os.path.join(base, "Include")
    else:
        include = os.path.join(base, "include", "python" + ver + getattr(sys, "abiflags", ""))
    stdlib = os.path.dirname(os.__file__)
    if os.path.isdir(os.path.join(prefix, "conda-meta")):
        kind = "conda"
    elif prefix != base or os.path.isfile(os.path.join(prefix, "pyvenv.cfg")):
        kind = "venv"
    else:
        kind = "system"
    machine = (
        os.uname().machine if hasattr(os, "uname") else os.environ.get("PROCESSOR_ARCHITECTURE", "")
    )
    return {
        "executable": sys.executable,
        "version": "%d.%d.%d" % sys.version_info[:3],
        "version_full": sys.version,
        "implementation": sys.implementation.name,
        "bits": 64 if sys.maxsize > 2**32 else 32,
        "platform": sys.platform,
        "machine": machine,
        "prefix": prefix,
        "base_prefix": base,
        "env_kind": kind,
        "externally_managed": os.path.isfile(os.path.join(stdlib, "EXTERNALLY-MANAGED")),
        "include_dir": include,
        "has_python_h": os.path.isfile(os.path.join(include, "Python.h")),
        "purelib": next(
            (d for d in site_dirs if d.startswith(prefix)), site_dirs[0] if site_dirs else None
        ),
        "user_site": user_site,
        "user_site_enabled": user_enabled,
        "sys_path": user_sys_path(),
    }


def old_python_facts():
    """What a Python 2 interpreter can say about itself (no sys.implementation, no os.uname
    fields): enough for doctor to name the version and refuse it."""
    return {
        "executable": sys.executable,
        "version": "%d.%d.%d" % sys.version_info[:3],
        "version_full": sys.version,
        "implementation": "pypy" if "__pypy__" in sys.builtin_module_names else "cpython",
        "bits": 64 if sys.maxsize > 2**32 else 32,
        "platform": sys.platform,
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    }


def platform_facts():
    """What wheel tags need: sysconfig's platform, ABI flags, libc, the macOS version."""
    import sysconfig  # about 0.5 ms; platform (2 ms) only on macOS

    abiflags = getattr(sys, "abiflags", "") or (
        "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    )
    libc = libc_version = None
    try:
        name, _, version = os.confstr("CS_GNU_LIBC_VERSION").partition(" ")
        if name == "glibc":
            libc, libc_version = "glibc", version
    except (AttributeError, ValueError, OSError):
        pass
    mac = None
    if sys.platform == "darwin":
        import platform

        mac = platform.mac_ver()[0] or None
    return {
        "sysconfig_platform": sysconfig.get_platform(),
        "abiflags": abiflags,
        "libc": libc,
        "libc_version": libc_version,
        "mac_version": mac,
    }


def conda_packages(prefix):
    meta = os.path.join(prefix, "conda-meta")
    if not os.path.isdir(meta):
        return None
    out = []
    for fname in os.listdir(meta):
        if not fname.endswith(".json"):
            continue
        parts = fname[:-5].rsplit("-", 2)
        if len(parts) != 3:
            continue
        name, version, build = parts
        if name in CONDA_NAMES:
            item = {"name": name, "version": version, "build": build}
            channel = conda_channel(os.path.join(meta, fname))
            if channel:
                item["channel"] = channel
            out.append(item)
    return out


CONDA_NAMES = (
    "pytorch",
    "torchvision",
    "torchaudio",
    "pytorch-cuda",
    "cudatoolkit",
    "mkl",
    "cpuonly",
    "pytorch-mutex",
    "cuda-version",
    "libtorch",
    "numpy",
    "cudnn",
)


def conda_channel(path):
    """The "channel" of a conda-meta record, found by text search (no json import)."""
    head = read_small(path, 8192) or ""
    key = '"channel": "'
    start = head.find(key)
    if start < 0:
        return None
    end = head.find('"', start + len(key))
    return head[start + len(key) : end] if end > 0 else None


def user_sys_path():
    """sys.path as the user's own `python` would have it: without this script's folder."""
    here = os.path.dirname(os.path.abspath(__file__))
    return [p for p in sys.path if p and os.path.abspath(p) != here]


def main(argv=None):
    # What the user's `python` would import: never a module from this script's own folder.
    sys.path[:] = user_sys_path()
    argv = sys.argv[1:] if argv is None else argv
    result = {"probe": "torchsetup-target/1"}
    if sys.version_info[0] < 3:  # noqa: UP036 - a Python 2 target: name it, read nothing else
        result["python"] = old_python_facts()
        result["packages_unread"] = True
        result["errors"] = [
            "python: Python %d.%d is too old to read its packages" % sys.version_info[:2]
        ]
        sys.stdout.write(dumps(result) + "\n")
        sys.stdout.flush()
        return
    section(result, "python", python_facts)
    section(result, "platform", platform_facts)
    paths = user_sys_path()
    everything = "--all-distributions" in argv
    result["all_distributions"] = everything
    section(result, "distributions", lambda: scan_distributions(paths, everything))
    section(result, "torch_locations", lambda: find_torch(paths))
    locs = result.get("torch_locations") or []
    if locs:
        section(result, "torch_version_py", lambda: read_torch_version(locs[0]))
        section(result, "torch_bytecode", lambda: torch_bytecode(locs[0]))
    section(result, "conda_packages", lambda: conda_packages(sys.prefix))
    sys.stdout.write(dumps(result))
    sys.stdout.write("\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
