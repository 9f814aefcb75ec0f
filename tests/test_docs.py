"""The documentation stays true to the repository: its links resolve inside it, and docs/format.md
names every key the instance and experiment readers accept and every command of the command line."""

from __future__ import annotations

import argparse
import inspect
import re
from pathlib import Path

import pytest

from cpplan import durations, experiments, io, model
from cpplan.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FORMAT = ROOT / "docs" / "format.md"

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def _prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code, where brackets are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)
    return re.sub(r"`[^`\n]*`", "", text)


def _links(path: Path) -> list[str]:
    return LINK.findall(_prose(path.read_text(encoding="utf-8")))


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of ``path``: lower case, no punctuation, hyphens for spaces."""
    headings = re.findall(r"^#+\s+(.*?)\s*$", _prose(path.read_text(encoding="utf-8")), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def _mentioned(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def _commands(parser: argparse.ArgumentParser, prefix: str = "cpplan"):
    """(command line, its parser) for every subcommand, nested ones included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _commands(sub, f"{prefix} {name}")


def test_docs_exist():
    assert FORMAT.is_file()
    assert len(DOCS) >= 2


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve_inside_the_repository(doc):
    broken = []
    for target in _links(doc):
        if SCHEME.match(target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        resolved = (doc.parent / path).resolve()
        if Path(path).is_absolute() or not resolved.is_relative_to(ROOT):
            broken.append(f"{target} leaves the repository")
        elif not resolved.exists():
            broken.append(f"{target} names no file")
    assert not broken, f"{doc.name}: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_anchors_name_headings(doc):
    broken = []
    for target in _links(doc):
        if SCHEME.match(target) or "#" not in target:
            continue
        path, anchor = target.split("#", 1)
        page = (doc.parent / path).resolve() if path else doc
        if page.suffix == ".md" and page.is_file() and anchor not in _anchors(page):
            broken.append(target)
    assert not broken, f"{doc.name}: links to missing headings {broken}"


def test_link_checker_sees_links_and_skips_code():
    assert _links(FORMAT)  # the format page links its own sections
    assert _prose("a [x](y.md)\n```\n[z](w.md)\n```\n`[u](v.md)`\n").strip() == "a [x](y.md)"
    assert _anchors(FORMAT) >= {"1-the-instance-file", "16-limits-and-allocation_ratio"}


def test_every_top_level_instance_key_is_documented():
    accepted = [name for name, p in inspect.signature(model.Instance.__init__).parameters.items()
                if name != "self" and p.kind is not inspect.Parameter.KEYWORD_ONLY]
    assert set(accepted) == set(io.TOP_LEVEL_KEYS)  # the file reader and the model agree
    text = FORMAT.read_text(encoding="utf-8")
    missing = [key for key in accepted if f"`{key}`" not in text]
    assert not missing


def test_every_reserved_host_and_vm_key_is_documented():
    text = FORMAT.read_text(encoding="utf-8")
    missing = [key for key in (*model.HOST_RESERVED, *model.VM_RESERVED) if f"`{key}`" not in text]
    assert not missing


def test_every_migration_key_is_documented():
    text = FORMAT.read_text(encoding="utf-8")
    assert not [key for key in durations.MIGRATION_KEYS if f"`migration.{key}`" not in text]


def test_every_experiment_key_is_documented():
    text = FORMAT.read_text(encoding="utf-8")
    missing = [key for key in (*experiments.EXPERIMENT_KEYS, *experiments.GENERATE_KEYS)
               if f"`{key}`" not in text]
    assert not missing


def test_every_command_and_option_is_documented():
    text = FORMAT.read_text(encoding="utf-8")
    commands = list(_commands(build_parser()))
    assert {"cpplan plan", "cpplan validate", "cpplan openstack execute"} <= {line for line, _ in commands}
    missing = [line for line, _ in commands if line not in text]
    options = {opt for _, sub in commands for action in sub._actions for opt in action.option_strings
               if opt.startswith("--") and opt != "--help"}
    missing += sorted(opt for opt in options if not _mentioned(opt, text))
    assert not missing
