"""Which action a request reaches, the way IHP dispatches it (ihp/IHP/RouterSupport.hs,
``frontControllerToWAIApp`` and ``defaultRouter``, IHP 1.6.0):

1. the trie of every ``[routes| |]`` route wired into ``controllers``
   (ihp-router/IHP/Router/Trie.hs): its position in the list does not matter;
2. AutoRoute's map of exact paths (``findInRouteMaps``): ``/`` + a constructor name;
3. the attoparsec parsers in the order of ``controllers``, each followed by
   ``endOfInput``, tried with ``choice``: a parser that fails lets the next one try.

Before IHP 1.6 there is no trie and the order is 2, 3. A parser the judge cannot follow
does not stop the search: the request is followed on to the entry that takes it, and the
parsers not followed are kept (``Reached.pending``) so that the verdict can say what is
left to the live check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .route_parser import End, Seq, Undecided, run
from .routing import Route, Routing

FRONT_FILE = "Web/FrontController.hs"


@dataclass(frozen=True)
class Entry:
    kind: str  # "controller" | "route" | "unknown"
    name: str  # controller, or description
    parser: Any = None
    line: int = 0


@dataclass
class Reached:
    action: str | None = None  # the action the request reaches (None: none)
    how: str = ""
    entry: Entry | None = None
    # entries tried before the answer whose parser is not followed: (entry, why, where)
    pending: list[tuple[Entry, str, str]] = field(default_factory=list)


# ------------------------------------------------------------------ the 1.6 trie


@dataclass
class _Node:
    static: dict[str, _Node] = field(default_factory=dict)
    dynamic: _Node | None = None
    splat: dict[str, Route] = field(default_factory=dict)
    handlers: dict[str, Route] = field(default_factory=dict)


def _insert(root: _Node, route: Route) -> None:
    node = root
    for seg in route.pattern:
        if seg.startswith("{+"):
            for method in route.methods:
                node.splat[method] = route
            return
        if seg.startswith("{"):
            node.dynamic = node.dynamic or _Node()
            node = node.dynamic
        else:
            node = node.static.setdefault(seg, _Node())
    for method in route.methods:
        node.handlers[method] = route


def trie_lookup(routes: list[Route], path: str, method: str) -> Route | str | None:
    """``lookupTrie``: literal segment, then capture, then splat, backtracking only on
    no match; the route, ``"405"`` (path known, method not), or None."""
    root = _Node()
    for route in routes:
        _insert(root, route)
    segs = [s for s in path.split("?", 1)[0].split("/") if s]  # splitPath

    def splat(node: _Node) -> Route | str | None:
        if not node.splat:
            return None
        return node.splat.get(method, "405")

    def go(node: _Node, rest: list[str]) -> Route | str | None:
        if not rest:
            if method in node.handlers:
                return node.handlers[method]
            return "405" if node.handlers else splat(node)
        child = node.static.get(rest[0])
        if child is not None:
            got = go(child, rest[1:])
            if got is not None:
                return got
        if node.dynamic is not None:
            got = go(node.dynamic, rest[1:])
            if got is not None:
                return got
        return splat(node)

    return go(root, segs)


# ------------------------------------------------------------------ dispatch


def resolve(routing: Routing, entries: list[Entry], path: str, method: str = "GET") -> Reached:
    """Which action ``method path`` reaches through the front controller's entries."""
    trie = [r for e in entries if e.kind == "controller" for r in routing.dsl.get(e.name, [])]
    if trie:
        found = trie_lookup(trie, path, method)
        if isinstance(found, Route):
            owner = next(e for e in entries if found in routing.dsl.get(e.name, []))
            return Reached(found.action, f"the [routes| |] route at {found.where}", owner)
    reached = Reached()
    for entry in entries:
        if entry.kind == "unknown":
            reached.pending.append(
                (
                    entry,
                    f"cannot follow the controllers entry `{entry.name}`",
                    f"{FRONT_FILE}:{entry.line}",
                )
            )
            continue
        parser, how = entry.parser, entry.name
        if entry.kind == "controller":
            if entry.name in routing.dsl:
                continue  # its routes are in the trie; parseRoute' is `fail`
            found_parser = routing.parsers.get(entry.name)
            if found_parser is None:
                continue  # a controller whose routes are not in the files given
            how, parser = f"{found_parser[0]} of {entry.name}", found_parser[1]
        try:
            got = run(Seq((parser, End()), keep=0), path, 0, method)
        except Undecided as exc:
            where, _, what = str(exc).partition(": ")
            reached.pending.append((entry, f"{what} ({how})", where))
            continue
        if got is not None:
            reached.action, reached.how, reached.entry = got[1], how, entry
            return reached
    return reached
