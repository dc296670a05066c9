"""Tests of the run-store REST API served by the jupyter_server extension."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from tl_widgets.core.events import BatchEnd, EpochEnd, RunFinished, RunStarted
from tl_widgets.core.runs.store import RunRecorder, RunStore
from tl_widgets.server import _jupyter_server_extension_points

REPO = Path(__file__).resolve().parents[2]
API = ("tl-widgets", "api")


def _record(store: RunStore, run_id: str, *, finish: bool = True, run_dir: str | None = None) -> None:
    rec = RunRecorder(store, source="cli")
    rec(RunStarted(run_id, config={"run_name": run_id}, run_dir=run_dir, total_epochs=1, steps_per_epoch=2))
    for step in (1, 2):
        rec(BatchEnd(run_id, phase=0, epoch=0, step=step, global_step=step, metrics={"loss": 0.5},
                     images_per_sec=10.0, learning_rate=1e-3))
    rec(EpochEnd(run_id, phase=0, epoch=0, metrics={"accuracy": 0.75, "val_accuracy": 0.5, "val_loss": math.nan},
                 duration=1.0))
    if finish:
        rec(RunFinished(run_id, metrics={"accuracy": 0.75, "val_accuracy": 0.5}, run_dir=run_dir, duration=2.0))
    assert rec.errors == []


async def _error(fetch_coro) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as info:
        await fetch_coro
    body = info.value.response.body if info.value.response is not None else b"{}"
    return info.value.code, json.loads(body or b"{}")


def test_config_file_enables_the_extension() -> None:
    cfg = json.loads((REPO / "jupyter-config" / "jupyter_server_config.d" / "tl_widgets.json").read_text())
    assert cfg == {"ServerApp": {"jpserver_extensions": {"tl_widgets.server": True}}}
    assert _jupyter_server_extension_points() == [{"module": "tl_widgets.server"}]


async def test_list_runs(jp_fetch, store: RunStore) -> None:
    _record(store, "20261128-100000-a-0001")
    _record(store, "20261128-100001-b-0002", finish=False)
    resp = await jp_fetch(*API, "runs")
    assert resp.code == 200 and resp.headers["Content-Type"].startswith("application/json")
    runs = json.loads(resp.body)["runs"]
    assert [r["run_id"] for r in runs] == ["20261128-100001-b-0002", "20261128-100000-a-0001"]
    assert runs[1]["status"] == "finished" and runs[1]["best_metric"] == 0.5
    assert runs[0]["status"] == "running"  # recorded by this (live) process
    resp = await jp_fetch(*API, "runs", params={"status": "finished", "limit": "5"})
    assert [r["run_id"] for r in json.loads(resp.body)["runs"]] == ["20261128-100000-a-0001"]
    resp = await jp_fetch(*API, "runs", params={"limit": "1"})
    assert len(json.loads(resp.body)["runs"]) == 1
    # JupyterLab's ServerConnection adds a cache-busting parameter to GETs: it must be accepted.
    resp = await jp_fetch(*API, "runs", params={"1795900379776": ""})
    assert len(json.loads(resp.body)["runs"]) == 2


async def test_empty_store(jp_fetch, tlw_home: Path) -> None:
    resp = await jp_fetch(*API, "runs")
    assert json.loads(resp.body) == {"runs": []}
    assert (tlw_home / "runs.sqlite").exists()  # the server follows TL_WIDGETS_HOME


async def test_get_run_is_strict_json(jp_fetch, store: RunStore) -> None:
    _record(store, "run-1")
    resp = await jp_fetch(*API, "runs", "run-1")
    text = resp.body.decode()
    assert "NaN" not in text
    run = json.loads(text)
    assert run["run_id"] == "run-1" and run["config"] == {"run_name": "run-1"}
    assert run["epochs"][0]["metrics"] == {"accuracy": 0.75, "val_accuracy": 0.5, "val_loss": None}
    assert len(run["batches"]) == 2 and run["artifacts"] == []


async def test_unknown_run_is_404(jp_fetch, store: RunStore) -> None:
    code, body = await _error(jp_fetch(*API, "runs", "no-such-run"))
    assert code == 404 and "Received: 'no-such-run'" in body["message"]
    code, _ = await _error(jp_fetch(*API, "runs", "no-such-run", method="DELETE"))
    assert code == 404


@pytest.mark.parametrize(
    ("parts", "params", "needle"),
    [
        (("runs",), {"status": "done"}, "Received: status='done'"),
        (("runs",), {"limit": "0"}, "Received: limit='0'"),
        (("runs",), {"limit": "1001"}, "between 1 and 1000"),
        (("runs",), {"limit": "ten"}, "Received: limit='ten'"),
        (("runs", "bad id!"), {}, "Expected a run id matching"),
        (("runs", "-leading-dash"), {}, "Received: '-leading-dash'"),
        (("runs", "x" * 200), {}, "Expected a run id matching"),
    ],
)
async def test_bad_inputs_are_400(jp_fetch, store: RunStore, parts, params, needle) -> None:
    code, body = await _error(jp_fetch(*API, *parts, params=params))
    assert code == 400
    assert needle in body["message"]


async def test_delete(jp_fetch, store: RunStore, tmp_path: Path) -> None:
    run_dir = tmp_path / "out" / "del-me"
    run_dir.mkdir(parents=True)
    _record(store, "del-me", run_dir=str(run_dir))
    _record(store, "still-training", finish=False)
    code, body = await _error(jp_fetch(*API, "runs", "del-me", method="DELETE", params={"delete_files": "maybe"}))
    assert code == 400 and "delete_files='maybe'" in body["message"]
    code, body = await _error(jp_fetch(*API, "runs", "still-training", method="DELETE"))
    assert code == 409 and "status 'running'" in body["message"]
    resp = await jp_fetch(*API, "runs", "del-me", method="DELETE", params={"delete_files": "true"})
    assert resp.code == 204
    assert not run_dir.exists()
    assert [r["run_id"] for r in store.list_runs()] == ["still-training"]


async def test_unauthenticated_is_refused(jp_fetch, store: RunStore) -> None:
    _record(store, "secret-run")
    no_auth = {"Authorization": ""}
    for parts, method in ((("runs",), "GET"), (("runs", "secret-run"), "GET"), (("runs", "secret-run"), "DELETE")):
        code, _ = await _error(jp_fetch(*API, *parts, method=method, headers=no_auth))
        assert code in (401, 403), (parts, method, code)
    code, _ = await _error(jp_fetch(*API, "runs", headers={"Authorization": "token wrong-token"}))
    assert code in (401, 403)
    assert [r["run_id"] for r in store.list_runs()] == ["secret-run"]  # nothing deleted


async def test_the_store_is_opened_off_the_event_loop(jp_fetch, tlw_home, monkeypatch) -> None:
    """#25 (partly fixed before): the first RunStore() (mkdir, schema, SQLite's lock) ran on the server's loop."""
    import threading

    from tl_widgets.server import handlers

    opened_on: list[threading.Thread] = []

    class Recording(RunStore):
        def __init__(self, *args, **kwargs):
            opened_on.append(threading.current_thread())
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(handlers, "RunStore", Recording)
    loop_thread = threading.current_thread()  # pytest-jupyter runs the server's loop in the test's thread
    await jp_fetch(*API, "runs")
    await jp_fetch(*API, "runs")
    assert len(opened_on) == 1 and opened_on[0] is not loop_thread
