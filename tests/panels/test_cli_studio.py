"""``tl-widgets studio``: serves the packaged notebook with Voilà and prints the URL."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request

from tl_widgets.cli import studio as cli_studio

RUNNER = """
import argparse, sys
from tl_widgets.cli import studio
parser = argparse.ArgumentParser(); sub = parser.add_subparsers()
studio.register(sub)
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def test_parser_and_command(tmp_path):
    parser = argparse.ArgumentParser()
    cli_studio.register(parser.add_subparsers())
    args = parser.parse_args(["studio", "--port", "0", "--no-browser", "--data-root", str(tmp_path)])
    assert args.no_browser and args.data_root == [str(tmp_path)]
    assert cli_studio.studio_notebook().is_file()
    assert "--Voila.ip=127.0.0.1" in cli_studio.voila_command(1234)
    bad = parser.parse_args(["studio", "--data-root", str(tmp_path / "missing")])
    assert bad.func(bad) == 1


def test_studio_serves_and_prints_url(tmp_path):
    env = {**os.environ, "TL_WIDGETS_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, "studio", "--port", "0", "--no-browser",
                             "--data-root", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=env, cwd=tmp_path, start_new_session=True, text=True)
    try:
        line = ""
        deadline = time.monotonic() + 120
        while "http://" not in line and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
        assert line.startswith("tl-widgets Studio: http://127.0.0.1:"), line
        url = line.split(": ", 1)[1].strip()
        with urllib.request.urlopen(url, timeout=60) as resp:
            assert resp.status == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def test_a_failed_launch_is_raised_by_the_server_and_printed_by_the_cli(tmp_path, monkeypatch, capsys):
    import pytest

    from tl_widgets.server import voila_launch

    # Voilà stands in as a process that exits at once with status 3.
    monkeypatch.setattr(voila_launch, "voila_argv", lambda opts: [sys.executable, "-c", "raise SystemExit(3)"])
    opts = voila_launch.LaunchOptions(port=0, data_roots=[tmp_path])
    with pytest.raises(voila_launch.VoilaLaunchError, match="Expected Voilà to serve .*Received: exit code 3"):
        voila_launch.run_voila(opts, on_ready=lambda url: pytest.fail(f"not ready: {url}"))
    assert capsys.readouterr().out == ""  # the server prints nothing

    parser = argparse.ArgumentParser()
    cli_studio.register(parser.add_subparsers())
    args = parser.parse_args(["studio", "--port", "0", "--no-browser", "--data-root", str(tmp_path)])
    assert args.func(args) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.startswith("tl-widgets: error: Expected Voilà to serve ") and "exit code 3" in out.err
