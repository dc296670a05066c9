"""Fixtures for the views tests: a comm that records what widgets send."""

from __future__ import annotations

import json
from typing import Any, Iterator

import comm
import pytest
from comm.base_comm import BaseComm


class CommLog(list):
    """Every comm message, serialised like a kernel would (NaN refused)."""

    def custom(self, start: int = 0, comm_id: str | None = None) -> list[dict[str, Any]]:
        """The contents of custom messages (``widget.send``) from index ``start``."""
        out = []
        for entry in self[start:]:
            data = entry["data"] or {}
            if data.get("method") == "custom" and (comm_id is None or entry["comm_id"] == comm_id):
                out.append({**data["content"], "_buffers": entry["buffers"], "_nbytes": entry["nbytes"]})
        return out


@pytest.fixture
def comm_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[CommLog]:
    """Every comm message sent by widgets created in the test, in order."""
    log = CommLog()

    class CaptureComm(BaseComm):
        def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None,
                        **keys: Any) -> None:
            text = json.dumps(data, allow_nan=False)
            log.append({
                "comm_id": self.comm_id,
                "msg_type": msg_type,
                "data": json.loads(text),
                "buffers": [bytes(b) for b in buffers or []],
                "nbytes": len(text.encode()) + sum(len(b) for b in buffers or []),
            })

    monkeypatch.setattr(comm, "create_comm", CaptureComm)
    yield log
