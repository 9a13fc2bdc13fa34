"""The docs stay true to the code: the generated configuration reference, a short README, links that resolve, and
every command they show (`shipyard ...` subcommands and flags, `make` targets, repository paths) exists."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer.main

from shipyard.config.reference import BEGIN, END, reference_markdown

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCKS = {"sh", "bash", "shell", "console"}
SEPARATORS = {";", "&&", "||", "|", "&", "(", ")"}
PREFIXES = {"do", "then", "else", "time", "sudo", "exec", "env", "!"}
REPO_PATH = re.compile(r"^(?:\./)?(?:scripts|bench|infra|tests|examples|flows|tasks|shipyard|deployments|docs)/")
ISSUE_NUMBER = re.compile(r"\bissues?\s*#?\s*\d+", re.IGNORECASE)


def _name(doc: Path) -> str:
    return doc.relative_to(ROOT).as_posix()


def test_configuration_reference_matches_the_schema() -> None:
    doc = ROOT / "docs" / "configuration.md"
    text = doc.read_text()
    assert BEGIN in text and END in text, f"{_name(doc)}: the markers {BEGIN} and {END} are missing"
    section = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert section == reference_markdown(), (
        f"{_name(doc)}: the configuration reference differs from the schema; replace everything between the "
        "markers (included) with the output of `shipyard config reference`"
    )


def test_readme_is_under_200_lines() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines; move detail into docs/ and link to it"


@pytest.mark.parametrize("doc", DOCS, ids=_name)
def test_no_issue_numbers(doc: Path) -> None:
    found = [
        f"{_name(doc)}:{number}: {match.group(0)!r}"
        for number, line in enumerate(doc.read_text().splitlines(), 1)
        for match in ISSUE_NUMBER.finditer(line)
    ]
    assert not found, "docs describe what is, not the tracker's history:\n" + "\n".join(found)


@pytest.mark.parametrize("doc", DOCS, ids=_name)
def test_relative_links_resolve(doc: Path) -> None:
    problems = [f"{_name(doc)}:{number}: {problem}" for number, problem in link_problems(doc)]
    assert not problems, "broken links:\n" + "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS, ids=_name)
def test_commands_exist(doc: Path) -> None:
    """Each command in a shell block (```sh, ```bash, ```console), and inline spans that are a `shipyard`, `make` or
    `bash` command or name a script."""
    problems = [
        f"{_name(doc)}:{command.line}: `{command.text}`: {problem}"
        for command in commands_in(doc.read_text())
        for problem in command_problems(command.words)
    ]
    assert not problems, "commands the code does not have:\n" + "\n".join(problems)


def test_the_command_check_names_what_is_missing() -> None:
    """The checker itself: a bogus flag, subcommand, make target or script is reported with its line."""
    text = "\n".join(
        [
            "Run `shipyard status production --bogus-inline` first.",
            "```sh",
            "shipyard deploy production --app api --no-such-flag \\",
            "   --version 1  # --in-a-comment is not a flag",
            "shipyard server sideways",
            "make demo DEMO_APPROVE=manual && make no-such-target",
            "bash scripts/no-such-script.sh test",
            "```",
            "```console",
            "$ shipyard rollback production --app api --as dana --reason x [--too 1.4.1]",
            "rolled back, and this output line is not a command --nor-this",
            "```",
            "```text",
            "shipyard whatever --is-prose-here",
            "```",
        ]
    )
    found = sorted((c.line, problem) for c in commands_in(text) for problem in command_problems(c.words))
    deploy_options = "--app, --artifact, --as, --config, --help, --sha, --target, --version"
    rollback_options = "--app, --as, --config, --help, --key, --reason, --target, --to"
    assert found == [
        (1, "`shipyard status` has no option --bogus-inline (it has --config, --help, --target)"),
        (3, f"`shipyard deploy` has no option --no-such-flag (it has {deploy_options})"),
        (5, "`shipyard server` has no subcommand 'sideways' (it has down, up)"),
        (6, "the Makefile has no target 'no-such-target'"),
        (7, "scripts/no-such-script.sh does not exist"),
        (10, f"`shipyard rollback` has no option --too (it has {rollback_options})"),
    ]


def test_every_doc_shows_commands_that_the_check_reads() -> None:
    """The check reads what the README promises: the two fresh-machine commands and how to stop the demo."""
    seen = {" ".join([Path(c.words[0]).name, *c.words[1:]]) for c in commands_in((ROOT / "README.md").read_text())}
    assert {"make demo", "make test", "make bench", "shipyard demo down", "shipyard server down"} <= seen


# --- commands ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    line: int  # where it starts in the doc
    text: str  # as written (continuation lines joined)
    words: list[str]  # one simple command: prefixes, variable assignments and comments removed


def commands_in(text: str) -> Iterator[Command]:
    for line, written in _shell_lines(text):
        for words in _simple_commands(written):
            yield Command(line, written, words)
    for line, span in _inline_spans(text):
        if re.match(r"(shipyard|make|bash)\s|(\./)?scripts/", span):
            for words in _simple_commands(span):
                yield Command(line, span, words)


def _shell_lines(text: str) -> Iterator[tuple[int, str]]:
    language: str | None = None  # inside a fence: its language ("" when none)
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        fence = re.fullmatch(r"\s*```\s*([\w+-]*)\s*", raw)
        if fence:
            language = fence.group(1) if language is None else None
            continue
        if language not in SHELL_BLOCKS:
            continue
        line = raw.strip()
        if language == "console":
            if pending is None and not line.startswith("$ "):
                continue  # output, not a command
            line = line.removeprefix("$ ") if pending is None else line
        start, joined = pending or (number, "")
        joined = f"{joined} {line}".strip()
        if joined.endswith("\\"):
            pending = (start, joined[:-1].rstrip())
            continue
        pending = None
        if joined:
            yield start, joined


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """Numbered lines outside fenced blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if re.fullmatch(r"\s*```.*", line):
            fenced = not fenced
        elif not fenced:
            yield number, line


def _inline_spans(text: str) -> Iterator[tuple[int, str]]:
    for number, line in _prose_lines(text):
        for match in re.finditer(r"(?<!`)`([^`]+)`(?!`)", line):
            yield number, match.group(1)


def _simple_commands(line: str) -> Iterator[list[str]]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError as exc:  # an unbalanced quote: report it like any other problem
        yield ["<unparsable>", str(exc)]
        return
    words: list[str] = []
    for token in [*tokens, ";"]:
        if token not in SEPARATORS:
            words.append(token)
            continue
        while words and (words[0] in PREFIXES or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0])):
            words.pop(0)
        if words:
            yield words
        words = []


def command_problems(words: list[str]) -> list[str]:
    if words[0] == "<unparsable>":
        return [f"cannot be read as a shell command: {words[1]}"]
    problems = [f"{word} does not exist" for word in words if _is_repo_path(word) and not (ROOT / word).exists()]
    program = Path(words[0]).name
    if program == "shipyard":
        problems += _shipyard_problems(words[1:])
    elif re.fullmatch(r"python(3(\.\d+)?)?", program) and words[1:3] == ["-m", "cli"]:
        problems += _shipyard_problems(words[3:])
    elif program == "make":
        targets = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        problems += [f"the Makefile has no target {t!r}" for t in targets if t not in _make_targets()]
    return problems


def _is_repo_path(word: str) -> bool:
    return bool(REPO_PATH.match(word)) and not re.search(r"[<>*${}]", word)


def _shipyard_problems(args: list[str]) -> list[str]:
    command: Any = _cli()
    path = ["shipyard"]
    rest = list(args)
    while hasattr(command, "commands"):  # a group: the next word names a subcommand
        if not rest or rest[0].startswith("-"):
            return [f"`{' '.join(path)}` needs a subcommand (one of {', '.join(sorted(command.commands))})"]
        name = rest.pop(0)
        if name not in command.commands:
            return [f"`{' '.join(path)}` has no subcommand {name!r} (it has {', '.join(sorted(command.commands))})"]
        command = command.commands[name]
        path.append(name)
    options = {"--help"} | {
        name
        for param in command.params
        if param.param_type_name == "option"
        for name in param.opts + param.secondary_opts
    }
    problems = []
    for word in rest:
        if word == "--":
            break
        flag = word.strip("[]").split("=", 1)[0]  # optional parts are written [--to V]
        if re.fullmatch(r"--?[A-Za-z][\w-]*", flag) and flag not in options:
            problems.append(f"`{' '.join(path)}` has no option {flag} (it has {', '.join(sorted(options))})")
    return problems


@cache
def _cli() -> Any:
    from cli.main import with_commands

    return typer.main.get_command(with_commands())


@cache
def _make_targets() -> frozenset[str]:
    makefile = (ROOT / "Makefile").read_text()
    return frozenset(re.findall(r"^([A-Za-z0-9_.$()/-]+)\s*:(?!=)", makefile, re.MULTILINE))


# --- links ------------------------------------------------------------------------------------------------------


def link_problems(doc: Path) -> Iterator[tuple[int, str]]:
    for number, target in _links(doc.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            yield number, f"{target}: {path} does not exist"
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            yield number, f"{target}: {_name(file)} has no heading #{anchor}"


def _links(text: str) -> Iterator[tuple[int, str]]:
    for number, line in _prose_lines(text):
        prose = re.sub(r"`[^`]*`", "", line)
        for match in re.finditer(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", prose):
            yield number, match.group(1)


def _anchors(doc: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    anchors = set()
    prose = re.sub(r"^\s*```.*?^\s*```\s*$", "", doc.read_text(), flags=re.MULTILINE | re.DOTALL)
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", prose, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors
