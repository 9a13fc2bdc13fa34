import datetime
from pathlib import Path
from typing import get_args

from shipyard.checks.plan import check_cache_key, matrix, plan_checks, plan_security
from shipyard.config import load_config
from shipyard.config.schema import PipelineConfig
from shipyard.config.security import IMAGE_SCANNERS, ScannerName

SAMPLE = load_config(Path(__file__).parents[3] / "examples" / "platform" / "shipyard.yaml")


def content(overrides: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    trees = {"apps/api": "t-api", "apps/web": "t-web", "apps/workers": "t-w", "apps/ml": "t-ml", **(overrides or {})}
    return lambda path: trees.get(path, "missing")


def keys_by_name(**overrides: str) -> dict[str, str]:
    specs = plan_checks(SAMPLE, matrix(SAMPLE), content(overrides))
    return {s.name: s.content_key for s in specs}


def test_one_check_per_app_check_and_toolchain_version() -> None:
    specs = plan_checks(SAMPLE, matrix(SAMPLE), content())
    names = [s.name for s in specs]
    assert len(names) == len(set(names)) == 4 * 3 + 4 * 2
    assert "web/test/node18" in names and "web/test/node20" in names and "api/lint/python3.11" in names


def test_app_filter() -> None:
    specs = plan_checks(SAMPLE, matrix(SAMPLE, ["web"]), content())
    assert {s.app for s in specs} == {"web"} and len(specs) == 8


def test_changing_one_app_changes_only_its_keys() -> None:
    before, after = keys_by_name(), keys_by_name(**{"apps/ml": "t-ml-changed"})
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {f"ml/{c}/python3.11" for c in ("lint", "format", "typecheck", "test")}


def test_same_content_at_another_commit_has_the_same_keys() -> None:
    assert keys_by_name() == keys_by_name()


def test_cache_key_includes_toolchain_version_and_dependencies() -> None:
    spec = plan_checks(SAMPLE, matrix(SAMPLE, ["api"]), content())[0]
    base = check_cache_key(spec, "3.11.7", "deps-a")
    assert base == check_cache_key(spec, "3.11.7", "deps-a")
    assert base != check_cache_key(spec, "3.11.8", "deps-a")
    assert base != check_cache_key(spec, "3.11.7", "deps-b")


def security_keys(root_id: str, config: PipelineConfig = SAMPLE) -> dict[str, str]:
    return {s.check: s.content_key for s in plan_security(config, True, root_id, datetime.date(2026, 11, 27))}


def test_one_security_check_per_scanner_keyed_by_the_commits_tree() -> None:
    keys = security_keys("tree-a")
    assert set(keys) == set(get_args(ScannerName)) - set(IMAGE_SCANNERS) and "lockfile-hashes" in keys
    assert keys == security_keys("tree-a")
    changed = security_keys("tree-b")  # a changed lock file is a new root tree
    assert all(changed[name] != key for name, key in keys.items())


def test_a_lock_file_added_to_an_image_changes_the_security_keys() -> None:
    config = load_config(Path(__file__).parents[3] / "examples" / "platform" / "shipyard.yaml")
    config.images.apps["api"].prefetch.append("apps/api/requirements.extra.lock")
    assert security_keys("tree-a", config)["lockfile-hashes"] != security_keys("tree-a")["lockfile-hashes"]
