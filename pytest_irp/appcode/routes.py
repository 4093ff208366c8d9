"""T04: does ``GET /healthz`` reach ``HealthAction``, and does that action answer plain
``ok``? Decided from the app's Haskell code the way IHP routes a request
(:mod:`pytest_irp.appcode.dispatch`: the 1.6 trie, then the parsers of ``controllers`` in
order, each followed by ``endOfInput``; attoparsec's ``<|>`` takes the first alternative
that succeeds and never comes back to it) and runs the controller
(:mod:`pytest_irp.appcode.action`: ``beforeAction``, then the action).

Routing styles understood:
- hand-written ``instance CanRoute C where parseRoute' = ...`` (attoparsec ``string``,
  ``endOfInput``, ``<|>``, ``choice``, ``optional``, ``>>``/``*>``/``<*``/``<$``/``<$>``,
  ``$``, ``do`` blocks, ``let`` and ``where`` parsers, ``onlyAllowMethods``), with the
  ``HasPath`` instance it needs;
- ``instance AutoRoute C`` (path ``/`` + action name without ``Action``), with
  ``customRoutes`` tried first (IHP 1.5+);
- IHP 1.6 ``[routes| ... |]`` blocks (ihp-router/IHP/Router/DSL/Parser.hs): one
  controller's (header line), header-less, or a lowercase named binding such as
  ``webRoutes`` (ihp/IHP/Router/IHP.hs ``emitNamedBinding``);
- front-controller entries ``parseRoute @C``, ``startPage A``, ``get "/p" A``,
  ``webSocketApp @A``, ``withPrefix "/p" [...]``, lists, ``:``, ``<>``/``++`` and
  bindings such as ``webRoutes``.

What the judge cannot follow is a finding, left to the live check (T11's ``/healthz``);
it never hides a later route that IHP would still reach."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import Verdict
from .action import ACTION, CONTROLLER, guard_problem, render_problem
from .dispatch import FRONT_FILE, Entry, resolve
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
    Lit,
    Methods,
    Pure,
    Scope,
    Seq,
    Unknown,
    binding_rhs,
    constructor_value,
    text_value,
    where_env,
)
from .routing import Routing, collect, top_env

PATH = "/healthz"
ROUTES_FILE = "Web/Routes.hs"
CONTROLLER_FILE = "Web/Controller/Health.hs"


# ------------------------------------------------------------------ front controller


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
    if name.startswith("webSocketApp") and args and args[0].type == "type_application":
        return [_websocket(m, name, args, env, line)]
    if name == "withPrefix" and len(args) == 2:
        prefix = text_value(Scope(m, dict(env)), args[0])
        if prefix is not None:  # string prefix >> choice (map (<* endOfInput) routes)
            inner = Unknown(f"{FRONT_FILE}:{line}", "the routes under withPrefix")
            return [Entry("route", f"withPrefix {prefix!r}", Seq((Lit(prefix), inner)), line)]
    return [Entry("unknown", " ".join(m.code(node).split())[:60], line=line)]


def _websocket(m: Module, name: str, args: list[Any], env: dict[str, Any], line: int) -> Entry:
    """``webSocketApp @App`` (``/App``), ``webSocketAppWithCustomPath @App "p"`` (``/p``):
    ``char '/' >> string path`` (ihp/IHP/RouterSupport.hs)."""
    ty = named(args[0])[0] if named(args[0]) else args[0]
    app = m.code(ty).strip("() ")
    path = app if len(args) == 1 else text_value(Scope(m, dict(env)), args[1])
    if path is None or name not in (
        "webSocketApp",
        "webSocketAppWithHTTPFallback",
        "webSocketAppWithCustomPath",
        "webSocketAppWithCustomPathAndHTTPFallback",
    ):
        return Entry("unknown", " ".join(m.code(args[0]).split())[:60], line=line)
    parser = Seq((Lit("/"), Lit(path), Pure(f"the WebSocket app {app}")), keep=2)
    return Entry("route", f"{name} @{app}", parser, line)


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
    for where, problem in routing.errors:
        path, _, lineno = where.partition(":")
        verdict.fail(path, int(lineno or 0), problem)
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


LIVE = "left to the live check, T11's GET /healthz on the release"


def _could_be_health(entry: Entry) -> bool:
    """A parser of another controller yields that controller's actions only."""
    return entry.kind == "unknown" or entry.name == CONTROLLER


def _decide(verdict: Verdict, routing: Routing, entries: list[Entry], line: int) -> None:
    reached = resolve(routing, entries, PATH)
    open_ = [p for p in reached.pending if reached.action == ACTION or _could_be_health(p[0])]
    for _entry, why, where in open_:
        verdict.note(
            f"{where}: GET {PATH} is not decided statically: {why}"
            + (
                f", tried before the route that reaches {ACTION}"
                if reached.action == ACTION
                else ""
            )
            + f"; {LIVE}"
        )
    if reached.action == ACTION or open_:
        return
    if reached.action is not None:
        verdict.fail(
            FRONT_FILE,
            (reached.entry.line if reached.entry else 0) or line,
            f"GET {PATH} reaches {reached.action} (through {reached.how}), not {ACTION}",
        )
        return
    _unreached(verdict, routing, entries, line)


def _unreached(verdict: Verdict, routing: Routing, entries: list[Entry], line: int) -> None:
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
    guard = guard_problem(routing.modules)
    if guard is not None:
        problem, path, line, decided = guard
        if decided:
            verdict.fail(path, line, problem)
        else:
            verdict.note(f"{path}:{line}: {problem}: not followed; {LIVE}")
    for m in routing.modules:
        found = render_problem(m)
        if found is None:
            return
        problem, line = found
        if problem:
            verdict.fail(m.path, line, problem)
            return
    verdict.fail(CONTROLLER_FILE, 0, f"no `instance Controller {CONTROLLER}` in Web/")
