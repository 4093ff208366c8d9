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
    Lit,
    Methods,
    Pure,
    Scope,
    Segment,
    Seq,
    Unknown,
    binding_rhs,
    parser_of,
    where_env,
)

METHODS = ("GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")


# ------------------------------------------------------------------ the app's routes


@dataclass
class Routing:
    """Everything routing-related found in the app's modules."""

    modules: list[Module]
    constructors: dict[str, tuple[str, int, str]]  # ctor -> (type, line, path)
    parsers: dict[str, tuple[str, Any]] = field(default_factory=dict)  # controller -> how
    has_path: set[str] = field(default_factory=set)
    app_bindings: dict[str, list[str]] = field(default_factory=dict)  # webRoutes -> ctrls
    notes: list[str] = field(default_factory=list)

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
    """IHP's routes DSL (IHP/Router/DSL/Parser.hs): ``--`` comments, an optional header
    (a controller name, or ``for AppType``), then ``METHOD[|METHOD] /path Action``."""
    entries = []
    for i, raw in enumerate(body.splitlines()):
        text = raw.split("--", 1)[0].strip()
        if text:
            entries.append((line + i, text))
    header, app = None, None
    if entries and len(entries[0][1].split()) == 1 and entries[0][1] not in METHODS + ("ANY",):
        header = entries.pop(0)[1]
    elif entries and entries[0][1].startswith("for ") and len(entries[0][1].split()) == 2:
        app = entries.pop(0)[1].split()[1]
    grouped: dict[str, list[Any]] = {}
    for lineno, text in entries:
        words = text.split(None, 2)
        if len(words) < 3:
            routing.notes.append(f"{m.path}:{lineno}: not a routes line: `{text}`")
            continue
        methods = METHODS if words[0] == "ANY" else tuple(words[0].split("|"))
        action = words[2].split("{", 1)[0].split()[0]
        owner = header or routing.constructors.get(action, ("", 0, ""))[0]
        if not owner:
            continue
        steps: list[Any] = []
        for seg in words[1].strip("/").split("/") if words[1] != "/" else []:
            steps += [Lit("/"), Segment() if seg.startswith("{") else Lit(seg)]
        if not steps:
            steps = [Lit("/")]
        steps += [End(), Methods(methods), Pure(action)]
        grouped.setdefault(owner, []).append(Seq(tuple(steps)))
    for owner, options in grouped.items():
        routing.parsers[owner] = ("[routes| |] block", Alt(tuple(options)))
        routing.has_path.add(owner)
    if app:
        base = (
            app[: -len("Application")]
            if app.endswith("Application") and app != "Application"
            else app
        )
        routing.app_bindings[base[:1].lower() + base[1:] + "Routes"] = list(grouped)
