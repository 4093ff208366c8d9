"""T01: flake.nix as the workplan wants it (appName, no removed packages, the models
overlay with configureFlags and postUnpack, no inter-hub-lib overlay) and the outputs the
flake has (``nix flake show --json``), knowing IHP's flake module: its packages are
``default``/``unoptimized-prod-server``, ``optimized-prod-server``,
``unoptimized-docker-image``, ``optimized-docker-image``, ... and, from IHP 1.5, the
``checks.<system>.tests`` check when Test/Main.hs exists (ihp flake-module.nix)."""

from __future__ import annotations

import json
import re
from typing import Any

from . import Verdict
from .nixexpr import NixFile, parse, unparen, walk

FLAKE = "flake.nix"
REMOVED_PACKAGES = (
    "http-conduit",
    "aeson",
    "string-conversions",
    "cryptohash-sha256",
    "base16-bytestring",
    "random-bytestring",
    "yaml",
    "network-uri",
)
OVERRIDES = ("overrideCabal", "overrideAttrs", "overrideDerivation")
IHP_IMAGES = ("optimized-docker-image", "unoptimized-docker-image")


def _list_names(
    f: NixFile, node: Any, param: str, with_p: bool, env: dict[str, Any], depth: int = 0
) -> list[tuple[str, int]]:
    """Package names in a package-list expression: ``with p; [ a p.b ] ++ extra``."""
    node = unparen(node)
    if node is None or depth > 20:
        return []
    kind = node.type
    if kind == "with_expression":
        env_node = node.child_by_field_name("environment")
        inner = env_node is not None and f.code(env_node) == param
        return _list_names(
            f, node.child_by_field_name("body"), param, with_p or inner, env, depth + 1
        )
    if kind == "let_expression":
        local = dict(env)
        for child in node.named_children:
            if child.type == "binding_set":
                for b in child.named_children:
                    if b.type == "binding":
                        names = f.attr_names(b.child_by_field_name("attrpath"))
                        if len(names) == 1:
                            local[names[0]] = b.child_by_field_name("expression")
        return _list_names(f, node.child_by_field_name("body"), param, with_p, local, depth + 1)
    if kind == "binary_expression":
        return _list_names(
            f, node.child_by_field_name("left"), param, with_p, env, depth + 1
        ) + _list_names(f, node.child_by_field_name("right"), param, with_p, env, depth + 1)
    if kind == "list_expression":
        out: list[tuple[str, int]] = []
        for el in node.named_children:
            if el.type == "comment":
                continue
            el = unparen(el)
            if el.type == "select_expression":
                base = el.child_by_field_name("expression")
                names = f.attr_names(el.child_by_field_name("attrpath"))
                if base is not None and f.code(base) == param and names:
                    out.append((names[-1], f.line(el)))
            elif el.type == "variable_expression":
                name = f.code(el)
                if name in env:
                    out += _list_names(f, env[name], param, with_p, env, depth + 1)
                elif with_p:
                    out.append((name, f.line(el)))
        return out
    if kind == "variable_expression" and f.code(node) in env:
        return _list_names(f, env[f.code(node)], param, with_p, env, depth + 1)
    return []


def haskell_packages(f: NixFile) -> list[tuple[str, int]] | None:
    """(name, line) of every package of ``haskellPackages = p: ...`` (None: no such)."""
    found = None
    for names, expr, _node in f.bindings():
        if names[-1:] != ["haskellPackages"]:
            continue
        expr = unparen(expr)
        if expr.type != "function_expression":
            continue
        param = expr.child_by_field_name("universal")
        if param is None:
            continue
        found = (found or []) + _list_names(
            f, expr.child_by_field_name("body"), f.code(param), False, {}
        )
    return found


def app_name(f: NixFile) -> tuple[str | None, int]:
    for names, expr, node in f.bindings():
        if (
            names[-1:] == ["appName"]
            and expr.type == "string_expression"
            and all(c.type == "string_fragment" for c in expr.named_children)
        ):
            return "".join(f.code(c) for c in expr.named_children), f.line(node)
    return None, 0


def _binds(f: NixFile, attrset: Any) -> set[str]:
    out = set()
    for node in walk(attrset):
        if node.type == "binding":
            names = f.attr_names(node.child_by_field_name("attrpath"))
            if names:
                out.add(names[0])
        elif node.type in ("inherit", "inherit_from"):
            attrs = node.child_by_field_name("attrs")
            for a in attrs.named_children if attrs is not None else []:
                out.add(f.code(a))
    return out


def _nearest_binding_names(f: NixFile, node: Any) -> list[str]:
    while node is not None and node.type != "binding":
        node = node.parent
    return f.attr_names(node.child_by_field_name("attrpath")) if node is not None else []


def models_override(f: NixFile) -> tuple[int, set[str]] | None:
    """(line, attributes set) of the override of the models package: an
    ``overrideCabal``/``overrideAttrs``/``overrideDerivation`` applied to a package whose
    name says models (``hsuper.${models.package}``, ``hsuper.app-models``), or bound to
    such a name (``"app-models" = overrideCabal ...``). None when there is none."""
    best: tuple[int, set[str]] | None = None
    wanted = {"configureFlags", "postUnpack"}
    for app in walk(f.root):
        if app.type != "apply_expression" or (
            app.parent is not None
            and app.parent.type == "apply_expression"
            and app.parent.child_by_field_name("function") == app
        ):
            continue  # only the outermost application of a call
        fn = unparen(app.child_by_field_name("function"))
        head = fn
        while head is not None and head.type == "apply_expression":
            head = unparen(head.child_by_field_name("function"))
        if head is None or not f.code(head).endswith(OVERRIDES):
            continue
        target = [f.code(n) for n in walk(fn) if n.type in ("identifier", "string_fragment")]
        if not any("models" in n for n in target + _nearest_binding_names(f, app)):
            continue
        arg = unparen(app.child_by_field_name("argument"))
        body = (
            arg.child_by_field_name("body")
            if arg is not None and arg.type == "function_expression"
            else arg
        )
        sets = _binds(f, body) if body is not None else set()
        if best is None or len(sets & wanted) > len(best[1] & wanted):
            best = (f.line(app), sets)
    return best


def flake_verdict(text: str, evaluated: Any, want_name: str) -> Verdict:
    """``evaluated``: ``nix eval --json .#irp`` when the flake exposes its data there."""
    verdict = Verdict()
    f = parse(FLAKE, text)
    bad = f.syntax_error_line()
    if bad:
        verdict.fail(FLAKE, bad, "not valid Nix here (tree-sitter's Nix grammar cannot parse it)")
        return verdict
    name, line = app_name(f)
    packages = haskell_packages(f) or []
    if isinstance(evaluated, dict):
        name = evaluated.get("appName", name)
        packages += [(str(p), 0) for p in evaluated.get("haskellPackages") or []]
    if name != want_name:
        verdict.fail(FLAKE, line, f"appName is {name!r}, expected {want_name!r}")
    present = sorted({(p, ln) for p, ln in packages if p in REMOVED_PACKAGES})
    for pkg, ln in present:
        verdict.fail(FLAKE, ln, f"haskellPackages still lists {pkg}, which the workplan removes")
    override = models_override(f)
    if override is None:
        verdict.fail(
            FLAKE,
            0,
            "the models overlay with configureFlags and postUnpack "
            "(ActualTypes interface overflow fix, Bug 1) is missing: no "
            "override (overrideCabal / overrideAttrs) of the models "
            "package in code",
        )
    else:
        missing = sorted({"configureFlags", "postUnpack"} - override[1])
        if missing:
            verdict.fail(
                FLAKE,
                override[0],
                f"the models package override does not set {' and '.join(missing)} (Bug 1 fix)",
            )
    for node in walk(f.root):
        if (
            node.type in ("identifier", "string_fragment")
            and f.code(node) == "inter-hub-lib"
            and node.parent is not None
            and node.parent.type in ("attrpath", "string_expression", "variable_expression")
        ):
            verdict.fail(
                FLAKE, f.line(node), "the superseded inter-hub-lib overlay is still present"
            )
            break
    return verdict


# ------------------------------------------------------------------ outputs


def ihp_version(lock_text: str | None) -> str | None:
    """IHP's version from flake.lock: the ``ihp`` input's ref (``v1.5.0``) or rev."""
    if not lock_text:
        return None
    try:
        nodes = json.loads(lock_text).get("nodes", {})
    except (json.JSONDecodeError, AttributeError):
        return None
    root = nodes.get(nodes.get("root") if isinstance(nodes.get("root"), str) else "root", {})
    key = (root.get("inputs") or {}).get("ihp", "ihp")
    node = nodes.get(key if isinstance(key, str) else "ihp") or {}
    original, locked = node.get("original") or {}, node.get("locked") or {}
    ref = original.get("ref") or locked.get("ref")
    if ref:
        return str(ref)
    return f"rev {str(locked.get('rev'))[:12]}" if locked.get("rev") else None


def version_tuple(version: str | None) -> tuple[int, ...] | None:
    match = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", version or "")
    return tuple(int(g) for g in match.groups() if g is not None) if match else None


def outputs_verdict(show: Any, build_attr: str, ihp: str | None) -> Verdict:
    """From ``nix flake show --json``: the package ``build_attr`` names (naming the IHP
    image outputs the flake has when it is not there) and the ``tests`` check."""
    verdict = Verdict()
    if not isinstance(show, dict):
        verdict.fail(FLAKE, 0, "`nix flake show --json` gave no usable answer")
        return verdict
    attr = build_attr.split("#", 1)[-1]
    packages = {n for o in (show.get("packages") or {}).values() for n in (o or {})}
    if attr.startswith("packages."):
        attr = attr.split(".", 2)[-1]
    if attr not in packages:
        images = [p for p in IHP_IMAGES if p in packages]
        hint = (
            f"; the flake has IHP's image outputs {', '.join(images)}: set build_attr = "
            f'".#{images[0]}"'
            if images
            else ""
        )
        verdict.fail(
            FLAKE,
            0,
            f"the flake has no package {attr!r} (needed by `nix build "
            f"{build_attr}`); packages: {sorted(packages)}{hint}",
        )
    checks = show.get("checks") or {}
    suites = ("tests", "integration-tests")  # IHP 1.5+: Test/Main.hs, Test/Integration.hs
    if not any(n in (outputs or {}) for outputs in checks.values() for n in suites):
        old = version_tuple(ihp)
        why = (
            f" IHP {ihp} (flake.lock) has none: IHP's flake module adds "
            f"checks.<system>.tests from v1.5 on"
            if old is not None and old < (1, 5)
            else " (IHP's flake module adds them from v1.5 on, when Test/Main.hs or "
            "Test/Integration.hs exists)"
        )
        verdict.fail(
            FLAKE,
            0,
            f"the flake has no checks.<system>.tests or .integration-tests (the Hspec suites);"
            f"{why}; run the specs another way with the test_command "
            f"setting (e.g. in devenv)",
        )
    return verdict
