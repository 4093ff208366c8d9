"""T04's model of an IHP route parser: the attoparsec combinators IHP's routes are built
from (literal, end of input, method filter, capture, alternatives, sequence), their run
over a request path, and the translation of the app's Haskell parser expressions into
that model (:func:`parser_of`). Anything not followed becomes :class:`Unknown`, which
makes the route unproven, never green."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .haskell import (
    Module,
    Op,
    flatten_apply,
    infix_tree,
    last_name,
    named,
    string_value,
    unwrap,
)


class Undecided(Exception):
    """The route's parser does something the judge cannot follow."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: cannot follow `{what}`")


# ------------------------------------------------------------------ parser model


@dataclass(frozen=True)
class Lit:
    text: str


@dataclass(frozen=True)
class End:
    pass


@dataclass(frozen=True)
class Methods:
    allowed: tuple[str, ...]


@dataclass(frozen=True)
class Segment:  # a capture: one non-empty path segment
    pass


@dataclass(frozen=True)
class Pure:
    value: str | None  # constructor name, or None for ()


@dataclass(frozen=True)
class Fail:
    pass


@dataclass(frozen=True)
class Unknown:
    where: str
    what: str


@dataclass(frozen=True)
class Alt:
    options: tuple[Any, ...]


@dataclass(frozen=True)
class Seq:
    steps: tuple[Any, ...]
    keep: int = -1  # which step's result is the sequence's result


def run(p: Any, path: str, pos: int, method: str) -> tuple[int, str | None] | None:
    """Attoparsec semantics on ``path``: (new position, result) or None on failure."""
    if isinstance(p, Lit):
        return (pos + len(p.text), None) if path.startswith(p.text, pos) else None
    if isinstance(p, End):
        return (pos, None) if pos == len(path) else None
    if isinstance(p, Methods):
        return (pos, None) if method in p.allowed else None
    if isinstance(p, Segment):
        end = path.find("/", pos)
        end = len(path) if end < 0 else end
        return (end, "capture") if end > pos else None
    if isinstance(p, Pure):
        return pos, p.value
    if isinstance(p, Fail):
        return None
    if isinstance(p, Unknown):
        raise Undecided(p.where, p.what)
    if isinstance(p, Alt):
        for option in p.options:
            got = run(option, path, pos, method)
            if got is not None:
                return got
        return None
    if isinstance(p, Seq):
        results: list[str | None] = []
        for step in p.steps:
            got = run(step, path, pos, method)
            if got is None:
                return None
            pos = got[0]
            results.append(got[1])
        return pos, (results[p.keep] if results else None)
    raise TypeError(p)


# ------------------------------------------------------------------ Haskell -> model


@dataclass
class Scope:
    module: Module
    env: dict[str, Any] = field(default_factory=dict)  # name -> node
    notes: list[str] = field(default_factory=list)
    depth: int = 0


def binding_rhs(module: Module, node: Any) -> Any:
    """Right-hand side of a ``bind``/argument-less ``function`` (None if guarded)."""
    match = node.child_by_field_name("match")
    if match is None:
        return None
    exprs = [c for c in named(match) if c.type not in ("guards",)]
    if any(c.type == "guards" for c in named(match)) or not exprs:
        return None
    return exprs[-1]


def where_env(module: Module, node: Any) -> dict[str, Any]:
    env: dict[str, Any] = {}
    for child in named(node):
        if child.type == "local_binds":
            env.update(_local_binds(module, child))
    return env


def _local_binds(module: Module, node: Any) -> dict[str, Any]:
    env: dict[str, Any] = {}
    for b in named(node):
        if b.type in ("bind", "function") and b.child_by_field_name("patterns") is None:
            name = b.child_by_field_name("name")
            rhs = binding_rhs(module, b)
            if name is not None and rhs is not None:
                env[module.code(name)] = rhs
    return env


def parser_of(scope: Scope, node: Any) -> Any:
    """The parser model of an attoparsec expression."""
    module = scope.module
    scope.depth += 1
    try:
        if scope.depth > 60:
            return Unknown(f"{module.path}:{module.line(node)}", "deeply nested parser")
        return _parser_of(scope, node)
    finally:
        scope.depth -= 1


def _where(module: Module, node: Any) -> str:
    return f"{module.path}:{module.line(node)}"


def _parser_of(scope: Scope, node: Any) -> Any:
    module = scope.module
    if isinstance(node, Op):
        return _operator(scope, node)
    node = unwrap(node)
    kind = node.type
    if kind == "infix":
        return _operator(scope, infix_tree(module, node))
    if kind == "do":
        return _do(scope, node)
    if kind == "let_in":
        inner = Scope(module, dict(scope.env), scope.notes, scope.depth)
        for child in named(node):
            if child.type == "local_binds":
                inner.env.update(_local_binds(module, child))
        body = node.child_by_field_name("expression")
        return (
            parser_of(inner, body)
            if body is not None
            else Unknown(_where(module, node), module.code(node))
        )
    if kind in ("variable", "qualified"):
        name = last_name(module.code(node))
        if name == "endOfInput":
            return End()
        if name == "empty":
            return Fail()
        if name in ("parseId", "parseUUID", "parseText", "parseIntegerId", "remainingText"):
            return Segment() if name != "remainingText" else Unknown(_where(module, node), name)
        if name in scope.env:
            target = scope.env.pop(name)  # no recursion through the same name
            try:
                return parser_of(scope, target)
            finally:
                scope.env[name] = target
        return Unknown(_where(module, node), name)
    if kind == "apply":
        return _apply(scope, node)
    return Unknown(_where(module, node), " ".join(module.code(node).split())[:60])


def constructor_value(module: Module, node: Any) -> str | Any | None:
    node = unwrap(node)
    if node.type == "constructor":
        return module.code(node)
    if node.type == "record" and named(node) and named(node)[0].type == "constructor":
        return module.code(named(node)[0])
    if node.type == "unit":
        return None
    return Unknown(_where(module, node), module.code(node))


def _apply(scope: Scope, node: Any) -> Any:
    module = scope.module
    fn, args = flatten_apply(module, node)
    name = last_name(module.code(fn)) if fn.type in ("variable", "qualified") else ""
    if name in ("string", "pathPrefix", "stringCI") and len(args) == 1:
        text = string_value(module, args[0])
        if text is None:
            return Unknown(_where(module, node), module.code(node))
        if name == "pathPrefix":
            scope.notes.append(
                f"{_where(module, node)}: `pathPrefix` (the workplan's snippet) is not an "
                f"IHP or attoparsec function: the app does not compile; write "
                f"`string \"{text}\"` (IHP's RouterSupport uses attoparsec's `string`)"
            )
        return Lit(text)
    if name == "char" and len(args) == 1:
        literal = module.code(unwrap(args[0]))
        if len(literal) == 3 and literal[0] == literal[2] == "'":
            return Lit(literal[1])
    if name in ("pure", "return") and len(args) == 1:
        value = constructor_value(module, args[0])
        return value if isinstance(value, Unknown) else Pure(value)
    if name == "onlyAllowMethods" and len(args) == 1:
        lst = unwrap(args[0])
        if lst.type == "list":
            return Methods(tuple(module.code(c) for c in named(lst)))
    if name == "choice" and len(args) == 1 and unwrap(args[0]).type == "list":
        return Alt(tuple(parser_of(scope, c) for c in named(unwrap(args[0]))))
    if name == "void" and len(args) == 1:
        return Seq((parser_of(scope, args[0]), Pure(None)))
    if name in scope.env and not args:
        return parser_of(scope, fn)
    return Unknown(_where(module, node), " ".join(module.code(node).split())[:60])


def _operator(scope: Scope, tree: Any) -> Any:
    module = scope.module
    if not isinstance(tree, Op):
        return parser_of(scope, tree)
    op = tree.op
    if op == "<|>":
        return Alt((parser_of(scope, tree.left), parser_of(scope, tree.right)))
    if op in (">>", "*>"):
        return Seq((parser_of(scope, tree.left), parser_of(scope, tree.right)))
    if op == "<*":
        return Seq((parser_of(scope, tree.left), parser_of(scope, tree.right)), keep=0)
    if op in ("<$", "$>"):  # `C <$ p` and `p $> C`: run p, the result is C
        const, parsed = (tree.left, tree.right) if op == "<$" else (tree.right, tree.left)
        value = (
            constructor_value(module, const)
            if not isinstance(const, Op)
            else Unknown(module.path, op)
        )
        if isinstance(value, Unknown):
            return value
        return Seq((parser_of(scope, parsed), Pure(value)))
    if op == "$" and not isinstance(tree.left, Op):
        fn = unwrap(tree.left)
        name = last_name(module.code(fn))
        if name in ("pure", "return"):
            value = (
                constructor_value(module, tree.right)
                if not isinstance(tree.right, Op)
                else Unknown(module.path, "$")
            )
            return value if isinstance(value, Unknown) else Pure(value)
        if (
            name == "choice"
            and not isinstance(tree.right, Op)
            and unwrap(tree.right).type == "list"
        ):
            return Alt(tuple(parser_of(scope, c) for c in named(unwrap(tree.right))))
    where = module.path
    return Unknown(where, f"operator {op}")


def _do(scope: Scope, node: Any) -> Any:
    module = scope.module
    inner = Scope(module, dict(scope.env), scope.notes, scope.depth)
    steps: list[Any] = []
    for stmt in named(node):
        if stmt.type == "let":
            for child in named(stmt):
                if child.type == "local_binds":
                    inner.env.update(_local_binds(module, child))
        elif stmt.type == "bind":  # x <- p
            expr = stmt.child_by_field_name("expression")
            steps.append(
                parser_of(inner, expr)
                if expr is not None
                else Unknown(_where(module, stmt), module.code(stmt))
            )
        else:
            steps.append(parser_of(inner, stmt))
    return Seq(tuple(steps)) if steps else Fail()
