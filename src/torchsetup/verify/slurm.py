"""``verify --distributed --print-sbatch``: a ready Slurm batch script (pure).

Slurm places the ranks: one task per rank (``--ntasks-per-node``), and every task runs
``torchsetup verify --distributed``, which reads ``SLURM_PROCID``/``SLURM_NTASKS``/
``SLURM_LOCALID``/``SLURM_NODEID``/``SLURM_JOB_NODELIST`` and joins as that rank (see
distributed.py). Every value in the srun line is shell-quoted.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

JOB_NAME = "torchsetup-verify"


def sbatch_script(
    *,
    nodes: int,
    tasks_per_node: int,
    gpus: bool,
    torchsetup: Sequence[str],
    verify_args: Sequence[str],
    minutes: int = 15,
) -> str:
    """The batch script; ``torchsetup`` is how to run torchsetup on the nodes."""
    if nodes < 1 or tasks_per_node < 1 or minutes < 1:
        raise ValueError("nodes, tasks per node and minutes must be positive")
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={JOB_NAME}",
        f"#SBATCH --nodes={nodes}",
        f"#SBATCH --ntasks-per-node={tasks_per_node}",
    ]
    if gpus:
        lines.append(f"#SBATCH --gpus-per-node={tasks_per_node}")
    lines += [
        f"#SBATCH --time={minutes // 60:02d}:{minutes % 60:02d}:00",
        f"#SBATCH --output={JOB_NAME}-%j.out",
        "#",
        f"# torchsetup verify on {nodes} node(s) x {tasks_per_node} rank(s): every task is one",
        "# rank; rank 0 prints the gathered table; the job fails if any rank failed or went",
        "# missing. Submit with: sbatch THIS_FILE",
        "set -euo pipefail",
        "",
        shlex.join(["srun", *torchsetup, "verify", *verify_args]),
        "",
    ]
    return "\n".join(lines)
