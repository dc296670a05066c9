"""REST handlers of the run store, under ``<base_url>/tl-widgets/api/``.

======  ======================  ==============================================
GET     ``runs``                ``{"runs": [...]}``, newest first;
                                ``?status=<status>&limit=<1..1000>``
GET     ``runs/<run_id>``       one run with config, epochs, batches, artifacts
DELETE  ``runs/<run_id>``       204; ``?delete_files=true`` also removes the
                                run folder; 409 while the run is training
======  ======================  ==============================================

Every handler requires Jupyter's authentication (a token or the login
cookie; XSRF for browser writes) and goes through the server's authorizer.
Bad inputs get a 400 whose JSON ``message`` names what was expected and what
was received; unknown runs get a 404. NaN metrics are sent as ``null``. Other
query parameters are ignored: JupyterLab's ``ServerConnection`` adds a
cache-busting one to every GET.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Callable, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from tl_widgets.core.runs.store import RUN_ID_PATTERN, STATUSES, RunActiveError, RunNotFoundError, RunStore, json_safe

__all__ = ["API_PREFIX", "MAX_LIMIT", "handlers_for", "RunsHandler", "RunHandler"]

API_PREFIX = "tl-widgets/api"
MAX_LIMIT = 1000
_RUN_ID = re.compile(RUN_ID_PATTERN)
_BOOL = {"true": True, "1": True, "false": False, "0": False}
_STORE_KEY = "tl_widgets_run_store"
_STORE_LOCK_KEY = "tl_widgets_run_store_lock"

_T = TypeVar("_T")


class _BaseHandler(APIHandler):
    auth_resource = "tl_widgets"

    async def store(self) -> RunStore:
        """The server's run store, opened on first use (``$TL_WIDGETS_HOME``) in a worker thread.

        Opening creates the folder and the schema and may wait on SQLite's lock: never on the event loop,
        which serves every other request meanwhile. One request opens it; the others wait for that one.
        """
        store = self.settings.get(_STORE_KEY)
        if store is None:
            lock = self.settings.setdefault(_STORE_LOCK_KEY, asyncio.Lock())
            async with lock:
                store = self.settings.get(_STORE_KEY)
                if store is None:
                    try:
                        store = await self.call(RunStore)
                    except (OSError, RuntimeError) as exc:
                        raise web.HTTPError(500, f"Could not open the tl_widgets run store: {exc}") from exc
                    self.settings[_STORE_KEY] = store
        return store

    async def call(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Runs a store call in a worker thread: SQLite may wait on a lock."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    def send_json(self, data: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(json_safe(data)))

    def check_run_id(self, run_id: str) -> str:
        if not _RUN_ID.fullmatch(run_id):
            raise web.HTTPError(
                400, f"Expected a run id matching {RUN_ID_PATTERN}. Received: {run_id[:200]!r}"
            )
        return run_id


class RunsHandler(_BaseHandler):
    """``GET runs``: the list of runs."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        status = self.get_query_argument("status", None)
        if status is not None and status not in STATUSES:
            raise web.HTTPError(400, f"Expected status in {list(STATUSES)}. Received: status={status[:100]!r}")
        raw_limit = self.get_query_argument("limit", "200")
        try:
            limit = int(raw_limit)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT or not raw_limit.strip().isdigit():
            raise web.HTTPError(
                400, f"Expected an integer limit between 1 and {MAX_LIMIT}. Received: limit={raw_limit[:100]!r}"
            )
        runs = await self.call((await self.store()).list_runs, status=status, limit=limit)
        self.send_json({"runs": runs})


class RunHandler(_BaseHandler):
    """``GET`` / ``DELETE runs/<run_id>``: one run."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.check_run_id(run_id)
        try:
            run = await self.call((await self.store()).get_run, run_id)
        except RunNotFoundError as exc:
            raise web.HTTPError(404, f"Expected the id of a recorded run. Received: {run_id!r} (no such run)") from exc
        self.send_json(run)

    @web.authenticated
    @authorized
    async def delete(self, run_id: str) -> None:
        self.check_run_id(run_id)
        raw = self.get_query_argument("delete_files", "false")
        if raw.lower() not in _BOOL:
            raise web.HTTPError(400, f"Expected delete_files=true or false. Received: delete_files={raw[:100]!r}")
        try:
            await self.call((await self.store()).delete_run, run_id, delete_files=_BOOL[raw.lower()])
        except RunNotFoundError as exc:
            raise web.HTTPError(404, f"Expected the id of a recorded run. Received: {run_id!r} (no such run)") from exc
        except RunActiveError as exc:
            raise web.HTTPError(409, str(exc)) from exc
        except ValueError as exc:
            raise web.HTTPError(400, str(exc)) from exc
        self.set_status(204)
        self.finish()


def handlers_for(base_url: str) -> list[tuple[str, type[APIHandler]]]:
    """The URL routes of the REST API under ``base_url``."""
    root = url_path_join(base_url, API_PREFIX)
    return [
        (url_path_join(root, "runs") + "/?", RunsHandler),
        (url_path_join(root, "runs", "([^/]+)") + "/?", RunHandler),
    ]
