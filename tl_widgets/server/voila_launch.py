"""Starting Voilà on the packaged Studio notebook: the code ``tl-widgets studio`` and ``serve`` share.

``tl-widgets studio`` is the plain local launch; ``tl-widgets serve`` adds
the safe defaults for shared use (token, upload limit, thread limits, idle
culling, no sources). Both build a :class:`LaunchOptions` and call
:func:`run_voila`.

The server process itself runs :mod:`tl_widgets.server.voila_entry`.

Importing this module stays light: no widgets, Keras or Voilà.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from tl_widgets.core.settings import DATA_ROOTS_ENV, MAX_UPLOAD_ENV, SEATS_ENV, TOKEN_ENV, WORKSHOP_ENV

__all__ = [
    "LaunchOptions", "VoilaLaunchError", "studio_notebook", "instructor_notebook", "Companion", "voila_argv", "kernel_env", "run_voila", "free_port",
    "is_loopback", "new_token", "check_token", "MIN_TOKEN_LENGTH",
    "THREAD_ENV_VARS", "READY_PROBE", "MAX_UPLOAD_ENV", "DATA_ROOTS_ENV", "WORKSHOP_ENV",
]

# Read by TensorFlow, XLA/Eigen, OpenMP and the BLAS libraries when they start (never after).
THREAD_ENV_VARS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                   "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Seconds Voilà waits for a cell's output after it ran (see voila_argv).
IOPUB_TIMEOUT_S = 120
# Polled until it answers (any status): not the page itself, which would start a kernel nobody uses.
READY_PROBE = "tl-widgets-ready"


class VoilaLaunchError(RuntimeError):
    """Voilà exited, or did not answer, before it was ready to serve the Studio.

    The server raises it; the CLI (``tl-widgets studio``/``serve``) prints it as one line.
    """


def studio_notebook() -> Path:
    """The packaged Voilà entry notebook."""
    return Path(__file__).resolve().parents[1] / "app" / "studio.ipynb"


def instructor_notebook() -> Path:
    """The packaged instructor-view notebook (``serve --workshop``'s second URL)."""
    return Path(__file__).resolve().parents[1] / "app" / "instructor.ipynb"


def is_loopback(ip: str) -> bool:
    """True when ``ip`` only accepts connections from this machine."""
    return ip in LOOPBACK or ip.startswith("127.")


def new_token() -> str:
    """A fresh random access token (32 URL-safe characters)."""
    import secrets

    return secrets.token_urlsafe(24)


MIN_TOKEN_LENGTH = 16
"""Shortest ``--token`` accepted (a generated one has 32 characters)."""


def check_token(token: str, flag: str = "--token") -> str:
    """Returns ``token`` when it is a usable access token.

    Raises:
        ValueError: Shorter than :data:`MIN_TOKEN_LENGTH` characters, or not only ASCII letters, digits,
            ``-`` and ``_``.
    """
    ok = isinstance(token, str) and len(token) >= MIN_TOKEN_LENGTH and token.isascii() and \
        token.replace("-", "").replace("_", "").isalnum()
    if not ok:
        raise ValueError(f"Expected {flag} of at least {MIN_TOKEN_LENGTH} ASCII letters, digits, '-' or '_'. "
                         f"Received: {token!r}")
    return token


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LaunchOptions:
    """How to serve the Studio.

    Attributes:
        port: TCP port (0 picks a free one at launch).
        ip: Address to listen on.
        data_roots: Resolved folders the data pickers may list.
        token: The access token (None: no token, allowed on loopback only;
            :func:`voila_argv` refuses it elsewhere). It reaches Voilà through
            the environment (:func:`kernel_env`), never the command line.
        max_upload_bytes: Largest zip the Studio accepts (checked in Python);
            Tornado's websocket limit is raised above it so an oversized file
            still reaches Python and gets a clear message.
        threads: CPU threads per kernel (None: no limit set).
        cull_idle_s: Shut down kernels idle (no tab attached) this long (None: never).
        strip_sources: Never send the notebook's code to the browser.
        workshop: A workshop file the kernels read (``$TL_WIDGETS_WORKSHOP``).
        seats: The folder under which each kernel makes its private seat
            (``$TL_WIDGETS_SEATS``; None: kernels share the user's home, as a personal Studio does).
        max_starting: Studio pages built at once (None: no limit); later visitors get a live
            "waiting for a seat, N ahead" page (:mod:`tl_widgets.server.waiting_room`).
        preheat: Studio pages Voilà prepares before anyone asks (its kernel pool: ``preheat_kernel``,
            ``pool_size``); 0: none.
        certfile: A PEM certificate to serve HTTPS with (None: HTTP); ``keyfile`` is its private key
            (:mod:`tl_widgets.server.tls`). Browsers give the camera only to https pages (or localhost).
        keyfile: The certificate's private key.
        max_seats: Student kernels at once (None: no cap); later visitors get a "room full" page
            (:mod:`tl_widgets.server.seat_limit`).
        cull_unconnected_s: Shut down a kernel whose page never connected this long after it was sent
            (None: only the idle culling).
        extra_env: More variables for the server and its kernels.
    """

    port: int = 8866
    ip: str = "127.0.0.1"
    data_roots: list[Path] = field(default_factory=list)
    token: str | None = None
    max_upload_bytes: int | None = None
    threads: int | None = None
    cull_idle_s: int | None = None
    strip_sources: bool = True
    workshop: Path | None = None
    seats: Path | None = None
    max_starting: int | None = None
    preheat: int = 0
    max_seats: int | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    cull_unconnected_s: int | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def websocket_max_bytes(self) -> int | None:
        """Tornado's websocket message limit: twice the upload limit plus 1 MiB of headroom."""
        return None if self.max_upload_bytes is None else 2 * self.max_upload_bytes + 2**20

    @property
    def base_url(self) -> str:
        """The page URL without the token."""
        host = "127.0.0.1" if self.ip in ("0.0.0.0", "", "::") else self.ip
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.certfile else 'http'}://{host}:{self.port}/"

    @property
    def url(self) -> str:
        """The page URL (with the token, URL-encoded, when there is one)."""
        from urllib.parse import quote

        return self.base_url + (f"?token={quote(self.token, safe='')}" if self.token else "")


def voila_argv(opts: LaunchOptions, notebook: Path | None = None) -> list[str]:
    """The command line that serves ``notebook`` (default: the packaged Studio) with ``opts``.

    The token is not on it (see :func:`kernel_env`).

    Raises:
        ValueError: No token while listening beyond loopback.
    """
    if not opts.token and not is_loopback(opts.ip):
        raise ValueError(f"Expected a token when serving on {opts.ip!r} (not loopback). Received: none")
    args = [str(notebook or studio_notebook()), "--no-browser", f"--port={opts.port}", f"--Voila.ip={opts.ip}",
            "--theme=light", f"--strip_sources={opts.strip_sources}", "--show_tracebacks=False",
            # A busy machine (a room of kernels importing TensorFlow at once) delays output by more than
            # nbclient's 4 s default; the page would then stay on "loading" without the Studio.
            f"--VoilaExecutor.iopub_timeout={IOPUB_TIMEOUT_S}", f"--VoilaExecutor.startup_timeout={IOPUB_TIMEOUT_S * 3}"]
    if opts.cull_idle_s:
        args += [f"--MappingKernelManager.cull_idle_timeout={int(opts.cull_idle_s)}",
                 f"--MappingKernelManager.cull_interval={max(10, min(60, int(opts.cull_idle_s) // 2))}",
                 "--MappingKernelManager.cull_connected=False"]
    if opts.preheat:
        args += ["--preheat_kernel=True", f"--pool_size={int(opts.preheat)}"]
    ws = opts.websocket_max_bytes
    flags = [f"--websocket-max-bytes={ws}"] if ws is not None else []
    if opts.certfile is not None:
        flags += [f"--certfile={opts.certfile}", f"--keyfile={opts.keyfile}"]
    if opts.max_starting:
        flags.append(f"--max-starting={int(opts.max_starting)}")
    if opts.max_seats:
        flags.append(f"--max-seats={int(opts.max_seats)}")
    if opts.cull_unconnected_s:
        flags.append(f"--unconnected-s={int(opts.cull_unconnected_s)}")
    if is_loopback(opts.ip):
        flags.append("--local-only")
    return [sys.executable, "-m", "tl_widgets.server.voila_entry", *flags, "--", *args]


def kernel_env(opts: LaunchOptions, base: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment, inherited by every kernel it starts.

    Thread limits must be in the environment before TensorFlow starts in the
    kernel; setting them here is the only reliable place. The token goes in
    ``$TL_WIDGETS_TOKEN`` (an environment is readable by its owner only);
    the server entry point removes it before any kernel starts.
    """
    env = dict(os.environ if base is None else base)
    env.pop(TOKEN_ENV, None)
    if opts.token:
        env[TOKEN_ENV] = check_token(opts.token)
    if opts.data_roots:
        env[DATA_ROOTS_ENV] = os.pathsep.join(str(r) for r in opts.data_roots)
    if opts.max_upload_bytes is not None:
        env[MAX_UPLOAD_ENV] = str(int(opts.max_upload_bytes))
    if opts.threads is not None:
        for name in THREAD_ENV_VARS:
            env[name] = str(int(opts.threads))
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                            f"intra_op_parallelism_threads={int(opts.threads)}").strip()
    if opts.workshop is not None:
        env[WORKSHOP_ENV] = str(opts.workshop)
    if opts.seats is not None:
        env[SEATS_ENV] = str(opts.seats)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(opts.extra_env)
    return env


def _has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> bool:
    import ssl

    deadline = time.monotonic() + timeout
    # Our own server on this machine, possibly with a self-signed certificate: this probe only asks "is it up?".
    context = ssl._create_unverified_context() if url.startswith("https:") else None  # noqa: S323
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context):
                return True
        except urllib.error.HTTPError:
            return True  # any status (403 without a token) means it is up
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    return False


@dataclass
class Companion:
    """A second Voilà started and stopped with the main one (the instructor view).

    Attributes:
        opts: How to serve it (its own port and token).
        notebook: What it serves.
        on_ready: Told its URL once it answers.
    """

    opts: LaunchOptions
    notebook: Path
    on_ready: Callable[[str], None] | None = None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_voila(
    opts: LaunchOptions, *, open_browser: bool = False, on_ready: Callable[[str], None] | None = None,
    companions: Sequence[Companion] = (),
) -> int:
    """Starts Voilà, calls ``on_ready(url)`` once it answers, and waits for it to end.

    Args:
        opts: What to serve and how.
        open_browser: Open the URL in a browser when this machine has a display.
        on_ready: Told the Studio's URL once Voilà answers (the CLI prints it).
        companions: More servers to run alongside (each told its URL when ready), stopped with this one.

    Returns:
        Voilà's exit status (130 after Ctrl-C).

    Raises:
        VoilaLaunchError: Voilà exited or did not answer within 120 s.
    """
    import signal

    if opts.port == 0:
        opts.port = free_port()
    for extra in companions:
        if extra.opts.port == 0:
            extra.opts.port = free_port()
    others = [(extra, subprocess.Popen(voila_argv(extra.opts, extra.notebook), env=kernel_env(extra.opts)))
              for extra in companions]
    proc = subprocess.Popen(voila_argv(opts), env=kernel_env(opts))

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # stop Voilà (and its kernels) with us

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        probe = opts.base_url + READY_PROBE
        if not _wait_ready(probe, proc):
            code = proc.poll()
            if code is None:
                proc.terminate()
            raise VoilaLaunchError(f"Expected Voilà to serve {probe}. Received: "
                                   + (f"exit code {code}" if code is not None else "no answer within 120 s"))
        if on_ready is not None:
            on_ready(opts.url)
        for extra, other in others:
            if _wait_ready(extra.opts.base_url + READY_PROBE, other) and extra.on_ready is not None:
                extra.on_ready(extra.opts.url)
        if open_browser and _has_display():
            import webbrowser

            webbrowser.open(opts.url)
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 130
    finally:
        for _, other in others:
            _stop(other)
        signal.signal(signal.SIGTERM, previous)
