"""The lockfile-hashes scanner: lock files with entries that carry no hash of what they install.

A pinned version names a release, not its bytes: the registry, a mirror or anything on the way can serve other
bytes under the same name and version. A hash in the lock file is what makes pip (hash-checking mode) and `npm ci`
(integrity) refuse them. Shipyard reads the lock files itself: pure functions of their text, no tool to install.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from shipyard.sandbox import read_back
from shipyard.security.findings import Finding
from shipyard.security.parsers import ScannerUnavailable

if TYPE_CHECKING:
    from shipyard.security.scanners import ScanTarget

RULE = "lockfile-without-hashes"
NAMED = 3  # entries a finding names; the count says how many more

# pip's comment: a # at the start or after whitespace. Found with a look-behind, not `\s+#`, whose backtracking is
# quadratic on a long run of spaces: the file comes from the commit under check and is read in the pipeline.
_COMMENT = re.compile(r"(^|(?<=\s))#")
_NAME = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(@|===?|~=|!=|<|>|;|$)")
_ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2")
INCLUDES = ("-r", "--requirement", "-c", "--constraint")
LIMIT = 50_000_000  # bytes of a lock file read; pip reads the whole file, so a longer one is not judged at all


def unhashed_requirements(text: str) -> tuple[int, list[str]]:
    """(requirements, names of those pip would install unchecked) of a pip requirements file. An editable, a URL or
    a path is not a registry release: a folder or a VCS checkout cannot be hash-checked, so it counts as unhashed."""
    total, unhashed = 0, []
    for line in _logical_lines(text):
        comment = _COMMENT.search(line)
        line = (line[: comment.start()] if comment else line).strip()
        if not line:
            continue
        tokens = line.split()
        if tokens[0] in ("-e", "--editable") or tokens[0].startswith("--editable="):
            total += 1
            unhashed.append(_name(tokens[1] if len(tokens) > 1 else tokens[0].partition("=")[2]))
            continue
        option, _, attached = tokens[0].partition("=")
        if option in INCLUDES:  # another file's requirements install too, and this file's hashes say nothing of them
            total += 1
            included = attached or (tokens[1] if len(tokens) > 1 else "")
            unhashed.append(f"{option} {'a URL' if '://' in included else included}".strip())
            continue
        if tokens[0].startswith("-"):  # --index-url, --require-hashes...: options, not requirements
            continue
        total += 1
        first_option = next((i for i, token in enumerate(tokens) if token.startswith("-")), len(tokens))
        spec, options = " ".join(tokens[:first_option]), tokens[first_option:]
        if _direct(spec) or not _hashed(options):
            unhashed.append(_name(spec))
    return total, unhashed


def unverified_packages(lock: Any) -> tuple[int, list[str]]:
    """(packages npm fetches, names of those without `integrity`) of a parsed package-lock.json. npm writes no
    `resolved` for registry packages when told to omit it, so any entry fetched, with or without one, needs it."""
    if not isinstance(lock, dict):
        raise ValueError("not a JSON object")
    packages = lock.get("packages")
    # lockfileVersion 2 also keeps v1's `dependencies` for old npm; npm 7 and later install from `packages`
    entries = _packages(packages) if isinstance(packages, dict) else _dependencies(lock.get("dependencies") or {})
    fetched = list(entries)
    return len(fetched), [name for name, entry in fetched if not entry.get("integrity")]


def findings(target: ScanTarget) -> list[Finding] | None:
    """One finding per lock file with an unhashed entry; None when the config names no lock file."""
    lockfiles = target.lockfiles()
    if not lockfiles:
        return None
    found = []
    for kind, path in lockfiles:
        data = read_back(target.root / path, target.root, limit=LIMIT + 1)
        if data is None:  # a symlink a commit planted would make the pipeline read, and report, a file of its own
            raise ScannerUnavailable(f"{path} is not a regular file of the checkout")
        if len(data) > LIMIT:  # what lies past the part read could be anything
            raise ScannerUnavailable(f"{path} is over {LIMIT:,} bytes: not read to its end")
        text = data.decode(errors="replace")
        total, missing = unhashed_requirements(text) if kind == "python" else _node(text, path)
        if missing:
            found.append(_finding(kind, path, total, missing))
    return found


def lockfile_path(app_path: str, lockfile: str) -> str:
    return PurePosixPath(app_path, lockfile).as_posix()


def _logical_lines(text: str) -> Iterator[str]:
    """pip's own joining: a trailing backslash continues the line; a comment line ends the continuation."""
    joined: list[str] = []
    for line in text.splitlines():
        comment = line.lstrip().startswith("#")
        if line.endswith("\\") and not comment:
            joined.append(line.strip("\\"))
            continue
        if joined:
            yield "".join([*joined, "" if comment else line])
            joined = []
        elif not comment:
            yield line
    if joined:
        yield "".join(joined)


def _hashed(options: list[str]) -> bool:
    return any(
        (option.startswith("--hash=") and len(option) > len("--hash=")) or (option == "--hash" and i + 1 < len(options))
        for i, option in enumerate(options)
    )


def _direct(spec: str) -> bool:
    target = spec.split(";", 1)[0] if "://" not in spec else spec
    return (
        "://" in target
        or "@" in target
        or "/" in target
        or "\\" in target
        or target.startswith((".", "~"))
        or target.lower().endswith(_ARCHIVES)
    )


def _name(spec: str) -> str:
    match = _NAME.match(spec)
    if match and "://" not in spec.split("@", 1)[0]:
        return match[1]
    # a URL can carry a token (https://user:token@host/...): it must not reach a report
    return "a URL" if "://" in spec else spec[:80]


def _packages(packages: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key, entry in packages.items():
        # the root ("") and workspace folders are sources in the repository; links point at them; a bundled
        # package comes inside its parent's tarball, which the parent's integrity covers
        if "node_modules/" not in key or not isinstance(entry, dict) or entry.get("link") or entry.get("inBundle"):
            continue
        yield entry.get("name") or key.rsplit("node_modules/", 1)[1], entry


def _dependencies(dependencies: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, entry in dependencies.items():
        if not isinstance(entry, dict):
            continue
        if not entry.get("bundled") and not str(entry.get("version", "")).startswith("file:"):
            yield name, entry
        yield from _dependencies(entry.get("dependencies") or {})


def _node(text: str, path: str) -> tuple[int, list[str]]:
    try:
        return unverified_packages(json.loads(text))
    except ValueError as exc:  # JSONDecodeError is one
        raise ScannerUnavailable(f"{path} is not a package-lock.json: {exc}") from None


def _finding(kind: str, path: str, total: int, missing: list[str]) -> Finding:
    named = ", ".join(missing[:NAMED]) + (f" and {len(missing) - NAMED} more" if len(missing) > NAMED else "")
    if kind == "python":
        what = f"{len(missing)} of {total} requirements have no --hash (pip installs them unchecked): {named}"
    else:
        what = f"{len(missing)} of {total} packages have no integrity (npm installs them unchecked): {named}"
    # medium: the default policy (fail_on: high) shows it in the summary and the SARIF without blocking
    return Finding("shipyard", RULE, "medium", path, None, what)
