"""Where the decoded-image cache goes: memory when it fits a budget, else disk, else nowhere.

``DataConfig.cache = "memory"`` means *memory if it fits*: the decoded images
(``uint8``, ``image_size`` squared, 3 channels) are estimated up front and
compared with a budget of half the memory this process can still get (the
system's available memory, or the container's limit when that is lower).
When they don't fit, the cache is written to disk instead; when the disk has
no room either, nothing is cached (every epoch decodes again). The choice and
its reason come back as a sentence for the run's messages.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from tl_widgets.core.i18n import _

__all__ = ["CacheChoice", "choose_cache", "memory_budget", "decoded_bytes", "cache_file", "BUDGET_FRACTION"]

BUDGET_FRACTION = 0.5  # of the memory still available: the model, activations and the kernel need the rest
_OVERHEAD = 1.25  # tf.data's cache on top of the pixels: measured 1.23x (100,000 images at 96 px, peak RSS)


@dataclass(frozen=True)
class CacheChoice:
    """The cache actually used and why.

    Attributes:
        mode: ``"memory"``, ``"disk"`` or ``"none"``.
        requested: What the config asked for.
        note: One sentence for the run's messages (empty when nothing needs saying).
        warning: True when the choice departs from the request.
    """

    mode: str
    requested: str
    note: str
    warning: bool = False


def _gb(n: float) -> str:
    return f"{n / 2**30:.2f} GB" if n < 2**40 else f"{n / 2**40:.2f} TB"


def _cgroup_room() -> float | None:
    """Bytes left under this container's memory limit (cgroup v2 or v1), None without a limit."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            raw = Path(limit_file).read_text().strip()
            if raw == "max":
                return None
            limit, usage = int(raw), int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit >= 2**60:  # v1's "no limit"
            return None
        return float(max(0, limit - usage))
    return None


def memory_budget() -> float:
    """Bytes the decoded-image cache may take: half of the memory still available to this process."""
    import psutil

    available = float(psutil.virtual_memory().available)
    room = _cgroup_room()
    if room is not None:
        available = min(available, room)
    return available * BUDGET_FRACTION


def decoded_bytes(n_images: int, image_size: int | Sequence[int], channels: int = 3) -> float:
    """Estimated size of ``n_images`` decoded ``uint8`` images of ``image_size`` (a side or ``(h, w)``)."""
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    return float(n_images) * height * width * channels * _OVERHEAD


def cache_file(cache_dir: Path, key: str) -> str:
    """The path prefix of a tf.data disk cache named by ``key`` (what was decoded, and how) in ``cache_dir``."""
    name = cache_dir / f"cache-{hashlib.sha1(key.encode()).hexdigest()[:20]}"
    for stale in cache_dir.glob(f"{name.name}*.lockfile"):
        stale.unlink()  # left by an interrupted earlier run; one process per cache folder
    return str(name)


def choose_cache(requested: str, n_images: int, image_size: int | Sequence[int], cache_dir: Callable[[], Path],
                 budget: float | None = None, channels: int = 3) -> CacheChoice:
    """Picks the cache for ``n_images`` decoded images.

    Args:
        requested: ``DataConfig.cache``: ``"memory"`` (memory if it fits, else
            disk), ``"disk"`` or ``"none"``.
        n_images: Images to cache (training and validation together).
        image_size: Side of the decoded images, or ``(height, width)``.
        cache_dir: Returns where a disk cache would go (called only when a disk
            cache is considered; its free space is checked).
        budget: Memory budget in bytes (None: :func:`memory_budget`).
        channels: Channels of the decoded images.

    Returns:
        A :class:`CacheChoice`.
    """
    if requested == "none" or n_images == 0:
        return CacheChoice("none", requested, "")
    need = decoded_bytes(n_images, image_size, channels)
    if requested == "memory":
        budget = memory_budget() if budget is None else budget
        if need <= budget:
            return CacheChoice("memory", requested, _(
                "Data cache: memory ({count} decoded images, about {need}, fit the memory budget of {budget}: "
                "half of the memory still available).").format(count=f"{n_images:,}", need=_gb(need),
                                                               budget=_gb(budget)))
        why = _("{count} decoded images need about {need}, more than the memory budget of {budget} (half of the "
                "memory still available)").format(count=f"{n_images:,}", need=_gb(need), budget=_gb(budget))
    else:
        why = _("data.cache is 'disk'")
    folder = cache_dir()
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    free = float(shutil.disk_usage(existing).free)
    if need > free * 0.9:
        return CacheChoice("none", requested, _(
            "Data cache: none ({why}, and the disk at {folder} has only {free} free); every epoch decodes the "
            "images again.").format(why=why, folder=repr(str(folder)), free=_gb(free)), warning=True)
    return CacheChoice("disk", requested, _("Data cache: disk at {folder} ({why}).").format(
        folder=repr(str(folder)), why=why), warning=requested == "memory")
