from pathlib import Path

from shipyard.config.reference import reference_markdown

ROOT = Path(__file__).parents[1]


def test_readme_configuration_reference_matches_the_schema() -> None:
    """Regenerate with: shipyard config reference (and paste between the markers)."""
    assert reference_markdown() in (ROOT / "README.md").read_text()
