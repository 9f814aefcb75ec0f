"""Stepping VMs of the critical chain aside: shorter schedules for a little more cost, never invalid."""

from __future__ import annotations

import json

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from strategies import moving_clouds

import cpplan
from cpplan import Instance
from cpplan.cli import main
from cpplan.staging import staged


def ring(n: int, staging_room: int, small_every: int = 0) -> Instance:
    """``n`` full hosts in a ring, each VM to the next host, and a staging host ``s``."""
    hosts = [f"h{i}" for i in range(n)]
    size = [4 if small_every and i % small_every == 0 else 8 for i in range(n)]
    return Instance(hosts={**{h: {"ram": 8} for h in hosts}, "s": {"ram": staging_room}},
                    vms={f"x{i}": {"ram": size[i]} for i in range(n)},
                    initial={f"x{i}": hosts[i] for i in range(n)},
                    target={f"x{i}": hosts[(i + 1) % n] for i in range(n)},
                    migration={"ram_unit": "GiB", "bandwidth": 1000, "setup": 2})


def test_a_second_vm_aside_splits_the_walk_around_the_ring():
    inst = ring(8, staging_room=16)
    least = cpplan.plan(inst, "greedy")
    faster = staged(inst, least, budget=1.15 * least.cost, seconds=10)
    assert cpplan.validate(inst, faster) == []
    assert faster.cost == least.cost + 8 and faster.n_migrations == least.n_migrations + 1
    assert faster.makespan < 0.7 * least.makespan
    aside = [m for r in faster.rounds for m in r if m["to"] == "s"]
    assert len(aside) == 2


def test_no_step_fits_the_budget_keeps_the_plan():
    inst = ring(8, staging_room=16)
    least = cpplan.plan(inst, "greedy")
    assert staged(inst, least, budget=least.cost + 7, seconds=10) is least


def test_the_cost_slack_lets_the_planner_step_vms_aside():
    inst = ring(16, staging_room=24, small_every=3)
    least = cpplan.plan(inst, "cp", time_limit=10)
    traded = cpplan.plan(inst, "cp", time_limit=10, cost_slack=0.2)
    assert cpplan.validate(inst, traded) == []
    assert least.cost < traded.cost <= 1.2 * least.cost and traded.status == "feasible"
    assert traded.makespan < 0.5 * least.makespan
    staging = traded.stats["staging"]
    assert staging["cost"] == traded.cost and staging["makespan_before"] > staging["makespan"]
    assert traded.stats["makespan_gained"] == traded.stats["least_cost_makespan"] - traded.makespan > 0


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(moving_clouds(), st.sampled_from([0.1, 0.5, 1.0]))
def test_stepping_aside_keeps_plans_valid_within_the_budget(inst, slack):
    least = cpplan.plan(inst, "greedy", time_limit=5)
    if not least.found:
        return
    faster = staged(inst, least, budget=(1 + slack) * least.cost, seconds=2)
    event(f"stepped aside: {faster is not least}")
    assert cpplan.validate(inst, faster) == []
    assert faster.cost <= (1 + slack) * least.cost + 1e-9
    assert faster.makespan <= least.makespan


@st.composite
def rings(draw) -> Instance:
    """Rings of full hosts (each VM to the next host) of random sizes, with a staging host."""
    n = draw(st.integers(3, 9))
    size = draw(st.lists(st.sampled_from([2, 4, 8]), min_size=n, max_size=n))
    hosts = [f"h{i}" for i in range(n)]
    return Instance(hosts={**{h: {"ram": max(size[i], size[i - 1])} for i, h in enumerate(hosts)},
                           "s": {"ram": draw(st.sampled_from([8, 12, 16, 32]))}},
                    vms={f"x{i}": {"ram": size[i]} for i in range(n)},
                    initial={f"x{i}": hosts[i] for i in range(n)},
                    target={f"x{i}": hosts[(i + 1) % n] for i in range(n)},
                    limits={"host": draw(st.integers(1, 2))},
                    migration={"ram_unit": "GiB", "bandwidth": 1000, "setup": 2})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rings(), st.sampled_from([0.1, 0.3, 1.0]))
def test_stepping_aside_around_random_rings_stays_valid_within_the_budget(inst, slack):
    least = cpplan.plan(inst, "greedy", time_limit=5)
    faster = staged(inst, least, budget=(1 + slack) * least.cost, seconds=2)
    event(f"stepped aside: {faster is not least}")
    assert cpplan.validate(inst, faster) == []
    assert faster.cost <= (1 + slack) * least.cost + 1e-9
    assert faster.makespan <= least.makespan


def test_cli_says_how_many_vms_stepped_aside(tmp_path, capsys):
    instance, output = tmp_path / "ring.yaml", tmp_path / "plan.json"
    instance.write_text(yaml.safe_dump(ring(16, staging_room=24, small_every=3).to_dict()))
    assert main(["plan", str(instance), "--planner", "cp", "--cost-slack", "0.2", "-o", str(output)]) == 0
    written = json.loads(output.read_text())
    added = written["stats"]["staging"]["migrations_added"]
    assert added > 0 and f"{added} VMs stepped aside for it" in capsys.readouterr().err
