"""How many CPU cores are free now: `prepare`'s stage workers and `shapeworld evaluate`'s torch threads."""

from __future__ import annotations

import os
import time
from pathlib import Path


def busy_cores(window: float = 0.5, stat_file: str = "/proc/stat") -> float:
    """How many cores other processes keep busy now, sampled from /proc/stat over `window` seconds (the
    1-minute load average instead where there is no /proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path(stat_file).read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(window)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    cores = os.cpu_count() or 1
    return cores * (1 - (idle1 - idle0) / max(1, total1 - total0))


def auto_threads() -> int:
    """Cores to use (`prepare`'s stage workers, `evaluate`'s torch threads): all on an idle machine, fewer
    when others keep some busy (oversubscribed OpenMP threads spin and can make a step ten times slower).
    Measured now, not from the load average, which still counts a `pip install` that has just finished."""
    cores = os.cpu_count() or 1
    return max(1, min(cores, round(cores - busy_cores())))
