from pathlib import Path

from tests.support.scheduling import LONGEST_FIRST, TOGETHER, scope_of

ROOT = Path(__file__).parents[1]


def test_every_file_the_schedule_names_exists() -> None:
    named = [*LONGEST_FIRST, *TOGETHER, *TOGETHER.values()]
    assert [path for path in named if not (ROOT / path).is_file()] == []


def test_files_run_together_share_a_scope_and_other_files_have_their_own() -> None:
    assert scope_of("tests/e2e/test_pr_checks_stages.py::test_x") == scope_of("tests/e2e/test_pr_checks.py::test_y")
    assert scope_of("tests/e2e/test_demo.py::test_z[a-b]") == "tests/e2e/test_demo.py"
