"""cpplan simulate: the event-by-event replay against hand computations, its safety checks on the
planners' orders and on hand-made unsafe ones, barriers against the order, and the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import moving_clouds

import cpplan
from cpplan import InputError, Instance, Plan
from cpplan.cli import main
from cpplan.io import save_instance, save_plan
from cpplan.simulate import jitter_factors, simulate, trials


def two_leavers(**migration) -> Instance:
    """a (5000 MiB) and b (2500 MiB, dirtying 125 MiB/s) both leave h1 for h2 and h3."""
    return Instance(hosts={"h1": {"ram": 8000}, "h2": {"ram": 8000}, "h3": {"ram": 8000}},
                    vms={"a": {"ram": 5000}, "b": {"ram": 2500, "dirty_rate": 125}},
                    initial={"a": "h1", "b": "h1"}, target={"a": "h2", "b": "h3"}, limits={"host": 2},
                    migration=migration)


BOTH = [[{"vm": "a", "from": "h1", "to": "h2"}, {"vm": "b", "from": "h1", "to": "h3"}]]


def test_two_migrations_share_a_nic_fairly_then_the_survivor_speeds_up():
    run = simulate(two_leavers(setup=2), Plan("feasible", 7500, BOTH))
    # both set up for 2 s, then copy at 625 MiB/s each (h1's 1250 halved); b gains 625 - 125 = 500 MiB/s
    # and ends at 2 + 2500 / 500 = 7 s, when a has 5000 - 5 x 625 = 1875 MiB left, copied at 1250
    assert run.start == [0.0, 0.0]
    assert run.end == pytest.approx([7 + 1875 / 1250, 7.0])
    assert run.makespan == pytest.approx(8.5) and run.overloads == [] and not run.stalled


def test_max_bandwidth_and_a_link_cap_the_fair_share():
    capped = simulate(two_leavers(setup=0, max_bandwidth=500), Plan("feasible", 7500, BOTH))
    assert capped.end == pytest.approx([10.0, 2500 / 375])   # 500 each, below h1's 625 share
    inst = Instance(hosts={"h1": {"ram": 8000}, "h2": {"ram": 8000}, "h3": {"ram": 8000}},
                    vms={"a": {"ram": 1000}, "b": {"ram": 1000}}, initial={"a": "h1", "b": "h2"},
                    target={"a": "h3", "b": "h3"}, limits={"host": 2}, migration={"setup": 0},
                    links={"up": {"hosts": ["h1"], "max_migrations": 2, "bandwidth": 250}})
    run = simulate(inst, Plan("feasible", 2000, [[{"vm": "a", "from": "h1", "to": "h3"},
                                                  {"vm": "b", "from": "h2", "to": "h3"}]]))
    # a is held to the link's 250; b takes the rest of h3's 1250 (1000) and ends at 1 s
    assert run.end == pytest.approx([4.0, 1.0])


def test_migrations_wait_for_the_limits_and_their_after_list():
    inst = two_leavers(setup=0)
    inst_one = Instance(**{**inst.to_dict(), "limits": {"host": 1}})
    serial = simulate(inst_one, Plan("feasible", 7500, BOTH))
    assert serial.start == [0.0, 4.0] and serial.end == pytest.approx([4.0, 4 + 2500 / 1125])
    ordered = [[dict(BOTH[0][0])], [{**BOTH[0][1], "after": [0]}]]
    run = simulate(inst, Plan("feasible", 7500, ordered))
    assert run.start == [0.0, 4.0]


def test_ready_migrations_start_by_their_estimated_start():
    # h1 runs one migration at a time; the plan lists a first but schedules b first
    inst = Instance(**{**two_leavers(setup=0).to_dict(), "limits": {"host": 1}})
    by_start = [[{**BOTH[0][0], "after": [], "start": 2500 / 1125},
                 {**BOTH[0][1], "after": [], "start": 0.0}]]
    run = simulate(inst, Plan("feasible", 7500, by_start))
    assert run.start == pytest.approx([2500 / 1125, 0.0])
    unscheduled = [[{**m, "after": []} for m in BOTH[0]]]
    assert simulate(inst, Plan("feasible", 7500, unscheduled)).start == [0.0, 4.0]   # plan order


def test_a_live_migration_slower_than_its_dirty_rate_is_reported_stalled():
    inst = Instance(hosts={"h1": {"ram": 64}, "h2": {"ram": 64, "bandwidth": 100}},
                    vms={"a": {"ram": 8, "dirty_rate": 60}, "b": {"ram": 8, "dirty_rate": 60}},
                    initial={"a": "h1", "b": "h1"}, target={"a": "h2", "b": "h2"}, limits={"host": 2})
    run = simulate(inst, Plan("feasible", 16, [[{"vm": "a", "from": "h1", "to": "h2"},
                                                {"vm": "b", "from": "h1", "to": "h2"}]]))
    assert "copies at 50 MiB/s" in run.stalled and "never ends" in run.stalled


def test_jitter_factors_are_seeded_and_within_the_range():
    a = jitter_factors(50, 0.5, np.random.default_rng(3))
    assert np.all((a >= 0.5) & (a <= 1.5)) and a.std() > 0
    assert np.array_equal(a, jitter_factors(50, 0.5, np.random.default_rng(3)))


def unsafe_order() -> tuple[Instance, Plan]:
    """b must leave h2 before a arrives, but a's after list omits it (the validator is bypassed)."""
    inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
                    vms={"a": {"ram": 6}, "b": {"ram": 6}, "c": {"ram": 2}},
                    initial={"a": "h1", "b": "h2", "c": "h3"}, target={"a": "h2", "b": "h3"},
                    limits={"host": 2})
    rounds = [[{"vm": "b", "from": "h2", "to": "h3", "after": []}],
              [{"vm": "a", "from": "h1", "to": "h2", "after": []}]]
    return inst, Plan("feasible", 12, rounds)


def test_an_order_that_omits_a_needed_predecessor_overloads_and_barriers_do_not():
    inst, plan = unsafe_order()
    run = simulate(inst, plan)
    assert run.n_overloads == 1
    assert "at 0 s: migration 1 (a h1 -> h2) starts and host h2 holds 12 ram, capacity 8" in run.overloads[0]
    assert simulate(inst, plan, barriers=True).overloads == []
    verdict = trials(inst, plan, jitter=0.5, seed=1, repeat=4)
    assert verdict.n_overloads == 4 and all("(order)" in p for p in verdict.problems)


def test_jitter_finds_an_order_that_is_only_safe_with_the_estimated_durations():
    # a waits for x, which usually ends after b has left h2: safe by luck, until b runs long
    inst = Instance(hosts={"h1": {"ram": 8000}, "h2": {"ram": 8000}, "h3": {"ram": 8000},
                           "h4": {"ram": 8000}, "h5": {"ram": 8000}},
                    vms={"a": {"ram": 6000}, "b": {"ram": 6000}, "x": {"ram": 6600}},
                    initial={"a": "h1", "b": "h2", "x": "h4"}, target={"a": "h2", "b": "h3", "x": "h5"},
                    limits={"host": 2}, migration={"setup": 0})
    plan = Plan("feasible", 18600, [[{"vm": "b", "from": "h2", "to": "h3", "after": []},
                                     {"vm": "x", "from": "h4", "to": "h5", "after": []}],
                                    [{"vm": "a", "from": "h1", "to": "h2", "after": [1]}]])
    assert simulate(inst, plan).overloads == []
    verdict = trials(inst, plan, jitter=0.5, seed=0, repeat=20)
    assert 0 < verdict.n_overloads < 20 and all("host h2 holds 12000 ram" in p for p in verdict.problems)


def test_page_sharing_counts_shared_pages_once_on_arrival():
    spec = {"hosts": {"h1": {"ram": 16}, "h2": {"ram": 12}}, "initial": {"a": "h1", "b": "h2"},
            "vms": {"a": {"ram": 8, "image": "u"}, "b": {"ram": 8, "image": "u"}}, "target": {"a": "h2"},
            "limits": {"host": 2}}
    plan = Plan("feasible", 8, [[{"vm": "a", "from": "h1", "to": "h2"}]])
    shared = Instance(**spec, page_sharing={"ratio": 0.5})       # 16 - 0.5 x 8 = 12 on h2
    assert simulate(shared, plan).overloads == []
    plain = Instance(**{**spec, "hosts": {"h1": {"ram": 16}, "h2": {"ram": 16}}})
    assert simulate(plain, plan).overloads == []
    tighter = Instance(**{**spec, "hosts": {"h1": {"ram": 16}, "h2": {"ram": 11}},
                          "target": {}}, page_sharing={"ratio": 0.5})
    assert simulate(tighter, plan).overloads[0].endswith("holds 12 ram, capacity 11 (VMs a, b)")


def test_an_anti_affinity_partner_not_waited_for_is_found():
    inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
                    vms={"a": {"ram": 1}, "b": {"ram": 1}}, initial={"a": "h1", "b": "h2"},
                    target={"a": "h2", "b": "h3"}, groups={"g": {"vms": ["a", "b"], "anti_affinity": True}},
                    limits={"host": 2})
    plan = Plan("feasible", 2, [[{"vm": "b", "from": "h2", "to": "h3", "after": []}],
                                [{"vm": "a", "from": "h1", "to": "h2", "after": []}]])
    run = simulate(inst, plan)
    assert run.overloads == ["at 0 s: migration 1 (a h1 -> h2) starts while b, of an anti-affinity group "
                             "with a, is on host h2"]


def test_an_offline_migration_frees_its_source_when_it_starts():
    inst = Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}},
                    vms={"a": {"ram": 4, "live": False}, "b": {"ram": 4, "live": False}},
                    initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"}, limits={"host": 2})
    plan = cpplan.plan(inst, "exact")     # the two full hosts swap offline in one round
    assert plan.n_rounds == 1 and simulate(inst, plan).overloads == []
    live = Plan("feasible", 8, [[{k: m[k] for k in ("vm", "from", "to")} for m in plan.rounds[0]]])
    assert len(simulate(inst, live).overloads) == 2       # live, each would hold both hosts


def with_time(inst: Instance, setup: float, dirty: float) -> Instance:
    spec = inst.to_dict()
    spec["migration"] = {"setup": setup, "bandwidth": 8}
    for v in spec["vms"].values():
        v["dirty_rate"] = dirty
    return Instance(**spec)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(moving_clouds(), st.sampled_from(["exact", "greedy"]), st.sampled_from([0.0, 1.0, 5.0]),
       st.sampled_from([0.0, 1.0]), st.integers(0, 2**31 - 1))
def test_jittered_replays_of_planned_orders_never_overload(inst, planner, setup, dirty, seed):
    try:
        inst = with_time(inst, setup, dirty)
    except InputError:
        return
    plan = cpplan.plan(inst, planner, time_limit=5)
    if not plan.found:
        return
    verdict = trials(inst, plan, jitter=0.9, seed=seed, repeat=3)
    assert verdict.problems == []
    ends = [m["end"] for r in plan.rounds for m in r]
    assert verdict.order.makespan > 0 or not ends


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(moving_clouds(), st.sampled_from(["exact", "greedy"]), st.sampled_from([0.0, 2.0]))
def test_barriers_are_never_faster_than_the_order_with_equal_durations(inst, planner, setup):
    try:
        inst = with_time(inst, setup, 0.0)
    except InputError:
        return
    plan = cpplan.plan(inst, planner, time_limit=5)
    if not plan.found:
        return
    order, barrier = simulate(inst, plan), simulate(inst, plan, barriers=True)
    assert order.makespan <= barrier.makespan * (1 + 1e-9) + 1e-9


# --------------------------------------------------------------------------- the command line

def exit_code(argv: list[str]) -> int:
    """What ``cpplan ARGV`` exits with, whether main returns it or argparse exits."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code)


@pytest.fixture
def planned(tmp_path):
    inst = cpplan.load_instance("models/swap-deadlock.yaml")
    save_plan(cpplan.plan(inst, "greedy"), tmp_path / "plan.json")
    return "models/swap-deadlock.yaml", str(tmp_path / "plan.json")


def test_cli_prints_makespans_and_exits_0_on_a_safe_plan(planned, capsys):
    assert main(["simulate", *planned, "--jitter", "0.5", "--repeat", "3", "--seed", "7"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("makespan ") and "worst of 3 replays, durations x0.5..x1.5, seed 7" in out[0]
    assert out[1].startswith("barriers ") and out[2].startswith("bound ")
    assert out[3].startswith("safe: in 6 replays")


def test_cli_on_a_plan_with_nothing_to_move(tmp_path, capsys):
    inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}}, vms={"a": {"ram": 4}}, initial={"a": "h1"})
    save_instance(inst, tmp_path / "cloud.yaml")
    save_plan(cpplan.plan(inst, "greedy"), tmp_path / "plan.json")
    assert main(["simulate", str(tmp_path / "cloud.yaml"), str(tmp_path / "plan.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("makespan 0.0 s") and "(0% shorter by the order)" in out


def test_cli_exits_1_on_an_unsafe_order(tmp_path, capsys):
    inst, plan = unsafe_order()
    save_instance(inst, tmp_path / "cloud.yaml")
    (tmp_path / "plan.json").write_text(json.dumps(plan.to_dict()))
    assert main(["simulate", str(tmp_path / "cloud.yaml"), str(tmp_path / "plan.json")]) == 1
    captured = capsys.readouterr()
    assert "UNSAFE: 1 overload(s) found" in captured.out
    assert "replay (order): overload at 0 s: migration 1 (a h1 -> h2) starts" in captured.err
    assert "note: the validator finds the order unsafe" in captured.err


def test_cli_exits_1_on_invalid_rounds(tmp_path, capsys):
    inst, plan = unsafe_order()
    save_instance(inst, tmp_path / "cloud.yaml")
    plan.rounds.reverse()   # a arrives on h2 while b is still there
    (tmp_path / "plan.json").write_text(json.dumps({**plan.to_dict(), "rounds": plan.routes()}))
    assert main(["simulate", str(tmp_path / "cloud.yaml"), str(tmp_path / "plan.json")]) == 1
    assert "nothing to simulate" in capsys.readouterr().err


@pytest.mark.parametrize("options, words", [
    (["--jitter", "1"], "--jitter: must be a number in [0, 1), got '1'"),
    (["--jitter", "-0.1"], "must be a number in [0, 1)"),
    (["--jitter", "nan"], "must be a number in [0, 1)"),
    (["--jitter", "lots"], "must be a number in [0, 1)"),
    (["--repeat", "0"], "--repeat: must be a whole number from 1"),
    (["--repeat", "3"], "--repeat: would replay the same durations K times: give --jitter too"),
    (["--seed", "-1"], "--seed"),
])
def test_cli_refuses_bad_options_in_one_line(planned, capsys, options, words):
    assert exit_code(["simulate", *planned, *options]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_cli_refuses_a_missing_plan_and_a_png_over_its_input(planned, tmp_path, capsys):
    assert main(["simulate", planned[0], str(tmp_path / "nowhere.json")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    before = open(planned[1], "rb").read()
    assert main(["simulate", *planned, "--png", planned[1]]) == 2
    err = capsys.readouterr().err
    assert "--png" in err and err.count("\n") == 1 and open(planned[1], "rb").read() == before


def test_cli_png_draws_a_gantt_chart(planned, tmp_path, capsys):
    png = tmp_path / "gantt.png"
    assert main(["simulate", *planned, "--png", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"wrote {png}" in capsys.readouterr().err


def test_show_prints_start_and_end_when_the_plan_has_them(planned, capsys):
    assert main(["show", *planned]) == 0
    out = capsys.readouterr().out
    plan = json.loads(open(planned[1]).read())
    first = plan["rounds"][0][0]
    assert "start s  end s" in out and f"{first['end']:.1f}" in out
