"""cpplan: plan live migrations of virtual machines from placement A to placement B.

>>> import cpplan
>>> inst = cpplan.Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}}, vms={"a": {"ram": 4}},
...                        initial={"a": "h1"}, target={"a": "h2"})
>>> p = cpplan.plan(inst, planner="exact")
>>> p.status, p.cost, cpplan.validate(inst, p)
('optimal', 4, [])
"""

from .errors import InputError, InvalidPlanError
from .io import load_instance, load_plan, save_instance, save_plan
from .model import Instance
from .plan import Plan
from .planners import PLANNERS, plan
from .target import TargetResult, choose_target
from .validate import validate

__all__ = ["Instance", "Plan", "InputError", "InvalidPlanError", "PLANNERS", "load_instance",
           "load_plan", "save_instance", "save_plan", "plan", "validate", "choose_target", "TargetResult"]
__version__ = "0.1.0"
