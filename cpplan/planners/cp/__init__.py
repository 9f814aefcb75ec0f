"""The CP-SAT planner (:mod:`.planner`), with its parts: independent parts of the cloud
(:mod:`.decompose`), the routes a VM may take (:mod:`.routes`), and the two models, on
intervals (:mod:`.intervals`) and per round (:mod:`.timeindexed`)."""

from .planner import plan

__all__ = ["plan"]
