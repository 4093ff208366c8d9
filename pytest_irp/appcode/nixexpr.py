"""Nix source through tree-sitter's Nix grammar (comments and string contents are not
code): bindings, functions, ``let``/``with``, lists, attribute selections."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from . import tstree
from .tstree import SourceTree


@lru_cache(maxsize=1)
def _parser() -> Any:
    import tree_sitter
    import tree_sitter_nix

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_nix.language()))


@dataclass
class NixFile(SourceTree):
    def attr_names(self, attrpath: Any) -> list[str]:
        """``a.${b.c}."d-e"`` -> ["a", "${b.c}", "d-e"]."""
        names = []
        for child in attrpath.named_children if attrpath is not None else []:
            if child.type == "comment":
                continue
            if child.type == "string_expression":
                names.append(
                    "".join(
                        self.code(f) for f in child.named_children if f.type == "string_fragment"
                    )
                )
            else:
                names.append(self.code(child))
        return names

    def bindings(self) -> Iterator[tuple[list[str], Any, Any]]:
        """Every ``attr.path = expression;``: (names, expression, binding node)."""
        for node in walk(self.root):
            if node.type == "binding":
                expr = node.child_by_field_name("expression")
                if expr is not None:
                    yield self.attr_names(node.child_by_field_name("attrpath")), expr, node


def parse(path: str, text: str) -> NixFile:
    source = text.encode("utf-8")
    return NixFile(path, source, _parser().parse(source).root_node)


def walk(node: Any) -> Iterator[Any]:
    return tstree.walk(node, SourceTree.SKIP)


def unparen(node: Any) -> Any:
    while node is not None and node.type == "parenthesized_expression":
        node = node.child_by_field_name("expression")
    return node
