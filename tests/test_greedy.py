"""The greedy planner: valid plans always, agreement with exact, the tiny cases, clean-up."""

import numpy as np
import pytest
from helpers import TINY_CASES, tiny_truth
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import clouds_with_allowed_hosts, tiny_clouds

import cpplan
from cpplan.constraints.page_sharing import shift_load
from cpplan.generate import FAMILIES, generate
from cpplan.graphs import strongly_connected
from cpplan.planners.greedy.aim import Aims
from cpplan.planners.greedy.cleanup import clean_up
from cpplan.planners.greedy.round import RoundBuilder, within_slots
from cpplan.planners.greedy.search import _priority

TRUTH = tiny_truth()
DIRECT = sorted(c for c, t in TRUTH.items() if t["kind"] == "direct")


def greedy(inst):
    """Plan with greedy; the dispatcher raises if the plan is invalid."""
    plan = cpplan.plan(inst, planner="greedy", time_limit=None)
    assert cpplan.validate(inst, plan) == []
    return plan


@pytest.mark.parametrize("case", DIRECT)
def test_greedy_solves_every_direct_case(case):
    plan = greedy(cpplan.load_instance(TINY_CASES / f"{case}.yaml"))
    assert plan.status in ("optimal", "feasible")
    assert plan.cost == TRUTH[case]["min_cost"]


@pytest.mark.parametrize("case", sorted(TRUTH))
def test_greedy_never_claims_more_than_it_knows_on_tiny_cases(case):
    plan = greedy(cpplan.load_instance(TINY_CASES / f"{case}.yaml"))
    truth = TRUTH[case]
    if plan.found:
        assert truth["feasible"] and plan.cost >= truth["min_cost"]
    if plan.status == "optimal":
        assert plan.cost == truth["min_cost"]
    if plan.status == "infeasible":
        assert not truth["feasible"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(tiny_clouds(service_levels=True))
def test_greedy_plans_validate_and_infeasible_agrees_with_exact(inst):
    plan = greedy(inst)
    assert plan.status in ("optimal", "feasible", "infeasible", "unknown")
    if plan.status == "unknown":
        assert plan.rounds == [] and plan.reason
    exact = cpplan.plan(inst, planner="exact")
    if plan.status == "infeasible":
        assert exact.status == "infeasible"
    if plan.found and exact.status == "optimal":
        assert plan.cost >= exact.cost
    if plan.status == "optimal" and exact.status == "optimal":
        assert plan.cost == exact.cost


def test_swap_between_full_hosts_bounces_through_the_free_host():
    swap = cpplan.Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 4}},
                           vms={"a": {"ram": 4}, "b": {"ram": 4}},
                           initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"})
    plan = greedy(swap)
    assert plan.cost == 12 and plan.stats["bounces"] == 1 and plan.n_rounds == 3
    assert plan.stats["offline_breaks"] == 0


def test_a_bounced_vm_returns_only_where_no_other_waiting_vm_aims():
    # h1 has room for one: w (from the full h2) and the bounced r (on the staging h3) both aim at it.
    # r waiting keeps the room passing on along the full hosts (w leaves room on h2 for x).
    # h0 also has room for one: y and z aim at it.
    inst = cpplan.Instance(hosts={"h0": {"ram": 2}, "h1": {"ram": 2}, "h2": {"ram": 2}, "h3": {"ram": 4}},
                           vms={"w": {"ram": 1}, "r": {"ram": 1}, "x": {"ram": 1}, "y": {"ram": 1},
                                "z": {"ram": 1}},
                           initial={"w": "h2", "r": "h3", "x": "h0", "y": "h2", "z": "h1"},
                           target={"w": "h1", "r": "h1", "x": "h2", "y": "h0", "z": "h0"})
    rb = RoundBuilder(inst, inst.initial, inst.load(inst.initial))
    stepped_aside = np.array([0, 1, 0, 0, 0])
    args = (inst, rb, np.arange(5), inst.target, np.zeros(5), stepped_aside)
    names = lambda order: [inst.vm_names[v] for v in order]  # noqa: E731
    assert "r" not in names(_priority(*args, returns_wait=True))
    assert names(_priority(*args))[-1] == "r"


def test_a_stayer_steps_aside_when_no_bounce_fits():
    # a and b swap; the staging host h3 only fits the small stayer s, which moves out and back.
    inst = cpplan.Instance(
        hosts={"h1": {"ram": 12}, "h2": {"ram": 8}, "h3": {"ram": 2}},
        vms={"a": {"ram": 6}, "b": {"ram": 6}, "s": {"ram": 2}},
        initial={"a": "h1", "b": "h2", "s": "h1"}, target={"a": "h2", "b": "h1"},
        limits={"host": 2})
    plan = greedy(inst)
    assert plan.stats["displacements"] == 1 and plan.cost == 16


def test_stuck_cloud_is_unknown_with_a_reason():
    # A swap between two full hosts and nowhere to step aside (the dispatcher's certificate proves it
    # infeasible before greedy runs: greedy alone says it is stuck).
    inst = cpplan.Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}},
                           vms={"a": {"ram": 4}, "b": {"ram": 4}},
                           initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"})
    plan = cpplan.planners.greedy.plan(inst)
    assert plan.status == "unknown" and plan.rounds == [] and "wait" in plan.reason
    assert greedy(inst).status == "infeasible"


def test_limits_and_service_levels_are_kept_every_round():
    hosts = {f"h{i}": {"ram": 16} for i in range(6)}
    vms = {f"v{j}": {"ram": 2} for j in range(12)}
    initial = {f"v{j}": f"h{j % 3}" for j in range(12)}
    target = {f"v{j}": f"h{3 + j % 3}" for j in range(12)}
    inst = cpplan.Instance(hosts=hosts, vms=vms, initial=initial, target=target,
                           limits={"host": 3, "total": 4},
                           links={"up": {"hosts": ["h0", "h1", "h2"], "max_migrations": 3}},
                           groups={"web": {"vms": ["v0", "v3", "v6"], "max_migrating": 1}})
    plan = greedy(inst)
    assert plan.found
    assert all(len(r) <= 3 for r in plan.rounds)


def test_pinned_vms_never_move():
    inst = cpplan.Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
                           vms={"a": {"ram": 4}, "p": {"ram": 4}, "b": {"ram": 4}},
                           initial={"a": "h1", "p": "h2", "b": "h2"}, target={"a": "h2", "b": "h1"},
                           pinned=["p"], limits={"host": 2})
    plan = greedy(inst)
    assert plan.found and all(m["vm"] != "p" for r in plan.rounds for m in r)


@pytest.mark.parametrize("family", FAMILIES)
def test_generated_families_get_valid_plans(family):
    inst = generate(family, 30, seed=3)
    plan = greedy(inst)
    assert plan.found
    assert plan.cost >= plan.lower_bound and plan.n_rounds >= plan.rounds_lower_bound


def test_same_seed_same_plan():
    inst = generate("shuffle", 20, seed=1)
    assert cpplan.plan(inst, planner="greedy").rounds == cpplan.plan(inst, planner="greedy").rounds


def test_clean_up_drops_a_detour_and_merges_rounds():
    inst = cpplan.Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
                           vms={"a": {"ram": 4}, "b": {"ram": 4}},
                           initial={"a": "h1", "b": "h3"}, target={"a": "h2", "b": "h1"},
                           limits={"host": 2})

    def step(v, s, d):
        return (np.array([v]), np.array([s]), np.array([d]))

    rounds, dropped = clean_up(inst, [step(0, 0, 2), step(1, 2, 0), step(0, 2, 1)])
    plan = cpplan.Plan.from_index_rounds(inst, rounds, "feasible")
    assert dropped == 1 and cpplan.validate(inst, plan) == []
    assert plan.cost == 8 and plan.n_rounds == 1


def test_strongly_connected_components():
    comp = strongly_connected(5, np.array([0, 1, 2, 3]), np.array([1, 2, 0, 4]))
    assert comp[0] == comp[1] == comp[2] and len({comp[0], comp[3], comp[4]}) == 3


def test_time_limit_ends_the_search_with_unknown():
    plan = cpplan.plan(generate("shuffle", 20, seed=1), planner="greedy", time_limit=0)
    assert plan.status == "unknown" and "time limit" in plan.reason


@pytest.mark.parametrize("spare_host", [True, False])
def test_anti_affinity_swap_steps_aside_or_gives_up(spare_host):
    hosts = {"h1": {"ram": 8}, "h2": {"ram": 8}} | ({"h3": {"ram": 8}} if spare_host else {})
    inst = cpplan.Instance(hosts=hosts, vms={"a": {"ram": 2}, "b": {"ram": 2}},
                           initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"},
                           groups={"web": {"vms": ["a", "b"], "anti_affinity": True}}, limits={"host": 2})
    plan = greedy(inst)
    if spare_host:
        assert plan.found and plan.cost == 6
    else:
        assert plan.status == "unknown"
        assert cpplan.plan(inst, planner="exact").status == "infeasible"


def test_clean_up_drops_an_out_and_back_that_was_not_needed():
    inst = cpplan.Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}},
                           vms={"s": {"ram": 4}, "a": {"ram": 2}},
                           initial={"s": "h1", "a": "h2"}, target={"a": "h1"}, limits={"host": 2})

    def step(v, s, d):
        return (np.array([v]), np.array([s]), np.array([d]))

    rounds, dropped = clean_up(inst, [step(0, 0, 1), step(1, 1, 0), step(0, 1, 0)])
    plan = cpplan.Plan.from_index_rounds(inst, rounds, "feasible")
    assert dropped == 2 and plan.rounds == [[{"vm": "a", "from": "h2", "to": "h1"}]]
    assert cpplan.validate(inst, plan) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)).filter(lambda m: m[0] != m[1]), max_size=30),
       st.lists(st.integers(0, 3), min_size=6, max_size=6))
def test_touch_ranking_matches_a_plain_count(moves, slots):
    src = np.array([s for s, _ in moves], dtype=np.int64)
    dst = np.array([d for _, d in moves], dtype=np.int64)
    seen = [0] * 6
    expected = []
    for s, d in moves:
        expected.append(seen[s] < slots[s] and seen[d] < slots[d])
        seen[s] += 1
        seen[d] += 1
    assert within_slots(src, dst, np.array(slots)).tolist() == expected


# ------------------------------------------------------------------ allowed hosts
def test_greedy_takes_an_allowed_host_with_room_instead_of_bouncing_to_the_default_target():
    # x may end on h2 or h3; h2 (its default) is full until y leaves for x's host, h3 has room now.
    inst = cpplan.Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 4}},
                           vms={"x": {"ram": 4}, "y": {"ram": 8}}, initial={"x": "h1", "y": "h2"},
                           target={"x": ["h2", "h3"], "y": "h1"})
    plan = greedy(inst)
    assert plan.cost == 12 and plan.stats["bounces"] == 0
    assert plan.routes()[0] == [{"vm": "x", "from": "h1", "to": "h3"}]


def test_a_drained_vm_whose_default_host_is_full_takes_the_tightest_host_with_room():
    # x leaves the drained host d. Its default, big (roomiest at the end), is full until y leaves;
    # snug and spare have room now, snug leaves the least slack.
    hosts = {"d": {"ram": 8}, "big": {"ram": 16}, "out": {"ram": 14}, "snug": {"ram": 6},
             "spare": {"ram": 10}}
    inst = cpplan.Instance(hosts=hosts, vms={"x": {"ram": 4}, "y": {"ram": 14}, "s": {"ram": 2}},
                           initial={"x": "d", "y": "big", "s": "snug"}, target={"y": "out"}, drain=["d"])
    assert inst.host_names[inst.target[0]] == "big"
    plan = greedy(inst)
    assert plan.cost == 18 and plan.n_rounds == 1
    assert {"vm": "x", "from": "d", "to": "snug"} in plan.routes()[0]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(clouds_with_allowed_hosts(service_levels=None, sharing=None))
def test_greedy_plans_with_allowed_hosts_validate_and_never_beat_exact(inst):
    plan = greedy(inst)
    exact = cpplan.plan(inst, planner="exact")
    if plan.found and exact.status == "optimal":
        assert plan.cost >= exact.cost
    if exact.status == "infeasible":
        assert not plan.found


def test_clean_up_stops_a_flexible_vm_on_the_first_allowed_host_that_keeps_it():
    inst = cpplan.Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
                           vms={"a": {"ram": 4}}, initial={"a": "h1"}, target={"a": ["h2", "h3"]})

    def step(v, s, d):
        return (np.array([v]), np.array([s]), np.array([d]))

    rounds, dropped = clean_up(inst, [step(0, 0, 1), step(0, 1, 2)])
    assert dropped == 1
    assert [(v.tolist(), s.tolist(), d.tolist()) for v, s, d, _ in rounds] == [([0], [0], [1])]


# ------------------------------------------------------------------ page sharing
def test_clean_up_drops_a_detour_that_fits_only_thanks_to_page_sharing():
    # a leaves h1 and comes back through h3; c arrives on h1 meanwhile: a, b, c fit h1 (14) only
    # because a and b share half their pages (8 + 8 - 4 + 2 = 14).
    inst = cpplan.Instance(hosts={"h1": {"ram": 14}, "h2": {"ram": 10}, "h3": {"ram": 8}},
                           vms={"a": {"ram": 8, "image": "u"}, "b": {"ram": 8, "image": "u"},
                                "c": {"ram": 2}},
                           initial={"a": "h1", "b": "h1", "c": "h2"}, target={"a": "h2", "c": "h1"},
                           page_sharing={"ratio": 0.5})

    def step(v, s, d):
        return (np.array([v]), np.array([s]), np.array([d]))

    rounds, dropped = clean_up(inst, [step(0, 0, 2), step(2, 1, 0), step(0, 2, 1)])
    plan = cpplan.Plan.from_index_rounds(inst, rounds, "feasible")
    assert dropped == 1 and cpplan.validate(inst, plan) == []
    assert plan.cost == 10


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(tiny_clouds(service_levels=True, sharing=True))
def test_greedy_plans_with_page_sharing_validate_after_clean_up(inst):
    plan = greedy(inst)
    if plan.found:
        assert plan.cost >= plan.lower_bound


@st.composite
def wandering_plans(draw):
    """A tiny cloud (page sharing at random) and valid random rounds, VMs often moving twice.

    The cloud's targets are where the rounds leave the VMs, some with a few more allowed hosts.
    """
    inst = draw(tiny_clouds(service_levels=True, sharing=draw(st.booleans())))
    placement, load, rounds = inst.initial.copy(), inst.load(inst.initial), []
    for _ in range(draw(st.integers(1, 5))):
        vms = draw(st.lists(st.integers(0, inst.n_vms - 1), unique=True, max_size=inst.n_vms))
        dst = [draw(st.integers(0, inst.n_hosts - 1)) for _ in vms]
        rb = RoundBuilder(inst, placement, load)
        rb.offer(np.array(vms, dtype=np.int64), np.array(dst, dtype=np.int64))
        v, s, d = rb.moves()
        if v.size:
            rounds.append((v, s, d))
            placement = placement.copy()
            placement[v] = d
            shift_load(inst, load, placement, v, s, d)
    target = {}
    for j, name in enumerate(inst.vm_names):
        final = inst.host_names[placement[j]]
        more = draw(st.lists(st.sampled_from(inst.host_names), max_size=2))
        target[name] = [final, *more] if more else final
    try:
        return inst.replace(target=target), rounds
    except cpplan.InputError:
        assume(False)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(wandering_plans())
def test_clean_up_keeps_wandering_plans_valid_and_never_costlier(case):
    inst, rounds = case
    before = cpplan.Plan.from_index_rounds(inst, rounds, "feasible")
    assert cpplan.validate(inst, before) == []
    cleaned, dropped = clean_up(inst, rounds)
    after = cpplan.Plan.from_index_rounds(inst, cleaned, "feasible")
    assert cpplan.validate(inst, after) == []
    assert after.n_migrations == before.n_migrations - dropped and after.n_rounds <= before.n_rounds


@settings(max_examples=100, deadline=None)
@given(tiny_clouds(sharing=True), st.data())
def test_shifted_loads_follow_page_sharing(inst, data):
    placement, load = inst.initial.copy(), inst.load(inst.initial)
    for _ in range(3):
        vms = np.array(data.draw(st.lists(st.integers(0, inst.n_vms - 1), unique=True)), dtype=np.int64)
        dst = np.array([data.draw(st.integers(0, inst.n_hosts - 1)) for _ in vms], dtype=np.int64)
        src = placement[vms]
        placement = placement.copy()
        placement[vms] = dst
        shift_load(inst, load, placement, vms, src, dst)
        assert np.allclose(load, inst.load(placement))


def test_best_fit_skips_hosts_holding_an_anti_affinity_partner():
    # h2 would fit a most tightly, but a's partner b is there.
    inst = cpplan.Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 4}, "h3": {"ram": 8}},
                           vms={"a": {"ram": 2}, "b": {"ram": 2}}, initial={"a": "h1", "b": "h2"},
                           drain=["h1"], groups={"g": {"vms": ["a", "b"], "anti_affinity": True}})
    aims = Aims(inst)
    free_now, end_free = inst.effective - inst.load(inst.initial), aims.end_free(inst.initial)
    ready = aims.aim(np.array([0]), inst.initial, free_now, inst.host_limit, end_free)
    assert ready.tolist() == [True] and inst.host_names[aims.host[0]] == "h3"
    assert greedy(inst).routes() == [[{"vm": "a", "from": "h1", "to": "h3"}]]


# ------------------------------------------------------------------ offline moves
def full_hosts_trading(n_hosts, offline_cost, spare=True):
    """``n_hosts`` full hosts passing their VM (ram 4, live cost 4) round a cycle, and an empty spare host."""
    hosts = {f"h{i}": {"ram": 4} for i in range(n_hosts + spare)}
    vms = {f"v{i}": {"ram": 4, "offline_cost": offline_cost} for i in range(n_hosts)}
    return cpplan.Instance(hosts=hosts, vms=vms, initial={f"v{i}": f"h{i}" for i in range(n_hosts)},
                           target={f"v{i}": f"h{(i + 1) % n_hosts}" for i in range(n_hosts)},
                           limits={"host": 2})


def test_full_hosts_swap_offline_in_one_round_when_that_beats_a_bounce():
    plan = greedy(full_hosts_trading(2, offline_cost=5))
    assert plan.cost == 10 and plan.n_rounds == 1 and plan.stats["offline_breaks"] == 1
    assert all(m["mode"] == "offline" for m in plan.rounds[0])


def test_full_hosts_swap_bounces_when_offline_costs_more():
    plan = greedy(full_hosts_trading(2, offline_cost=7))
    assert plan.cost == 12 and plan.stats["bounces"] == 1 and plan.stats["offline_breaks"] == 0
    assert not any(m.get("mode") == "offline" for r in plan.rounds for m in r)


def test_a_cycle_of_three_full_hosts_moves_offline_in_one_round():
    plan = greedy(full_hosts_trading(3, offline_cost=5))   # bounce: 4 live moves (16), offline: 15
    assert plan.cost == 15 and plan.n_rounds == 1


def test_offline_is_taken_when_no_host_can_stage_even_at_a_high_cost():
    plan = greedy(full_hosts_trading(3, offline_cost=20, spare=False))
    assert plan.found and plan.cost == 60 and plan.n_rounds == 1


def test_a_long_ring_of_full_hosts_turns_in_one_offline_round_when_the_premium_is_small():
    n = 60
    hosts = {f"h{i}": {"ram": 8} for i in range(n + 1)}
    vms = {f"v{i}{k}": {"ram": 4, "offline_cost": 4.01} for i in range(n) for k in "ab"}
    initial = {f"v{i}{k}": f"h{i}" for i in range(n) for k in "ab"}
    inst = cpplan.Instance(hosts=hosts, vms=vms, initial=initial,
                           target={f"v{i}a": f"h{(i + 1) % n}" for i in range(n)}, limits={"host": 2})
    plan = greedy(inst)   # premium 60 x 0.01 < one bounce (4)
    assert plan.n_rounds == 1 and plan.cost == pytest.approx(n * 4.01)


def test_only_the_vms_whose_room_is_needed_go_offline():
    # a and b swap full hosts; c joins h1 from h3, which nobody enters: c stays live.
    inst = cpplan.Instance(
        hosts={"h1": {"ram": 6}, "h2": {"ram": 4}, "h3": {"ram": 2}},
        vms={"a": {"ram": 4, "offline_cost": 5}, "b": {"ram": 4, "offline_cost": 5},
             "c": {"ram": 2, "offline_cost": 3}},
        initial={"a": "h1", "b": "h2", "c": "h3"}, target={"a": "h2", "b": "h1", "c": "h1"},
        limits={"host": 3})
    plan = greedy(inst)
    modes = {m["vm"]: m.get("mode", "live") for r in plan.rounds for m in r}
    assert modes["c"] == "live" and plan.cost <= 12


def test_clean_up_keeps_each_migration_mode():
    inst = full_hosts_trading(2, offline_cost=5)
    offline_swap = (np.array([0, 1]), np.array([0, 1]), np.array([1, 0]), np.array([True, True]))
    rounds, dropped = clean_up(inst, [offline_swap])
    assert dropped == 0 and rounds[0][3].tolist() == [True, True]
    assert cpplan.validate(inst, cpplan.Plan.from_index_rounds(inst, rounds, "feasible", planner="")) == []


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(tiny_clouds(sharing=True, tight=True))
def test_greedy_plans_with_offline_costs_validate_and_never_beat_exact(inst):
    plan = greedy(inst)
    exact = cpplan.plan(inst, planner="exact")
    if plan.found and exact.status == "optimal":
        assert plan.cost >= exact.cost - 1e-9
    if plan.status == "optimal":
        assert exact.status == "optimal" and plan.cost == exact.cost


def test_greedy_moves_a_vm_that_fits_only_thanks_to_shared_pages():
    # b joins a (same image) on h1: 8 + 4 - 0.5 * (12 - 8) = 10 fits h1's 10; plain sums (12) do not.
    inst = cpplan.Instance(hosts={"h1": {"ram": 10}, "h2": {"ram": 8}},
                           vms={"a": {"ram": 8, "image": "u"}, "b": {"ram": 4, "image": "u"}},
                           initial={"a": "h1", "b": "h2"}, target={"b": "h1"}, page_sharing={"ratio": 0.5})
    plan = cpplan.plan(inst, planner="greedy")
    assert (plan.status, plan.cost) == ("optimal", 4)
    assert plan.routes() == [[{"vm": "b", "from": "h2", "to": "h1"}]]
