from shipyard.checks.model import CheckResult, CheckSpec, Status


def spec(
    check: str = "test", *, required: bool = True, on_unavailable: str = "fail", coverage_min: float | None = None
) -> CheckSpec:
    return CheckSpec(
        app="api",
        check=check,
        toolchain="python3.11",
        kind="python",
        version="3.11",
        app_path="apps/api",
        paths=("apps/api",),
        command="pytest",
        timeout=60,
        required=required,
        on_unavailable=on_unavailable,
        junit=None,
        coverage_report="coverage.xml" if coverage_min is not None else None,
        coverage_min=coverage_min,
        content_key="k",
    )


def result(status: Status, **spec_args: object) -> CheckResult:
    return CheckResult(spec(**spec_args), status, f"{status.value} because", tail="last lines")  # type: ignore[arg-type]
