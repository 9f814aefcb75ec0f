"""The ``after`` order: hand-made unsafe orders are caught, and derived orders survive any replay."""

from __future__ import annotations

import random

import numpy as np
import pytest
from helpers import replay
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from strategies import moving_clouds

import cpplan
from cpplan import Instance, Plan
from cpplan.cli import main
from cpplan.order import HostOrders, Migrations, Room, derive_after, order_violations, pruned


def move(vm, src, dst, after=None, **extra):
    m = {"vm": vm, "from": src, "to": dst, **extra}
    if after is not None:
        m["after"] = after
    return m


def three_hosts(**extra) -> Instance:
    return Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
                    vms={"a": {"ram": 6}, "b": {"ram": 6}, "c": {"ram": 2}},
                    initial={"a": "h1", "b": "h2", "c": "h3"},
                    target={"a": "h2", "b": "h3"}, **extra)


def test_a_departure_not_waited_for_is_caught():
    inst = three_hosts()
    plan = Plan("feasible", 12, [[move("b", "h2", "h3", [])], [move("a", "h1", "h2", [])]])
    barriers = Plan("feasible", 12, [[move("b", "h2", "h3")], [move("a", "h1", "h2")]])
    assert cpplan.validate(inst, barriers) == []
    (violation,) = cpplan.validate(inst, plan)
    assert "migration 1 (a h1 -> h2)" in violation and "migration 0 (b h2 -> h3)" in violation
    assert "host h2" in violation
    plan.rounds[1][0]["after"] = [0]
    assert cpplan.validate(inst, plan) == []


def test_two_arrivals_not_ordered_on_a_full_host_are_caught():
    inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 4}},
                    vms={"a": {"ram": 4}, "b": {"ram": 4}}, initial={"a": "h1", "b": "h2"},
                    target={"a": "h2", "b": "h1"})
    # both bounce through h3, which holds one of them at a time
    rounds = [[move("a", "h1", "h3", [])], [move("a", "h3", "h2", [0])],
              [move("b", "h2", "h3", [])], [move("b", "h3", "h1", [2])]]
    violations = cpplan.validate(inst, Plan("feasible", 16, rounds))
    assert any("migration 0 (a h1 -> h3) may run alongside migration 2 (b h2 -> h3)" in v
               and "host h3 may hold 8 ram, capacity 4" in v for v in violations), violations
    rounds[2][0]["after"] = [1]
    assert cpplan.validate(inst, Plan("feasible", 16, rounds)) == []


def test_an_anti_affinity_pair_that_may_overlap_is_caught():
    inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
                    vms={"a": {"ram": 1}, "b": {"ram": 1}}, initial={"a": "h1", "b": "h2"},
                    target={"a": "h2", "b": "h3"}, groups={"g": {"vms": ["a", "b"], "anti_affinity": True}})
    rounds = [[move("b", "h2", "h3", [])], [move("a", "h1", "h2", [])]]
    violations = cpplan.validate(inst, Plan("feasible", 2, rounds))
    assert violations == ["order: anti-affinity group g: a and b may both be on host h2 (migration 0 "
                          "(b h2 -> h3) and migration 1 (a h1 -> h2) not ordered)"]
    rounds[1][0]["after"] = [0]
    assert cpplan.validate(inst, Plan("feasible", 2, rounds)) == []


def test_a_vms_hops_unordered_are_caught():
    inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}}, vms={"a": {"ram": 1}},
                    initial={"a": "h1"}, target={"a": "h3"})
    plan = Plan("feasible", 2, [[move("a", "h1", "h2", [])], [move("a", "h2", "h3", [])]])
    (violation,) = cpplan.validate(inst, plan)
    assert "migration 1 (a h2 -> h3) does not wait for its VM's previous hop, migration 0" in violation


def test_after_must_point_to_earlier_migrations():
    inst = three_hosts()
    plan = Plan("feasible", 12, [[move("b", "h2", "h3", [1])], [move("a", "h1", "h2", [0])]])
    assert any("has after [1]" in v for v in order_violations(inst, plan))


def test_derived_order_waits_only_for_the_room_it_needs():
    spec = dict(vms={"a": {"ram": 6}, "b": {"ram": 6}, "c": {"ram": 1}},
                initial={"a": "h0", "b": "h1", "c": "h2"}, target={"a": "h1", "b": "h3", "c": "h0"})
    rounds = [[move("b", "h1", "h3"), move("c", "h2", "h0")], [move("a", "h0", "h1")]]
    tight = Instance(hosts={f"h{i}": {"ram": 8} for i in range(4)}, **spec)
    roomy = tight.replace(hosts={f"h{i}": {"ram": 16} for i in range(4)})
    plan = Plan("feasible", 13, rounds)
    assert derive_after(tight, plan) == [[], [], [0]]   # a needs b gone from h1, not c's move
    assert derive_after(roomy, plan) == [[], [], []]


def test_the_unpruned_construction_is_safe_too():
    inst = three_hosts()
    plan = Plan("feasible", 12, [[move("b", "h2", "h3")], [move("a", "h1", "h2")]])
    assert order_violations(inst, _with_after(plan, [[], [0]])) == []



def test_pruning_keeps_a_vms_previous_hop_that_the_reduction_left_implied():
    # a steps aside to h2 and comes back after b arrived on its host h1. The reduction drops a's
    # own previous hop from its last migration (b's arrival, which waits for a's departure from h1,
    # implies it); pruning then finds b's wait not needed for room, and must keep it for a's hops.
    inst = Instance(hosts={"h1": {"ram": 16}, "h2": {"ram": 16}, "h3": {"ram": 16}},
                    vms={"a": {"ram": 4}, "b": {"ram": 2}}, initial={"a": "h1", "b": "h3"},
                    target={"a": "h1", "b": "h1"})
    plan = Plan("feasible", 10, [[move("a", "h1", "h2")], [move("b", "h3", "h1")], [move("a", "h2", "h1")]])
    after = derive_after(inst, plan)
    assert order_violations(inst, _with_after(plan, after)) == []
    assert after in ([[], [0], [1]], [[], [], [0]])   # a comes back after its step aside, either way


def test_offline_moves_trading_places_in_one_round_keep_barriers():
    inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}},
                    vms={"a": {"ram": 8, "live": False}, "b": {"ram": 8, "live": False}},
                    initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"}, limits={"host": 2})
    plan = cpplan.plan(inst, "exact")
    assert plan.n_rounds == 1 and derive_after(inst, plan) is None


def _with_after(plan: Plan, after: list[list[int]]) -> Plan:
    rounds, i = [], 0
    for r in plan.rounds:
        rounds.append([])
        for m in r:
            rounds[-1].append({**m, "after": after[i]})
            i += 1
    return Plan(plan.status, plan.cost, rounds)


def assert_each_kept_predecessor_is_needed(inst, plan, after):
    """Without any one of its predecessors but its VM's previous hop, a migration breaks its
    destination's own order (the edges between the migrations touching that host alone)."""
    moves = Migrations.of(inst, plan)
    hosts = HostOrders(inst, moves)
    for i, preds in enumerate(after):
        h = int(moves.dst[i])
        for p in preds:
            if p != hosts.previous[i]:
                fewer = [xs if j != i else [x for x in xs if x != p] for j, xs in enumerate(after)]
                assert not hosts.safe(h, hosts.own(h, fewer)), (i, p)


CLOUDS = moving_clouds()


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(CLOUDS, st.integers(0, 2**32), st.sampled_from(["exact", "greedy"]))
def test_derived_orders_survive_random_durations(inst, seed, planner):
    plan = cpplan.plan(inst, planner, time_limit=5)
    event(f"migrations: {min(plan.n_migrations, 4)}{'+' if plan.n_migrations >= 4 else ''}")
    if not plan.found:
        return
    after = derive_after(inst, plan)
    if after is None:   # same-round offline room: the plan keeps its barriers
        assert any(m.get("mode") == "offline" for r in plan.rounds for m in r)
        return
    assert order_violations(inst, _with_after(plan, after)) == []
    assert_each_kept_predecessor_is_needed(inst, plan, after)
    rng = random.Random(seed)
    for _ in range(5):
        assert replay(inst, plan, after, rng) == []


def test_cpplan_validate_reports_an_unsafe_order_with_the_two_migrations_and_the_host(tmp_path, capsys):
    instance = tmp_path / "c.yaml"
    instance.write_text("hosts: {h1: {ram: 8}, h2: {ram: 8}, h3: {ram: 8}}\n"
                        "vms: {a: {ram: 6}, b: {ram: 6}, c: {ram: 2}}\n"
                        "initial: {a: h1, b: h2, c: h3}\ntarget: {a: h2, b: h3}\n")
    plan = tmp_path / "p.json"
    plan.write_text('{"status": "feasible", "cost": 12, "rounds": [[{"vm": "b", "from": "h2", "to": "h3"}],'
                    ' [{"vm": "a", "from": "h1", "to": "h2", "after": []}]]}')
    assert main(["validate", str(instance), str(plan)]) == 1
    err = capsys.readouterr().err
    assert "migration 1 (a h1 -> h2) may run before migration 0 (b h2 -> h3) ends: host h2" in err


def test_pruning_tries_the_waits_in_a_known_order():
    inst = three_hosts()
    plan = Plan("feasible", 12, [[move("b", "h2", "h3")], [move("a", "h1", "h2")]])
    full = derive_after(inst, plan, prune=False)
    assert pruned(inst, plan, full, "largest") == pruned(inst, plan, full, "latest") == [[], [0]]
    with pytest.raises(ValueError, match="unknown wait order 'smallest'"):
        pruned(inst, plan, full, "smallest")


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(CLOUDS, st.integers(0, 2**32), st.floats(0, 1))
def test_room_sums_match_the_stays_possibly_on_each_host(inst, seed, keep):
    """The use each arrival sees by :class:`cpplan.order.Room`'s sums is that of the VMs possibly on its
    host, counted stay by stay, on orders with random edges dropped (safe or not)."""
    plan = cpplan.plan(inst, "greedy", time_limit=5)
    if not plan.found or inst.share_ratio.size:
        return
    full = derive_after(inst, plan, prune=False) or [[] for _ in range(plan.n_migrations)]
    rng = random.Random(seed)
    after = [[p for p in preds if rng.random() < keep] for preds in full]
    moves = Migrations.of(inst, plan)
    hosts = HostOrders(inst, moves)
    back = any(len(stays) > len({s.vm for s in stays}) for stays in hosts.stays_on)
    event(f"a VM back on a host it left: {back}")
    for h in range(inst.n_hosts):
        local = hosts.own(h, after)
        possible = [{s.vm for s in hosts.stays_on[h] if not (s.end is not None and local.precedes(s.end, m))
                     and not (s.begin is not None and local.precedes(m, s.begin))} for m in hosts.reaching[h]]
        if possible:
            by_stays = np.array([hosts.use(h, vms) for vms in possible])
            assert np.allclose(Room(hosts, h).during(local.ancestors), by_stays)
            by_stays_over = [m for m in hosts.reaching[h] if hosts.overload(h, m, local.precedes) is not None]
            assert hosts.overloading(h, local) == by_stays_over


def test_room_counts_a_vm_back_on_a_host_it_left_once():
    inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
                    vms={"a": {"ram": 4}, "b": {"ram": 4}, "c": {"ram": 2}},
                    initial={"a": "h1", "b": "h2", "c": "h1"}, target={"a": "h1", "b": "h1", "c": "h3"})
    plan = Plan("feasible", 14, [[move("a", "h1", "h3"), move("c", "h1", "h3")],
                                 [move("b", "h2", "h1")], [move("a", "h3", "h1")]])
    moves = Migrations.of(inst, plan)
    hosts = HostOrders(inst, moves)
    edges = [(0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]
    for chosen in range(2 ** len(edges)):
        after = [[], [], [], []]
        for bit, (p, m) in enumerate(edges):
            if chosen >> bit & 1:
                after[m].append(p)
        local = hosts.own(0, after)
        by_stays = [hosts.use(0, {s.vm for s in hosts.stays_on[0]
                                  if not (s.end is not None and local.precedes(s.end, m))
                                  and not (s.begin is not None and local.precedes(m, s.begin))})
                    for m in hosts.reaching[0]]
        assert np.allclose(Room(hosts, 0).during(local.ancestors), by_stays), chosen
    # with no order but a's own hops, a is counted once on h1 while b arrives: 4 + 4 + 2
    assert Room(hosts, 0).during(hosts.own(0, [[], [], [], [0]]).ancestors).tolist()[0] == [10.0]


def test_room_sums_hold_past_one_machine_word_of_migrations():
    n = 40  # 80 migrations touch each host: the bit sets span two 64-bit words
    inst = Instance(hosts={"h1": {"ram": 90}, "h2": {"ram": 90}},
                    vms={f"v{i}": {"ram": 1 + i % 3} for i in range(2 * n)},
                    initial={f"v{i}": "h1" if i < n else "h2" for i in range(2 * n)},
                    target={f"v{i}": "h2" if i < n else "h1" for i in range(2 * n)})
    plan = Plan("feasible", 0, [[move(f"v{i}", "h1", "h2"), move(f"v{i + n}", "h2", "h1")] for i in range(n)])
    moves = Migrations.of(inst, plan)
    hosts = HostOrders(inst, moves)
    rng = random.Random(1)
    after = [[p for p in preds if rng.random() < 0.3] for preds in derive_after(inst, plan, prune=False)]
    for h in range(2):
        local = hosts.own(h, after)
        assert len(local.events) == 2 * n
        by_stays = [hosts.use(h, {s.vm for s in hosts.stays_on[h]
                                  if not (s.end is not None and local.precedes(s.end, m))
                                  and not (s.begin is not None and local.precedes(m, s.begin))})
                    for m in hosts.reaching[h]]
        assert np.allclose(Room(hosts, h).during(local.ancestors), by_stays)
