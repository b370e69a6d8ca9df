"""Parsers for the NVIDIA driver stack: nvidia-smi CSV, /proc/driver/nvidia, NVML errors."""

from __future__ import annotations

import re
from typing import Any, Optional

SMI_QUERY_FIELDS = (
    "index",
    "name",
    "uuid",
    "driver_version",
    "compute_cap",
    "memory.total",
    "memory.used",
    "pci.bus_id",
    "mig.mode.current",
)


class SmiParseError(ValueError):
    """nvidia-smi printed something that is not the CSV we asked for."""


def classify_smi_failure(text: str) -> Optional[str]:
    """Map nvidia-smi's own error messages to a driver status."""
    low = text.lower()
    if "version mismatch" in low:
        return "mismatch"
    if "couldn't communicate with the nvidia driver" in low or "driver not loaded" in low:
        return "not-loaded"
    if "no devices were found" in low:
        return "no-gpu"
    if "failed to initialize nvml" in low:
        return "error"
    return None


def _mib(value: str) -> Optional[int]:
    m = re.match(r"\s*(\d+)\s*MiB", value)
    return int(m.group(1)) * 1024 * 1024 if m else None


_REJECTED_FIELD = re.compile(r'Field "([^"]+)" is not a valid field to query')


def rejected_smi_field(text: str) -> Optional[str]:
    """The query field an older nvidia-smi rejected ('Field "compute_cap" is not a valid field
    to query.', huggingface/candle#733), or None."""
    m = _REJECTED_FIELD.search(text)
    return m.group(1) if m else None


def parse_smi_query_csv(
    text: str, fields: tuple[str, ...] | list[str] = SMI_QUERY_FIELDS
) -> list[dict[str, Any]]:
    """Rows of ``nvidia-smi --query-gpu=<fields> --format=csv`` (with header). ``fields`` is
    what was asked (a subset of SMI_QUERY_FIELDS when an old nvidia-smi rejected some); a
    field not asked for is None in every row."""
    fields = tuple(fields)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    first = fields[0] if fields else "index"
    if not lines or not lines[0].lower().startswith(first.lower()):
        raise SmiParseError(
            f"unexpected nvidia-smi output: {lines[0][:80] if lines else '(empty)'}"
        )
    gpus = []
    for position, line in enumerate(lines[1:]):
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(fields):
            raise SmiParseError(f"unexpected nvidia-smi row: {line[:80]}")
        row = dict(zip(fields, cells))
        try:
            index = int(row["index"]) if "index" in row else position
        except ValueError as exc:
            raise SmiParseError(f"unexpected GPU index {row['index']!r}") from exc
        cc = row.get("compute_cap") or ""
        uuid = row.get("uuid") or ""
        gpus.append(
            {
                "index": index,
                "name": row.get("name") or "?",
                "uuid": uuid if uuid.startswith(("GPU-", "MIG-")) else None,
                "driver_version": row.get("driver_version"),
                "compute_capability": cc if re.fullmatch(r"\d+\.\d+", cc) else None,
                "memory_total_bytes": _mib(row.get("memory.total") or ""),
                "memory_used_bytes": _mib(row.get("memory.used") or ""),
                "pci_bus_id": row.get("pci.bus_id"),
                "mig_enabled": {"Enabled": True, "Disabled": False}.get(
                    row.get("mig.mode.current") or ""
                ),
            }
        )
    return gpus


def gpu_table_problems(rows: list[dict[str, Any]]) -> list[str]:
    """Where a GPU table (nvidia-smi's rows, NVML's devices) contradicts itself: an index, UUID
    or PCI bus listed twice, indices that are not 0..N-1 for N rows, memory used above the
    total, rows naming different drivers. A real driver never prints these; a broken driver, a
    wrapper script or a stale cache does."""
    problems: list[str] = []
    for key, label in (("index", "index"), ("uuid", "UUID"), ("pci_bus_id", "PCI bus")):
        seen: dict[Any, int] = {}
        for r in rows:
            value = r.get(key)
            if value not in (None, "", "[N/A]"):
                seen[value] = seen.get(value, 0) + 1
        problems += [f"{label} {v} listed {n} times" for v, n in seen.items() if n > 1]
    indices = sorted({r["index"] for r in rows if isinstance(r.get("index"), int)})
    if indices and indices != list(range(len(rows))) and len(indices) == len(rows):
        problems.append(
            f"{len(rows)} GPU rows but indices {', '.join(map(str, indices))} "
            f"(expected 0..{len(rows) - 1})"
        )
    for r in rows:
        used, total = r.get("memory_used_bytes"), r.get("memory_total_bytes")
        if isinstance(used, int) and isinstance(total, int) and used > total:
            problems.append(
                f"GPU {r.get('index', '?')}: memory used {used // 2**20} MiB is more than "
                f"its total {total // 2**20} MiB"
            )
    drivers = sorted({str(r["driver_version"]) for r in rows if r.get("driver_version")})
    if len(drivers) > 1:
        problems.append(f"rows name different drivers: {', '.join(drivers)}")
    return problems


def parse_proc_driver_version(text: str) -> Optional[str]:
    """Kernel module version from /proc/driver/nvidia/version."""
    m = re.search(r"Kernel Module(?: for \S+)?\s+([\d.]+)", text)
    if m:
        return m.group(1)
    m = re.search(r"NVRM version:.*?\s(\d{3}\.\d+(?:\.\d+)?)\s", text)
    return m.group(1) if m else None


def parse_proc_gpu_information(text: str) -> dict[str, str]:
    """Key: value pairs of /proc/driver/nvidia/gpus/<bus>/information."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def cuda_version_from_int(value: Optional[int]) -> Optional[str]:
    """13000 -> "13.0", 12040 -> "12.4" (cuDriverGetVersion / NVML encoding)."""
    if not value or value <= 0:
        return None
    return f"{value // 1000}.{(value % 1000) // 10}"


# NVIDIA's "CUDA Toolkit and Corresponding Driver Versions" (Linux, GA rows): the first driver
# branch of each CUDA release. A driver supports every CUDA up to the newest one whose branch
# it reaches. Used only when no NVML/libcuda/nvidia-smi banner says the number directly.
_DRIVER_BRANCH_MAX_CUDA: tuple[tuple[tuple[int, ...], str], ...] = (
    ((595, 45, 4), "13.2"),
    ((590, 44, 1), "13.1"),
    ((580, 65, 6), "13.0"),
    ((575, 51, 3), "12.9"),
    ((570, 26), "12.8"),
    ((565, 57, 1), "12.7"),
    ((560, 28, 3), "12.6"),
    ((555, 42, 2), "12.5"),
    ((550, 54, 14), "12.4"),
    ((545, 23, 6), "12.3"),
    ((535, 54, 3), "12.2"),
    ((530, 30, 2), "12.1"),
    ((525, 60, 13), "12.0"),
    ((520, 61, 5), "11.8"),
    ((515, 43, 4), "11.7"),
    ((510, 39, 1), "11.6"),
    ((495, 29, 5), "11.5"),
    ((470, 42, 1), "11.4"),
    ((465, 19, 1), "11.3"),
    ((460, 27, 3), "11.2"),
    ((455, 23, 5), "11.1"),
    ((450, 36, 6), "11.0"),
    ((440, 33, 1), "10.2"),
    ((418, 39), "10.1"),
    ((410, 48), "10.0"),
    ((396, 26), "9.2"),
    ((390, 46), "9.1"),
    ((384, 81), "9.0"),
)


def max_cuda_for_driver(driver: Optional[str]) -> Optional[str]:
    """The newest CUDA a Linux driver supports, from NVIDIA's toolkit/driver table."""
    if not driver or not re.match(r"\d+\.\d+", driver):
        return None
    key = tuple(int(x) for x in re.findall(r"\d+", driver))
    for floor, cuda in _DRIVER_BRANCH_MAX_CUDA:
        if key >= floor:
            return cuda
    return None


def nvml_error_status(error: str) -> str:
    """Driver status implied by an NVML error string."""
    low = error.lower()
    if "mismatch" in low:
        return "mismatch"
    if "driver not loaded" in low or "drivernotloaded" in low:
        return "not-loaded"
    if "library not found" in low or "librarynotfound" in low or "no module named" in low:
        return "no-driver"
    return "error"
