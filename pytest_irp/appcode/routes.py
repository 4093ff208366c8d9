"""T04: does ``GET /healthz`` reach ``HealthAction``, and does that action render plain
``ok``? Decided from the app's Haskell code the way IHP routes a request
(ihp/IHP/RouterSupport.hs): the front controller's ``controllers`` list is tried in
order, each entry's parser followed by ``endOfInput``; attoparsec's ``<|>`` takes the
first alternative that succeeds and never comes back to it.

Routing styles understood:
- hand-written ``instance CanRoute C where parseRoute' = ...`` (attoparsec ``string``,
  ``endOfInput``, ``<|>``, ``choice``, ``>>``/``*>``/``<*``/``<$``, ``do`` blocks, ``let``
  and ``where`` parsers, ``onlyAllowMethods``), with the ``HasPath`` instance it needs;
- ``instance AutoRoute C`` (path ``/`` + action name without ``Action``), with
  ``customRoutes`` tried first (IHP 1.5+);
- IHP 1.6 ``[routes| ... |]`` blocks (ihp/IHP/Router/DSL/Parser.hs): one controller's
  (header line), header-less, or ``for WebApplication`` which defines ``webRoutes``;
- front-controller entries ``parseRoute @C``, ``startPage A``, ``get "/p" A``, lists,
  ``:``, ``<>``/``++`` and bindings such as ``webRoutes``.

Anything the judge cannot follow on the way to its answer makes the route unproven,
never green."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import Verdict
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
from .route_parser import (
    End,
    Lit,
    Methods,
    Pure,
    Seq,
    Undecided,
    binding_rhs,
    constructor_value,
    run,
    where_env,
)
from .routing import Routing, collect, top_env

PATH = "/healthz"
CONTROLLER = "HealthController"
ACTION = "HealthAction"
ROUTES_FILE = "Web/Routes.hs"
FRONT_FILE = "Web/FrontController.hs"
CONTROLLER_FILE = "Web/Controller/Health.hs"


# ------------------------------------------------------------------ front controller


@dataclass(frozen=True)
class Entry:
    kind: str  # "controller" | "route" | "unknown"
    name: str  # controller, or description
    parser: Any = None
    line: int = 0


def front_entries(routing: Routing, m: Module) -> tuple[list[Entry], int]:
    """The ``controllers`` of ``instance FrontController``, in order, and its line."""
    for _ty, inst in m.instances("FrontController"):
        binds = m.bindings(inst)
        nodes = binds.get("controllers", [])
        if not nodes:
            continue
        rhs = binding_rhs(m, nodes[0])
        env = {**top_env(m), **where_env(m, nodes[0])}
        if rhs is None:
            return [Entry("unknown", "guarded controllers", line=m.line(nodes[0]))], m.line(
                nodes[0]
            )
        return _entries(routing, m, rhs, env, 0), m.line(nodes[0])
    return [], 0


def _entries(
    routing: Routing, m: Module, node: Any, env: dict[str, Any], depth: int
) -> list[Entry]:
    if depth > 30:
        return [Entry("unknown", "deeply nested controllers", line=0)]
    if isinstance(node, Op):
        if node.op in ("<>", "++"):
            return _entries(routing, m, node.left, env, depth + 1) + _entries(
                routing, m, node.right, env, depth + 1
            )
        if node.op == ":":
            return _entry(routing, m, node.left, env) + _entries(
                routing, m, node.right, env, depth + 1
            )
        return [Entry("unknown", f"operator {node.op}")]
    node = unwrap(node)
    if node.type == "infix":
        return _entries(routing, m, infix_tree(m, node), env, depth + 1)
    if node.type == "list":
        out: list[Entry] = []
        for child in named(node):
            out += _entry(routing, m, child, env)
        return out
    if node.type in ("variable", "qualified"):
        name = last_name(m.code(node))
        if name in routing.app_bindings:
            return [Entry("controller", c, line=m.line(node)) for c in routing.app_bindings[name]]
        if name in env:
            target = env.pop(name)
            try:
                return _entries(routing, m, target, env, depth + 1)
            finally:
                env[name] = target
    return [Entry("unknown", " ".join(m.code(node).split())[:60], line=m.line(node))]


def _entry(routing: Routing, m: Module, node: Any, env: dict[str, Any]) -> list[Entry]:
    if isinstance(node, Op):
        return [Entry("unknown", f"operator {node.op}")]
    node = unwrap(node)
    line = m.line(node)
    fn, args = flatten_apply(m, node) if node.type == "apply" else (node, [])
    name = last_name(m.code(fn)) if fn.type in ("variable", "qualified") else ""
    if name == "parseRoute" and len(args) == 1 and args[0].type == "type_application":
        ty = named(args[0])[0] if named(args[0]) else None
        return [Entry("controller", m.code(ty).strip("() ") if ty is not None else "?", line=line)]
    if name == "startPage" and len(args) == 1:
        value = constructor_value(m, args[0])
        if isinstance(value, str):
            return [
                Entry(
                    "route",
                    f"startPage {value}",
                    Seq((Lit("/"), Methods(("GET", "HEAD")), Pure(value)), keep=2),
                    line,
                )
            ]
    if name in ("get", "post") and len(args) == 2:
        path, value = string_value(m, args[0]), constructor_value(m, args[1])
        if path is not None and isinstance(value, str):
            allowed = ("GET", "HEAD") if name == "get" else ("POST",)
            return [
                Entry(
                    "route",
                    f"{name} {path!r} {value}",
                    Seq((Lit(path), Methods(allowed), Pure(value)), keep=2),
                    line,
                )
            ]
    return [Entry("unknown", " ".join(m.code(node).split())[:60], line=line)]


# ------------------------------------------------------------------ the action


def render_problem(m: Module, routing: Routing) -> tuple[str, int] | None:
    """None when ``action HealthAction`` renders plain ok; else (problem, line)."""
    for _ty, inst in m.instances("Controller", CONTROLLER):
        for fn in m.bindings(inst).get("action", []):
            pats = fn.child_by_field_name("patterns")
            first = named(pats)[0] if pats is not None and named(pats) else None
            if first is None or constructor_value(m, first) != ACTION:
                continue
            rhs = binding_rhs(m, fn)
            if rhs is None:
                return "action HealthAction has guards: not followed", m.line(fn)
            said = _renders(m, rhs)
            if said == "ok":
                return None
            return (
                f'action HealthAction does not render plain "ok" (it does '
                f"`{' '.join(m.code(rhs).split())[:80]}`)",
                m.line(fn),
            )
        return "instance Controller HealthController has no action HealthAction", m.line(inst)
    return "", 0


def _renders(m: Module, node: Any) -> str | None:
    """The text a ``renderPlain`` expression renders, or None."""
    node = unwrap(node)
    if node.type == "do":
        stmts = named(node)
        if not stmts:
            return None
        if any(_is_render(m, s) for s in stmts[:-1]):
            return None
        return _renders(m, stmts[-1])
    if node.type == "infix":
        tree = infix_tree(m, node)
        if (
            isinstance(tree, Op)
            and tree.op == "$"
            and not isinstance(tree.left, Op)
            and not isinstance(tree.right, Op)
            and last_name(m.code(unwrap(tree.left))) == "renderPlain"
        ):
            return string_value(m, tree.right)
        return None
    if node.type == "apply":
        fn, args = flatten_apply(m, node)
        if last_name(m.code(fn)) == "renderPlain" and len(args) == 1:
            return string_value(m, args[0])
    return None


def _is_render(m: Module, node: Any) -> bool:
    node = unwrap(node)
    head = node
    while head.type in ("apply", "infix"):
        nxt = head.child_by_field_name("function") or head.child_by_field_name("left_operand")
        if nxt is None:
            break
        head = unwrap(nxt)
    return last_name(m.code(head)).startswith(("render", "redirect", "respond"))


# ------------------------------------------------------------------ the verdict


def route_verdict(files: Mapping[str, str]) -> Verdict:
    """``files``: path -> text of the app's Web/ modules (at least Routes, Types,
    FrontController and the health controller)."""
    try:
        return _route_verdict(files)
    except RecursionError:
        verdict = Verdict()
        verdict.fail(ROUTES_FILE, 0, "the routing code is nested too deeply to follow")
        return verdict


def _route_verdict(files: Mapping[str, str]) -> Verdict:
    verdict = Verdict()
    for path in (ROUTES_FILE, FRONT_FILE, "Web/Types.hs"):
        if path not in files:
            verdict.fail(path, 0, "missing")
    if verdict.problems:
        return verdict
    routing = collect(files)
    for m in routing.modules:
        bad = m.syntax_error_line()
        if bad:
            verdict.fail(
                m.path,
                bad,
                "not valid Haskell here (tree-sitter's Haskell grammar cannot parse it)",
            )
    if verdict.problems:
        return verdict
    owner = routing.constructors.get(ACTION)
    if owner is None or owner[0] != CONTROLLER:
        verdict.fail(
            "Web/Types.hs",
            0,
            f"no `data {CONTROLLER} = {ACTION}` declaration"
            + (f" ({ACTION} belongs to {owner[0]} in {owner[2]})" if owner else ""),
        )
        return verdict
    front = routing.module(FRONT_FILE)
    assert front is not None
    entries, line = front_entries(routing, front)
    if not entries:
        verdict.fail(
            FRONT_FILE,
            line,
            "no `instance FrontController ... where controllers = ...` with entries",
        )
        return verdict
    _decide(verdict, routing, entries, line)
    if (
        CONTROLLER in routing.parsers
        and routing.parsers[CONTROLLER][0] == "CanRoute"
        and CONTROLLER not in routing.has_path
    ):
        verdict.note(
            f"{ROUTES_FILE}: `instance CanRoute {CONTROLLER}` without "
            f"`instance HasPath {CONTROLLER}`: IHP's CanRoute needs HasPath (the "
            f"workplan's snippet omits it), so the app does not compile"
        )
    for note in routing.notes:
        verdict.note(note)
    _check_render(verdict, routing)
    return verdict


@dataclass
class Reached:
    action: str | None = None  # the action the request reaches (None: none)
    how: str = ""
    entry: Entry | None = None
    undecided: str = ""  # why it cannot be decided
    where: str = ""  # file:line of what could not be followed


def resolve(routing: Routing, entries: list[Entry], path: str, method: str = "GET") -> Reached:
    """Which action ``method path`` reaches through the front controller's entries."""
    for entry in entries:
        if entry.kind == "unknown":
            return Reached(
                undecided=f"cannot follow the controllers entry `{entry.name}`",
                where=f"{FRONT_FILE}:{entry.line}",
                entry=entry,
            )
        parser, how = entry.parser, entry.name
        if entry.kind == "controller":
            found = routing.parsers.get(entry.name)
            if found is None:
                continue  # a controller whose routes are not in the files given
            how, parser = f"{found[0]} of {entry.name}", found[1]
        try:
            got = run(Seq((parser, End()), keep=0), path, 0, method)
        except Undecided as exc:
            where, _, what = str(exc).partition(": ")
            return Reached(undecided=f"{what} ({how})", where=where, entry=entry)
        if got is not None:
            return Reached(action=got[1], how=how, entry=entry)
    return Reached()


def actions_for(files: Mapping[str, str], path: str, method: str = "GET") -> set[str]:
    """The action ``method path`` reaches in the app ({} when not decided)."""
    try:
        routing = collect(files)
        front = routing.module(FRONT_FILE)
        if front is None:
            return set()
        reached = resolve(routing, front_entries(routing, front)[0], path, method)
    except RecursionError:
        return set()
    return {reached.action} if reached.action else set()


def _decide(verdict: Verdict, routing: Routing, entries: list[Entry], line: int) -> None:
    reached = resolve(routing, entries, PATH)
    if reached.undecided:
        where = reached.where.split(":")
        verdict.fail(
            where[0],
            int(where[1]) if len(where) > 1 and where[1].isdigit() else 0,
            f"GET {PATH} cannot be decided: {reached.undecided}",
        )
        return
    if reached.action == ACTION:
        return
    if reached.action is not None:
        verdict.fail(
            FRONT_FILE,
            (reached.entry.line if reached.entry else 0) or line,
            f"GET {PATH} reaches {reached.action} (through {reached.how}), not {ACTION}",
        )
        return
    wired = ", ".join(e.name for e in entries)
    if not any(e.kind == "controller" and e.name == CONTROLLER for e in entries):
        verdict.fail(
            FRONT_FILE,
            line,
            f"{CONTROLLER} is not wired into the front controller (controllers: {wired})",
        )
    elif CONTROLLER not in routing.parsers:
        verdict.fail(
            ROUTES_FILE,
            0,
            f"{CONTROLLER} is wired but has no routes (no "
            f"CanRoute, AutoRoute or [routes| |] for it)",
        )
    else:
        kind = routing.parsers[CONTROLLER][0]
        verdict.fail(ROUTES_FILE, 0, f"no route of {CONTROLLER} ({kind}) matches GET {PATH}")


def _check_render(verdict: Verdict, routing: Routing) -> None:
    for m in routing.modules:
        found = render_problem(m, routing)
        if found is None:
            return
        problem, line = found
        if problem:
            verdict.fail(m.path, line, problem)
            return
    verdict.fail(CONTROLLER_FILE, 0, f"no `instance Controller {CONTROLLER}` in Web/")
