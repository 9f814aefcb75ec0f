"""Graph algorithms on integer nodes ``0 .. n-1`` with edges given as index arrays.

A directed graph is two arrays of equal length, ``src`` and ``dst``: edge
``i`` goes from node ``src[i]`` to node ``dst[i]``. The functions here know
nothing of hosts or VMs; the planners build the graphs (hosts waiting on
hosts, hosts linked by migrations) and read the answers.

- :func:`strongly_connected`: the strongly connected components (iterative
  Tarjan, linear time), as a component id per node.
- :func:`functional_cycles`: the cycles of a graph where every node has at
  most one outgoing edge (linear time).
- :class:`UnionFind`: disjoint sets with path compression, for connected
  components of undirected graphs built edge group by edge group.

>>> import numpy as np
>>> strongly_connected(3, np.array([0, 1]), np.array([1, 0])).tolist()
[0, 0, 1]
"""

from __future__ import annotations

import numpy as np

__all__ = ["UnionFind", "functional_cycles", "strongly_connected"]


def strongly_connected(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The strongly connected component of every node of a directed graph.

    Parameters
    ----------
    n : int
        The number of nodes; nodes are ``0 .. n-1``.
    src, dst : numpy.ndarray of int
        Edge ``i`` goes from ``src[i]`` to ``dst[i]``. Repeated edges and
        self-loops are allowed.

    Returns
    -------
    numpy.ndarray of int64, length ``n``
        The component id of each node. Two nodes share an id exactly when
        each reaches the other. Ids are ``0 .. k-1`` in the order Tarjan's
        algorithm completes the components: a component's id is smaller than
        the id of any component that reaches it.

    Examples
    --------
    >>> import numpy as np
    >>> strongly_connected(4, np.array([0, 1, 2]), np.array([1, 0, 3])).tolist()
    [0, 0, 2, 1]
    >>> strongly_connected(2, np.zeros(0, dtype=int), np.zeros(0, dtype=int)).tolist()
    [0, 1]

    Notes
    -----
    Tarjan's algorithm with an explicit stack of (node, next edge) frames
    instead of recursion, so deep graphs do not overflow Python's stack:
    O(n + number of edges) time and memory. Roots are tried in node order
    and each node's edges in the given order, so the ids are deterministic.
    """
    order = np.argsort(src, kind="stable")
    heads = dst[order].tolist()
    start = np.r_[0, np.cumsum(np.bincount(src, minlength=n))].tolist()
    index, low = [-1] * n, [0] * n
    on_stack, comp = [False] * n, [-1] * n
    stack: list[int] = []
    counter = n_comp = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        work = [[root, start[root]]]
        while work:
            frame = work[-1]
            v, i = frame
            if i < start[v + 1]:
                frame[1] = i + 1
                w = heads[i]
                if index[w] < 0:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append([w, start[w]])
                elif on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
                continue
            work.pop()
            if work and low[v] < low[work[-1][0]]:
                low[work[-1][0]] = low[v]
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp[w] = n_comp
                    if w == v:
                        break
                n_comp += 1
    return np.array(comp, dtype=np.int64)


def functional_cycles(edge: np.ndarray, head: np.ndarray) -> list[np.ndarray]:
    """The cycles of a directed graph in which every node has at most one outgoing edge.

    Parameters
    ----------
    edge : numpy.ndarray of int, length ``n``
        ``edge[u]`` is the index of node ``u``'s outgoing edge, -1 when it
        has none.
    head : numpy.ndarray of int
        ``head[e]`` is the node edge ``e`` leads to.

    Returns
    -------
    list of numpy.ndarray
        One array per cycle: the edge indices along it, starting from the
        edge of the cycle's first node reached by the walk (nodes are tried
        in increasing order). Every node lies on at most one cycle.

    Examples
    --------
    >>> import numpy as np
    >>> [c.tolist() for c in functional_cycles(np.array([0, 1, 2, -1]), np.array([1, 0, 3]))]
    [[0, 1]]
    >>> [c.tolist() for c in functional_cycles(np.array([0, 1, 2]), np.array([1, 2, 0]))]
    [[0, 1, 2]]

    Notes
    -----
    Each node is walked over once: a walk follows the edges until it meets
    a node on the current walk (a new cycle closes there) or a node seen by
    an earlier walk or without an outgoing edge (no new cycle). O(n) time.
    """
    state = np.zeros(len(edge), dtype=np.int8)  # 0: not seen, 1: on the current walk, 2: done
    cycles = []
    for first in np.flatnonzero(edge >= 0).tolist():
        path, u = [], first
        while state[u] == 0 and edge[u] >= 0:
            state[u] = 1
            path.append(u)
            u = int(head[edge[u]])
        if state[u] == 1:
            cycles.append(edge[path[path.index(u):]])
        state[path] = 2
    return cycles


class UnionFind:
    """Disjoint sets of the nodes ``0 .. n-1``, merged group by group.

    Parameters
    ----------
    n : int
        The number of nodes; each starts in a set of its own.

    Examples
    --------
    >>> sets = UnionFind(5)
    >>> sets.union([0, 3])
    >>> sets.union([3, 4])
    >>> [bool(sets.find(x) == sets.find(0)) for x in range(5)]
    [True, False, False, True, True]

    Notes
    -----
    Union by attaching every other root to the first node's root, and full
    path compression in :meth:`find`: near-constant amortised time per
    operation on the graphs met here.
    """

    def __init__(self, n: int):
        self.parent = np.arange(n)

    def find(self, x: int) -> int:
        """The representative of the set holding ``x`` (the same for every node of the set)."""
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, xs) -> None:
        """Merge the sets of all nodes in ``xs`` (any iterable of ints) into one."""
        xs = [int(x) for x in xs]
        if not xs:
            return
        root = self.find(xs[0])
        for x in xs[1:]:
            self.parent[self.find(x)] = root
