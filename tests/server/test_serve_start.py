"""``tl-widgets serve`` refuses to open a room whose queue database is damaged, and says which file (#25 L9)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_damaged_room_queue_stops_serve_with_the_file_named(tmp_path):
    seats = tmp_path / "home" / "seats"
    seats.mkdir(parents=True)
    (seats / "room.sqlite").write_bytes(b"not a database, a damaged file " * 64)
    (tmp_path / "data").mkdir()
    env = {**os.environ, "TL_WIDGETS_HOME": str(tmp_path / "home"),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "tl_widgets", "serve", "--data-root", str(tmp_path / "data"),
                           "--port", "0", "--no-browser"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "room's queue database" in proc.stderr and str(seats / "room.sqlite") in proc.stderr, proc.stderr
    assert "move it away" in proc.stderr and "Traceback" not in proc.stderr
