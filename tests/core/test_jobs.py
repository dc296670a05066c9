"""Job export: the config plus the N launch commands, a shell script and a SLURM script."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from tl_widgets.cli import build_parser
from tl_widgets.cli.train import config_from_args
from tl_widgets.core.config.schema import TrainConfig, demo_config
from tl_widgets.core.training.job_export import JobSpec, export_job


def _parse(command: str, cwd) -> TrainConfig:
    argv = shlex.split(command)
    assert argv[0] == "KERAS_BACKEND=jax" and argv[2:4] == ["-m", "tl_widgets"]
    args = build_parser().parse_args(argv[4:])
    args.config = str(cwd / args.config)
    return config_from_args(args)


def test_export_writes_config_and_commands_each_process_understands(tmp_path, monkeypatch):
    for var in ("TL_WIDGETS_COORDINATOR", "TL_WIDGETS_NUM_PROCESSES", "SLURM_NTASKS", "TL_WIDGETS_PROCESS_ID",
                "SLURM_PROCID"):
        monkeypatch.delenv(var, raising=False)
    files = export_job(demo_config(), tmp_path / "job", JobSpec(num_processes=3, port=23456))
    saved = TrainConfig.load(files.config)
    assert saved.strategy.kind == "data_parallel" and saved.strategy.num_processes == 1
    assert len(files.commands) == 3
    for i, command in enumerate(files.commands):
        s = _parse(command, files.config.parent).strategy
        assert (s.num_processes, s.process_id, s.coordinator, s.kind) == (3, i, "127.0.0.1:23456", "data_parallel")


def test_shell_script_is_valid_bash_and_waits_for_every_process(tmp_path):
    files = export_job(demo_config(), tmp_path, JobSpec(num_processes=2))
    text = files.shell.read_text()
    assert subprocess.run(["bash", "-n", str(files.shell)], capture_output=True).returncode == 0
    assert "export KERAS_BACKEND=jax" in text and "N=2" in text and 'wait "$pid"' in text
    assert files.shell.stat().st_mode & 0o100


def test_sbatch_script_uses_slurm_variables_the_cli_reads(tmp_path, monkeypatch):
    spec = JobSpec(num_processes=4, nodes=2, gpus_per_task=1, port=29400, job_name="ft-effnet")
    files = export_job(demo_config(), tmp_path, spec)
    text = files.sbatch.read_text()
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks=4", "#SBATCH --gpus-per-task=1", 'TL_WIDGETS_COORDINATOR="$head:29400"'):
        assert line in text
    assert files.sbatch.name == "ft-effnet.sbatch"
    assert subprocess.run(["bash", "-n", str(files.sbatch)], capture_output=True).returncode == 0
    # What srun's task 2 sees: the CLI picks the process count and index from SLURM.
    monkeypatch.setenv("TL_WIDGETS_COORDINATOR", "node1:29400")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_PROCID", "2")
    srun_line = next(line for line in text.splitlines() if line.startswith("srun "))
    args = build_parser().parse_args(shlex.split(srun_line)[4:])
    args.config = str(files.config)
    s = config_from_args(args).strategy
    assert (s.num_processes, s.process_id, s.coordinator) == (4, 2, "node1:29400")


@pytest.mark.parametrize("bad", [dict(num_processes=0), dict(port=70000), dict(coordinator_host="a b"),
                                 dict(nodes=3, num_processes=2), dict(time_limit="1h"), dict(job_name="x;rm")])
def test_bad_job_specs_are_refused(bad):
    with pytest.raises(ValueError, match="Expected"):
        JobSpec(**bad)
