"""T04's second half: what ``HealthController`` does with ``GET /healthz`` once routed.
``runAction`` runs the controller's ``beforeAction`` and then ``action HealthAction``
(ihp/IHP/ControllerSupport.hs, IHP 1.5.0 and 1.6.0). The action must answer 200 with the
plain text ``ok``: ``renderPlain "ok"`` (ihp/IHP/Controller/Render.hs: ``responseLBS
status200 [(hContentType, "text/plain")]``) or that response written out with
``respondAndExit``. A login guard in ``beforeAction`` (``ensureIsUser``, ``ensureIsAdmin``:
ihp/IHP/LoginSupport/Helper/Controller.hs) redirects an anonymous request to the login
page, so ``/healthz`` never answers ``ok``."""

from __future__ import annotations

import re
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
    walk,
)
from .route_parser import binding_rhs, constructor_value

CONTROLLER = "HealthController"
ACTION = "HealthAction"
LOGIN_FILE = "ihp/IHP/LoginSupport/Helper/Controller.hs"
# IHP's guards: no user in the session -> redirect to the login page
IHP_GUARDS = frozenset({"ensureIsUser", "ensureIsAdmin", "ensureIsRole"})
IHP_FORCING = frozenset({"currentUser", "currentUserId", "currentAdmin", "currentAdminId"})
LOOKS_LIKE_GUARD = re.compile(
    r"^(?:ensure|require|must|only|check)\w*(?:login|logged|user|admin|auth|signed|session)",
    re.I,
)
HARMLESS = frozenset({"pure", "return", "setLayout", "setTitle", "setModal", "when", "unless"})


def head_name(m: Module, node: Any) -> str:
    """The function at the head of an application (``f a b``, ``f $ x``, ``f a |> g``)."""
    if isinstance(node, Op):
        return head_name(m, node.left) if node.op == "$" else ""
    node = unwrap(node)
    if node.type == "infix":
        return head_name(m, infix_tree(m, node))
    if node.type == "apply":
        node = flatten_apply(m, node)[0]
    return last_name(m.code(node)) if node.type in ("variable", "qualified") else ""


def _names(m: Module, node: Any) -> set[str]:
    if isinstance(node, Op):
        return _names(m, node.left) | _names(m, node.right)
    return {last_name(m.code(n)) for n in walk(node) if n.type in ("variable", "qualified")}


# ------------------------------------------------------------------ the answer


def _response_ok(m: Module, node: Any) -> str | None:
    """``responseLBS status200 [(hContentType, "text/plain")] "ok"`` -> "ok"."""
    node = unwrap(node) if not isinstance(node, Op) else node
    if isinstance(node, Op) or node.type != "apply":
        return None
    fn, args = flatten_apply(m, node)
    if last_name(m.code(fn)) != "responseLBS" or len(args) != 3:
        return None
    if last_name(m.code(unwrap(args[0]))) not in ("status200", "ok200"):
        return None
    headers = unwrap(args[1])
    plain = headers.type == "list" and any(
        t.type == "tuple"
        and len(named(t)) == 2
        and last_name(m.code(named(t)[0])) == "hContentType"
        and (string_value(m, named(t)[1]) or "").startswith("text/plain")
        for t in map(unwrap, named(headers))
    )
    return string_value(m, args[2]) if plain else None


def _answer(m: Module, node: Any) -> str | None:
    """The text a ``renderPlain`` / ``respondAndExit (responseLBS ...)`` expression answers."""
    if isinstance(node, Op):
        if node.op == "$" and not isinstance(node.left, Op):
            name = last_name(m.code(unwrap(node.left)))
            if name == "renderPlain" and not isinstance(node.right, Op):
                return string_value(m, node.right)
            if name in ("respondAndExit", "respondWith"):
                return _response_ok(m, node.right)
        return None
    node = unwrap(node)
    if node.type == "do":
        stmts = named(node)
        if not stmts or any(_is_answer(m, s) for s in stmts[:-1]):
            return None
        return _answer(m, stmts[-1])
    if node.type == "infix":
        return _answer(m, infix_tree(m, node))
    if node.type == "apply":
        fn, args = flatten_apply(m, node)
        name = last_name(m.code(fn))
        if name == "renderPlain" and len(args) == 1:
            return string_value(m, args[0])
        if name in ("respondAndExit", "respondWith") and len(args) == 1:
            return _response_ok(m, args[0])
    return None


def _is_answer(m: Module, node: Any) -> bool:
    return head_name(m, node).startswith(("render", "redirect", "respond"))


def render_problem(m: Module) -> tuple[str, int] | None:
    """None when ``action HealthAction`` answers plain ok; else (problem, line);
    ("", 0) when this module has no ``instance Controller HealthController``."""
    for _ty, inst in m.instances("Controller", CONTROLLER):
        for fn in m.bindings(inst).get("action", []):
            pats = fn.child_by_field_name("patterns")
            first = named(pats)[0] if pats is not None and named(pats) else None
            if first is None or constructor_value(m, first) != ACTION:
                continue
            rhs = binding_rhs(m, fn)
            if rhs is None:
                return "action HealthAction has guards: not followed", m.line(fn)
            if _answer(m, rhs) == "ok":
                return None
            return (
                f'action HealthAction does not render plain "ok" (it does '
                f"`{' '.join(m.code(rhs).split())[:80]}`)",
                m.line(fn),
            )
        return "instance Controller HealthController has no action HealthAction", m.line(inst)
    return "", 0


# ------------------------------------------------------------------ beforeAction


Guard = tuple[str, str, int, bool]  # (problem, file, line, decided)


def guard_problem(modules: list[Module]) -> Guard | None:
    """What runs before ``action HealthAction``: the controller's ``beforeAction``, and the
    application's ``initContext`` (``InitControllerContext``, run for every request), as
    (problem, file, line, decided); decided=False: not followed (a finding). In
    ``initContext`` only a guard found for sure counts (it always holds other set-up)."""
    helpers = {
        name: (mod, nodes[0]) for mod in modules for name, nodes in mod.top_bindings().items()
    }
    for m in modules:
        for _ty, inst in m.instances("InitControllerContext"):
            for fn in m.bindings(inst).get("initContext", []):
                rhs = binding_rhs(m, fn)
                found = _steps(m, rhs, m.line(fn), helpers, 0) if rhs is not None else None
                if found is not None and found[3]:
                    return (found[0].replace("beforeAction", "initContext", 1), *found[1:])
    for m in modules:
        for _ty, inst in m.instances("Controller", CONTROLLER):
            for fn in m.bindings(inst).get("beforeAction", []):
                rhs = binding_rhs(m, fn)
                if rhs is None:
                    return "beforeAction has guards: not followed", m.path, m.line(fn), False
                return _steps(m, rhs, m.line(fn), helpers, 0)
    return None


def _guard(m: Module, line: int, guard: str, by_name: bool) -> Guard:
    if by_name:
        return (
            f"beforeAction runs `{guard}` before HealthAction, a login guard by its name "
            f"(not defined in the files read): like IHP's ensureIsUser ({LOGIN_FILE}) it "
            f"would redirect an anonymous GET /healthz to the login page",
            m.path,
            line,
            True,
        )
    return (
        f"beforeAction runs `{guard}` before HealthAction: an anonymous GET /healthz "
        f"is redirected to the login page ({LOGIN_FILE} `{guard}`, IHP 1.5.0 and "
        f"1.6.0), never 200 ok",
        m.path,
        line,
        True,
    )


def _steps(m: Module, node: Any, line: int, helpers: dict[str, Any], depth: int) -> Guard | None:
    """The first guard found for sure, else the first step not followed, else None."""
    node = unwrap(node) if not isinstance(node, Op) else node
    steps = named(node) if not isinstance(node, Op) and node.type == "do" else [node]
    unsure: Guard | None = None
    for step in steps:
        if not isinstance(step, Op) and step.type == "let":
            continue
        if not isinstance(step, Op) and step.type == "bind":
            step = step.child_by_field_name("expression") or step
        name = head_name(m, step)
        text = " ".join(m.code(step).split())[:60] if not isinstance(step, Op) else name
        forced = sorted(_names(m, step) & IHP_FORCING)
        if name in IHP_GUARDS or (forced and name not in ("when", "unless")):
            return _guard(m, line, name if name in IHP_GUARDS else forced[0], False)
        guards = (_names(m, step) & (IHP_GUARDS | IHP_FORCING)) or {
            n for n in _names(m, step) if LOOKS_LIKE_GUARD.match(n)
        }
        if name in HARMLESS and not guards:
            continue
        if name in helpers and depth < 5 and name not in HARMLESS:
            hm, hnode = helpers[name]
            rhs = binding_rhs(hm, hnode) if hnode.child_by_field_name("patterns") is None else None
            if rhs is not None:
                found = _steps(hm, rhs, line, helpers, depth + 1)
                if found is not None and found[3]:
                    return (found[0], m.path, line, True)
                unsure = unsure or (None if found is None else (found[0], m.path, line, False))
                continue
        if LOOKS_LIKE_GUARD.match(name):
            return _guard(m, line, name, True)
        can = f", which can call the login guard `{sorted(guards)[0]}`," if guards else ""
        unsure = unsure or (
            f"beforeAction runs `{text}`{can} before HealthAction",
            m.path,
            line,
            False,
        )
    return unsure
