"""Graph algorithms (cpplan.graphs) against brute-force answers on random graphs."""

import itertools

import numpy as np
import pytest

from cpplan.graphs import UnionFind, functional_cycles, strongly_connected


def reachable(n, src, dst):
    """reach[u, w]: w can be reached from u (every node reaches itself), by transitive closure."""
    reach = np.eye(n, dtype=bool)
    reach[src, dst] = True
    for k in range(n):
        reach |= reach[:, [k]] & reach[[k], :]
    return reach


def random_graph(rng, n, m):
    return rng.integers(0, n, m), rng.integers(0, n, m)


@pytest.mark.parametrize("seed", range(30))
def test_strongly_connected_matches_mutual_reachability(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12))
    src, dst = random_graph(rng, n, int(rng.integers(0, 3 * n)))
    comp = strongly_connected(n, src, dst)
    reach = reachable(n, src, dst)
    assert ((comp[:, None] == comp[None, :]) == (reach & reach.T)).all()
    assert sorted(set(comp.tolist())) == list(range(comp.max() + 1))


@pytest.mark.parametrize("seed", range(10))
def test_a_component_that_reaches_another_completes_after_it(seed):
    rng = np.random.default_rng(seed)
    n = 10
    src, dst = random_graph(rng, n, 15)
    comp = strongly_connected(n, src, dst)
    reach = reachable(n, src, dst)
    for u, w in itertools.product(range(n), repeat=2):
        if reach[u, w] and comp[u] != comp[w]:
            assert comp[w] < comp[u]


def test_strongly_connected_handles_a_long_chain_without_recursion():
    n = 50_000
    src = np.arange(n)
    dst = (src + 1) % n  # one big cycle
    assert (strongly_connected(n, src, dst) == 0).all()


def brute_force_cycles(edge, head):
    """Node sets of the cycles, by following each node's successor n times."""
    n = len(edge)
    found = set()
    for u in range(n):
        path, x = [u], u
        for _ in range(n):
            if edge[x] < 0:
                break
            x = int(head[edge[x]])
            if x == u:
                found.add(frozenset(path))
                break
            path.append(x)
    return found


@pytest.mark.parametrize("seed", range(30))
def test_functional_cycles_are_exactly_the_cycles(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 10))
    edge = np.where(rng.random(n) < 0.8, np.arange(n), -1)
    head = rng.integers(0, n, n)
    cycles = functional_cycles(edge, head)
    as_nodes = [frozenset(edge_index for edge_index in c.tolist()) for c in cycles]  # edge i leaves node i
    assert set(as_nodes) == brute_force_cycles(edge, head)
    assert len(as_nodes) == len(set(as_nodes))
    for c in cycles:  # consecutive edges chain: the head of one is the node the next leaves
        assert all(head[a] == b for a, b in zip(c.tolist(), np.roll(c, -1).tolist(), strict=True))


@pytest.mark.parametrize("seed", range(20))
def test_union_find_gives_the_connected_components(seed):
    rng = np.random.default_rng(seed)
    n = 12
    groups = [rng.integers(0, n, int(rng.integers(1, 4))) for _ in range(int(rng.integers(0, 8)))]
    sets = UnionFind(n)
    src, dst = [], []
    for g in groups:
        sets.union(g)
        src += [int(g[0])] * len(g)
        dst += g.tolist()
    src, dst = np.array(src + dst, dtype=int), np.array(dst + src, dtype=int)  # both ways: undirected
    reach = reachable(n, src, dst)
    roots = np.array([sets.find(x) for x in range(n)])
    assert ((roots[:, None] == roots[None, :]) == reach).all()


def test_union_of_nothing_changes_nothing():
    sets = UnionFind(3)
    sets.union([])
    assert [sets.find(x) for x in range(3)] == [0, 1, 2]
