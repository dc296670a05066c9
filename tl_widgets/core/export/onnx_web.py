"""The ``onnx-web`` export checked where it will run: onnxruntime-web inside Chromium.

TensorFlow.js' converter cannot be installed beside this project's TensorFlow
2.21: ``tensorflowjs`` 4.22 (the latest) pulls TensorFlow 2.19 and numpy 2.1
through its dependencies (tensorflow-decision-forests, tf_keras), and the only
release pip resolves beside 2.21 is 3.18 (2022), which predates Keras 3 and adds
the ``tensorflow`` distribution beside ``tensorflow-cpu``. So the browser format
is ONNX for onnxruntime-web. The file is the same ``model.onnx`` the ``onnx``
format writes; what differs is the check: :class:`BrowserPredictor` serves the
model, the validation images and onnxruntime-web (from npm, installed in
``web/node_modules`` next to this module by ``make setup``) on 127.0.0.1, opens
``web/check.html`` in headless Chromium with Playwright, and reads back the
probabilities the page computed. Nothing is fetched from the network.
"""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from tl_widgets.core.export.errors import ExportError
from tl_widgets.core.i18n import _

__all__ = ["WEB_DIR", "ORT_DIST", "BrowserPredictor", "check_onnx_web", "chromium_executable"]

WEB_DIR = Path(__file__).with_name("web")
ORT_DIST = WEB_DIR / "node_modules" / "onnxruntime-web" / "dist"
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run")
_PAGE_TIMEOUT_MS = 120_000


def chromium_executable() -> str | None:
    """Chromium on PATH (``chromium`` or ``chromium-browser``), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def check_onnx_web() -> str:
    """Checks that everything the browser check needs is here; returns the Chromium path.

    Raises:
        ExportError: What is missing, and how to install it.
    """
    missing = []
    if not (ORT_DIST / "ort.wasm.min.js").is_file():
        missing.append(f"onnxruntime-web (run `npm ci --prefix {WEB_DIR}` or `make setup`)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package (`pip install tl-widgets[test]`)")
    browser = chromium_executable()
    if browser is None:
        missing.append("Chromium on PATH (`apt-get install chromium`)")
    if missing:
        raise ExportError(_("Expected what the onnx-web browser check needs. Received: missing {missing}").format(
            missing="; ".join(missing)))
    assert browser is not None
    return browser


class _Files:
    """What the local server hands out: the page, onnxruntime-web, the model, the images."""

    def __init__(self, model: Path, images: np.ndarray, batch: int) -> None:
        self.routes: dict[str, tuple[bytes | Path, str]] = {
            "/check.html": (WEB_DIR / "check.html", "text/html"),
            "/model.onnx": (model, "application/octet-stream"),
            "/images.bin": (np.ascontiguousarray(images, np.float32).tobytes(), "application/octet-stream"),
            "/meta.json": (json.dumps({"shape": list(images.shape), "batch": batch}).encode(), "application/json"),
        }

    def get(self, path: str) -> tuple[bytes, str] | None:
        path = path.split("?", 1)[0]
        if path in self.routes:
            body, kind = self.routes[path]
            return (body.read_bytes() if isinstance(body, Path) else body), kind
        if path.startswith("/ort/"):
            name = path[len("/ort/"):]
            # Only plain file names of onnxruntime-web's dist folder: no traversal.
            if "/" in name or name.startswith(".") or not (ORT_DIST / name).is_file():
                return None
            kind = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm"}.get(
                Path(name).suffix, "application/octet-stream")
            return (ORT_DIST / name).read_bytes(), kind
        return None


def _serve(files: _Files) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            found = files.get(self.path)
            if found is None:
                self.send_error(404)
                return
            body, kind = found
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # the server is quiet: the worker never prints
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, name="tlw-onnx-web-server", daemon=True).start()
    return server


class BrowserPredictor:
    """An ``onnx-web`` export run by onnxruntime-web in headless Chromium: raw images in, probabilities out.

    Each call starts a local server and one Chromium (a few seconds), runs every
    image in the page and closes both. After a call, :attr:`ms_per_image` holds
    the in-page inference time and :attr:`backend` what ran it.

    Args:
        path: The ``model.onnx`` file.
        batch_size: Images per ``session.run`` in the page.
    """

    def __init__(self, path: Path, batch_size: int = 16) -> None:
        self.path = Path(path)
        self.batch_size = batch_size
        self.browser = check_onnx_web()
        self.ms_per_image: float | None = None
        self.backend: str | None = None

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"Expected images of shape (N, H, W, 3). Received: {images.shape}")
        # Playwright's sync API refuses a thread with a running asyncio loop (a kernel's main thread): own thread.
        with ThreadPoolExecutor(1, thread_name_prefix="tlw-onnx-web") as pool:
            result = pool.submit(self._run, images).result()
        self.ms_per_image = float(result["ms_per_image"])
        self.backend = str(result["backend"])
        probs = np.asarray(result["probs"], np.float32)
        if probs.shape[0] != len(images):
            raise RuntimeError(f"Expected {len(images)} rows of probabilities from the page. Received: {probs.shape}")
        return probs

    def _run(self, images: np.ndarray) -> dict[str, Any]:
        from playwright.sync_api import sync_playwright

        server = _serve(_Files(self.path, images, self.batch_size))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=self.browser, args=list(CHROMIUM_ARGS))
                try:
                    page = browser.new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    page.goto(f"http://127.0.0.1:{server.server_address[1]}/check.html")
                    page.wait_for_function("typeof ort !== 'undefined'", timeout=_PAGE_TIMEOUT_MS)
                    page.set_default_timeout(_PAGE_TIMEOUT_MS)
                    try:
                        return page.evaluate("runCheck()")
                    except Exception as exc:  # the page's own error says more than Playwright's wrapper
                        raise RuntimeError(f"Expected onnxruntime-web to run {self.path.name} in Chromium. "
                                           f"Received: {exc} {' '.join(errors)}") from exc
                finally:
                    browser.close()
        finally:
            server.shutdown()
            server.server_close()
