from __future__ import annotations

import shlex

from tl_widgets.cli import build_parser
from tl_widgets.cli.train import config_from_args
from tl_widgets.core.config.schema import TrainConfig


def test_studio_exports_a_job_that_the_cli_runs_unchanged(tiny_config, tmp_path):
    from tl_widgets.studio import Studio

    studio = Studio(config=tiny_config)
    studio.job.processes.value = 3
    commands = studio.job.export(tmp_path / "job")
    assert commands is not None and len(commands) == 3
    assert (tmp_path / "job" / "launch.sh").is_file() and (tmp_path / "job" / "config.json").is_file()
    saved = TrainConfig.load(tmp_path / "job" / "config.json")
    assert saved.model == studio.config.model and saved.strategy.kind == "data_parallel"
    for i, cmd in enumerate(commands):
        argv = shlex.split(cmd)
        args = build_parser().parse_args(argv[argv.index("train"):])
        args.config = str(tmp_path / "job" / "config.json")
        cfg = config_from_args(args)
        assert (cfg.strategy.num_processes, cfg.strategy.process_id) == (3, i)
        assert cfg.strategy.coordinator == "127.0.0.1:12355"
    assert "launch.sh" in studio.job.commands.value


def test_job_panel_refuses_hostile_values(tiny_config, tmp_path):
    from tl_widgets.studio import Studio

    studio = Studio(config=tiny_config)
    studio.job.processes.value = 0
    assert studio.job.processes.value == 2 and "Refused" in studio.job.notice.value
    studio.job.host.value = "host; rm -rf /"
    assert studio.job.host.value == "127.0.0.1"
    studio.job.port.value = 70000
    assert studio.job.port.value == 12355
