"""A dict-backed node store filled by Frontier appends, as the ledger's database would be."""

from __future__ import annotations

from collections.abc import Sequence

from hub.ledger import Frontier, GetNode, append, leaf_hash


class NodeStore:
    """Every perfect-subtree node completed while appending ``data``, plus each size's root."""

    def __init__(self, data: Sequence[bytes]) -> None:
        self.leaf_hashes = [leaf_hash(d) for d in data]
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.roots = [Frontier().root()]
        self.frontiers = [Frontier()]
        frontier = Frontier()
        for h in self.leaf_hashes:
            frontier, completed = append(frontier, h)
            for node in completed:
                assert (node.level, node.index) not in self.nodes, "node emitted twice"
                self.nodes[node.level, node.index] = node.hash
            self.roots.append(frontier.root())
            self.frontiers.append(frontier)
        self.lookups = 0

    def getter(self, size: int) -> GetNode:
        """``get_node`` for the tree of ``size`` leaves, refusing any node not wholly inside it."""

        def get_node(level: int, index: int) -> bytes:
            assert level >= 0 and index >= 0, (level, index)
            assert (index + 1) << level <= size, f"node ({level}, {index}) outside size {size}"
            self.lookups += 1
            return self.nodes[level, index]

        return get_node


def leaf(i: int) -> bytes:
    """The leaf rule of the vectors: leaf i is the single byte i."""
    return bytes([i])
