"""Export a multi-process job from the Studio: the config plus the N launch commands.

The same config trained on a laptop runs unchanged across processes or hosts
with the JAX backend; this panel writes ``config.json``, ``launch.sh`` and a
SLURM ``.sbatch`` script (see :mod:`tl_widgets.core.training.job_export`) and shows the
command each process runs.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any, Callable

import ipywidgets as widgets

from tl_widgets.core.config.checks import field_bounds
from tl_widgets.core.config.schema import StrategyConfig, TrainConfig
from tl_widgets.core.i18n import _
from tl_widgets.core.training.job_export import JobSpec, export_job
from tl_widgets.panels.kit.validation import Guard, Notice, check_number

__all__ = ["JobPanel"]

PROCESS_BOUNDS = field_bounds(StrategyConfig, "num_processes")
PORT_BOUNDS = (1024, 65535)
"""Ports a coordinator may listen on (unprivileged)."""


class JobPanel(widgets.VBox):
    """Writes a job folder for N processes from the Studio's current config.

    Args:
        config_source: Returns the config the panels describe (``Studio.config``).
    """

    def __init__(self, config_source: Callable[[], TrainConfig]) -> None:
        if not callable(config_source):
            raise TypeError(f"Expected config_source to be callable. Received: {type(config_source).__name__}")
        self._source = config_source
        self.notice = Notice()
        self.guard = Guard(self.notice)
        self.processes = widgets.IntText(value=2, description=_("processes"))
        self.host = widgets.Text(value="127.0.0.1", description=_("coordinator"))
        self.port = widgets.IntText(value=12355, description=_("port"))
        self.export_button = widgets.Button(description=_("Export job"), icon="download")
        self.export_button.add_class("tlw-export-job")
        self.commands = widgets.HTML()
        self.commands.add_class("tlw-job-commands")
        self.files: Any = None
        self.guard.watch(self.processes, lambda v: check_number(v, "processes", *PROCESS_BOUNDS, integer=True))
        self.guard.watch(self.port, lambda v: check_number(v, "port", *PORT_BOUNDS, integer=True))
        self.guard.watch(self.host, self._check_host)
        self.export_button.on_click(lambda _: self.export())
        super().__init__([
            widgets.HTML(_("<b>Run on several processes or hosts</b> (JAX backend): export the config and one "
                           "launch command per process.")),
            widgets.HBox([self.processes, self.host, self.port]), self.export_button, self.notice, self.commands,
        ])

    @staticmethod
    def _check_host(value: Any) -> str:
        JobSpec(coordinator_host=str(value))  # raises ValueError naming what was expected
        return str(value)

    def export(self, folder: str | Path | None = None) -> list[str] | None:
        """Writes the job folder (default: ``<output_dir>/jobs/<timestamp>``); returns the commands."""
        try:
            n = check_number(self.processes.value, "processes", *PROCESS_BOUNDS, integer=True)
            port = check_number(self.port.value, "port", *PORT_BOUNDS, integer=True)
            spec = JobSpec(num_processes=int(n), coordinator_host=self._check_host(self.host.value), port=int(port))
            cfg = self._source()
        except (ValueError, TypeError) as exc:
            self.notice.show(_("Refused: {reason}").format(reason=exc))
            return None
        target = Path(folder) if folder is not None else Path(cfg.output_dir) / "jobs" / time.strftime("%Y%m%d-%H%M%S")
        try:
            self.files = export_job(cfg, target, spec)
        except OSError as exc:
            self.notice.show(_("Could not write the job to {path}: {reason}").format(path=repr(str(target)),
                                                                             reason=exc.strerror or exc))
            return None
        lines = "\n".join(html.escape(c) for c in self.files.commands)
        wrote = _("Wrote {config}, {shell} and {sbatch}. Run one command per process (process 0 on the "
                  "coordinator host):").format(config=f"<code>{html.escape(str(self.files.config))}</code>",
                                               shell=f"<code>{html.escape(self.files.shell.name)}</code>",
                                               sbatch=f"<code>{html.escape(self.files.sbatch.name)}</code>")
        self.commands.value = f"<div>{wrote}</div><pre>{lines}</pre>"
        self.notice.show(_("Job for {n} processes exported.").format(n=spec.num_processes), "info")
        return list(self.files.commands)
