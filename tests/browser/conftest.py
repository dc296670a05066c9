"""Shared fixtures for browser tests: Chromium via Playwright, and local servers.

Fixtures (all reusable by any browser test):

``chromium``
    A Playwright ``Browser`` on Debian's Chromium (session scope). Playwright's
    own browser download does not work on these machines, so the executable is
    ``$TLW_CHROMIUM`` or ``chromium`` found on ``PATH`` (``/usr/bin/chromium``).
    Missing Chromium fails the test with instructions: a skipped browser suite
    would look like a pass.

``free_port``
    ``free_port() -> int``: a free TCP port on 127.0.0.1.

``start_server``
    ``start_server(argv, ready_url=..., env=..., cwd=..., timeout=90, name=...)``
    starts a process (Jupyter Lab, Voilà, ...), waits until ``ready_url``
    answers any HTTP status, and returns a :class:`ServerProcess`. Every
    process still running is stopped at the end of the session; call
    ``server.stop()`` to stop one earlier. The output goes to
    ``test-artifacts/<name>-<port>.log`` and is quoted if the start fails.

``artifacts_dir``
    ``<repo>/test-artifacts`` (gitignored), for screenshots and logs.

Example::

    def test_page(chromium, free_port, start_server, tmp_path):
        port = free_port()
        server = start_server([sys.executable, "-m", "voila", "nb.ipynb", f"--port={port}", "--no-browser"],
                              ready_url=f"http://127.0.0.1:{port}/", cwd=tmp_path, name="voila")
        page = chromium.new_page()
        page.goto(server.ready_url)
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """The Chromium executable: ``$TLW_CHROMIUM``, else ``chromium`` on PATH."""
    return os.environ.get("TLW_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class ServerProcess:
    """A server started by :func:`start_server`.

    Attributes:
        proc: The process (its own process group, so children stop with it).
        ready_url: The URL that answered when the server became ready.
        log_path: Where its stdout and stderr go.
    """

    proc: subprocess.Popen[bytes]
    ready_url: str
    log_path: Path
    _log: Any = field(repr=False, default=None)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's output."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError as exc:
            return f"(no log: {exc})"

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after ``timeout``."""
        if self.proc.poll() is None:
            _signal_group(self.proc, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc, signal.SIGKILL)
                self.proc.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return


def _answers(url: str, insecure: bool = False) -> bool:
    import ssl

    # ``insecure``: our own server's self-signed certificate (``serve --https``); the probe only asks "is it up?"
    context = ssl._create_unverified_context() if insecure and url.startswith("https:") else None  # noqa: S323
    try:
        with urllib.request.urlopen(url, timeout=2, context=context):
            return True
    except urllib.error.HTTPError:
        return True  # any status means the server is up
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """``<repo>/test-artifacts`` (created), for screenshots and logs."""
    path = REPO / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """A function returning a free TCP port on 127.0.0.1."""

    def pick() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    return pick


@pytest.fixture(scope="module")
def start_server(artifacts_dir: Path) -> Iterator[Callable[..., ServerProcess]]:
    """A factory that starts a server and waits until it answers (see the module doc)."""
    started: list[ServerProcess] = []

    def start(
        argv: Sequence[str],
        *,
        ready_url: str,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float = 90.0,
        name: str = "server",
        insecure: bool = False,
    ) -> ServerProcess:
        port = ready_url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[-1]
        log_path = artifacts_dir / f"{name}-{port}.log"
        log = open(log_path, "wb")  # noqa: SIM115 - closed by ServerProcess.stop
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        server = ServerProcess(proc=proc, ready_url=ready_url, log_path=log_path, _log=log)
        started.append(server)
        deadline = time.monotonic() + timeout
        while not _answers(ready_url, insecure):
            if proc.poll() is not None:
                server.stop()
                raise RuntimeError(
                    f"Expected {name} to serve {ready_url}. Received: exit code {proc.returncode}; "
                    f"log:\n{server.log_tail()}"
                )
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(
                    f"Expected {name} to answer at {ready_url} within {timeout:.0f}s. Received: no answer; "
                    f"log:\n{server.log_tail()}"
                )
            time.sleep(0.3)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium ``playwright.sync_api.Browser`` for one test module.

    Module scope on purpose: while Playwright's sync API is active it leaves its
    asyncio loop marked as running in the main thread, which breaks later tests
    that run their own loop (pytest-jupyter's server fixtures). Servers started
    by ``start_server`` also stop at the end of their module.
    """
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        pytest.fail(
            "Browser tests need Chromium: `apt-get install chromium` (or set TLW_CHROMIUM to its path). "
            "Received: no chromium on PATH and TLW_CHROMIUM unset"
        )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def launch() -> Iterator[Callable[[list[str]], Any]]:
    """``launch(extra_args) -> Browser``: Chromium with the suite's flags plus ``extra_args`` (a fake camera, a
    host name mapped to 127.0.0.1, ...), closed at the end of the module."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        pytest.fail("Browser tests need Chromium: `apt-get install chromium`. Received: no chromium on PATH")
    with sync_playwright() as pw:
        browsers: list[Any] = []

        def start(extra: list[str]) -> Any:
            browsers.append(pw.chromium.launch(executable_path=executable, args=[*CHROMIUM_ARGS, *extra],
                                               headless=True))
            return browsers[-1]

        yield start
        for browser in browsers:
            browser.close()


@pytest.fixture(scope="module")
def start_voila(start_server: Callable[..., ServerProcess], free_port: Callable[[], int]) -> Callable[..., ServerProcess]:
    """A factory: ``start_voila(notebook, cwd, env=..., name=..., args=...)`` serves a notebook with a real
    Voilà on a free 127.0.0.1 port (``TF_CPP_MIN_LOG_LEVEL=2`` added to ``env``)."""

    def start(notebook: Path, cwd: Path, *, env: dict[str, str], name: str,
              args: Sequence[str] = ()) -> ServerProcess:
        port = free_port()
        argv = [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}",
                "--Voila.ip=127.0.0.1", *args]
        return start_server(argv, ready_url=f"http://127.0.0.1:{port}/",
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env}, cwd=cwd, name=name)

    return start


@pytest.fixture(scope="module")
def start_lab(start_server: Callable[..., ServerProcess], free_port: Callable[[], int]) -> Callable[..., tuple[str, str]]:
    """A factory: ``start_lab(root, settings_dir, env=..., name=...)`` starts a real JupyterLab serving
    ``root`` on a free 127.0.0.1 port with a random token; returns ``(base_url, token)``."""

    def start(root: Path, settings_dir: Path, *, env: dict[str, str], name: str) -> tuple[str, str]:
        token = secrets.token_hex(16)
        port = free_port()
        argv = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
            f"--LabApp.workspaces_dir={settings_dir / 'workspaces'}",
            f"--LabApp.user_settings_dir={settings_dir / 'settings'}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.append("--allow-root")  # containers often run tests as root
        start_server(argv, ready_url=f"http://127.0.0.1:{port}/api/status",
                     env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env}, cwd=root, name=name)
        return f"http://127.0.0.1:{port}", token

    return start
