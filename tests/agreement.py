"""What the property tests compare planners by, e.g. ``from agreement import cp_agrees_with_exact``."""

import cpplan


def cp_agrees_with_exact(inst) -> None:
    """cp's plan is valid and costs exact's proven least cost; cp finds none where exact proves none."""
    truth = cpplan.plan(inst, planner="exact", time_limit=10)
    # where no plan exists cp searches until its time limit: a short one will do
    found = cpplan.plan(inst, planner="cp", time_limit=1 if truth.status == "infeasible" else 5)
    assert cpplan.validate(inst, found) == []
    if truth.status == "infeasible":
        assert not found.found
    elif truth.status == "optimal":
        assert found.found and found.cost == truth.cost
        assert found.lower_bound <= truth.cost + 1e-9
