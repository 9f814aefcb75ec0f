"""Convert a BtrPlace benchmark instance (gzipped JSON, e.g. the TDSC workloads) into a cpplan instance.

The TDSC files (github.com/btrplace/scheduler, ``bench/src/test/resources/wkld-tdsc/``: ``li``
load increase and ``nr`` node reconfiguration, 5 000 nodes, 15 000 VMs) hold a ``model``
(``mapping.onlineNodes``: per node its running VMs; ``views``: a ``shareableResource`` per resource
with node capacities and VM consumptions) and ``constraints``:

- ``preserve`` (VM, resource, amount): the VM needs at least that much: its demand is raised to it
  (the load increase; A may then overload hosts, for ``cpplan target --goal repair`` to fix);
- ``spread`` (VMs): an anti-affinity group ``spread<k>``;
- ``among`` (VMs, parts): a group ``among<k>`` with the host rule ``among`` (members end within one
  part and only ever move to hosts of it), or with ``--among drop`` nothing;
- ``offline`` (node): the node is drained (its VMs must leave, it ends empty);
- ``online`` (node) and ``running`` (VM): kept as they are (every node is a host; a VM still to be
  booted is not a migration and is dropped, with the count in the header, as are the members
  of ``spread`` and ``among`` that are not running).

Nodes become hosts ``n<id>``, VMs ``vm<id>``, resources ``memory`` -> ``ram`` (MiB) and ``uCpu`` ->
``cpu``. The objective (``minimizeMTTR``) is dropped: cpplan minimises the RAM moved, then time.
There is no new placement in the files: the instance has no ``target``, for ``cpplan target`` to
choose (``--goal repair`` on the load increase, ``--goal evacuate`` for the drained nodes).

    python benchmarks/public/btrplace.py li-r3-p5000-c33-1.gz -o li-r3-c33.yaml

>>> doc = {"model": {"mapping": {"onlineNodes": {"0": {"runningVMs": [0, 1]}, "1": {"runningVMs": []}},
...                              "offlineNodes": [], "readyVMs": []},
...                  "views": [{"id": "shareableResource", "rcId": "memory", "nodes": {"0": 8, "1": 8},
...                             "vms": {"0": 2, "1": 3}, "defCapacity": 0, "defConsumption": 0}]},
...        "constraints": [{"id": "preserve", "rc": "memory", "amount": 4, "vm": 0},
...                        {"id": "spread", "vms": [0, 1]}]}
>>> inst, notes = convert(doc, "x.gz")
>>> inst["vms"], inst["initial"]
({'vm0': {'ram': 4}, 'vm1': {'ram': 3}}, {'vm0': 'n0', 'vm1': 'n0'})
>>> inst["groups"]
{'spread0': {'vms': ['vm0', 'vm1'], 'anti_affinity': True}}
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from writer import ConversionError, write_instance  # noqa: E402

RESOURCES = {"memory": "ram", "uCpu": "cpu"}


def _resource(name: str) -> str:
    return RESOURCES.get(name, name)


def _capacities(doc: dict) -> tuple[dict, dict]:
    """Per host and per VM, its capacity / consumption of each resource view."""
    hosts: dict[str, dict] = {}
    vms: dict[str, dict] = {}
    mapping = doc["model"]["mapping"]
    for node, content in mapping["onlineNodes"].items():
        hosts[f"n{node}"] = {}
        for vm in content.get("runningVMs", []) + content.get("sleepingVMs", []):
            vms[f"vm{vm}"] = {}
    for node in mapping.get("offlineNodes", []):
        hosts[f"n{node}"] = {}
    for view in doc["model"].get("views", []):
        if view.get("id") != "shareableResource":
            continue
        r = _resource(view["rcId"])
        for h in hosts:
            hosts[h][r] = view["nodes"].get(h[1:], view.get("defCapacity", 0))
        for v in vms:
            vms[v][r] = view["vms"].get(v[2:], view.get("defConsumption", 0))
    return hosts, vms


def convert(doc: dict, name: str, *, among: str = "rule") -> tuple[dict, list[str]]:
    """The cpplan instance (a dict) of a BtrPlace instance and the header's notes."""
    try:
        hosts, vms = _capacities(doc)
        initial = {f"vm{vm}": f"n{node}" for node, content in doc["model"]["mapping"]["onlineNodes"].items()
                   for vm in content.get("runningVMs", []) + content.get("sleepingVMs", [])}
        constraints = doc.get("constraints", [])
    except (KeyError, TypeError, AttributeError) as e:
        raise ConversionError(f"{name}: not a BtrPlace instance (missing {e})") from None
    kinds = Counter(c.get("id") for c in constraints)
    groups, drain, raised, dropped = {}, [], 0, Counter()
    running = lambda members: [f"vm{v}" for v in members if f"vm{v}" in vms]  # noqa: E731
    for c in constraints:
        kind = c.get("id")
        if kind == "preserve" and f"vm{c['vm']}" in vms:
            demand = vms[f"vm{c['vm']}"]
            r = _resource(c["rc"])
            if c["amount"] > demand.get(r, 0):
                demand[r], raised = c["amount"], raised + 1
        elif kind == "spread" and len(placed := running(c["vms"])) > 1:
            groups[f"spread{len(groups)}"] = {"vms": placed, "anti_affinity": True}
        elif kind == "among" and among == "rule" and (placed := running(c["vms"])):
            groups[f"among{len(groups)}"] = {"vms": placed,
                                            "among": [[f"n{h}" for h in part] for part in c["parts"]]}
        elif kind == "offline" and f"n{c['node']}" in hosts:
            if f"n{c['node']}" not in drain:
                drain.append(f"n{c['node']}")
        elif kind not in ("online", "preserve", "spread", "among", "offline"):
            dropped[kind] += 1
    inst = {"hosts": hosts, "vms": vms, "initial": initial, "groups": groups}
    if drain:
        inst["drain"] = drain
    return inst, _notes(name, inst, kinds, raised, dropped, among)


def _notes(name, inst, kinds, raised, dropped, among) -> list[str]:
    counts = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    notes = [f"BtrPlace instance {name}: {len(inst['hosts'])} nodes, {len(inst['vms'])} VMs; "
             f"constraints: {counts}",
             f"kept: capacities, consumptions, placement A; {raised} preserve raised a demand; "
             f"spread as anti-affinity" + (", among as the among host rule" if among == "rule" else ""),
             f"kept: {len(inst.get('drain', []))} offline nodes as drained hosts",
             "no target in the file: choose one with cpplan target (--goal repair, evacuate...)",
             "dropped: the objective (minimizeMTTR)"
             + ("".join(f", {n} {k}" for k, n in sorted(dropped.items())) if dropped else "")]
    return notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("instance", type=Path, help="a BtrPlace instance (JSON, gzipped or not)")
    ap.add_argument("--among", choices=("rule", "drop"), default="rule",
                    help="keep among constraints as cpplan's among host rule (default) or drop them")
    ap.add_argument("-o", "--output", type=Path, required=True,
                    help="the cpplan instance to write (.yaml with a header of notes, or .json)")
    args = ap.parse_args(argv)
    try:
        doc = _read(args.instance)
        inst, notes = convert(doc, args.instance.name, among=args.among)
        write_instance(inst, notes, args.output)
    except (OSError, ConversionError) as e:
        print(f"btrplace: {e}", file=sys.stderr)
        return 2
    return 0


def _read(path: Path):
    raw = path.read_bytes()
    try:
        return json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    except (ValueError, EOFError, OSError) as e:
        raise ConversionError(f"{path.name}: not gzipped JSON ({e})") from None


if __name__ == "__main__":
    sys.exit(main())
