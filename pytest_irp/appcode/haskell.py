"""Haskell source through tree-sitter's Haskell grammar: declarations, expressions and
literals as syntax, so comments (``--``, ``{- -}``, Haddock) and string contents never
count as code. Only what the app checks need: instances and their bindings, top-level
bindings, data declarations, and expression helpers."""

from __future__ import annotations

import ast as pyast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from . import tstree
from .tstree import SourceTree

SKIP = frozenset({"comment", "haddock", "pragma", "cpp"})


@lru_cache(maxsize=1)
def _parser() -> Any:
    import tree_sitter
    import tree_sitter_haskell

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_haskell.language()))


@dataclass
class Module(SourceTree):
    text: str = ""
    SKIP = SKIP

    def declarations(self) -> list[Any]:
        decls = self.root.child_by_field_name("declarations")
        return named(decls) if decls is not None else []

    def instances(self, cls: str, type_name: str | None = None) -> Iterator[tuple[str, Any]]:
        """(instance type, instance node) for ``instance cls T`` (T = type_name if given)."""
        for decl in self.declarations():
            if decl.type != "instance":
                continue
            name = decl.child_by_field_name("name")
            if name is None or last_name(self.code(name)) != cls:
                continue
            pats = decl.child_by_field_name("patterns")
            first = named(pats)[0] if pats is not None and named(pats) else None
            ty = self.code(first).strip("() ") if first is not None else ""
            if type_name is None or ty == type_name:
                yield ty, decl

    def bindings(self, container: Any) -> dict[str, list[Any]]:
        """name -> its ``bind``/``function`` nodes among a node's declarations."""
        out: dict[str, list[Any]] = {}
        body = container.child_by_field_name("declarations") if container is not None else None
        for node in named(body) if body is not None else []:
            if node.type in ("bind", "function"):
                name = node.child_by_field_name("name")
                if name is not None:
                    out.setdefault(self.code(name), []).append(node)
        return out

    def top_bindings(self) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for node in self.declarations():
            if node.type in ("bind", "function"):
                name = node.child_by_field_name("name")
                if name is not None:
                    out.setdefault(self.code(name), []).append(node)
        return out

    def data_constructors(self) -> dict[str, tuple[str, int]]:
        """constructor -> (its data type, line) for every ``data`` declaration."""
        out: dict[str, tuple[str, int]] = {}
        for decl in self.declarations():
            if decl.type not in ("data_type", "newtype"):
                continue
            name = decl.child_by_field_name("name")
            if name is None:
                continue
            for node in walk(decl):
                if (
                    node.type == "constructor"
                    and node.parent is not None
                    and node.parent.type in ("prefix", "record", "infix", "newtype_constructor")
                ):
                    out.setdefault(self.code(node), (self.code(name), self.line(node)))
        return out

    def quasiquotes(self, quoter: str) -> Iterator[tuple[str, int]]:
        """(body, line of the body's first line) of top-level ``[quoter| ... |]`` splices."""
        for node in walk(self.root):
            if node.type != "quasiquote":
                continue
            q = node.child_by_field_name("quoter")
            body = node.child_by_field_name("body")
            if q is not None and last_name(self.code(q)) == quoter:
                yield (self.code(body) if body is not None else "", self.line(node))


def parse(path: str, text: str) -> Module:
    source = text.encode("utf-8")
    return Module(path=path, text=text, source=source, root=_parser().parse(source).root_node)


def walk(node: Any) -> Iterator[Any]:
    return tstree.walk(node, SKIP)


def named(node: Any) -> list[Any]:
    """Named children that are code (no comments, no punctuation)."""
    if node is None:
        return []
    return [c for c in node.named_children if c.type not in SKIP]


def last_name(text: str) -> str:
    """``Attoparsec.string`` -> ``string``; ``(<|>)`` -> ``<|>``."""
    text = text.strip().strip("()").strip()
    if text[:1].isalpha() and "." in text:
        return text.rsplit(".", 1)[-1]
    return text


def string_value(module: Module, node: Any) -> str | None:
    """The value of a string literal node (through parens and ``:: Type``), or None."""
    node = unwrap(node)
    if node.type == "literal" and named(node):
        node = named(node)[0]
    if node.type != "string":
        return None
    raw = module.code(node)
    try:
        value = pyast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw[1:-1]
    return value if isinstance(value, str) else None


def unwrap(node: Any) -> Any:
    """Through ``( e )``, ``e :: T`` and statement wrappers."""
    while True:
        if node.type in ("parens", "exp", "signature") and named(node):
            node = named(node)[0]
        else:
            return node


def flatten_apply(module: Module, node: Any) -> tuple[Any, list[Any]]:
    """``f a b`` -> (f, [a, b])."""
    args: list[Any] = []
    while node.type == "apply":
        fn = node.child_by_field_name("function")
        arg = node.child_by_field_name("argument")
        if fn is None or arg is None:
            break
        args.insert(0, arg)
        node = unwrap(fn)
    return node, args


# fixities of the operators routing code uses (base, attoparsec); others infixl 9
FIXITY = {
    "$": (0, "r"),
    ">>": (1, "l"),
    ">>=": (1, "l"),
    "<|>": (3, "l"),
    "*>": (4, "l"),
    "<*": (4, "l"),
    "<$": (4, "l"),
    "$>": (4, "l"),
    "<$>": (4, "l"),
    "<*>": (4, "l"),
    ":": (5, "r"),
    "++": (5, "r"),
    "<>": (6, "r"),
    ".": (9, "r"),
    "|>": (1, "l"),
    "&": (1, "l"),
}


@dataclass
class Op:
    op: str
    left: Any
    right: Any


def infix_tree(module: Module, node: Any) -> Any:
    """An ``infix`` chain re-associated by the operators' fixities -> nested :class:`Op`
    (leaves are tree-sitter nodes)."""
    operands: list[Any] = []
    operators: list[str] = []

    def flat(n: Any) -> None:
        if n.type == "infix":
            left = n.child_by_field_name("left_operand")
            op = n.child_by_field_name("operator")
            right = n.child_by_field_name("right_operand")
            if left is not None and op is not None and right is not None:
                flat(left)
                operators.append(last_name(module.code(op)).strip("`"))
                flat(right)
                return
        operands.append(n)

    flat(node)
    # precedence climbing
    pos = [0]

    def parse_expr(min_prec: int) -> Any:
        lhs = operands[pos[0]]
        while pos[0] < len(operators):
            op = operators[pos[0]]
            prec, assoc = FIXITY.get(op, (9, "l"))
            if prec < min_prec:
                break
            pos[0] += 1
            rhs = parse_expr(prec + 1 if assoc == "l" else prec)
            lhs = Op(op, lhs, rhs)
        return lhs

    return parse_expr(0)


def node_line(module: Module, node: Any) -> int:
    if isinstance(node, Op):
        return node_line(module, node.left)
    return module.line(node)
