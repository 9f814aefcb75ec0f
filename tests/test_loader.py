"""The loader: every bad input of SPEC section 2 is one InputError naming the file, the key and
the problem; good files (YAML and JSON) load to the same instance."""

from __future__ import annotations

import json

import pytest

import cpplan
from cpplan import InputError

SMALL = "hosts: {h1: {ram: 8}}\nvms: {a: {ram: 2}}\ninitial: {a: h1}\n"
GOOD = """\
hosts:
  h1: {ram: 16, cpu: 4}
  h2: {ram: 16, cpu: 4, max_migrations: 2}
  h3: {ram: 16}
vms:
  a: {ram: 4, cpu: 1}
  b: {ram: 8, cpu: 2, cost: 3}
  c: {ram: 4}
initial: {a: h1, b: h1, c: h2}
target: {a: h2}
limits: {host: 1, total: 4}
allocation_ratio: {cpu: 2.0}
links:
  up: {hosts: [h3], max_migrations: 1}
groups:
  svc: {vms: [a, c], max_migrating: 1}
pinned: [b]
"""


def good_with(old: str, new: str) -> str:
    """The good instance with one exact piece of text replaced."""
    assert GOOD.count(old) == 1, old
    return GOOD.replace(old, new)


# Everything moves to h2, whose 2 cpus hold the 3 cpus of a, b, c only with the ratio of 2.
CPU_TIGHT = (good_with("target: {a: h2}", "target: {a: h2, b: h2}").replace("pinned: [b]", "pinned: []")
             .replace("h2: {ram: 16, cpu: 4,", "h2: {ram: 16, cpu: 2,"))

# (case id, file text, key the message must name, words the problem must contain)
BAD_YAML = [
    ("syntax error", GOOD + "vms: {x: [\n", "line ", "invalid YAML"),
    ("syntax error line", "hosts:\n  h1: {ram: 8\nvms: {}\n", "line 3", "invalid YAML"),
    ("empty file", "", "", "empty"),
    ("blank file", "  \n\n", "", "empty"),
    ("only comments", "# nothing here\n", "", "empty"),
    ("list at top level", "- hosts\n- vms\n", "", "mapping"),
    ("scalar at top level", "hello\n", "", "mapping"),
    ("unknown top-level key", GOOD + "colour: blue\n", "colour", "unknown top-level key"),
    ("top-level key twice", GOOD + "pinned: [a]\n", "'pinned'", "given twice"),
    ("host key twice", good_with("  h3: {ram: 16}\n", "  h3: {ram: 16}\n  h1: {ram: 2}\n"),
     "'h1'", "given twice"),
    ("resource key twice", good_with("h3: {ram: 16}", "h3: {ram: 16, ram: 8}"), "'ram'", "given twice"),
    ("missing hosts", "vms: {}\ninitial: {}\n", "hosts", "missing"),
    ("missing initial", "hosts: {h1: {}}\nvms: {}\n", "initial", "missing"),
    ("no hosts", "hosts: {}\nvms: {}\ninitial: {}\n", "hosts", "at least one host"),
    ("hosts not a mapping", "hosts: [h1]\nvms: {}\ninitial: {}\n", "hosts", "mapping"),
    ("negative demand", good_with("a: {ram: 4, cpu: 1}", "a: {ram: -4, cpu: 1}"), "vms.a.ram",
     "non-negative number, got -4"),
    ("negative capacity", good_with("h3: {ram: 16}", "h3: {ram: -1}"), "hosts.h3.ram", "non-negative"),
    ("negative cost", good_with("cost: 3", "cost: -3"), "vms.b.cost", "non-negative"),
    ("non-numeric capacity", good_with("h3: {ram: 16}", "h3: {ram: lots}"), "hosts.h3.ram",
     "got 'lots'"),
    ("numeric string capacity", good_with("h3: {ram: 16}", "h3: {ram: '16'}"), "hosts.h3.ram",
     "non-negative number"),
    ("boolean as number", good_with("h3: {ram: 16}", "h3: {ram: true}"), "hosts.h3.ram", "got True"),
    ("boolean as demand", good_with("c: {ram: 4}", "c: {ram: yes}"), "vms.c.ram", "got True"),
    ("infinite capacity", good_with("h3: {ram: 16}", "h3: {ram: .inf}"), "hosts.h3.ram", "non-negative"),
    ("not-a-number demand", good_with("c: {ram: 4}", "c: {ram: .nan}"), "vms.c.ram", "non-negative"),
    ("huge integer", good_with("h3: {ram: 16}", "h3: {ram: 1" + "0" * 400 + "}"), "hosts.h3.ram",
     "non-negative"),
    ("fractional max_migrations", good_with("max_migrations: 2", "max_migrations: 1.5"),
     "hosts.h2.max_migrations", "integer"),
    ("negative limits.host", good_with("host: 1,", "host: -1,"), "limits.host", "non-negative integer"),
    ("boolean limits.total", good_with("total: 4", "total: true"), "limits.total", "integer"),
    ("unknown limits key", good_with("total: 4", "total: 4, link: 2"), "limits.link", "unknown key"),
    ("zero allocation ratio", good_with("{cpu: 2.0}", "{cpu: 0}"), "allocation_ratio.cpu", "positive"),
    ("negative ratio of unlisted resource", good_with("{cpu: 2.0}", "{gpu: -1}"), "allocation_ratio.gpu",
     "non-negative"),
    ("host ratio not a mapping", good_with("h3: {ram: 16}", "h3: {ram: 16, allocation_ratio: 2}"),
     "hosts.h3.allocation_ratio", "mapping"),
    ("VM missing from initial", good_with("initial: {a: h1, b: h1, c: h2}", "initial: {a: h1, b: h1}"),
     "initial", "'c' has no initial host"),
    ("unknown VM in initial", good_with("c: h2}", "c: h2, d: h1}"), "initial.d", "unknown VM"),
    ("VM placed on unknown host", good_with("c: h2}", "c: h9}"), "initial.c", "unknown host 'h9'"),
    ("VM placed on a list", good_with("c: h2}", "c: [h2]}"), "initial.c", "unknown host"),
    ("target names unknown VM", good_with("target: {a: h2}", "target: {a: h2, zz: h1}"), "target.zz",
     "unknown VM"),
    ("target names unknown host", good_with("target: {a: h2}", "target: {a: h7}"), "target.a",
     "unknown host 'h7'"),
    ("unknown VM in pinned", good_with("pinned: [b]", "pinned: [b, q]"), "pinned[1]", "unknown VM 'q'"),
    ("pinned not a list", good_with("pinned: [b]", "pinned: b"), "pinned", "list"),
    ("unknown VM in group", good_with("vms: [a, c]", "vms: [a, x]"), "groups.svc.vms[1]", "unknown VM 'x'"),
    ("VM twice in group", good_with("vms: [a, c]", "vms: [a, a]"), "groups.svc.vms[1]", "listed twice"),
    ("unknown group key", good_with("max_migrating: 1}", "max_migrating: 1, size: 2}"), "groups.svc.size",
     "unknown key"),
    ("anti_affinity not boolean", good_with("max_migrating: 1}", "anti_affinity: 1}"),
     "groups.svc.anti_affinity", "true or false"),
    ("unknown host in link", good_with("hosts: [h3]", "hosts: [h3, h8]"), "links.up.hosts[1]",
     "unknown host 'h8'"),
    ("negative link limit", good_with("max_migrations: 1}", "max_migrations: -1}"),
     "links.up.max_migrations", "non-negative integer"),
    ("integer host name", good_with("  h3: {ram: 16}\n", "  3: {ram: 16}\n"), "hosts.3", "strings"),
    ("integer resource name", good_with("h3: {ram: 16}", "h3: {1: 16}"), "hosts.h3.1", "strings"),
    ("boolean host name", good_with("  h3: {ram: 16}\n", "  on: {ram: 16}\n"), "hosts.True", "strings"),
    ("unhashable key", "hosts:\n  ? [h1]\n  : {ram: 1}\n", "line 2", "invalid YAML"),
    ("target breaks anti-affinity", good_with("max_migrating: 1}", "anti_affinity: true}"),
     "groups.svc", "target placement: a and c both on h2"),
    ("pinned VM with another target", good_with("target: {a: h2}", "target: {a: h2, b: h3}"),
     "target.b", "pinned"),
    ("target overloads host", good_with("target: {a: h2}", "target: {a: h2, b: h2}").replace(
        "pinned: [b]", "pinned: []").replace("h2: {ram: 16,", "h2: {ram: 12,"), "target",
     "overloads host h2"),
    ("target overloads cpu without ratio", CPU_TIGHT.replace("{cpu: 2.0}", "{cpu: 1.0}"), "target",
     "hold 3 cpu, capacity 2"),
    ("page sharing resource not a name", GOOD + "page_sharing: {resource: [1]}\n",
     "page_sharing.resource", "unknown resource"),
    ("nested too deeply", "hosts: " + "[" * 3000 + "]" * 3000 + "\n", "", "nested too deeply"),
    ("nested past the C stack", "hosts: " + "[" * 200_000 + "]" * 200_000 + "\n", "", "nested too deeply"),
    ("a name with a newline", 'hosts: {h1: {ram: 8}}\nvms: {"a\\nb": {ram: 2}}\ninitial: {"a\\nb": h1}\n',
     "vms", "name 'a\\nb' has a control or invalid character"),
    ("an unknown key with a newline", SMALL + 'limits: {"x\\ny": 1}\n', "limits.x\\ny", "unknown key"),
    ("limits zero, not absent", SMALL + "limits: 0\n", "limits", "must be a mapping"),
    ("groups false, not absent", SMALL + "groups: false\n", "groups", "must be a mapping"),
    ("pinned an empty string, not absent", SMALL + 'pinned: ""\n', "pinned", "must be a list"),
    ("explicit keys nested past the C stack", "? " * 50_000 + "x\n", "", "nested too deeply"),
    ("nesting after closing brackets in a comment", "# " + "]" * 100_000 + "\nhosts: " + "[" * 100_000
     + "]" * 100_000 + "\n", "", "nested too deeply"),
    ("nesting after a Unicode line break", "hosts:\u2028  " + "- " * 100_000 + "x\n", "",
     "nested too deeply"),
    ("block sequences nested past the C stack", "- " * 50_000 + "x\n", "", "nested too deeply"),
]


@pytest.mark.parametrize("text, key, problem", [c[1:] for c in BAD_YAML], ids=[c[0] for c in BAD_YAML])
def test_bad_yaml_is_one_input_error_naming_file_key_and_problem(write_instance, text, key, problem):
    path = write_instance(text, "cloud.yaml")
    with pytest.raises(InputError) as info:
        cpplan.load_instance(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("cloud.yaml: ")
    assert key in message
    assert problem in message


def test_good_yaml_loads(write_instance):
    inst = cpplan.load_instance(write_instance(GOOD))
    assert inst.source == "cloud.yaml"
    assert inst.host_names == ("h1", "h2", "h3")
    assert inst.resources == ("ram", "cpu")
    assert inst.moving.tolist() == [True, False, False]
    assert inst.host_limit.tolist() == [1, 2, 1]
    assert inst.total_limit == 4
    assert inst.pinned.tolist() == [False, True, False]


def test_allocation_ratio_scales_capacity(write_instance):
    inst = cpplan.load_instance(write_instance(CPU_TIGHT))
    assert inst.effective[1].tolist() == [16, 4]
    assert inst.capacity[1].tolist() == [16, 2]


def test_target_may_leave_a_host_overloaded_when_nothing_arrives(write_instance):
    """A failing host overloaded from the start is legal as long as nothing moves onto it."""
    text = good_with("h1: {ram: 16, cpu: 4}", "h1: {ram: 4, cpu: 4}")
    inst = cpplan.load_instance(write_instance(text))
    assert inst.moving.sum() == 1


JSON_GOOD = {"hosts": {"h1": {"ram": 8}, "h2": {"ram": 8}}, "vms": {"a": {"ram": 4}},
             "initial": {"a": "h1"}, "target": {"a": "h2"}}


def test_json_loads_like_yaml(write_instance):
    from_json = cpplan.load_instance(write_instance(JSON_GOOD, "cloud.json"))
    from_yaml = cpplan.load_instance(write_instance(JSON_GOOD, "cloud.yaml"))
    assert from_json.to_dict() == from_yaml.to_dict()
    assert from_json.target.tolist() == [1]


BAD_JSON = [
    ("syntax error", '{"hosts": {"h1": {"ram": 8}},\n "vms": }', "line 2", "invalid JSON"),
    ("key twice", '{"hosts": {"h1": {"ram": 8}, "h1": {"ram": 4}}, "vms": {}, "initial": {}}', "'h1'",
     "given twice"),
    ("array at top level", "[1, 2]", "", "mapping"),
    ("negative number", json.dumps({**JSON_GOOD, "vms": {"a": {"ram": -2}}}), "vms.a.ram", "non-negative"),
    ("NaN", json.dumps({**JSON_GOOD, "vms": {"a": {"ram": float("nan")}}}), "vms.a.ram", "non-negative"),
    ("string capacity", json.dumps({**JSON_GOOD, "hosts": {"h1": {"ram": "8"}, "h2": {}}}), "hosts.h1.ram",
     "non-negative number"),
    ("unknown top-level key", json.dumps({**JSON_GOOD, "extra": 1}), "extra", "unknown top-level key"),
    ("VM on unknown host", json.dumps({**JSON_GOOD, "initial": {"a": "h5"}}), "initial.a", "unknown host"),
]


@pytest.mark.parametrize("text, key, problem", [c[1:] for c in BAD_JSON], ids=[c[0] for c in BAD_JSON])
def test_bad_json_is_one_input_error(write_instance, text, key, problem):
    with pytest.raises(InputError) as info:
        cpplan.load_instance(write_instance(text, "cloud.json"))
    message = str(info.value)
    assert "\n" not in message and message.startswith("cloud.json: ")
    assert key in message and problem in message


def test_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="nope.yaml: no such instance file"):
        cpplan.load_instance(tmp_path / "nope.yaml")


def test_undecodable_file_is_input_error(tmp_path):
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00hosts")
    with pytest.raises(InputError, match="bin.yaml: cannot read instance file"):
        cpplan.load_instance(path)


def test_plan_file_errors(tmp_path):
    bad_status = tmp_path / "p.json"
    bad_status.write_text('{"status": "great", "cost": 0, "rounds": []}')
    with pytest.raises(InputError, match="p.json: status: must be one of"):
        cpplan.load_plan(bad_status)
    bad_rounds = tmp_path / "q.json"
    bad_rounds.write_text('{"status": "feasible", "cost": 0, "rounds": {}}')
    with pytest.raises(InputError, match="q.json: rounds: must be a list"):
        cpplan.load_plan(bad_rounds)


def test_save_and_load_instance_round_trip(write_instance, tmp_path):
    inst = cpplan.load_instance(write_instance(GOOD))
    for name in ("again.yaml", "again.json"):
        cpplan.save_instance(inst, tmp_path / name)
        again = cpplan.load_instance(tmp_path / name)
        assert again.to_dict() == inst.to_dict()
        assert (again.effective == inst.effective).all()


def test_yaml_merge_keys_share_specs(write_instance):
    text = GOOD.replace("  h3: {ram: 16}\n", "  h3: {<<: *spec, disk: 9}\n").replace(
        "  h1: {ram: 16, cpu: 4}\n", "  h1: &spec {ram: 16, cpu: 4}\n")
    inst = cpplan.load_instance(write_instance(text))
    assert inst.capacity[2].tolist() == [16, 4, 9]


def test_yaml_merge_keys_do_not_hide_a_key_given_twice(write_instance):
    text = GOOD.replace("  h3: {ram: 16}\n", "  h3: {<<: *spec, disk: 9, disk: 8}\n").replace(
        "  h1: {ram: 16, cpu: 4}\n", "  h1: &spec {ram: 16, cpu: 4}\n")
    with pytest.raises(InputError, match="cloud.yaml: line 4: invalid YAML: key 'disk' given twice"):
        cpplan.load_instance(write_instance(text))


def test_huge_limits_mean_unlimited(write_instance):
    text = good_with("limits: {host: 1, total: 4}", "limits: {host: 1" + "0" * 25 + ", total: 1.0e+300}")
    inst = cpplan.load_instance(write_instance(text))
    assert inst.host_limit.min() >= 2 and inst.total_limit >= 2**62
