"""Lower bounds on cost and rounds, and the certificates that no plan exists."""

from __future__ import annotations

import pytest
from helpers import tiny_case_paths, tiny_truth

import cpplan
from cpplan import Instance
from cpplan.bounds import cost_lower_bound, infeasibility, rounds_lower_bound


def cloud(**kw) -> Instance:
    """Hosts h1..h4 with 8 ram, VMs a, b, c of 1 ram on h1, h1, h2; override any key."""
    spec = dict(hosts={f"h{i}": {"ram": 8} for i in range(1, 5)},
                vms={"a": {"ram": 1}, "b": {"ram": 2, "cost": 10}, "c": {"ram": 4}},
                initial={"a": "h1", "b": "h1", "c": "h2"}, target={"a": "h3", "b": "h4", "c": "h3"})
    return Instance(**{**spec, **kw})


def test_cost_lower_bound_sums_the_cost_of_vms_that_must_move():
    assert cost_lower_bound(cloud()) == 1 + 10 + 4
    assert cost_lower_bound(cloud(target={"a": "h1", "c": "h3"})) == 4  # a's target is its start
    assert cost_lower_bound(cloud(target={})) == 0


def test_rounds_lower_bound_per_host_counts_both_ends():
    # h3 receives a and c, h1 loses a and b: two touches each with limit 1.
    assert rounds_lower_bound(cloud()) == 2
    assert rounds_lower_bound(cloud(limits={"host": 2})) == 1
    assert rounds_lower_bound(cloud(target={})) == 0


def test_rounds_lower_bound_uses_per_host_override():
    hosts = {"h1": {"ram": 8, "max_migrations": 2}, "h2": {"ram": 8},
             "h3": {"ram": 8, "max_migrations": 2}, "h4": {"ram": 8}}
    assert rounds_lower_bound(cloud(hosts=hosts)) == 1
    hosts["h3"] = {"ram": 8, "max_migrations": 1}
    assert rounds_lower_bound(cloud(hosts=hosts)) == 2


def test_rounds_lower_bound_total_limit():
    assert rounds_lower_bound(cloud(limits={"host": 9, "total": 2})) == 2
    assert rounds_lower_bound(cloud(limits={"host": 9, "total": 1})) == 3


def test_rounds_lower_bound_link_limit():
    # a, b and c all cross into {h3, h4} from {h1, h2}.
    links = {"up": {"hosts": ["h3", "h4"], "max_migrations": 1}}
    assert rounds_lower_bound(cloud(limits={"host": 9}, links=links)) == 3
    inside = {"up": {"hosts": ["h1", "h3"], "max_migrations": 1}}  # a stays inside: b, c cross
    assert rounds_lower_bound(cloud(limits={"host": 9}, links=inside)) == 2


def test_rounds_lower_bound_group_limit():
    groups = {"g": {"vms": ["a", "b", "c"], "max_migrating": 1}}
    assert rounds_lower_bound(cloud(limits={"host": 9}, groups=groups)) == 3


def test_no_certificate_for_an_ordinary_cloud():
    assert infeasibility(cloud()) is None


@pytest.mark.parametrize("change, words", [
    (dict(hosts={"h1": {"ram": 8, "max_migrations": 0}, "h2": {}, "h3": {}, "h4": {}}),
     "VM a must move but its host h1 allows no migration"),
    (dict(hosts={"h1": {}, "h2": {}, "h3": {"max_migrations": 0}, "h4": {}}),
     "VM a must move but its target host h3 allows no migration"),
    (dict(limits={"host": 1, "total": 0}), "limits.total is 0"),
    (dict(limits={"host": 0}), "allows no migration"),
    (dict(links={"up": {"hosts": ["h4"], "max_migrations": 0}}), "VM b must cross link up"),
    (dict(groups={"g": {"vms": ["c"], "max_migrating": 0}}), "VM c must move but group g allows no member"),
])
def test_infeasibility_certificates(change, words):
    reason = infeasibility(cloud(**change))
    assert reason is not None and words in reason


def test_zero_limits_on_vms_that_stay_prove_nothing():
    idle = {"h1": {}, "h2": {}, "h3": {}, "h4": {}, "h5": {"max_migrations": 0}}
    assert infeasibility(cloud(hosts=idle)) is None
    everywhere = {"up": {"hosts": ["h1", "h2", "h3", "h4"], "max_migrations": 0}}
    assert infeasibility(cloud(links=everywhere)) is None


def test_dispatcher_reports_certificate_as_infeasible():
    result = cpplan.plan(cloud(limits={"host": 1, "total": 0}), planner="exact")
    assert result.status == "infeasible" and result.rounds == [] and "limits.total" in result.reason


@pytest.mark.parametrize("path", tiny_case_paths(), ids=lambda p: p.stem)
def test_bounds_never_exceed_the_truth_on_tiny_cases(path):
    truth = tiny_truth()[path.stem]
    inst = cpplan.load_instance(path)
    if truth["feasible"]:
        assert cost_lower_bound(inst) <= truth["min_cost"]
        assert infeasibility(inst) is None
    assert rounds_lower_bound(inst) >= (1 if inst.moving.any() else 0)
