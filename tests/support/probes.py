"""What a test looks for on this machine after an attack or a stop: processes by the name they were given."""

from __future__ import annotations

from pathlib import Path


def processes_named(tag: str) -> list[int]:
    """Pids whose command line starts with `tag` (commands started as `exec -a TAG ...`)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(tag.encode()):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found
