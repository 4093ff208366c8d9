"""Property-based tests of the redactor (hypothesis): for arbitrary secrets, no form the
run can print survives redaction - raw, repr-escaped (pytest's -l, assertion messages,
nested reprs), JSON-escaped (summary.json, the HTML report's data blob), HTML/XML-escaped,
URL-encoded (quote and quote_plus), base64 of the secret and of ``user:secret``, and, for
secrets of at least 2N characters, any run of N characters (a secret cut by saferepr or
split over lines). See docs/threat-model.md."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable
from urllib.parse import quote, quote_plus

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from pytest_irp.redact import FRAGMENT, MASK, Redactor


def _py_repr_body(text: str) -> str:
    """What repr() prints between the quotes when the whole string holds both quotes."""
    return repr(text + "'\"")[1:-4]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "repr": lambda s: repr(s)[1:-1],
    "repr (both quotes)": _py_repr_body,
    "ascii": lambda s: ascii(s)[1:-1],
    "repr of repr": lambda s: repr(repr(s))[1:-1],
    "json": lambda s: json.dumps(s)[1:-1],
    "json (utf-8)": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    "json of repr": lambda s: json.dumps(repr(s))[1:-1],
    "html": lambda s: html.escape(s),
    "html of json": lambda s: html.escape(json.dumps(s)[1:-1]),
    "quote": lambda s: quote(s),
    "quote safe=''": lambda s: quote(s, safe=""),
    "quote_plus": lambda s: quote_plus(s),
    "base64": _b64,
}

# secrets as people and tools make them: any printable text, with the characters that
# escaping changes made likely (a mask '*' inside a secret would make "survived"
# ambiguous, so it is left out of the alphabet)
SPECIAL = list("\\'\"%+/=&<>:@ \t\né☃€\x7f")
ALPHABET = st.one_of(
    st.sampled_from(SPECIAL), st.characters(blacklist_categories=("Cs",), blacklist_characters="*")
)
SECRETS = st.text(alphabet=ALPHABET, min_size=8, max_size=40)
LONG_SECRETS = st.text(alphabet=ALPHABET, min_size=2 * FRAGMENT, max_size=140)

PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


USERS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="*:"),
    min_size=1,
    max_size=12,
)


@PROPS
@given(secret=SECRETS, name=st.sampled_from([*sorted(ENCODINGS), "basic auth"]), user=USERS)
@example(secret="Tr0ub4dor\\CANARY", name="repr", user="tegwick")
@example(secret="Tr0ub4dor\\CANARY", name="repr of repr", user="tegwick")
@example(secret="p%w+d/é 'q\"", name="quote_plus", user="tegwick")
def test_no_encoded_form_survives(secret: str, name: str, user: str) -> None:
    redactor = Redactor([secret])
    redactor.add_basic_auth(user, secret)
    form = _b64(f"{user}:{secret}") if name == "basic auth" else ENCODINGS[name](secret)
    out = redactor.redact(f"before <{form}> after")
    assert form not in out
    assert out.startswith("before <")
    assert out.endswith("> after")


@PROPS
@given(
    secret=LONG_SECRETS,
    cut=st.integers(min_value=0, max_value=10_000),
    name=st.sampled_from(["raw", "repr", "json", "base64", "quote"]),
    separator=st.sampled_from(["\n", "...", "\r\n    ", "' + '"]),
)
@example(secret="A" * 7 + "\\CANARY" + "b" * 30, cut=20, name="repr", separator="...")
def test_a_cut_or_wrapped_secret_leaves_no_run_of_n_characters(
    secret: str, cut: int, name: str, separator: str
) -> None:
    form = ENCODINGS[name](secret)
    assume(MASK not in form and separator not in form)
    at = cut % (len(form) + 1)
    head, tail = form[:at], form[at:]
    out = Redactor([secret]).redact(f"x={head}{separator}{tail};")
    for piece in (head, tail):
        if len(piece) >= FRAGMENT:
            for i in range(len(piece) - FRAGMENT + 1):
                assert piece[i : i + FRAGMENT] not in out, (piece, out)


@PROPS
@given(
    secret=LONG_SECRETS,
    start=st.integers(min_value=0, max_value=200),
    length=st.integers(min_value=FRAGMENT, max_value=200),
)
@example(secret="0000000000[000000000", start=0, length=10)
def test_any_fragment_of_n_characters_is_masked(secret: str, start: int, length: int) -> None:
    """saferepr keeps the head and the tail of a long repr: any piece of a long secret."""
    start = start % len(secret)
    piece = secret[start : start + length]
    assume(len(piece) >= FRAGMENT)
    out = Redactor([secret]).redact(f"[{piece}]")
    assert piece not in out
    if "[" not in secret and "]" not in secret:  # else a bracket may be masked with it
        assert out == f"[{MASK}]"


@PROPS
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_text_without_secrets_is_unchanged(text: str) -> None:
    """Masking is exact: what holds no registered secret (and no URL password) is left."""
    assume("://" not in text and "IHP_SESSION_SECRET" not in text)
    secrets = ["s3cr3t-Value-0123456789", "another-long-secret-ABCDEFG"]
    assume(not any(s[i : i + FRAGMENT] in text for s in secrets for i in range(len(s))))
    assert Redactor(secrets).redact(text) == text


@PROPS
@given(
    user=st.from_regex(r"[a-z][a-z0-9._-]{0,10}", fullmatch=True),
    password=st.text(
        alphabet=st.characters(
            whitelist_categories=("L", "N"), whitelist_characters="-._~!$&'()+,;=%"
        ),
        min_size=1,
        max_size=30,
    ),
    scheme=st.sampled_from(["http", "https", "postgresql", "postgres", "ssh", "git+ssh"]),
)
def test_password_in_any_url_is_masked_without_registration(
    user: str, password: str, scheme: str
) -> None:
    """A URL's userinfo password is masked even when nothing registered it (a value read
    from a log, a cluster object, an unknown environment variable)."""
    url = f"{scheme}://{user}:{password}@db.example.invalid:5432/app"
    out = Redactor().redact(f"dial {url} failed")
    assert out == f"dial {scheme}://{user}:{MASK}@db.example.invalid:5432/app failed"


def test_environment_variables_named_like_secrets_are_masked() -> None:
    env = {
        "GH_PAT": "ghp_0123456789abcdefABCDEF",
        "DEPLOY_KEY": "deploy-key-value-123",
        "CLOUD_CREDENTIALS": "cloud-cred-value-42",
        "AWS_CREDENTIAL": "aws-cred-9876543",
        "DATABASE_URL": "postgresql://app@db.invalid/app-db-name-x",
        "UPSTREAM": "https://bot:url-password-77@git.invalid/x.git",
        "MY_PASSWD": "passwd-value-1234",
        "OPENAI_API_KEY": "sk-api-key-value-55",
        "PATH": "/usr/bin:/bin",
        "HOME": "/root",
        "DEBUG_KEY_LOGGING": "true",
    }
    redactor = Redactor()
    redactor.add_from_environ(env)
    for name in (
        "GH_PAT",
        "DEPLOY_KEY",
        "CLOUD_CREDENTIALS",
        "AWS_CREDENTIAL",
        "DATABASE_URL",
        "MY_PASSWD",
        "OPENAI_API_KEY",
    ):
        assert env[name] not in redactor.redact(f"value {env[name]} end"), name
    assert "url-password-77" not in redactor.redact("the password url-password-77 alone")
    assert (
        redactor.redact("PATH=/usr/bin:/bin HOME=/root true")
        == "PATH=/usr/bin:/bin HOME=/root true"
    )


def test_a_long_secret_with_many_escaped_forms_compiles() -> None:
    """The masking pattern of a long secret whose escaped forms run to thousands of
    characters compiles (hypothesis found a RecursionError: one level per character)."""
    secret = "".join(chr(0x10000 + i * 97) for i in range(400)) + "\\"
    assert Redactor([secret]).redact(f"[{secret!r}]") == f"['{MASK}']"
