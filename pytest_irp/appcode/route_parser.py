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
    node_line,
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
    if kind in ("literal", "string") and string_value(module, node) is not None:
        # OverloadedStrings: attoparsec's `instance IsString (Parser ByteString)` is `string`
        return Lit(str(string_value(module, node)))
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


# string conversions that leave a literal's text as it is (Data.String.Conversions,
# Data.Text.Encoding, Data.String, Data.ByteString.Char8)
CONVERSIONS = frozenset({"cs", "encodeUtf8", "fromString", "convertString", "pack", "toStrict"})


def text_value(scope: Scope, node: Any) -> str | None:
    """The text of a string expression: a literal, ``"a" <> "b"``, a conversion of one
    (``encodeUtf8 "x"``, ``cs $ "x"``) or a name bound to one; None when not known."""
    module = scope.module
    if isinstance(node, Op):
        if node.op in ("<>", "++"):
            left, right = text_value(scope, node.left), text_value(scope, node.right)
            return None if left is None or right is None else left + right
        if node.op == "$" and not isinstance(node.left, Op):
            fn = unwrap(node.left)
            if last_name(module.code(fn)) in CONVERSIONS:
                return text_value(scope, node.right)
        return None
    node = unwrap(node)
    if node.type == "infix":
        return text_value(scope, infix_tree(module, node))
    if node.type == "apply":
        fn, args = flatten_apply(module, node)
        if last_name(module.code(fn)) in CONVERSIONS and len(args) == 1:
            return text_value(scope, args[0])
        return None
    if node.type in ("variable", "qualified") and module.code(node) in scope.env:
        name = module.code(node)
        target = scope.env.pop(name)
        try:
            return text_value(scope, target)
        finally:
            scope.env[name] = target
    return string_value(module, node)


def _apply(scope: Scope, node: Any) -> Any:
    fn, args = flatten_apply(scope.module, node)
    return _call(scope, node, fn, args)


def _call(scope: Scope, node: Any, fn: Any, args: list[Any]) -> Any:
    """``fn args`` (also written ``fn a $ b``): the combinators routes are made of."""
    module = scope.module
    name = last_name(module.code(fn)) if fn.type in ("variable", "qualified") else ""
    if name in ("string", "pathPrefix", "stringCI") and len(args) == 1:
        text = text_value(scope, args[0])
        if text is None:
            return Unknown(_where(module, node), module.code(node))
        if name == "pathPrefix":
            scope.notes.append(
                f"{_where(module, node)}: `pathPrefix` (the workplan's snippet) is not an "
                f"IHP or attoparsec function: the app does not compile; write "
                f"`string \"{text}\"` (IHP's RouterSupport uses attoparsec's `string`)"
            )
        return Lit(text)
    if name == "char" and len(args) == 1 and not isinstance(args[0], Op):
        literal = module.code(unwrap(args[0]))
        if len(literal) == 3 and literal[0] == literal[2] == "'":
            return Lit(literal[1])
    if name in ("pure", "return") and len(args) == 1:
        if isinstance(args[0], Op):
            return Unknown(_where(module, node), f"{name} $ ...")
        value = constructor_value(module, args[0])
        return value if isinstance(value, Unknown) else Pure(value)
    lst = unwrap(args[0]) if len(args) == 1 and not isinstance(args[0], Op) else None
    if name == "onlyAllowMethods" and lst is not None and lst.type == "list":
        return Methods(tuple(module.code(c) for c in named(lst)))
    if name == "choice" and lst is not None and lst.type == "list":
        return Alt(tuple(parser_of(scope, c) for c in named(lst)))
    if name == "void" and len(args) == 1:
        return Seq((parser_of(scope, args[0]), Pure(None)))
    if name == "optional" and len(args) == 1:
        # Control.Applicative: optional p = Just <$> p <|> pure Nothing
        return Alt((Seq((parser_of(scope, args[0]), Pure(None))), Pure(None)))
    if name == "option" and len(args) == 2:  # attoparsec: option x p = p <|> pure x
        return Alt((Seq((parser_of(scope, args[1]), Pure(None))), Pure(None)))
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
    if op == "<$>" and not isinstance(tree.left, Op):  # `C <$> p`: run p, the result is C
        value = constructor_value(module, tree.left)
        if isinstance(value, Unknown):
            return value
        return Seq((parser_of(scope, tree.right), Pure(value)))
    if op == "$" and not isinstance(tree.left, Op):  # `f a $ b` is `f a (b)`
        left = unwrap(tree.left)
        fn, args = flatten_apply(module, left) if left.type == "apply" else (left, [])
        return _call(scope, left, fn, [*args, tree.right])
    return Unknown(f"{module.path}:{node_line(module, tree)}", f"operator {op}")


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
