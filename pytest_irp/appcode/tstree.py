"""What the Haskell and Nix readers share: a tree-sitter parse of one file, the text of a
node, its line, the first part that did not parse, and a walk that skips comments."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


def walk(node: Any, skip: frozenset[str]) -> Iterator[Any]:
    """Every node below ``node`` (itself included) in source order, without the subtrees
    whose type is in ``skip`` (comments: they never count as code)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type in skip:
            continue
        yield current
        stack.extend(reversed(current.children))


@dataclass
class SourceTree:
    """One parsed file. ``SKIP``: the node types that are not code in this grammar."""

    path: str
    source: bytes
    root: Any
    SKIP = frozenset({"comment"})

    def code(self, node: Any) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def line(self, node: Any) -> int:
        return int(node.start_point[0]) + 1

    def syntax_error_line(self) -> int:
        """Line of the first part tree-sitter could not parse (0: none)."""
        for node in walk(self.root, self.SKIP):
            if node.is_error or node.is_missing:
                return self.line(node)
        return 0
