"""The suite's registry helpers: every WWW-Authenticate challenge, the realm's fix per Gitea
version, skopeo inspect's output, Link paging; and T07's criteria on recorded facts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_irp import registry

GITEA_126 = (
    'Bearer realm="http://10.77.0.3/v2/token",service="container_registry",'
    'scope="*", Basic realm="Gitea Container Registry"'
)


def test_gitea_126_sends_two_challenges_and_the_bearer_one_has_the_realm() -> None:
    found = registry.parse_challenges(GITEA_126)
    assert [c["scheme"] for c in found] == ["bearer", "basic"]
    assert registry.parse_challenge(GITEA_126)["realm"] == "http://10.77.0.3/v2/token"
    # in the other order too: the last realm= is not the Bearer one
    flipped = 'Basic realm="Gitea Container Registry", ' + GITEA_126.split(", Basic")[0]
    assert registry.parse_challenge(flipped)["realm"] == "http://10.77.0.3/v2/token"


def test_challenge_edge_cases() -> None:
    assert registry.parse_challenges("") == []
    assert registry.parse_challenge("")["scheme"] == ""
    assert registry.parse_challenges('Negotiate abc==, Basic realm="a\\"b"') == [
        {"scheme": "negotiate", "token68": "abc=="},
        {"scheme": "basic", "realm": 'a"b'},
    ]
    assert registry.parse_challenge("Basic realm=x")["scheme"] == "basic"


_tokens = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
    min_size=1,
    max_size=12,
)
_values = st.text(
    alphabet=st.characters(codec="ascii", categories=("L", "N", "P", "S", "Zs")), max_size=30
)


@given(
    st.lists(
        st.tuples(_tokens, st.dictionaries(_tokens, _values, max_size=4)), min_size=1, max_size=4
    )
)
def test_rendered_challenges_parse_back(challenges: list[tuple[str, dict[str, str]]]) -> None:
    def quoted(v: str) -> str:
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'

    header = ", ".join(
        scheme + (" " + ", ".join(f"{k}={quoted(v)}" for k, v in params.items()) if params else "")
        for scheme, params in challenges
    )
    parsed = registry.parse_challenges(header)
    assert [c["scheme"] for c in parsed] == [s.lower() for s, _ in challenges]
    for got, (_, params) in zip(parsed, challenges, strict=True):
        want: dict[str, str] = {}
        for k, v in params.items():
            want.setdefault(k.lower(), v)
        assert {k: v for k, v in got.items() if k != "scheme"} == want


@given(st.text(max_size=200))
def test_any_header_parses_without_error(header: str) -> None:
    for c in registry.parse_challenges(header):
        assert c["scheme"]


@pytest.mark.parametrize(
    ("version", "says", "not_says"),
    [
        (
            "1.21.11",
            ["ROOT_URL = http://reg.example.invalid:32166/", "ROOT_URL only"],
            ["X-Forwarded-Proto", "PUBLIC_URL_DETECTION"],
        ),
        ("1.22.0", ["ROOT_URL", "X-Forwarded-Proto", "Host header"], ["PUBLIC_URL_DETECTION"]),
        ("1.26.0", ["ROOT_URL", "X-Forwarded-Proto", "PUBLIC_URL_DETECTION = auto"], []),
        (None, ["ROOT_URL", "did not report its version"], []),
    ],
)
def test_realm_fix_names_what_to_change_for_the_version(
    version: str | None, says: list[str], not_says: list[str]
) -> None:
    text = registry.realm_fix(version, "reg.example.invalid:32166")
    for part in says:
        assert part in text
    for part in not_says:
        assert part not in text


def test_parse_version() -> None:
    assert registry.parse_version("1.26.0") == (1, 26)
    assert registry.parse_version("v1.21.11+dev-3") == (1, 21)
    assert registry.parse_version("main") is None


def test_inspect_output_is_judged() -> None:
    out = (
        '@@digest sha256:ab\n@@inspect-begin\n{"Digest": "sha256:ab", "RepoTags": ["t1"]}\n'
        "@@inspect-end\n"
    )
    facts = registry.inspect_facts(registry._block(out, "@@inspect"))
    assert facts == {"ok": True, "digest": "sha256:ab", "tags": ["t1"], "error": ""}
    failed = registry.inspect_facts(
        registry._block("@@inspect-begin\ninspect failed: exit 1\n@@inspect-end\n", "@@inspect")
    )
    assert not failed["ok"]
    assert failed["error"] == "inspect failed: exit 1"
    assert not registry.inspect_facts("")["ok"]


def test_realm_refusal_is_read_from_skopeos_retries() -> None:
    realm = "http://reg.example.invalid/v2/token"
    err = (
        'level=warning msg="Failed, retrying in 1s ... (1/2). Error: trying to reuse blob '
        f'sha256:2b at destination: Get \\"{realm}?account=u&scope=x\\": dial tcp '
        '192.0.2.1:80: connect: connection refused"'
    )
    assert registry.realm_refusal(err, realm) == (
        f"skopeo asked {realm} for a token: dial tcp 192.0.2.1:80: connect: connection refused"
    )
    assert registry.realm_refusal(err, "http://other.invalid/v2/token") is None
    assert registry.realm_refusal("manifest unknown", realm) is None


def test_registry_words_from_an_error_body() -> None:
    gitea = '{"errors":[{"code":"UNAUTHORIZED","message":""}]}'  # Gitea 1.26.0, wrong password
    assert registry.first_line(gitea) == "UNAUTHORIZED"
    assert registry.first_line('{"errors":[{"code":"DENIED","message":"no"}]}') == "DENIED: no"
    assert registry.first_line("\nUnauthorized\nmore") == "Unauthorized"
    assert registry.first_line("") == ""


def test_next_page_from_link() -> None:
    base = "http://reg.example.invalid:32166"
    link = '</v2/o/n/tags/list?last=b&n=2>; rel="next"'
    assert registry.next_page(base, link) == base + "/v2/o/n/tags/list?last=b&n=2"
    assert registry.next_page(base, "") is None


# ---- T07's criteria on recorded facts --------------------------------------------------

GOOD = {
    "tag": "abc1234",
    "registry_tags": ["latest", "abc1234"],
    "digest": "sha256:ab",
    "served_digest": "sha256:ab",
    "image": "127.0.0.1:9/coulomb/ihp-railiance-probe:abc1234",
    "inspect_ok": True,
    "inspect_digest": "sha256:ab",
    "inspect_error": "",
    "package_versions": ["abc1234"],
    "repository": "coulomb/ihp-railiance-probe",
}


def _run_t07(pytester: pytest.Pytester, facts: dict[str, object]) -> dict[str, str]:
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "tests" / "test_t07_push.py"
    pytester.makepyfile(test_t07_push=source.read_text())
    pytester.makeconftest(
        "import pytest\n"
        "def pytest_configure(config):\n"
        "    config.addinivalue_line('markers', 'irp_criterion(c): criterion')\n"
        f"@pytest.fixture\ndef pushed_image():\n    return {facts!r}\n"
    )
    result = pytester.runpytest_inprocess("-p", "no:irp", "-p", "no:randomly", "-rA")
    outcomes = {}
    for line in result.outlines:
        for word in ("PASSED", "FAILED"):
            if line.startswith(word + " "):
                outcomes[line.split("::")[1].split()[0]] = word
    return outcomes


def test_t07_criteria_pass_on_good_facts(pytester: pytest.Pytester) -> None:
    assert set(_run_t07(pytester, GOOD).values()) == {"PASSED"}


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        (
            {"inspect_ok": False, "inspect_error": "inspect failed: exit 1"},
            "test_T07_skopeo_inspect_of_pushed_reference_succeeds",
        ),
        ({"inspect_digest": "sha256:cd"}, "test_T07_skopeo_inspect_of_pushed_reference_succeeds"),
        ({"package_versions": []}, "test_T07_image_visible_in_gitea_packages"),
        ({"package_versions": None}, "test_T07_image_visible_in_gitea_packages"),
        ({"package_versions": ["other"]}, "test_T07_image_visible_in_gitea_packages"),
        ({"registry_tags": ["latest"]}, "test_T07_tag_listed_in_registry"),
        ({"served_digest": "sha256:cd"}, "test_T07_registry_digest_equals_pushed_digest"),
        ({"served_digest": None}, "test_T07_registry_digest_equals_pushed_digest"),
    ],
)
def test_t07_criteria_fail_where_they_do_not_hold(
    pytester: pytest.Pytester, change: dict[str, object], failing: str
) -> None:
    outcomes = _run_t07(pytester, {**GOOD, **change})
    assert outcomes[failing] == "FAILED"
    assert [t for t, o in outcomes.items() if o == "FAILED"] == [failing]


# ---- the token stays with the registry (issue 20, point 6) ------------------------------


class _TagPages:
    """tags/list answering one page whose Link points at ``next_url``; every request and
    its Authorization header recorded."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url
        self.seen: list[tuple[str, str]] = []
        self.port = 0

    def get(self, h: Any) -> None:
        self.seen.append((h.path, h.headers.get("Authorization", "")))
        if "/tags/list" in h.path and "last=" not in h.path:
            h._send(200, {"tags": ["abc1234"]}, [("Link", f'<{self.next_url}>; rel="next"')])
        else:
            h._send(200, {"tags": ["def5678"]})

    def post(self, h: Any, body: Any) -> None:
        h._send(404)


@pytest.mark.parametrize("elsewhere", ["other host", "other port", "other scheme"])
def test_a_tags_link_to_another_address_gets_no_token(elsewhere: str) -> None:
    """A Link on tags/list to another host (127.0.0.2), port or scheme is a finding, not a
    request: the third address never sees the bearer token (it did, over plain HTTP)."""
    from standins import serving

    third = _TagPages("")
    with serving(third):
        target = {
            "other host": f"http://127.0.0.2:{third.port}/v2/o/n/tags/list?last=a",
            "other port": f"http://127.0.0.1:{third.port}/v2/o/n/tags/list?last=a",
            "other scheme": "https://127.0.0.1:{port}/v2/o/n/tags/list?last=a",
        }[elsewhere]
        pages = _TagPages(target)
        with serving(pages):
            pages.next_url = target.format(port=pages.port)
            client = registry.RegistryClient(
                registry.ImageRef(f"127.0.0.1:{pages.port}", "o/n"), plain_http=True
            )
            tags = client.tags("Bearer-Token-Canary-1")
            same = _TagPages("/v2/o/n/tags/list?last=a")
            with serving(same):
                own = registry.RegistryClient(
                    registry.ImageRef(f"127.0.0.1:{same.port}", "o/n"), plain_http=True
                )
                assert own.tags("t") == ["abc1234", "def5678"]  # its own pages: followed
                assert own.foreign_links == []
    assert tags == ["abc1234"]
    assert third.seen == []
    assert [a for _, a in pages.seen] == ["Bearer Bearer-Token-Canary-1"]
    assert client.foreign_links == [pages.next_url]


def test_origin_compares_scheme_host_and_port() -> None:
    assert registry.origin("http://r.invalid/x") == registry.origin("http://R.invalid:80/y")
    assert registry.origin("https://r.invalid/x") != registry.origin("http://r.invalid:443/")
    assert registry.origin("http://127.0.0.1:5/") != registry.origin("http://127.0.0.2:5/")
