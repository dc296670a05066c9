"""A small room for the engine tests: a seats folder, warm local workers and the gateway (started once per module)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from tl_widgets.core.engine.client import WorkerEngine
from tl_widgets.core.engine.gateway import EngineGateway
from tl_widgets.core.engine.pool import ProcessPool
from tl_widgets.core.engine.worker import WorkerSettings


@dataclass
class Room:
    seats: Path
    data: Path
    pool: ProcessPool
    gateway: EngineGateway

    def seat(self, name: str, pid: int | None = None) -> Path:
        """A seat home owned by ``pid`` (default: this process), as ``open_seat`` makes one."""
        home = self.seats / f"seat-{name}"
        home.mkdir(mode=0o700, exist_ok=True)
        (home / "seat.json").write_text(json.dumps({"pid": pid or os.getpid(), "started": time.time()}))
        return home

    def engine(self, home: Path) -> WorkerEngine:
        return WorkerEngine(self.gateway.address, home)

    def close(self) -> None:
        self.gateway.close()
        self.pool.close()


def start_room(root: Path, heavy: int = 1, quick: int = 1) -> Room:
    seats, data = root / "seats", root / "data"
    seats.mkdir(mode=0o700, parents=True)
    data.mkdir()
    pool = ProcessPool(WorkerSettings(str(seats), data_roots=(str(data),), warm=(("demo_cnn", None),),
                                      env={"TF_NUM_INTRAOP_THREADS": "1"}), {"heavy": heavy, "quick": quick})
    pool.start(wait_s=300)
    return Room(seats, data, pool, EngineGateway(pool, seats).start())


def tiny_config(home: Path, epochs: int = 1, per_class: int = 20):
    """The demo, a few images per class, writing under ``home``."""
    import dataclasses

    from tl_widgets.core.config.schema import demo_config

    cfg = demo_config()
    cfg.output_dir = str(home / "runs")
    cfg.phases = [dataclasses.replace(cfg.phases[0], epochs=epochs)]
    cfg.data = dataclasses.replace(cfg.data, max_per_class=per_class)
    return cfg
