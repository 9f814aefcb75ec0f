"""The YAML reader: alias bombs refused in bounded time and memory, and one verdict per document.

With libyaml, a document is read by libyaml's own loader when it nests little and by libyaml's
parser under PyYAML's Python composer when it may nest deeply (``_FastUniqueKeyLoader``,
``_DeepUniqueKeyLoader``); without libyaml, by PyYAML's Python reader (``_UniqueKeyLoader``).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
import yaml

import cpplan
from cpplan import io
from cpplan.errors import InputError

READERS = ["_FastUniqueKeyLoader", "_DeepUniqueKeyLoader", "_UniqueKeyLoader"]
LIBYAML_READERS = ["_FastUniqueKeyLoader", "_DeepUniqueKeyLoader"]
MEMORY_LIMIT = 1_500_000_000  # bytes of address space for the reading process


def bomb(levels: int = 9, width: int = 10) -> str:
    """Anchors ``l0``..``l{levels}``, each a list of ``width`` aliases of the one before: width**levels."""
    lines = [f"  l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"  l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * width)}]" for k in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


CLOUD = "hosts: {{h1: {{ram: {ram}}}, h2: {{ram: 8}}}}\nvms: {{a: {{ram: 1}}}}\ninitial: {{a: {initial}}}\n"
POSITIONS = {  # every place a value may sit: (file, its text after the anchors, the command that reads it)
    "resource value": ("cloud.yaml", CLOUD.format(ram="*l9", initial="h1"), "instance"),
    "group members": ("cloud.yaml", CLOUD.format(ram=8, initial="h1") + "groups: {g: {vms: *l9}}\n",
                      "instance"),
    "initial host": ("cloud.yaml", CLOUD.format(ram=8, initial="*l9"), "instance"),
    "plan rounds": ("plan.yaml", "status: feasible\ncost: 0\nrounds: *l9\n", "plan"),
    "experiment name": ("exp.yaml", "name: *l9\ninstances: [{file: cloud.yaml}]\nplanners: [greedy]\n",
                        "experiment"),
}

SCRIPT = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from cpplan import io
from cpplan.cli import main
reader = getattr(io, sys.argv[1])
io._FastUniqueKeyLoader = io._DeepUniqueKeyLoader = reader
print(json.dumps([main(argv) for argv in json.loads(sys.argv[2])]))
"""


@pytest.mark.parametrize("reader", READERS)
def test_alias_bombs_are_refused_in_every_position_in_bounded_time_and_memory(tmp_path, reader):
    good = tmp_path / "cloud.yaml"
    good.write_text(CLOUD.format(ram=8, initial="h1"))
    plan = tmp_path / "plan.json"
    cpplan.save_plan(cpplan.plan(cpplan.load_instance(good), "exact"), plan)
    commands = []
    for label, (name, text, reads) in POSITIONS.items():
        path = tmp_path / label.replace(" ", "-") / name
        path.parent.mkdir()
        (path.parent / "cloud.yaml").write_text(good.read_text())
        path.write_text("x-anchors:\n" + bomb() + text)  # the alias check comes before any key check
        commands.append({"instance": ["validate", str(path), str(plan)],
                         "plan": ["validate", str(good), str(path)],
                         "experiment": ["experiment", str(path), "-o", str(path.parent / "o"), "-q"]}[reads])
    script = SCRIPT.format(limit=MEMORY_LIMIT)
    run = subprocess.run([sys.executable, "-c", script, reader, json.dumps(commands)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout) == [2] * len(POSITIONS)
    lines = run.stderr.splitlines()
    assert len(lines) == len(POSITIONS) and "Traceback" not in run.stderr
    assert all("line 7: invalid YAML: aliases expand the document to " in line for line in lines), lines


def test_a_node_that_contains_itself_is_refused(tmp_path):
    path = tmp_path / "cloud.yaml"
    path.write_text("hosts: &h {h1: {ram: 8}, again: *h}\nvms: {}\ninitial: {}\n")
    with pytest.raises(InputError, match="line 1: invalid YAML: an alias refers to a node that contains it"):
        cpplan.load_instance(path)


@pytest.mark.parametrize("reader", READERS)
def test_ordinary_aliases_and_merge_keys_are_read_as_written(tmp_path, monkeypatch, reader):
    monkeypatch.setattr(io, "_FastUniqueKeyLoader", getattr(io, reader))
    monkeypatch.setattr(io, "_DeepUniqueKeyLoader", getattr(io, reader))
    hosts = "".join(f"  h{i}: {{<<: *big, cpu: {i}}}\n" for i in range(2000))
    path = tmp_path / "cloud.yaml"
    path.write_text("x: &big {ram: 64, disk: 100}\nhosts:\n" + hosts)
    data, _ = io.read_mapping(path)
    assert data["hosts"]["h1999"] == {"ram": 64, "disk": 100, "cpu": 1999}
    assert len(data["hosts"]) == 2000


def test_the_alias_bound_counts_expansion_not_document_size():
    # 100 001 nodes as written and no alias: fine; 1 001 000 added by aliases: refused; 999 998: fine.
    io._refuse_alias_bombs(yaml.compose("[" + ", ".join(["1"] * 100_000) + "]"))
    wide = "a: &a [" + ", ".join(["x"] * 1000) + "]\nb: [" + ", ".join(["*a"] * 1000) + "]\n"
    with pytest.raises(yaml.composer.ComposerError, match="it has 1005 as written"):
        io._refuse_alias_bombs(yaml.compose(wide))
    io._refuse_alias_bombs(yaml.compose(wide.replace(", ".join(["*a"] * 1000), ", ".join(["*a"] * 998))))


# ------------------------------------------------------------------ one document, one verdict

DIVERGENT = [  # documents on which libyaml and PyYAML's Python scanner disagree
    "a:\t1\n", "a: 1\t# comment\n", "{a: 1,\tb: 2}\n", "a: b\tc\n", "a:\t{b: 1}\n", "a: &x\t1\n",
    "a: !!str\t1\n", "---\t\na: 1\n", ">#\n", "|#\n", "a: 1\n\ufeffb: 2\n", "\n\ufeff:\n",
    "%FOO bar\n---\na: 1\n", 'a: "\\ud800"\n', "a:\t[1,\t2]\n",
]


def verdict(text: str, reader: str):
    loader = getattr(io, reader)
    try:
        return "accepted", repr(yaml.load(text, Loader=loader))  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return "refused", None


@pytest.mark.skipif(not io._LIBYAML, reason="PyYAML without libyaml has one reader only")
@pytest.mark.parametrize("text", DIVERGENT)
def test_both_libyaml_readers_give_one_verdict(text):
    assert verdict(text, "_FastUniqueKeyLoader") == verdict(text, "_DeepUniqueKeyLoader")


@pytest.mark.skipif(not io._LIBYAML, reason="PyYAML without libyaml has one reader only")
def test_random_small_documents_get_one_verdict_from_both_readers():
    alphabet = list("ab1: -[]{},?#&*!|>'\"\n\n  %@`\\\ufeff\x85\u2028.~\t\t") + ["\\u", "---", "...", "<<",
                                                                               "!!str", "&a", "*a"]
    rng = random.Random(18)
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14)))
        assert verdict(text, "_FastUniqueKeyLoader") == verdict(text, "_DeepUniqueKeyLoader"), repr(text)


@pytest.mark.parametrize("text", ["hosts:\t{h1: {ram: 8}}\nvms: {a: {ram: 1}}\ninitial: {a: h1}\n",
                                  "hosts: {h1: {ram: 8}}\nvms: {a: {ram: 1}}\ninitial:\t{a:\th1}\n",
                                  "hosts: {h1: {ram: 8}}\nvms: {a: {ram: 1}}\ninitial: {a: h1\ufeff}\n"])
def test_a_comment_that_looks_deep_does_not_change_the_verdict(tmp_path, text):
    def outcome(body):
        path = tmp_path / "cloud.yaml"
        path.write_text(body)
        try:
            return repr(cpplan.load_instance(path).to_dict())
        except InputError as e:
            return "refused: " + str(e).split("invalid YAML: ")[-1]
    plain = outcome(text)
    assert outcome(text + "# " + "[" * 101 + "\n") == plain
    assert outcome("# " + "{" * 500 + "\n" + text) == plain
