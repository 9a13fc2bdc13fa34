"""The lockfile-hashes scanner: its readers of pip requirement files and package-lock.json, and the scanner itself."""

from __future__ import annotations

import datetime
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from shipyard.checks.model import CheckSpec, Status
from shipyard.config import load_config
from shipyard.sample import create_sample_repo
from shipyard.security import lockfiles
from shipyard.security.lockfiles import unhashed_requirements, unverified_packages
from shipyard.security.policy import verdict
from shipyard.security.scanners import SCANNERS, ScanTarget, scan

SAMPLE = Path(__file__).parents[3] / "examples" / "platform"
HASH = "--hash=sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "total", "unhashed"),
    [
        ("", 0, []),
        ("# only a header\n\n", 0, []),
        (f"alembic==1.20.1 {HASH}\n", 1, []),
        ("alembic==1.20.1\n", 1, ["alembic"]),
        (f"alembic==1.20.1 \\\n    {HASH}\nclick==8.5.1\nMako==1.4.3 \\\n    {HASH} \\\n    {HASH}\n", 3, ["click"]),
        (f"alembic==1.20.1 \\\n    {HASH}\n", 1, []),
        (f"click==8.5.1 --hash sha256:{'cd' * 32}\n", 1, []),
        ("click==8.5.1 --hash=\n", 1, ["click"]),
        ("click==8.5.1 --hash\n", 1, ["click"]),
        # a comment line ends a continuation, as in pip: the hash under it belongs to no requirement
        (f"click==8.5.1 \\\n# why\n    {HASH}\n", 1, ["click"]),
        (f"click==8.5.1 {HASH}  # the CLI\n# {HASH}\nrich==13.0  # {HASH}\n", 2, ["rich"]),
        (f"--index-url https://example.invalid/simple\n--require-hashes\nclick==8.5.1 {HASH}\n", 1, []),
        # another file's requirements install as well, unseen: a lock file of only `-r unpinned.txt` is not hashed
        (f"-r other.txt\nclick==8.5.1 {HASH}\n", 2, ["-r other.txt"]),
        ("--requirement=base.txt\n-c constraints.txt\n", 2, ["--requirement base.txt", "-c constraints.txt"]),
        ("--constraint https://user:secret@example.invalid/c.txt\n", 1, ["--constraint a URL"]),
        (f"-e ./libs/common {HASH}\n", 1, ["./libs/common"]),
        ("--editable=git+https://user:secret@example.invalid/x.git#egg=x\n", 1, ["a URL"]),
        (f"common @ https://example.invalid/common-1.0.tar.gz {HASH}\n", 1, ["common"]),
        (f"https://user:secret@example.invalid/common-1.0.tar.gz {HASH}\n", 1, ["a URL"]),
        (f"./wheels/common-1.0-py3-none-any.whl {HASH}\n", 1, ["./wheels/common-1.0-py3-none-any.whl"]),
        (f"common-1.0.tar.gz {HASH}\n", 1, ["common-1.0.tar.gz"]),
        (f'tomli==2.0.1 ; python_version < "3.11" {HASH}\n', 1, []),
        ('tomli==2.0.1 ; python_version < "3.11"\n', 1, ["tomli"]),
        (f"uvicorn[standard]==0.54.0 {HASH}\nhttpx[http2]==0.28.1\n", 2, ["httpx"]),
    ],
)
def test_a_requirement_without_a_hash_of_its_own_is_unhashed(text: str, total: int, unhashed: list[str]) -> None:
    assert unhashed_requirements(text) == (total, unhashed)


def test_the_samples_lock_files_are_all_hashed() -> None:
    target = ScanTarget.resolve(load_config(SAMPLE / "shipyard.yaml"), SAMPLE)
    assert ("python", "apps/api/requirements.runtime.lock") in target.lockfiles()  # what the api image installs
    assert len(target.lockfiles()) == 7
    assert lockfiles.findings(target) == []
    total, missing = unhashed_requirements((SAMPLE / "apps" / "api" / "requirements.lock").read_text())
    assert (total, missing) == (36, [])


def test_the_vulnerable_variant_is_flagged_without_being_blocked(tmp_path: Path) -> None:
    create_sample_repo(tmp_path, "vulnerable")
    config = load_config(tmp_path / "shipyard.yaml")
    outcome = scan(SCANNERS["lockfile-hashes"], ScanTarget.resolve(config, tmp_path), 10, tmp_path / "tools")
    [finding] = outcome.findings
    assert (finding.file, finding.message) == (
        "apps/workers/requirements.lock",
        "14 of 14 requirements have no --hash (pip installs them unchecked): ast_serialize, coverage, iniconfig "
        "and 11 more",
    )
    spec = CheckSpec.for_stage(
        "security", "security", "lockfile-hashes", required=True, on_unavailable="fail", timeout=10, content_key=""
    )
    result = verdict(spec, outcome, config.security, datetime.date(2026, 11, 27))
    assert result.status is Status.PASSED
    assert result.summary == (
        "no findings at or above high, 1 below: lockfile-without-hashes (apps/workers/requirements.lock)"
    )


def v1(**dependencies: Any) -> dict[str, Any]:
    return {"lockfileVersion": 1, "dependencies": dependencies}


def v3(**packages: Any) -> dict[str, Any]:
    return {"lockfileVersion": 3, "packages": {"": {"name": "web", "version": "1.0.0"}, **packages}}


INTEGRITY = {"integrity": "sha512-" + "A" * 86 + "=="}
RESOLVED = {"resolved": "https://example.invalid/left-pad/-/left-pad-1.3.0.tgz"}


@pytest.mark.parametrize(
    ("lock", "total", "unverified"),
    [
        (v3(), 0, []),
        (v3(**{"node_modules/left-pad": {"version": "1.3.0", **RESOLVED, **INTEGRITY}}), 1, []),
        (v3(**{"node_modules/left-pad": {"version": "1.3.0", **RESOLVED}}), 1, ["left-pad"]),
        # npm leaves `resolved` out when told to omit registry addresses: integrity is then all there is
        (v3(**{"node_modules/left-pad": {"version": "1.3.0", **INTEGRITY}}), 1, []),
        (v3(**{"node_modules/left-pad": {"version": "1.3.0"}}), 1, ["left-pad"]),
        (
            v3(
                **{
                    "node_modules/a": {"version": "1.0.0", **INTEGRITY},
                    "node_modules/a/node_modules/@scope/b": {"version": "2.0.0", **RESOLVED},
                    "node_modules/alias": {"name": "real-name", "version": "1.0.0", **RESOLVED},
                }
            ),
            3,
            ["@scope/b", "real-name"],
        ),
        (
            v3(
                **{
                    "packages/common": {"name": "common", "version": "1.0.0"},
                    "node_modules/common": {"resolved": "packages/common", "link": True},
                    "node_modules/a": {"version": "1.0.0", **INTEGRITY},
                    "node_modules/a/node_modules/b": {"version": "1.0.0", "inBundle": True},
                }
            ),
            1,
            [],
        ),
        (
            {
                "lockfileVersion": 2,
                "packages": {"": {"name": "web"}, "node_modules/a": {"version": "1.0.0", **INTEGRITY}},
                "dependencies": {"a": {"version": "1.0.0"}},  # the v1 copy npm 7 and later do not read
            },
            1,
            [],
        ),
        (v1(), 0, []),
        (v1(a={"version": "1.0.0", **RESOLVED, **INTEGRITY}), 1, []),
        (v1(a={"version": "1.0.0", **RESOLVED}), 1, ["a"]),
        (
            v1(
                a={"version": "1.0.0", **INTEGRITY, "dependencies": {"b": {"version": "2.0.0", **RESOLVED}}},
                local={"version": "file:../local"},
                c={"version": "1.0.0", "bundled": True},
                git={
                    "version": "git+https://example.invalid/x.git#0123abc",
                    "from": "git+https://example.invalid/x.git",
                },
            ),
            3,
            ["b", "git"],
        ),
    ],
)
def test_a_package_npm_fetches_without_integrity_is_unverified(
    lock: dict[str, Any], total: int, unverified: list[str]
) -> None:
    assert unverified_packages(lock) == (total, unverified)


def test_the_samples_package_lock_has_integrity_for_every_package() -> None:
    total, missing = unverified_packages(json.loads((SAMPLE / "apps" / "web" / "package-lock.json").read_text()))
    assert total > 100 and missing == []


def target(
    root: Path, python: tuple[str, ...] = (), node: tuple[str, ...] = (), images: tuple[str, ...] = ()
) -> ScanTarget:
    return ScanTarget(
        root,
        tuple((f"apps/{app}", "requirements.lock") for app in python),
        tuple((f"apps/{app}", "package-lock.json") for app in node),
        (),
        (),
        (),
        "1.30",
        tuple(("python", lock) for lock in images),
    )


def write(root: Path, path: str, text: str) -> None:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text)


def test_the_scanner_reports_one_finding_per_lock_file_without_hashes(tmp_path: Path) -> None:
    write(tmp_path, "apps/api/requirements.lock", f"# pinned\nalembic==1.20.1 \\\n    {HASH}\n")
    write(tmp_path, "apps/workers/requirements.lock", f"a==1\nb==2\nc==3 {HASH}\nd==4\ne==5\n")
    write(tmp_path, "apps/workers/requirements.runtime.lock", "a==1\n")
    write(tmp_path, "apps/web/package-lock.json", json.dumps(v3(**{"node_modules/x": {"version": "1", **INTEGRITY}})))
    write(tmp_path, "apps/old/package-lock.json", json.dumps(v1(y={"version": "1.0.0", **RESOLVED})))
    found = scan(
        SCANNERS["lockfile-hashes"],
        target(tmp_path, ("api", "workers"), ("web", "old"), ("apps/workers/requirements.runtime.lock",)),
        timeout=10,
        tool_store=tmp_path / "tools",
    )
    assert found.unavailable is None
    assert [(f.file, f.line, f.rule, f.severity, f.message) for f in found.findings] == [
        (
            "apps/workers/requirements.lock",
            None,
            "lockfile-without-hashes",
            "medium",
            "4 of 5 requirements have no --hash (pip installs them unchecked): a, b, d and 1 more",
        ),
        (
            "apps/old/package-lock.json",
            None,
            "lockfile-without-hashes",
            "medium",
            "1 of 1 packages have no integrity (npm installs them unchecked): y",
        ),
        (
            "apps/workers/requirements.runtime.lock",
            None,
            "lockfile-without-hashes",
            "medium",
            "1 of 1 requirements have no --hash (pip installs them unchecked): a",
        ),
    ]
    assert not (tmp_path / "tools").exists()  # nothing to install: Shipyard reads the files itself


def test_a_lock_file_it_cannot_read_makes_the_scanner_unavailable_not_passed(tmp_path: Path) -> None:
    write(tmp_path, "apps/api/requirements.lock", f"alembic==1.20.1 {HASH}\n")
    scanner = SCANNERS["lockfile-hashes"]
    missing = scan(scanner, target(tmp_path, ("api", "gone")), 10, tmp_path)
    assert missing.unavailable == "apps/gone/requirements.lock is not a regular file of the checkout"
    write(tmp_path, "apps/web/package-lock.json", "{not json")
    broken = scan(scanner, target(tmp_path, node=("web",)), 10, tmp_path)
    assert broken.unavailable is not None and broken.unavailable.startswith(
        "apps/web/package-lock.json is not a package"
    )
    write(tmp_path, "apps/web/package-lock.json", "[]")
    assert scan(scanner, target(tmp_path, node=("web",)), 10, tmp_path).unavailable == (
        "apps/web/package-lock.json is not a package-lock.json: not a JSON object"
    )


def test_a_lock_file_that_links_outside_the_checkout_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "token"
    write(tmp_path, "outside/token", "ghp_not_for_reports\n")
    root = tmp_path / "repo"
    (root / "apps" / "api").mkdir(parents=True)
    (root / "apps" / "api" / "requirements.lock").symlink_to(secret)
    outcome = scan(SCANNERS["lockfile-hashes"], target(root, ("api",)), 10, tmp_path)
    assert outcome.unavailable == "apps/api/requirements.lock is not a regular file of the checkout"
    assert "ghp_" not in repr(outcome)


def test_an_error_inside_the_scanner_is_unavailable_with_its_reason(tmp_path: Path) -> None:
    def broken(_: ScanTarget) -> None:
        raise KeyError("packages")

    outcome = scan(replace(SCANNERS["lockfile-hashes"], inspect=broken), target(tmp_path, ("api",)), 10, tmp_path)
    assert outcome.unavailable == "KeyError: 'packages'" and outcome.findings == ()


def test_no_lock_file_is_nothing_to_scan(tmp_path: Path) -> None:
    outcome = scan(SCANNERS["lockfile-hashes"], target(tmp_path), 10, tmp_path)
    assert outcome.note == "nothing to scan: no lock files" and outcome.unavailable is None


def test_a_lock_file_longer_than_what_is_read_is_unavailable_not_judged_by_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lockfiles, "LIMIT", 200)
    write(tmp_path, "apps/api/requirements.lock", f"alembic==1.20.1 {HASH}\n" + "# padding\n" * 20 + "click==8.5.1\n")
    outcome = scan(SCANNERS["lockfile-hashes"], target(tmp_path, ("api",)), 10, tmp_path)
    assert outcome.unavailable == "apps/api/requirements.lock is over 200 bytes: not read to its end"
