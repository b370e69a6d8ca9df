"""A real single-host Slurm (Debian's slurm-wlm): `srun -N1 -n2 torchsetup verify --distributed`.

The fixture writes a minimal slurm.conf under a temporary folder (free ports, its own state,
spool, logs and pid files), starts slurmctld and slurmd in the foreground and stops them
afterwards. slurm-wlm 22.05 still has auth/none; where a build lacks it, the fixture starts
its own munged with a key it generates. Where Slurm is not installed (.ci/run installs it)
or will not start, the tests are reported as NOT RUN with the reason, never skipped silently.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.helpers import venvs

pytestmark = pytest.mark.slow

DAEMONS = ("slurmctld", "slurmd", "srun", "sinfo")
PLUGIN_DIRS = ("/usr/lib/*/slurm-wlm", "/usr/lib*/slurm", "/usr/local/lib/slurm")


@dataclass
class Slurm:
    env: dict[str, str]
    log_dir: Path


def _which(name: str) -> str | None:
    """On PATH, or in an sbin folder a user's PATH may lack (Debian puts the daemons there)."""
    extra = os.pathsep.join(("/usr/sbin", "/usr/local/sbin", "/sbin"))
    return shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + extra)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _has_plugin(name: str) -> bool:
    return any(glob.glob(os.path.join(d, f"{name}.so")) for d in PLUGIN_DIRS)


def _not_run(why: str) -> NoReturn:
    pytest.skip(f"NOT RUN: {why}")


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _start(argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _munge(root: Path, env: dict[str, str], procs: list[subprocess.Popen[bytes]]) -> str:
    """Start a private munged; the AuthInfo line that points Slurm at its socket."""
    munged, mungekey = _which("munged"), _which("mungekey")
    if not (munged and mungekey):
        _not_run("this Slurm has no auth/none and munge is not installed (apt-get install munge)")
    key, sock = root / "munge.key", root / "munge.socket"
    subprocess.run([mungekey, "--create", f"--keyfile={key}"], check=True, capture_output=True)
    key.chmod(0o400)
    procs.append(
        _start(
            [
                munged,
                "--foreground",
                "--force",
                f"--key-file={key}",
                f"--socket={sock}",
                f"--pid-file={root / 'munged.pid'}",
                f"--seed-file={root / 'munged.seed'}",
                f"--log-file={root / 'munged.log'}",
            ],
            root / "munged.out",
            env,
        )
    )
    for _ in range(100):
        if sock.exists():
            return f"AuthInfo=socket={sock}\n"
        time.sleep(0.05)
    _not_run(f"munged did not start: {_tail(root / 'munged.out')}")


def slurm_conf(root: Path, host: str, cpus: int, auth: str, auth_info: str) -> str:
    cred = "cred/none" if auth == "auth/none" else "cred/munge"
    return f"""ClusterName=torchsetup
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType={auth}
CredType={cred}
{auth_info}StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=main Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
"""


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slurm]:
    missing = [d for d in DAEMONS if _which(d) is None]
    if missing:
        _not_run(
            f"Slurm is not installed ({', '.join(missing)} not on PATH; "
            "apt-get install -y slurm-wlm, as .ci/run does)"
        )
    if os.geteuid() != 0:
        _not_run("slurmd must run as root to start job steps")
    root = tmp_path_factory.mktemp("slurm")
    for sub in ("state", "spool"):
        (root / sub).mkdir()
    env = dict(os.environ, SLURM_CONF=str(root / "slurm.conf"))
    for var in [v for v in env if v.startswith("SLURM_") and v != "SLURM_CONF"]:
        del env[var]  # not inside someone else's allocation
    procs: list[subprocess.Popen[bytes]] = []
    try:
        auth = "auth/none" if _has_plugin("auth_none") else "auth/munge"
        if os.environ.get("TORCHSETUP_TEST_SLURM_AUTH") == "munge":
            auth = "auth/munge"
        auth_info = _munge(root, env, procs) if auth == "auth/munge" else ""
        host = socket.gethostname().split(".")[0]
        cpus = max(os.cpu_count() or 1, 1)
        (root / "slurm.conf").write_text(slurm_conf(root, host, cpus, auth, auth_info))
        ctld, slurmd = _which("slurmctld") or "slurmctld", _which("slurmd") or "slurmd"
        procs.append(_start([ctld, "-D", "-f", env["SLURM_CONF"]], root / "ctld.out", env))
        procs.append(
            _start([slurmd, "-D", "-f", env["SLURM_CONF"], "-N", host], root / "d.out", env)
        )
        deadline = time.monotonic() + 45
        state = ""
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                break
            got = subprocess.run(
                ["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True, timeout=10
            )
            state = got.stdout.strip()
            if state in ("idle", "mixed"):
                break
            time.sleep(0.3)
        else:
            state = f"node state {state!r} after 45 s"
        if state not in ("idle", "mixed"):
            _not_run(
                f"Slurm did not start ({state or 'a daemon exited'}): "
                f"slurmctld: {_tail(root / 'ctld.out')}; slurmd: {_tail(root / 'd.out')}"
            )
        yield Slurm(env, root)
    finally:
        _stop(procs)


def run_srun(
    slurm: Slurm, argv: list[str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["srun", "--overcommit", "--kill-on-bad-exit=1", *argv],
        # the tests' inductor cache, not the user's (as in test_verify_cpu.py)
        env=dict(
            slurm.env,
            OMP_NUM_THREADS="1",
            TORCHSETUP_CACHE_DIR=str(venvs.cache_root() / "torchsetup-cache"),
        ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def json_docs(text: str) -> list[dict[str, Any]]:
    """The results of several tasks' ``verify --json`` documents on one stdout (srun keeps
    lines whole), each read out of its torchsetup.result envelope."""
    decoder = json.JSONDecoder()
    docs: list[dict[str, Any]] = []
    at = 0
    while True:
        start = text.find("{", at)
        if start < 0:
            return docs
        doc, at = decoder.raw_decode(text, start)
        assert doc.get("schema") == "torchsetup.result/1" and doc["command"] == "verify", doc
        docs.append(doc["result"])


def test_srun_two_tasks_verify_distributed_passes(
    slurm: Slurm, torchsetup_exe: str, torch_python: Path
) -> None:
    """The issue's command as is: `srun -N1 -n2 torchsetup verify --distributed`."""
    proc = run_srun(
        slurm,
        [
            "-N1",
            "-n2",
            "--label",
            torchsetup_exe,
            "verify",
            "--python",
            str(torch_python),
            "--distributed",
        ],
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "rank 0 of 2 (Slurm)" in proc.stdout
    assert "rank 1 of 2 (Slurm)" in proc.stdout
    assert "every rank (gathered by rank 0)" in proc.stdout


def test_srun_json_every_task_passes_and_rank_0_holds_the_table(
    slurm: Slurm, torchsetup_exe: str, torch_python: Path
) -> None:
    proc = run_srun(
        slurm,
        [
            "-N1",
            "-n2",
            torchsetup_exe,
            "verify",
            "--python",
            str(torch_python),
            "--compile",
            "off",
            "--train-steps",
            "5",
            "--distributed",
            "--json",
        ],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    docs = json_docs(proc.stdout)
    assert len(docs) == 2
    dist = [next(c for c in d["checks"] if c["name"] == "distributed") for d in docs]
    assert {c["status"] for c in dist} == {"pass"}
    gathered = [c for c in dist if c["data"]["gathered"]]
    assert len(gathered) == 1
    # The node's full checks run once, on local rank 0; the other task runs the quick ones.
    modes = {d["checks"][-1]["data"]["ranks"][0]["local_rank"]: d["mode"] for d in docs}
    assert modes == {0: "full", 1: "quick"}
    rows = gathered[0]["data"]["rows"]
    assert {r["rank"] for r in rows} == {0, 1}
    assert {r["check"] for r in rows} >= {"all_reduce", "all_gather", "broadcast", "barrier"}
