"""T04's routing judge and its attoparsec model, beyond the corpus: comments and string
literals never count, operator fixities, attoparsec's commit-on-success <|>."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_irp.appcode.route_parser import (
    Alt,
    End,
    Lit,
    Methods,
    Pure,
    Seq,
    Undecided,
    Unknown,
    run,
)
from pytest_irp.appcode.routes import actions_for, route_verdict

BASE = Path(__file__).resolve().parent / "corpus" / "base"
FILES = {p.relative_to(BASE).as_posix(): p.read_text() for p in BASE.glob("Web/**/*.hs")}


def with_file(path: str, text: str) -> dict[str, str]:
    return {**FILES, path: text}


def test_attoparsec_alternatives_commit_to_the_first_success() -> None:
    health = Seq((Lit("/health"), Pure("A")), keep=1)
    healthz = Seq((Lit("/healthz"), Pure("B")), keep=1)
    assert run(Seq((Alt((health, healthz)), End()), keep=0), "/healthz", 0, "GET") is None
    assert run(Seq((Alt((healthz, health)), End()), keep=0), "/healthz", 0, "GET") == (8, "B")
    only_get = Seq((Lit("/x"), Methods(("GET",)), Pure("C")), keep=2)
    assert run(only_get, "/x", 0, "POST") is None
    with pytest.raises(Undecided):
        run(Seq((Unknown("f:1", "parseThing"), Pure("D"))), "/x", 0, "GET")
    # an unknown step after a failed literal is never reached
    assert run(Seq((Lit("/probes"), Unknown("f:1", "parseThing"))), "/healthz", 0, "GET") is None


def test_base_tree_routes_healthz_and_probes() -> None:
    assert route_verdict(FILES).ok
    assert actions_for(FILES, "/probes") == {"ProbesAction"}
    assert actions_for(FILES, "/nowhere") == set()


@pytest.mark.parametrize(
    ("routes", "ok"),
    [
        ('parseRoute\' = string "/healthz" *> endOfInput *> pure HealthAction', True),
        ('parseRoute\' = pure HealthAction <* string "/healthz"', True),
        ('parseRoute\' = HealthAction <$ string "/healthz"', True),
        ('parseRoute\' = string "/healthz" $> HealthAction', True),
        (
            'parseRoute\' = choice [ string "/health" >> endOfInput >> pure HealthAction, '
            'string "/healthz" >> pure HealthAction ]',
            True,
        ),
        ('parseRoute\' = string "/healthz" >> onlyAllowMethods [POST] >> pure HealthAction', False),
        ('parseRoute\' = string "/healthz/" >> pure HealthAction', False),
        ('parseRoute\' = string ("/health" <> "z") >> pure HealthAction', True),
        ('parseRoute\' = (string $ encodeUtf8 "/healthz") >> pure HealthAction', True),
        ("parseRoute' = HealthAction <$ (string \"/healthz\" <* optional (char '/'))", True),
        (
            'parseRoute\' = string "/healthz" >> option () (void $ string "/")'
            " >> pure HealthAction",
            True,
        ),
        ('parseRoute\' = string "/health" >> optional (string "z") >> pure HealthAction', True),
    ],
)
def test_hand_written_parsers(routes: str, ok: bool) -> None:
    text = FILES["Web/Routes.hs"].replace(
        'parseRoute\' = string "/healthz" >> endOfInput >> pure HealthAction', routes
    )
    assert text != FILES["Web/Routes.hs"]
    assert route_verdict(with_file("Web/Routes.hs", text)).ok is ok


def test_a_wiring_inside_a_string_literal_does_not_count() -> None:
    front = FILES["Web/FrontController.hs"].replace(
        "[ parseRoute @HealthController\n        , parseRoute @ProbesController\n        ]",
        "[ parseRoute @ProbesController ]",
    )
    front += '\nnote = "controllers = [ parseRoute @HealthController ]"\n'
    assert front != FILES["Web/FrontController.hs"]
    cause = route_verdict(with_file("Web/FrontController.hs", front)).cause()
    assert "HealthController is not wired into the front controller" in cause


def test_an_unfollowable_entry_before_the_answer_is_a_finding_left_to_the_live_check() -> None:
    front = FILES["Web/FrontController.hs"].replace(
        "[ parseRoute @HealthController",
        "[ mountFrontController AdminApplication\n        , parseRoute @HealthController",
    )
    verdict = route_verdict(with_file("Web/FrontController.hs", front))
    assert verdict.ok, verdict.cause()
    (finding,) = verdict.findings
    assert finding.startswith("Web/FrontController.hs:12: GET /healthz is not decided")
    assert "T11's GET /healthz" in finding
    # the health route itself not followed: a finding too, never a green without one
    routes = FILES["Web/Routes.hs"].replace(
        'string "/healthz" >> endOfInput', "string (healthPath <> suffix) >> endOfInput"
    )
    verdict = route_verdict(with_file("Web/Routes.hs", routes))
    assert verdict.ok
    assert "cannot follow" in verdict.findings[0]
    # a parser not followed that cannot yield HealthAction hides nothing: the verdict stays
    only_probes = front.replace(
        "mountFrontController AdminApplication", "parseRoute @ProbesController"
    )
    probes = routes.replace('string "/probes"', "string (probesPath <> x)").replace(
        "(healthPath <> suffix)", '"/healthz"'
    )
    verdict = route_verdict(
        {**FILES, "Web/FrontController.hs": only_probes, "Web/Routes.hs": probes}
    )
    assert verdict.ok
    assert "ProbesController" in verdict.findings[0]


def test_syntax_errors_are_named_with_their_line() -> None:
    broken = FILES["Web/Routes.hs"] + "\ninstance CanRoute where = =\n"
    cause = route_verdict(with_file("Web/Routes.hs", broken)).cause()
    assert cause.startswith("Web/Routes.hs:")
    assert "not valid Haskell" in cause


COMMENTS = st.sampled_from(
    [
        "-- parseRoute @HealthController",
        '{- renderPlain "ok" -}',
        '-- | string "/healthz"',
        "",
        "{- nested {- x -} -}",
    ]
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=40), COMMENTS), max_size=4))
def test_comments_on_their_own_lines_never_change_the_verdict(
    inserts: list[tuple[int, str]],
) -> None:
    for path in ("Web/Routes.hs", "Web/FrontController.hs", "Web/Controller/Health.hs"):
        lines = FILES[path].splitlines()
        for at, comment in inserts:
            lines.insert(min(at, len(lines)), comment)
        assert route_verdict(with_file(path, "\n".join(lines) + "\n")).ok


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_verdict_never_a_traceback(text: str) -> None:
    route_verdict(with_file("Web/Routes.hs", text))
    route_verdict(with_file("Web/FrontController.hs", text))


def test_deeply_nested_code_is_a_clear_failure_not_a_traceback() -> None:
    deep = FILES["Web/FrontController.hs"].replace(
        "[ parseRoute @HealthController\n        , parseRoute @ProbesController\n        ]",
        "startPage ProbesAction : " * 3000 + "[]",
    )
    cause = route_verdict(with_file("Web/FrontController.hs", deep)).cause()
    assert cause == "Web/Routes.hs: the routing code is nested too deeply to follow"


HEALTH = FILES["Web/Controller/Health.hs"]
ACTION_LINE = '    action HealthAction = renderPlain "ok"'


@pytest.mark.parametrize(
    ("before", "ok", "expected"),
    [
        ("beforeAction = ensureIsUser", False, "runs `ensureIsUser` before HealthAction"),
        (
            "beforeAction = do\n        setLayout defaultLayout\n        ensureIsAdmin @Admin",
            False,
            "runs `ensureIsAdmin`",
        ),
        ("beforeAction = requireLogin", False, "a login guard by its name"),
        ("beforeAction = do\n        let u = currentUser\n        pure ()", True, ""),
        (
            "beforeAction = do\n        _ <- pure currentUserId\n        pure ()",
            False,
            "`currentUserId`",
        ),
        ("beforeAction = setLayout defaultLayout", True, ""),
        ("beforeAction = when False ensureIsUser", True, "which can call the login guard"),
        ("beforeAction = countVisit", True, "beforeAction runs `countVisit`"),
    ],
)
def test_what_runs_before_the_action(before: str, ok: bool, expected: str) -> None:
    text = HEALTH.replace(ACTION_LINE, f"    {before}\n\n{ACTION_LINE}")
    assert text != HEALTH
    verdict = route_verdict(with_file("Web/Controller/Health.hs", text))
    assert verdict.ok is ok, verdict.cause()
    said = verdict.cause() + " ".join(verdict.findings)
    assert expected in said
    if ok and not expected:
        assert not verdict.findings


def test_a_guard_in_init_context_holds_every_request() -> None:
    front = FILES["Web/FrontController.hs"].replace(
        "initContext = pure ()",
        "initContext = do\n        initAuthentication @User\n        ensureIsUser",
    )
    assert front != FILES["Web/FrontController.hs"]
    cause = route_verdict(with_file("Web/FrontController.hs", front)).cause()
    assert "initContext runs `ensureIsUser` before HealthAction" in cause
    plain = front.replace("\n        ensureIsUser", "")
    assert route_verdict(with_file("Web/FrontController.hs", plain)).findings == []


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ('respondAndExit $ responseLBS status200 [(hContentType, "text/plain")] "ok"', True),
        (
            "respondAndExit (responseLBS HTTP.status200"
            ' [(hContentType, "text/plain; charset=utf-8")] "ok")',
            True,
        ),
        ('respondAndExit $ responseLBS status404 [(hContentType, "text/plain")] "ok"', False),
        ('respondAndExit $ responseLBS status200 [(hContentType, "text/html")] "ok"', False),
        ('respondAndExit $ responseLBS status200 [] "ok"', False),
        ('respondAndExit $ responseLBS status200 [(hContentType, "text/plain")] "down"', False),
    ],
)
def test_the_response_written_out(answer: str, ok: bool) -> None:
    text = HEALTH.replace('renderPlain "ok"', answer)
    assert route_verdict(with_file("Web/Controller/Health.hs", text)).ok is ok


def test_the_1_6_trie_is_consulted_before_any_parser() -> None:
    from pytest_irp.appcode.dispatch import trie_lookup
    from pytest_irp.appcode.routing import Route

    routes = [
        Route(("GET", "HEAD"), ("probes", "{probeId}"), "ShowProbeAction", "f:1"),
        Route(("GET", "HEAD"), ("probes", "new"), "NewProbeAction", "f:2"),
        Route(("POST",), ("probes",), "CreateProbeAction", "f:3"),
        Route(("GET",), ("files", "{+rest}"), "FileAction", "f:4"),
    ]
    assert trie_lookup(routes, "/probes/new", "GET") == routes[1]  # literal before capture
    assert trie_lookup(routes, "/probes/7/", "HEAD") == routes[0]  # empty segments dropped
    assert trie_lookup(routes, "//probes", "GET") == "405"
    assert trie_lookup(routes, "/files/a/b", "GET") == routes[3]
    assert trie_lookup(routes, "/healthz", "GET") is None


def test_with_prefix_is_followed_as_far_as_its_prefix() -> None:
    front = FILES["Web/FrontController.hs"].replace(
        "[ parseRoute @HealthController",
        '[ withPrefix "/admin/" [ parseRoute @AdminController ]\n'
        "        , parseRoute @HealthController",
    )
    verdict = route_verdict(with_file("Web/FrontController.hs", front))
    assert verdict.ok
    assert verdict.findings == []  # "/admin/" fails on /healthz before the routes under it
    anywhere = front.replace('"/admin/"', '"/"')
    verdict = route_verdict(with_file("Web/FrontController.hs", anywhere))
    assert verdict.ok
    assert "the routes under withPrefix" in verdict.findings[0]
