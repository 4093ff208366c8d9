"""The app's routes, collected from its Haskell modules for T04 (pytest_irp.appcode.routes):
each controller's parser (hand-written CanRoute, AutoRoute with customRoutes, IHP 1.6
[routes| |] blocks) and the bindings of route lists that the front controller may use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .haskell import (
    Module,
    parse,
)
from .route_parser import (
    Alt,
    End,
    Fail,
    Lit,
    Pure,
    Scope,
    Seq,
    Unknown,
    binding_rhs,
    parser_of,
    where_env,
)

METHODS = ("GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")


# ------------------------------------------------------------------ the app's routes


@dataclass(frozen=True)
class Route:
    """One line of a ``[routes| |]`` block: its methods, path segments (``{x}`` a
    capture, ``{+x}`` the rest of the path) and action."""

    methods: tuple[str, ...]
    pattern: tuple[str, ...]
    action: str
    where: str


@dataclass
class Routing:
    """Everything routing-related found in the app's modules."""

    modules: list[Module]
    constructors: dict[str, tuple[str, int, str]]  # ctor -> (type, line, path)
    parsers: dict[str, tuple[str, Any]] = field(default_factory=dict)  # controller -> how
    has_path: set[str] = field(default_factory=set)
    app_bindings: dict[str, list[str]] = field(default_factory=dict)  # webRoutes -> ctrls
    notes: list[str] = field(default_factory=list)
    dsl: dict[str, list[Route]] = field(default_factory=dict)  # controller -> its routes
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file:line, problem)

    def module(self, path: str) -> Module | None:
        return next((m for m in self.modules if m.path == path), None)


def collect(files: Mapping[str, str]) -> Routing:
    modules = [parse(path, text) for path, text in sorted(files.items())]
    constructors: dict[str, tuple[str, int, str]] = {}
    for m in modules:
        for ctor, (ty, line) in m.data_constructors().items():
            constructors.setdefault(ctor, (ty, line, m.path))
    routing = Routing(modules, constructors)
    for m in modules:
        _collect_module(routing, m)
    return routing


def _collect_module(routing: Routing, m: Module) -> None:
    for ty, _inst in m.instances("HasPath"):
        routing.has_path.add(ty)
    for ty, inst in m.instances("CanRoute"):
        binds = m.bindings(inst)
        rhs = next((binding_rhs(m, b) for b in binds.get("parseRoute'", [])), None)
        if rhs is None:
            routing.parsers[ty] = (
                "CanRoute",
                Unknown(f"{m.path}:{m.line(inst)}", "CanRoute without parseRoute'"),
            )
            continue
        scope = Scope(m, {**top_env(m), **where_env(m, binds["parseRoute'"][0])}, routing.notes)
        routing.parsers[ty] = ("CanRoute", parser_of(scope, rhs))
    for ty, inst in m.instances("AutoRoute"):
        binds = m.bindings(inst)
        auto = _auto_parser(routing, ty)
        custom_binds = binds.get("customRoutes", [])
        if custom_binds:
            rhs = binding_rhs(m, custom_binds[0])
            scope = Scope(m, {**top_env(m), **where_env(m, custom_binds[0])}, routing.notes)
            custom = (
                parser_of(scope, rhs)
                if rhs is not None
                else Unknown(f"{m.path}:{m.line(custom_binds[0])}", "customRoutes")
            )
            routing.parsers[ty] = ("AutoRoute with customRoutes", Alt((custom, auto)))
        else:
            routing.parsers[ty] = ("AutoRoute", auto)
        routing.has_path.add(ty)
    for body, line in m.quasiquotes("routes"):
        _collect_dsl(routing, m, body, line)


def top_env(m: Module) -> dict[str, Any]:
    env = {}
    for name, nodes in m.top_bindings().items():
        node = nodes[0]
        if node.child_by_field_name("patterns") is None:
            rhs = binding_rhs(m, node)
            if rhs is not None:
                env[name] = rhs
    return env


def _auto_parser(routing: Routing, controller: str) -> Any:
    """AutoRoute's own routes: ``/`` + action name without the ``Action`` suffix
    (``actionPrefixText`` is ``/`` for controllers in Web.*)."""
    options = []
    for ctor, (ty, _line, _path) in routing.constructors.items():
        if ty == controller:
            name = ctor[: -len("Action")] if ctor.endswith("Action") else ctor
            options.append(Seq((Lit("/" + name), End(), Pure(ctor)), keep=2))
    return Alt(tuple(options))


def _collect_dsl(routing: Routing, m: Module, body: str, line: int) -> None:
    """IHP's routes DSL (ihp-router/IHP/Router/DSL/Parser.hs, v1.6.0): ``--`` comments, an
    optional header (one identifier: a controller, or a lowercase binding name such as
    ``webRoutes``), then ``METHOD[|METHOD] /path Action`` (``WS /path App`` in a named
    binding). Routes go to the trie (IHP/Router/Trie.hs), consulted before any parser."""
    entries = []
    for i, raw in enumerate(body.splitlines()):
        text = raw.split("--", 1)[0].strip()
        if text:
            entries.append((line + i, text))
    header: str | None = None
    if entries and len(entries[0][1].split()) == 1:
        word = entries[0][1]
        if word not in METHODS + ("ANY", "WS") and "|" not in word:
            header = entries.pop(0)[1]
    elif entries and entries[0][1].split()[0] == "for":
        routing.errors.append(
            (
                f"{m.path}:{entries[0][0]}",
                f"`[routes|{entries[0][1]}` is not a header IHP accepts: the header is one "
                f"identifier, a controller or a lowercase binding name such as `webRoutes` "
                f"(ihp-router/IHP/Router/DSL/Parser.hs `looksLikeHeader`, IHP 1.6.0); this "
                f'line is read as a route and the splice fails (unknown method "for")',
            )
        )
        # the routes are still read, bound as that commit did (T05 asks where /probes goes)
        app = entries.pop(0)[1].split()[-1]
        base = app.removesuffix("Application") or app
        header = base[:1].lower() + base[1:] + "Routes"
    binding = header if header and not header[:1].isupper() else None
    controller = header if header and header[:1].isupper() else None
    grouped: dict[str, list[Route]] = {}
    for lineno, text in entries:
        words = text.split(None, 2)
        if len(words) < 3:
            routing.notes.append(f"{m.path}:{lineno}: not a routes line: `{text}`")
            continue
        method, path, action = words[0], words[1], words[2].split("{", 1)[0].split()[0]
        methods = METHODS if method == "ANY" else ("GET",) if method == "WS" else method.split("|")
        if "GET" in methods and "HEAD" not in methods:  # TH.hs: GET implies HEAD
            methods = (*methods, "HEAD")
        pattern = tuple(seg for seg in path.split("?", 1)[0].split("/") if seg)
        if method == "WS":  # webSocketRoute @App "/path" in the named binding
            owner = f"WS {path} {action}"
        else:
            owner = controller or routing.constructors.get(action, ("", 0, ""))[0]
        if owner:
            route = Route(tuple(methods), pattern, action, f"{m.path}:{lineno}")
            grouped.setdefault(owner, []).append(route)
    for owner, found in grouped.items():
        routing.dsl[owner] = found
        routing.has_path.add(owner)
        routing.parsers[owner] = ("[routes| |] block", Fail())  # parseRoute' = fail
    if binding:
        routing.app_bindings[binding] = list(grouped)
