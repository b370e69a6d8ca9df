"""--bandwidth: the topology parsers on real outputs (tests/data/real/topology) and the verdict."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from torchsetup.verify.bandwidth import bandwidth_check, bus_bandwidth
from torchsetup.verify.model import FAIL, NOT_RUN, PASS
from torchsetup.verify.topology import (
    IbPort,
    NvlinkGpu,
    PcieLink,
    Topology,
    link_findings,
    parse_ib_rate,
    parse_ibstatus_rates,
    parse_link_speed,
    parse_nvlink_status,
    parse_topo_matrix,
    promise,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "real" / "topology"


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_topo_matrix_of_an_nvswitch_h100_box() -> None:
    assert parse_topo_matrix(read("topo-h100-8gpu-nv18.txt")) == (8, 18)


def test_topo_matrix_ignores_nic_columns_and_rows() -> None:
    assert parse_topo_matrix(read("topo-h100-4gpu-nv6-nics.txt")) == (4, 6)


def test_topo_matrix_of_a_pcie_only_box_has_no_nvlink() -> None:
    assert parse_topo_matrix(read("topo-4090-8gpu-pcie.txt")) == (8, 0)


def test_topo_matrix_of_no_gpu() -> None:
    assert parse_topo_matrix("") == (0, None)
    assert parse_topo_matrix("\tGPU0\tCPU Affinity\nGPU0\t X \t0-7\n") == (1, None)


def test_nvlink_status_counts_links_and_speed() -> None:
    gpus = parse_nvlink_status(read("nvlink-s-gb200.txt"))
    assert gpus == (NvlinkGpu(0, 18, 0, 53.125), NvlinkGpu(1, 18, 0, 53.125))


def test_nvlink_status_counts_inactive_links() -> None:
    assert parse_nvlink_status(read("nvlink-s-v100-inactive.txt")) == (NvlinkGpu(3, 4, 2, 25.781),)


def sysfs_dump(text: str) -> dict[str, dict[str, str]]:
    """`tail -v -n +1 .../*_link_*` as {address: {file: value}}."""
    out: dict[str, dict[str, str]] = {}
    for m in re.finditer(r"==> /sys/bus/pci/devices/([^/]+)/(\w+) <==\n([^\n]*)", text):
        out.setdefault(m.group(1), {})[m.group(2)] = m.group(3)
    return out


def test_pcie_links_from_a_real_sysfs_dump() -> None:
    dump = sysfs_dump(read("sysfs-pcie.txt"))
    links = [
        PcieLink(
            addr,
            parse_link_speed(f["current_link_speed"]),
            int(f["current_link_width"]),
            parse_link_speed(f["max_link_speed"]),
            int(f["max_link_width"]),
        )
        for addr, f in sorted(dump.items())
    ]
    assert [(p.gen, p.width, p.max_gen, p.max_width) for p in links] == [
        (4, 8, 5, 16),
        (5, 16, 5, 16),
    ]
    assert links[1].gbps == pytest.approx(63.0, rel=0.01)
    assert link_findings(Topology(pcie=tuple(links))) == [
        "0000:01:00.0: PCIe link runs at x8 of x16"
    ]


@pytest.mark.parametrize(
    ("text", "gen"), [("2.5 GT/s PCIe", 1), ("8.0 GT/s PCIe", 3), ("64.0 GT/s PCIe", 6), ("", None)]
)
def test_parse_link_speed(text: str, gen: int | None) -> None:
    assert parse_link_speed(text) == gen


def test_ib_rate_from_a_real_ibstatus() -> None:
    assert parse_ibstatus_rates(read("ib-rate.txt")) == [100.0]
    assert parse_ib_rate("400 Gb/sec (4X NDR)") == 400.0
    assert parse_ib_rate("garbage") is None


def test_bus_bandwidth_is_nccl_tests_definition() -> None:
    algbw, busbw = bus_bandwidth(2**30, 0.01, 8)
    assert algbw == pytest.approx(2**30 / 0.01 / 1e9)
    assert busbw == pytest.approx(algbw * 2 * 7 / 8)
    assert bus_bandwidth(100, 0.0, 2) == (0.0, 0.0)


def test_promises_prefer_nvlink_status_then_topo_then_pcie() -> None:
    nv = Topology(nvlink=parse_nvlink_status(read("nvlink-s-gb200.txt")))
    got = promise(nv, "intra-node")
    assert got is not None and got.gbps == pytest.approx(18 * 53.125)
    topo = Topology(topo_links=18, gpus=8)
    got = promise(topo, "intra-node")
    assert got is not None and (got.gbps, "NV18" in got.why) == (450.0, True)
    pcie = Topology(topo_links=0, pcie=(PcieLink("0000:03:00.0", 4, 16, 4, 16),))
    got = promise(pcie, "intra-node")
    assert got is not None and got.why.startswith("PCIe Gen4 x16")
    assert promise(Topology(), "intra-node") is None


def test_inter_node_promise_is_the_nics_share_per_rank() -> None:
    ports = tuple(IbPort(f"mlx5_{i}", "1", 400.0, "4: ACTIVE", "InfiniBand") for i in range(8))
    down = IbPort("mlx5_9", "1", 400.0, "1: DOWN", "InfiniBand")
    got = promise(Topology(ib=(*ports, down)), "inter-node", ranks_per_node=8)
    assert got is not None and got.gbps == pytest.approx(50.0)
    assert promise(Topology(), "inter-node") is None
    assert link_findings(Topology(ib=(down,))) == ["mlx5_9 port 1: 1: DOWN"]


def row(scope: str, size: int, busbw: float, ranks: int = 8) -> dict[str, object]:
    return {"scope": scope, "node": 0, "ranks": ranks, "bytes": size, "busbw_gbps": busbw}


def test_a_link_far_below_its_promise_is_a_finding() -> None:
    topo = Topology(topo_links=18, gpus=8)
    slow = bandwidth_check([row("intra-node", 2**20, 10.0), row("intra-node", 2**30, 120.0)], topo)
    assert slow.status == FAIL
    assert "intra-node node 0: all_reduce busbw 120.0 GB/s is far below the 450 GB/s" in slow.detail
    assert slow.data["summary"][0]["fraction"] == pytest.approx(120 / 450)
    good = bandwidth_check([row("intra-node", 2**30, 380.0)], topo)
    assert good.status == PASS
    assert "84% of 450 GB/s" in good.detail


def test_small_messages_alone_are_not_judged() -> None:
    check = bandwidth_check([row("intra-node", 2**20, 1.0)], Topology(topo_links=18))
    assert check.status == PASS


def test_without_a_promise_the_figures_are_reported() -> None:
    check = bandwidth_check([row("intra-node", 16 * 2**20, 0.99, ranks=2)], Topology())
    assert check.status == PASS
    assert "0.99 GB/s busbw at 16 MiB (no promise known for these links)" in check.detail
    assert check.data["rows"][0]["busbw_gbps"] == 0.99
    assert bandwidth_check([], Topology()).status == NOT_RUN


def test_inactive_links_fail_even_when_fast_enough() -> None:
    topo = Topology(nvlink=parse_nvlink_status(read("nvlink-s-v100-inactive.txt")))
    check = bandwidth_check([row("intra-node", 2**30, 90.0)], topo)
    assert check.status == FAIL
    assert "GPU 3: 2 NVLink(s) inactive, 4 active" in check.detail
    assert check.hint is not None and "nvlink -s" in check.hint


def test_gloo_figures_are_not_compared_with_gpu_links() -> None:
    slow = row("intra-node", 2**30, 1.0)
    slow["backend"] = "gloo"
    check = bandwidth_check([slow], Topology(topo_links=18))
    assert check.status == PASS
    assert "gloo on the CPU: no link promise to compare" in check.detail
    assert check.data["summary"][0]["promise_gbps"] is None
