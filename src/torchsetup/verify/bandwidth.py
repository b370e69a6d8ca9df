"""Judging ``verify --bandwidth``: all_reduce bus bandwidth against what the links promise (pure).

The ranks time all_reduce over message sizes (resources/smoke.py, ``bandwidth_check``) and
report nccl-tests' figures: algbw = bytes / seconds, busbw = algbw * 2(n-1)/n, which for a
ring all_reduce is what the slowest link carries, so it compares with one link's bandwidth
in one direction. The largest message is the one that counts (small ones are latency-bound).
A busbw below ``FAR_BELOW`` of the promise at a size of at least ``MIN_JUDGED_BYTES`` is a
finding, as is a link that is down or narrower than it can be; a finding fails the check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from torchsetup.verify.model import FAIL, NOT_RUN, PASS, CheckResult
from torchsetup.verify.topology import Topology, link_findings, promise

NAME = "bandwidth"
FAR_BELOW = 0.5
MIN_JUDGED_BYTES = 64 * 2**20


def bus_bandwidth(size_bytes: int, seconds: float, ranks: int) -> tuple[float, float]:
    """(algbw, busbw) in GB/s of an all_reduce of ``size_bytes`` over ``ranks`` ranks."""
    if seconds <= 0:
        return 0.0, 0.0
    algbw = size_bytes / seconds / 1e9
    return algbw, algbw * 2 * (ranks - 1) / ranks if ranks > 1 else 0.0


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n >= 2**20 else f"{n // 1024} KiB"


def bandwidth_check(rows: Sequence[Mapping[str, Any]], topo: Topology) -> CheckResult:
    """The bandwidth check from the ranks' rows and this node's topology."""
    if not rows:
        return CheckResult(NAME, NOT_RUN, detail="no rank measured all_reduce (see distributed)")
    scopes: dict[tuple[object, object], list[Mapping[str, Any]]] = {}
    for row in rows:
        scopes.setdefault((row.get("scope"), row.get("node")), []).append(row)
    summary: list[dict[str, Any]] = []
    findings = link_findings(topo)
    parts = []
    for (scope, node), group in sorted(scopes.items(), key=lambda kv: str(kv[0])):
        largest = max(group, key=lambda r: int(r.get("bytes") or 0))
        peak = max(float(r.get("busbw_gbps") or 0.0) for r in group)
        ranks = int(largest.get("ranks") or 1)
        local = ranks if scope == "intra-node" else 1
        # gloo moves CPU tensors through the host: the GPU links promise nothing about it.
        gpu_path = largest.get("backend", "nccl") == "nccl"
        promised = promise(topo, str(scope), ranks_per_node=local) if gpu_path else None
        busbw = float(largest.get("busbw_gbps") or 0.0)
        entry: dict[str, Any] = {
            "scope": scope,
            "node": node,
            "ranks": ranks,
            "largest_bytes": largest.get("bytes"),
            "busbw_gbps": busbw,
            "peak_busbw_gbps": peak,
            "promise_gbps": promised.gbps if promised else None,
            "promise": promised.why if promised else None,
            "fraction": busbw / promised.gbps if promised and promised.gbps else None,
        }
        summary.append(entry)
        where = f"{scope}" + (f" node {node}" if node is not None else "")
        text = f"{where}: {busbw:.2f} GB/s busbw at {_size(int(largest.get('bytes') or 0))}"
        if promised:
            text += f" ({entry['fraction']:.0%} of {promised.gbps:g} GB/s, {promised.why})"
            judged = int(largest.get("bytes") or 0) >= MIN_JUDGED_BYTES
            if judged and busbw < FAR_BELOW * promised.gbps:
                findings.append(
                    f"{where}: all_reduce busbw {busbw:.1f} GB/s is far below the "
                    f"{promised.gbps:g} GB/s its links promise ({promised.why})"
                )
        elif not gpu_path:
            text += f" ({largest.get('backend')} on the CPU: no link promise to compare)"
        else:
            text += " (no promise known for these links)"
        parts.append(text)
    data: dict[str, Any] = {
        "rows": [dict(r) for r in rows],
        "summary": summary,
        "topology": topo.to_json(),
        "findings": findings,
        "definition": "busbw = algbw * 2(n-1)/n (nccl-tests); GB/s = 1e9 bytes/s",
    }
    detail = "; ".join(parts)
    if findings:
        return CheckResult(
            NAME,
            FAIL,
            detail=f"{'; '.join(findings)} [{detail}]",
            hint=_hint(findings),
            data=data,
        )
    return CheckResult(NAME, PASS, detail=detail, data=data)


def _hint(findings: Sequence[str]) -> Optional[str]:
    text = " ".join(findings)
    if "NVLink" in text:
        return "check `nvidia-smi nvlink -s` and `nvidia-smi topo -m`; NCCL_DEBUG=INFO shows the path NCCL took"
    if "PCIe" in text:
        return "reseat the card or check the slot/BIOS link settings (`lspci -vv`, LnkSta)"
    return "run nccl-tests' all_reduce_perf with NCCL_DEBUG=INFO to see the transport NCCL picked"
