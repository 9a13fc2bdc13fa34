import xml.etree.ElementTree as ET
from pathlib import Path

from shipyard.checks.model import Status
from shipyard.checks.report import ChecksFailed, Summary, junit_xml, write_junit
from tests.shipyard.checks.factories import result


def test_summary_names_every_blocking_check() -> None:
    summary = Summary(
        (
            result(Status.PASSED, check="lint"),
            result(Status.FAILED, check="test"),
            result(Status.UNAVAILABLE, check="typecheck"),
            result(Status.UNAVAILABLE, check="format", on_unavailable="warn"),
        )
    )
    assert not summary.passed
    assert [r.spec.check for r in summary.blocking] == ["test", "typecheck"]
    headline = summary.headline()
    assert "api/test/python3.11 (failed" in headline and "api/typecheck/python3.11 (unavailable" in headline
    assert "format" not in headline


def test_unavailable_is_never_shown_as_passed() -> None:
    summary = Summary((result(Status.UNAVAILABLE, on_unavailable="warn"),))
    assert summary.passed  # configured not to block...
    assert summary.table()[0]["status"] == "unavailable"  # ...but never reported as passed
    assert (
        summary.headline()
        == "no required check blocked (1 unavailable); did not pass: api/test/python3.11 (unavailable)"
    )
    assert "unavailable" in summary.markdown()


def test_junit_marks_failures_and_unavailable_differently() -> None:
    failed = ET.fromstring(junit_xml(result(Status.FAILED)))
    assert failed.get("failures") == "1" and failed.find("testcase/failure") is not None
    unavailable = ET.fromstring(junit_xml(result(Status.UNAVAILABLE)))
    assert unavailable.get("errors") == "1" and unavailable.find("testcase/error") is not None
    passed = ET.fromstring(junit_xml(result(Status.PASSED)))
    assert passed.get("failures") == "0" and passed.find("testcase/failure") is None


def test_write_junit_one_file_per_check(tmp_path: Path) -> None:
    summary = Summary((result(Status.PASSED, check="lint"), result(Status.FAILED, check="test")))
    files = write_junit(summary, tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in files) == [
        "api/lint-python3.11.xml",
        "api/test-python3.11.xml",
    ]


def test_checks_failed_survives_pickling() -> None:
    import pickle

    error = ChecksFailed(Summary((result(Status.FAILED),)))
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and copy.summary == error.summary


def test_stage_status_for_github() -> None:
    from dataclasses import replace

    from shipyard.checks.model import CheckResult, CheckSpec, Status
    from shipyard.checks.report import stage_status

    spec = CheckSpec.for_stage("security", "security", "semgrep", required=True, on_unavailable="warn", timeout=1,
                               content_key="")  # fmt: skip
    passed = CheckResult(spec, Status.PASSED, "")
    unavailable = CheckResult(replace(spec, check="pip-audit"), Status.UNAVAILABLE, "no data")
    failed = CheckResult(replace(spec, check="checkov"), Status.FAILED, "CKV_K8S_11")
    assert stage_status([], True) == ("success", "nothing to check")
    assert stage_status([passed, unavailable], True) == ("success", "1 passed, 1 unavailable")
    assert stage_status([passed, failed], True) == ("failure", "security/checkov did not pass (1 passed, 1 failed)")
    optional = [CheckResult(replace(spec, required=False), Status.FAILED, "x")]
    assert stage_status(optional, False) == ("failure", "security/semgrep did not pass (1 failed)")
    assert stage_status([passed], False) == ("success", "1 passed (optional)")
