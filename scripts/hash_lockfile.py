"""Give every pin of a pip lock file its sha256, so `pip install -r LOCKFILE` runs in hash-checking mode.

    python scripts/hash_lockfile.py [--python python3.11] LOCKFILE...

pip itself picks the file each pin installs for the interpreter given (`pip install --dry-run --report`): the hash
is the one of that file, for that interpreter's Python version and platform, which the header says. Hash-checking
mode needs every package of the install pinned with a hash, so a pin that pulls in a package the lock file does not
name is an error that names it (add it to the lock file, then run this again). Idempotent: existing hashes are
dropped and looked up again, the comment header is kept with one line of its own saying how to regenerate.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

MARKER = "# Hashes: "
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>[^\s;]+)")


class LockfileError(Exception):
    pass


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(text: str) -> list[str]:
    """The requirement lines of a lock file, continuations joined, comments, options and hashes left out."""
    found = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        line = re.sub(r"(^|\s)#.*", "", line).strip()
        if not line or line.startswith("-"):
            continue
        found.append(re.split(r"\s+--", line, maxsplit=1)[0].strip())
    return found


def hashed_lines(pins: list[str], python: str = "python3.11") -> list[str]:
    """Each `name==version` pin followed by the sha256 of the file pip installs for it under `python`. Raises
    LockfileError for a pin that is not exact, one pip installs nothing for there, or a package the install needs
    that no pin names."""
    wanted = {}
    for pin in pins:
        match = _PIN.match(pin)
        if match is None:
            raise LockfileError(f"{pin!r} is not an exact pin (name==version): hash-checking mode needs one")
        wanted[normalised(match["name"])] = (pin, match["version"])
    if not wanted:
        return []
    resolved = {normalised(i["metadata"]["name"]): i for i in resolve([pin for pin, _ in wanted.values()], python)}
    if missing := sorted(set(resolved) - set(wanted)):
        found = ", ".join(f"{resolved[n]['metadata']['name']}=={resolved[n]['metadata']['version']}" for n in missing)
        raise LockfileError(f"the pins need packages the lock file does not name: {found}")
    if absent := sorted(set(wanted) - set(resolved)):
        raise LockfileError(f"pip installs nothing for these pins under {python}: {', '.join(absent)}")
    lines = []
    for name, (pin, version) in wanted.items():
        install = resolved[name]
        if install["metadata"]["version"] != version:
            raise LockfileError(f"{pin}: pip resolved version {install['metadata']['version']}")
        lines += [f"{pin} \\", f"    --hash=sha256:{install['download_info']['archive_info']['hashes']['sha256']}"]
    return lines


def interpreter(python: str) -> str:
    """What the hashes are for, e.g. "CPython 3.11 linux x86_64": wheels differ by version and platform."""
    probe = (
        "import platform, sys; print(platform.python_implementation(), '%d.%d' % sys.version_info[:2], "
        "sys.platform, platform.machine())"
    )
    return _run([python, "-c", probe]).strip()


def resolve(pins: list[str], python: str = "python3.11") -> list[dict[str, Any]]:
    """What pip would install for these requirements under `python` (its --report entries)."""
    report = _run(
        [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-", *pins]
    )
    installs: list[dict[str, Any]] = json.loads(report)["install"]
    return installs


def _run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise LockfileError(f"{' '.join(command[:4])}... failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def rewrite(path: Path, python: str = "python3.11") -> None:
    text = path.read_text()
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if not line.startswith(MARKER):
            header.append(line)
    lines = hashed_lines(requirements(text), python)
    marker = f"{MARKER}for {interpreter(python)}, by Shipyard's scripts/hash_lockfile.py (run it after a change of pin)"
    path.write_text("\n".join([*header, marker, *lines]) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="python3.11", help="the interpreter whose pip picks the files")
    parser.add_argument("lockfiles", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for lockfile in args.lockfiles:
        try:
            rewrite(lockfile, args.python)
        except LockfileError as exc:
            print(f"{lockfile}: {exc}", file=sys.stderr)
            return 1
        print(f"{lockfile}: hashed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
