"""Page sharing's rule and its helpers: the validator's start-of-round loads count shared pages, and
the split parts, the one-host use and greedy's arrival discount agree with the rule."""

from __future__ import annotations

import importlib
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import tiny_clouds

import cpplan
from cpplan import Instance, Plan
from cpplan.constraints.page_sharing import SharedPages, split_ram, usage, usage_on, use_from_parts

validator = importlib.import_module("cpplan.validate")


class StartLoads:
    """A rule that breaks nothing and records each round's placement and ``Round.load``."""

    name = "start-loads"

    def __init__(self):
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []

    def check(self, inst, rnd) -> list[str]:
        self.seen.append((rnd.placement.copy(), rnd.load.copy()))
        return []


def start_loads(inst, rounds) -> tuple[list[str], list[tuple[np.ndarray, np.ndarray]]]:
    """The validator's verdict on ``rounds`` and what a rule reading ``Round.load`` saw in each round."""
    recorder = StartLoads()
    with mock.patch.object(validator, "ALL", [*validator.ALL, recorder]):
        cost = sum(float(inst.cost[inst.vm_index[m["vm"]]]) for r in rounds for m in r)
        found = cpplan.validate(inst, Plan("feasible", cost, rounds))
    return found, recorder.seen


def test_round_load_after_one_of_two_same_image_vms_left():
    """a and b (8 each, half shared) use 12 on h1; once a left, b alone uses 8 there, not 12 - 8 = 4."""
    inst = Instance(hosts={"h1": {"ram": 16}, "h2": {"ram": 16}},
                    vms={"a": {"ram": 8, "image": "u"}, "b": {"ram": 8, "image": "u"}},
                    initial={"a": "h1", "b": "h1"}, target={"a": "h2", "b": "h2"},
                    page_sharing={"ratio": 0.5})
    rounds = [[{"vm": "a", "from": "h1", "to": "h2"}], [{"vm": "b", "from": "h1", "to": "h2"}]]
    found, seen = start_loads(inst, rounds)
    assert found == []
    assert [load[:, 0].tolist() for _, load in seen] == [[12.0, 0.0], [8.0, 8.0]]


@st.composite
def clouds_with_moves(draw):
    """A page-sharing cloud and 1-4 non-empty rounds of migrations, valid or not, each from its VM's host."""
    inst = draw(tiny_clouds(sharing=True))
    placement, rounds = inst.initial.copy(), []
    for _ in range(draw(st.integers(1, 4))):
        moves = []
        for v in draw(st.lists(st.integers(0, inst.n_vms - 1), unique=True, min_size=1, max_size=3)):
            to = draw(st.integers(0, inst.n_hosts - 1).filter(lambda h, v=v: h != placement[v]))
            move = {"vm": inst.vm_names[v], "from": inst.host_names[placement[v]], "to": inst.host_names[to]}
            if not inst.can_live[v] or (np.isfinite(inst.offline_cost[v]) and draw(st.booleans())):
                move["mode"] = "offline"
            moves.append(move)
            placement[v] = to
        rounds.append(moves)
    return inst, rounds


@settings(max_examples=150, deadline=None)
@given(clouds_with_moves())
def test_every_round_load_is_the_use_of_its_start_placement(case):
    inst, rounds = case
    _, seen = start_loads(inst, rounds)
    assert len(seen) == len(rounds)
    for placement, load in seen:
        np.testing.assert_allclose(load, inst.load(placement), atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(tiny_clouds(sharing=True), st.data())
def test_the_helpers_agree_with_the_rule(inst, data):
    """On any host and any set of VMs: the split parts sum to the rule's use, one host's use is the
    rule's row, and an arrival's discounted demand is at least what it adds to a host it shares with."""
    vms = np.array(data.draw(st.lists(st.integers(0, inst.n_vms - 1), unique=True)), dtype=np.int64)
    host = data.draw(st.integers(0, inst.n_hosts - 1))
    use = usage(inst, vms, np.full(len(vms), host))[host]
    np.testing.assert_allclose(usage_on(inst, vms, host), use)
    if inst.share_ratio.size:
        private, pages = split_ram(inst)
        r = inst.share_resource
        assert abs(use_from_parts(private[vms], pages[vms], inst.image[vms]) - use[r]) < 1e-9
    arriving = data.draw(st.integers(0, inst.n_vms - 1))
    if inst.initial[arriving] == host or not inst.share_ratio.size:
        return
    staying = np.flatnonzero(inst.initial == host)
    added = usage_on(inst, np.r_[staying, arriving], host) - usage_on(inst, staying, host)
    discounted = SharedPages(inst, inst.initial).discount(np.array([arriving]), np.array([host]),
                                                          inst.demand[[arriving]])[0]
    assert (discounted >= added - 1e-9).all()
