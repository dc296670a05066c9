"""Export a multi-process training job: the config file and how to launch each process.

A job is ``N`` copies of ``tl-widgets train CONFIG`` with ``KERAS_BACKEND=jax``,
told the coordinator (process 0's ``HOST:PORT``), the process count and their
index. Exported three ways: the N command lines, a plain shell script that
starts N local processes and waits for them, and a SLURM ``sbatch`` script
(``srun`` sets ``SLURM_NTASKS``/``SLURM_PROCID``, which the CLI reads).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tl_widgets.core.config.schema import TrainConfig

__all__ = ["JobSpec", "JobFiles", "launch_commands", "shell_script", "sbatch_script", "export_job"]

_HOST = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class JobSpec:
    """Where and how many processes run.

    Attributes:
        num_processes: Processes taking part (>= 1).
        coordinator_host: Host of process 0 (``127.0.0.1`` for one machine).
        port: Coordinator port.
        python: The interpreter that runs ``tl_widgets``.
        nodes: SLURM nodes (the tasks are spread over them).
        gpus_per_task: GPUs each SLURM task asks for (0: none).
        time_limit: SLURM ``--time`` (``HH:MM:SS``).
        job_name: SLURM job name and the stem of exported files.
    """

    num_processes: int = 2
    coordinator_host: str = "127.0.0.1"
    port: int = 12355
    python: str = "python"
    nodes: int = 1
    gpus_per_task: int = 0
    time_limit: str = "01:00:00"
    job_name: str = "tl-widgets"

    def __post_init__(self) -> None:
        if isinstance(self.num_processes, bool) or not isinstance(self.num_processes, int) or self.num_processes < 1:
            raise ValueError(f"Expected num_processes >= 1. Received: num_processes={self.num_processes!r}")
        if not 1 <= int(self.port) <= 65535:
            raise ValueError(f"Expected a port in 1..65535. Received: port={self.port!r}")
        if not _HOST.match(self.coordinator_host):
            raise ValueError(f"Expected a host name or IP address. Received: coordinator_host={self.coordinator_host!r}")
        if self.nodes < 1 or self.nodes > self.num_processes:
            raise ValueError(f"Expected 1 <= nodes <= num_processes. Received: nodes={self.nodes}, "
                             f"num_processes={self.num_processes}")
        if self.gpus_per_task < 0:
            raise ValueError(f"Expected gpus_per_task >= 0. Received: {self.gpus_per_task}")
        if not re.fullmatch(r"(\d+-)?\d{1,3}:\d{2}:\d{2}", self.time_limit):
            raise ValueError(f"Expected time_limit as [D-]HH:MM:SS. Received: {self.time_limit!r}")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", self.job_name):
            raise ValueError(f"Expected a job name of letters, digits, '.', '_' or '-'. Received: {self.job_name!r}")

    @property
    def coordinator(self) -> str:
        """``HOST:PORT`` of process 0."""
        return f"{self.coordinator_host}:{self.port}"


@dataclass(frozen=True)
class JobFiles:
    """Paths written by :func:`export_job`."""

    config: Path
    shell: Path
    sbatch: Path
    commands: list[str]


def _base(config_path: str, spec: JobSpec) -> list[str]:
    return [spec.python, "-m", "tl_widgets", "train", config_path, "--quiet"]


def launch_commands(config_path: str, spec: JobSpec) -> list[str]:
    """One shell command line per process (run process 0's where the coordinator is)."""
    base = " ".join(shlex.quote(p) for p in _base(config_path, spec))
    return [
        f"KERAS_BACKEND=jax {base} --coordinator {shlex.quote(spec.coordinator)} "
        f"--num-processes {spec.num_processes} --process-id {i}"
        for i in range(spec.num_processes)
    ]


def shell_script(config_path: str, spec: JobSpec) -> str:
    """A bash script that starts every process on this machine and fails if any fails."""
    base = " ".join(shlex.quote(p) for p in _base(config_path, spec))
    return f"""#!/usr/bin/env bash
# {spec.num_processes} tl-widgets processes on this machine (JAX data parallel); process 0 writes the run folder.
set -u
export KERAS_BACKEND=jax
N={spec.num_processes}
pids=()
for ((i = 0; i < N; i++)); do
  {base} --coordinator {shlex.quote(spec.coordinator)} --num-processes "$N" --process-id "$i" &
  pids+=($!)
done
status=0
for pid in "${{pids[@]}}"; do
  wait "$pid" || status=$?
done
exit "$status"
"""


def sbatch_script(config_path: str, spec: JobSpec) -> str:
    """A SLURM batch script: one task per process; the first node hosts the coordinator."""
    base = " ".join(shlex.quote(p) for p in _base(config_path, spec))
    gpus = f"#SBATCH --gpus-per-task={spec.gpus_per_task}\n" if spec.gpus_per_task else ""
    return f"""#!/usr/bin/env bash
#SBATCH --job-name={spec.job_name}
#SBATCH --nodes={spec.nodes}
#SBATCH --ntasks={spec.num_processes}
#SBATCH --time={spec.time_limit}
{gpus}#SBATCH --output={spec.job_name}-%j.out
set -eu
export KERAS_BACKEND=jax
# Process 0 runs on the first node of the allocation; srun sets SLURM_NTASKS and SLURM_PROCID per task.
head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export TL_WIDGETS_COORDINATOR="$head:{spec.port}"
srun {base}
"""


def export_job(config: TrainConfig, folder: str | Path, spec: JobSpec | None = None) -> JobFiles:
    """Writes ``config.json``, ``launch.sh`` and ``<job_name>.sbatch`` into ``folder``.

    The saved config asks for ``data_parallel`` when the strategy is ``auto``
    and several processes run; the process count and index come from the
    command line (or SLURM), so every process reads the same file.

    Args:
        config: The run's config.
        folder: Where to write (created if missing).
        spec: Processes and cluster settings (default: 2 processes on this machine).

    Returns:
        :class:`JobFiles` with the paths and the per-process command lines.
    """
    spec = spec or JobSpec()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    d: dict[str, Any] = config.to_dict()
    s = d["strategy"]
    if spec.num_processes > 1 and s["kind"] == "auto":
        s["kind"] = "data_parallel"
    s.update(num_processes=1, process_id=0, coordinator=None)  # set per process at launch
    cfg_path = folder / "config.json"
    cfg_path.write_text(TrainConfig.from_dict(d).to_json())
    shell = folder / "launch.sh"
    shell.write_text(shell_script(cfg_path.name, spec))
    shell.chmod(0o755)
    sbatch = folder / f"{spec.job_name}.sbatch"
    sbatch.write_text(sbatch_script(cfg_path.name, spec))
    return JobFiles(config=cfg_path, shell=shell, sbatch=sbatch, commands=launch_commands(cfg_path.name, spec))
