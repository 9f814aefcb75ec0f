"""The input checks of cpplan.checks: what each accepts, and that each refusal is one short line
naming the file and the key, however long the bad value."""

from __future__ import annotations

import pytest

from cpplan import InputError, Instance
from cpplan.checks import (
    MAX_COUNT,
    boolean,
    finite_number,
    fraction,
    integer_between,
    name_list,
    number,
    positive,
    string_keys,
    unknown_keys,
)
from cpplan.experiments import Experiment

LONG = "x" * 100_000


def refusal(check, *args, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        check(*args, **kwargs)
    message = str(info.value)
    assert message.startswith("f.yaml: k") and "\n" not in message
    assert len(message) < 200, message
    return message


@pytest.mark.parametrize("check, args", [
    (number, (LONG,)), (number, (-1,)), (number, (float("nan"),)), (number, (10**400,)), (number, (True,)),
    (positive, (0,)), (fraction, (1.5,)), (boolean, (LONG,)), (boolean, (1,)),
])
def test_value_checks_refuse_in_one_short_line(check, args):
    message = refusal(check, *args, "f.yaml", "k")
    if args[0] is LONG:
        assert "xxxx..." in message


def test_value_checks_return_what_cpplan_uses():
    assert number(3, "f", "k") == 3 and number(2.5, "f", "k") == 2.5
    assert number(10**30, "f", "k", integer=True) == MAX_COUNT
    assert positive(0.5, "f", "k") == 0.5 and fraction(1, "f", "k") == 1 and boolean(False, "f", "k") is False
    assert integer_between(4.0, "f", "k", minimum=1, maximum=4) == 4


@pytest.mark.parametrize("value", [0, 5, 2.5, LONG, 10**400, None])
def test_integer_between_refuses_outside_its_range(value):
    assert "from 1 to 4" in refusal(integer_between, value, "f.yaml", "k", minimum=1, maximum=4)


def test_finite_number():
    assert finite_number(0) and finite_number(-1e308)
    assert not any(finite_number(x) for x in (10**400, float("inf"), float("nan"), False, "1", None))


def test_name_checks_cut_long_names():
    assert "unknown host 'xxx" in refusal(name_list, [LONG], "f.yaml", "k", {}, "host")
    assert "listed twice" in refusal(name_list, ["a", "a"], "f.yaml", "k", {"a": 0}, "host")
    assert "names must be strings" in refusal(string_keys, {10**100: 1}, "f.yaml", "k.")
    assert "control" in refusal(string_keys, {"a\nb" + LONG: 1}, "f.yaml", "k.")
    assert "unknown key" in refusal(unknown_keys, {"kx": 1}, ("host",), "f.yaml", "")


def test_instance_and_experiment_errors_cut_long_values():
    with pytest.raises(InputError) as info:
        Instance(hosts={"h": {}}, vms={"a": {"ram": LONG}}, initial={"a": "h"}, source="c.yaml")
    assert str(info.value).startswith("c.yaml: vms.a.ram: must be a non-negative number, got 'xxx")
    assert len(str(info.value)) < 200
    with pytest.raises(InputError) as info:
        Instance(hosts={"h": {}}, vms={"a": {}}, initial={"a": LONG}, source="c.yaml")
    assert str(info.value).startswith("c.yaml: initial.a: unknown host 'xxx") and len(str(info.value)) < 200
    with pytest.raises(InputError, match="^e.yaml: colour: unknown key"):
        Experiment.from_dict({"colour": 1}, source="e.yaml")
    with pytest.raises(InputError, match="^e.yaml: repeat: must be an integer from 1"):
        Experiment.from_dict({"instances": [], "planners": ["greedy"], "repeat": 0}, source="e.yaml")
