"""Names are read in Unicode NFC: "café" typed precomposed (NFC) or as "e" plus a combining accent
(NFD) is one name. Two names of one kind that are equal in NFC are refused with both spellings;
a reference in the other normal form finds its name."""

from __future__ import annotations

import json

import pytest

import cpplan
from cpplan import InputError, Instance
from cpplan.cli import main

NFC, NFD = "caf\u00e9", "cafe\u0301"
assert NFC != NFD


def cloud(**changes) -> dict:
    spec = {"hosts": {NFC: {"ram": 8}, "h2": {"ram": 8}}, "vms": {"a": {"ram": 4}, "b": {"ram": 4}},
            "initial": {"a": NFC, "b": "h2"}, "target": {"a": "h2"}}
    spec.update(changes)
    return spec


TWINS = {  # the key named in the error, and the instance
    "hosts": ("hosts", cloud(hosts={NFC: {}, NFD: {}})),
    "VMs": ("vms", cloud(vms={"a": {}, "b": {}, NFC: {}, NFD: {}})),
    "resources of one host": (f"hosts.{NFC}", cloud(hosts={NFC: {NFC: 1, NFD: 2}, "h2": {}})),
    "resources of a host and a VM": ("vms.b", cloud(vms={"a": {NFC: 1}, "b": {NFD: 1}})),
    "links": ("links", cloud(links={NFC: {"hosts": ["h2"]}, NFD: {"hosts": ["h2"]}})),
    "groups": ("groups", cloud(groups={NFC: {"vms": ["a"]}, NFD: {"vms": ["b"]}})),
    "a VM placed twice": ("initial", cloud(vms={NFC: {}}, initial={NFC: "h2", NFD: "h2"}, target={})),
}


@pytest.mark.parametrize("case", TWINS)
def test_two_names_equal_in_nfc_are_refused_with_both_spellings(case):
    key, spec = TWINS[case]
    with pytest.raises(InputError) as info:
        Instance(**spec, source="cloud.yaml")
    message = str(info.value)
    assert message.startswith(f"cloud.yaml: {key}: ") and "one name in Unicode (NFC)" in message
    assert ascii(NFC) in message and ascii(NFD) in message


def test_the_command_line_refuses_twin_hosts_in_one_line(tmp_path, capsys):
    path = tmp_path / "cloud.json"
    path.write_text(json.dumps(cloud(hosts={NFC: {"ram": 8}, NFD: {"ram": 8}, "h2": {"ram": 8}})))
    assert main(["plan", str(path), "-o", str(tmp_path / "plan.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cloud.json: hosts: host names" in err and "cafe\\u0301" in err
    assert not (tmp_path / "plan.json").exists()


def test_names_are_read_in_nfc():
    inst = Instance(**cloud(hosts={NFD: {NFD: 8}, "h2": {NFD: 8}}, vms={NFD: {NFD: 4}, "b": {}},
                            initial={NFD: NFD, "b": "h2"}, target={NFD: "h2"}))
    assert inst.host_names == (NFC, "h2") and inst.vm_names == (NFC, "b") and inst.resources == (NFC,)
    assert inst.capacity.tolist() == [[8], [8]] and inst.demand.tolist() == [[4], [0]]
    assert list(inst.to_dict()["hosts"]) == [NFC, "h2"]  # what a saved instance writes
    assert Instance(**inst.to_dict()).host_names == inst.host_names


@pytest.mark.parametrize("other", [NFD, NFC])
def test_every_reference_matches_in_the_other_normal_form(other):
    """Names in one normal form, every reference to them in ``other``."""
    name = NFD if other == NFC else NFC
    spec = {"hosts": {name: {name: 8}, "h2": {name: 8}, "h3": {name: 8, "allocation_ratio": {other: 2.0}}},
            "vms": {name: {name: 4, "image": other}, "b": {name: 4, "image": name}},
            "initial": {other: other, "b": "h2"}, "target": {other: ["h2", "h3"]},
            "drain": [other], "pinned": ["b"], "allocation_ratio": {other: 1.0},
            "links": {name: {"hosts": [other, "h2"]}},
            "groups": {name: {"vms": [other, "b"], "max_migrating": 1}},
            "page_sharing": {"resource": other, "images": {other: 0.5}}}
    inst = Instance(**spec)
    assert inst.initial.tolist() == [0, 1] and inst.links[0].hosts.tolist() == [0, 1]
    assert inst.groups[0].vms.tolist() == [0, 1] and inst.pinned.tolist() == [False, True]
    assert inst.effective[2].tolist() == [16] and inst.image.tolist() == [0, 0]
    assert inst.share_resource == 0 and inst.share_ratio.tolist() == [0.5]
    result = cpplan.plan(inst, planner="exact")
    assert result.status == "optimal" and result.routes()[0][0] == {"vm": NFC, "from": NFC, "to": "h2"}


def test_a_plan_file_and_drain_names_in_the_other_normal_form_match(tmp_path, capsys):
    """A plan written by another tool in NFD, and ``--drain`` typed in NFD, name the NFC host."""
    instance = tmp_path / "cloud.json"
    instance.write_text(json.dumps(cloud()))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"status": "feasible", "cost": 4,
                                "rounds": [[{"vm": "a", "from": NFD, "to": "h2"}]]}))
    assert main(["validate", str(instance), str(plan)]) == 0
    both = tmp_path / "both.json"
    both.write_text(json.dumps(cloud(target={})))
    assert main(["target", str(both), "--goal", "evacuate", "--drain", NFD, "--time-limit", "5",
                 "-o", str(tmp_path / "b.json"), "--quiet"]) == 0
    assert json.loads((tmp_path / "b.json").read_text())["target"] == {"a": "h2"}  # the instance with B
