"""Export a run as a standalone script: the Python API call and the CLI command that reproduce it.

The script embeds the run's config as JSON, so it runs anywhere tl_widgets is
installed, without the run folder and without any widget.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tl_widgets.core.fileio import atomic_write_text

__all__ = ["ScriptExport", "export_script", "render_script"]

_TEMPLATE = '''#!/usr/bin/env python
"""Reproduces the tl_widgets run {run!r} with the Python API.

Same as: {command}
Options: --epochs N (first phase), --out FOLDER (where run folders go).
"""

from __future__ import annotations

import argparse
import json

from tl_widgets import TrainConfig, train

CONFIG = json.loads(r"""
{config_json}
""")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, help="epochs of the first phase")
    parser.add_argument("--out", help="output folder for run folders")
    args = parser.parse_args()
    data = json.loads(json.dumps(CONFIG))
    if args.epochs is not None:
        data["phases"][0]["epochs"] = args.epochs
    if args.out:
        data["output_dir"] = args.out
    result = train(TrainConfig.from_dict(data))
    print(result.status, result.run_dir, result.metrics)
    return 0 if result.status == "finished" else 1


if __name__ == "__main__":
    raise SystemExit(main())
'''


@dataclass
class ScriptExport:
    """What :func:`export_script` wrote.

    Attributes:
        script: The Python script (``train_<run>.py``).
        config: The config file the CLI command uses.
        command: The equivalent ``tl-widgets train ...`` command line.
    """

    script: Path
    config: Path
    command: str


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_").lower() or "run"


def render_script(config: Any, run_name: str, command: str) -> str:
    """The script's source for ``config`` (a :class:`~tl_widgets.core.config.schema.TrainConfig`)."""
    config_json = config.to_json(indent=2)
    if '"""' in config_json:
        raise ValueError(f'Expected a config without triple quotes. Received: """ in the config of {run_name!r}')
    return _TEMPLATE.format(run=run_name, command=command, config_json=config_json)


def export_script(
    source: str | os.PathLike[str] | Any,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    name: str | None = None,
) -> ScriptExport:
    """Writes ``train_<run>.py`` and the config it embeds, and returns the CLI command too.

    Args:
        source: A run folder (with ``config.json``), a config file, or a
            :class:`~tl_widgets.core.config.schema.TrainConfig`.
        out_dir: Where to write (default: the run folder, else the current folder).
        name: The name in ``train_<name>.py`` (default: the run folder's or run's name).

    Raises:
        FileNotFoundError: ``source`` is a path that doesn't hold a config.
        TypeError: ``source`` is neither a path nor a TrainConfig.
    """
    from tl_widgets.core.config.schema import TrainConfig
    from tl_widgets.core.runs.folder import CONFIG_FILE, RunFolder

    if isinstance(source, TrainConfig):
        config, default_dir, default_name = source, Path.cwd(), source.run_name or "run"
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        file = RunFolder(path).config_file if path.is_dir() else path
        if not file.is_file():
            raise FileNotFoundError(f"Expected a run folder with {CONFIG_FILE} or a config file. Received: {str(path)!r}")
        config = TrainConfig.load(file)
        default_dir = path if path.is_dir() else path.parent
        default_name = path.name if path.is_dir() else (config.run_name or path.stem)
    else:
        raise TypeError(f"Expected a run folder, a config file or a TrainConfig. Received: {type(source).__name__}")
    folder = Path(out_dir) if out_dir is not None else default_dir
    slug = _slug(name or default_name)
    config_path = folder / f"config_{slug}.json"
    command = f"tl-widgets train {shlex.quote(str(config_path))}"
    atomic_write_text(config_path, config.to_json(indent=2) + "\n")
    script_path = atomic_write_text(folder / f"train_{slug}.py", render_script(config, slug, command))
    return ScriptExport(script=script_path, config=config_path, command=command)
