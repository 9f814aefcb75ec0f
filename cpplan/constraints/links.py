"""Network links: a migration crosses a link when exactly one of its hosts is behind it."""

from __future__ import annotations

import numpy as np


def crossing(inst, link, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Mask of the migrations (src -> dst) that cross ``link``."""
    inside = np.zeros(inst.n_hosts, dtype=bool)
    inside[link.hosts] = True
    return inside[src] != inside[dst]


class Links:
    name = "links"

    def check(self, inst, rnd) -> list[str]:
        out = []
        for link in inst.links:
            n = int(crossing(inst, link, rnd.src, rnd.dst).sum())
            if n > link.max_migrations:
                out.append(f"round {rnd.number}: link {link.name} crossed by {n} migrations, "
                           f"limit {link.max_migrations}")
        return out
