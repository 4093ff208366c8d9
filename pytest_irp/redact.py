"""One registry of secrets, applied wherever output is captured; and the Secret holder.

Everything that leaves the process (terminal, HTML, JUnit XML, summary.json, saved logs,
pytest's --debug log) passes through :meth:`Redactor.redact`. Secrets come from the
settings, from values obtained at run time (registry tokens, generated session secrets,
values read from the cluster) and from environment variables whose names or values say
they are secret.

What is masked (docs/threat-model.md has the reasoning):

- every registered secret in the forms a run can print it in: raw; escaped as Python's
  repr/ascii does (pytest's tracebacks, ``-l``, assertion messages), also nested (a repr
  of a repr, the JSON of a repr, HTML of JSON); JSON-, HTML- and XML-escaped;
  URL-encoded (``quote``, ``quote_plus``, lower-case hex); base64 (standard and URL-safe,
  with or without padding, and as it appears inside a longer base64 text), also of
  ``user:secret`` (HTTP basic auth, registry authfiles);
- for a secret of at least ``2 * FRAGMENT`` characters, any run of ``FRAGMENT`` or more
  characters of it (or of its escaped or base64 forms): a secret cut by pytest's
  saferepr (240 characters, head and tail kept) or split over lines leaves at most
  ``FRAGMENT - 1`` characters of one piece readable;
- the password of any URL (``scheme://user:password@host``), registered or not;
- the value of an ``IHP_SESSION_SECRET=...`` line (a key IHP generated and printed).

- a secret's hex, base32, upper- and lower-case, Go-escaped and shell-quoted forms, and
  a short one broken by one line break (:func:`other_forms`, :func:`split_forms`).

Secrets shorter than 4 characters are never registered (masking "1" everywhere would
destroy every output); configured secrets must have at least 8 (settings refuses less);
values met by their variable's name need 8 and must not be numbers (:func:`env_secret`:
``KEY_SIZE=9999`` would turn ``99999999`` into a mask). Output is parsed raw and masked
where it is shown: masking never feeds a parser.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shlex
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote

MASK = "***"
FRAGMENT = 10  # runs this long of a secret of at least twice this length are masked
MIN_LEN = 4  # shorter values would mask innocent text everywhere
# a value found in the environment (by its variable's name, or as a URL's password) is
# registered only from this length on, and only when it is not a number: KEY_SIZE=9999
# must not turn disk_free_kb=99999999 into a mask (docs/threat-model.md, promise 22)
ENV_MIN_LEN = 8
_NUMBER = re.compile(r"[\d\s.,:+-]*")
_BLOCK = FRAGMENT // 2  # the aligned pieces of a text looked up (see _mask_runs)
_CHUNKS = re.compile(f".{{{_BLOCK}}}", re.DOTALL)

_SECRET_NAME = re.compile(
    r"TOKEN|PASSWORD|SECRET|PASSWD|API_?KEY|CREDENTIAL|DATABASE_URL"
    r"|(?:^|_)(?:PAT|KEY)(?:$|_)",
    re.IGNORECASE,
)
# names that hold a reference to a secret, not the secret (IRP_REGISTRY_PASSWORD_FILE)
_REFERENCE_NAME = re.compile(r"_(?:FILE|PATH|DIR|NAME)$", re.IGNORECASE)
_NOT_SECRETS = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null"})
# IHP prints a generated key as `IHP_SESSION_SECRET=<key>`: the whole value is secret. One
# pattern for the redactor (masks the value) and the log judge (T11: the app printed one).
SESSION_SECRET_NAME = "IHP_SESSION_SECRET"  # noqa: S105 - a key name, not a secret
SESSION_SECRET_LINE = re.compile(r"(IHP_SESSION_SECRET\s*[=:]\s*)(\S+)")
# scheme://user:password@ (RFC 3986 userinfo; the password may hold sub-delims)
_URL_USERINFO = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://"
    r"(?P<user>[^\s:/@?#\[\]\"<>\\]*):)"
    r"(?P<password>[^\s@/?#\[\]\"<>\\]+)(?P<at>@)"
)


class Secret:
    """A secret value that never shows itself: ``repr``, ``str`` and ``format`` give
    ``***`` (so pytest's argument and local reprs, its --debug log and any f-string show
    no fragment and no escaped form of it); :meth:`reveal` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))


def url_passwords(text: str) -> list[tuple[str, str]]:
    """(user, password) of every URL with a password in ``text`` (percent-decoded)."""
    return [
        (unquote(m.group("user")), unquote(m.group("password")))
        for m in _URL_USERINFO.finditer(text)
    ]


def secret_name(name: str) -> bool:
    """Whether a variable (or metadata key) named ``name`` holds a secret by its name."""
    return bool(_SECRET_NAME.search(name)) and not _REFERENCE_NAME.search(name)


def env_secret(value: str) -> bool:
    """Whether a value met by its name (not configured as a secret) is registered: at
    least ENV_MIN_LEN characters, not a flag word, not a number (``KEY_SIZE=9999``)."""
    text = value.strip()
    return (
        len(text) >= ENV_MIN_LEN
        and text.lower() not in _NOT_SECRETS
        and not _NUMBER.fullmatch(text)
    )


def mask_userinfo(text: str) -> str:
    """``scheme://user:***@host``: a URL's password masked, whatever it is."""
    return _URL_USERINFO.sub(lambda m: m.group("head") + MASK + m.group("at"), text)


# --------------------------------------------------------------------------- forms


def _py_escape(text: str, quote_char: str | None, ascii_only: bool) -> str:
    """The body of Python's repr (``quote_char`` escaped) or ascii of ``text``."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote_char:
            out.append("\\" + ch)
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif (ascii_only and ord(ch) > 0x7E) or not ch.isprintable():
            out.append(ascii(ch)[1:-1])
        else:
            out.append(ch)
    return "".join(out)


def _xml_attr(text: str) -> str:
    """As ElementTree escapes an attribute (JUnit XML's message)."""
    return (
        html.escape(text, quote=False)
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#09;")
    )


_ESCAPES = (
    lambda s: _py_escape(s, "'", False),
    lambda s: _py_escape(s, None, False),
    lambda s: _py_escape(s, "'", True),
    lambda s: _py_escape(s, None, True),
    lambda s: json.dumps(s)[1:-1],
    lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    lambda s: html.escape(s),
    lambda s: html.escape(s, quote=False),
    _xml_attr,
)
_MARKUP = (lambda s: html.escape(s), _xml_attr)


def escaped_forms(value: str) -> set[str]:
    """``value`` as repr/ascii/JSON/HTML/XML print it, nested two deep, and HTML or XML
    around those (the HTML report embeds JSON of reprs)."""
    forms = {value}
    level = {value}
    for _ in range(2):
        level = {escape(f) for f in level for escape in _ESCAPES} - forms
        forms |= level
    forms |= {markup(f) for f in forms for markup in _MARKUP}
    return forms


def url_forms(value: str) -> set[str]:
    encoded = {quote(value), quote(value, safe=""), quote_plus(value), quote_plus(value, safe="/")}
    lower = {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), e) for e in encoded}
    return (encoded | lower) - {value}


def base64_forms(data: bytes) -> set[str]:
    """base64 of ``data`` (standard and URL-safe, padded or not), and the characters that
    depend only on ``data`` when it sits at any offset inside a longer base64 text."""
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        full = encode(data).decode()
        forms |= {full, full.rstrip("=")}
        if len(data) >= 6:
            for offset, skip in ((0, 0), (1, 2), (2, 3)):
                inner = encode(b"\0" * offset + data).decode().rstrip("=")[skip:]
                if (offset + len(data)) % 3:
                    inner = inner[:-1]
                forms.add(inner)
    return {f for f in forms if len(f) >= MIN_LEN}


_SHELL_SPECIAL = re.compile(r"""([\\'"$`!&|;<>(){}\[\]*?#~ \t])""")


def other_forms(value: str) -> set[str]:
    """Forms tools print a value in besides escaping (docs/threat-model.md, issue 20):
    hex of its UTF-8 (``xxd``, ``%x``; lower and upper case), base32 (padded or not),
    upper and lower case, Go's JSON (``<>&`` as ``\\u003c``, ``\\u003e``, ``\\u0026``),
    shell-quoted (``shlex.quote``, inside double quotes, backslash-escaped as bash's
    ``printf %q`` does)."""
    data = value.encode()
    b32 = base64.b32encode(data).decode()
    go = json.dumps(value, ensure_ascii=False)[1:-1]
    go = go.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    forms = {
        data.hex(),
        data.hex().upper(),
        b32,
        b32.rstrip("="),
        value.upper(),
        value.lower(),
        go,
        shlex.quote(value),
        re.sub(r'([\\"$`])', r"\\\1", value),
        _SHELL_SPECIAL.sub(r"\\\1", value),
    }
    return forms - {value}


def split_forms(value: str) -> set[str]:
    """A short secret (under 2 * FRAGMENT characters, so not masked in runs) broken by one
    line break anywhere (a wrapped line, a terminal's width)."""
    if len(value) >= 2 * FRAGMENT:
        return set()
    return {value[:i] + sep + value[i:] for i in range(1, len(value)) for sep in ("\n", "\r\n")}


# --------------------------------------------------------------------------- matching


def _trie_pattern(words: Iterable[str]) -> str:
    """A regular expression matching any of ``words``, longest first, built as a trie so
    that a position is rejected after one character comparison, not one per word."""
    end = ""  # the key that marks the end of a word (characters are never empty)
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[end] = {}

    def chain(ch: str, node: dict[str, Any]) -> str:
        """``ch`` and the unbranched run below it as one literal, then the branch: the
        recursion goes one level per branch point, not per character (an escaped form of
        a long secret is thousands of characters)."""
        run = [ch]
        while len(node) == 1 and end not in node:
            ((ch, node),) = node.items()
            run.append(ch)
        return re.escape("".join(run)) + build(node)

    def build(node: dict[str, Any]) -> str:
        parts = [chain(ch, child) for ch, child in sorted(node.items()) if ch]
        if end in node:
            if not parts:
                return ""
            parts.append("")  # after the longer continuations: longest match wins
        return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"

    return build(trie)


class Redactor:
    """Thread-safe set of secret strings and the masking of text."""

    def __init__(self, secrets: Iterable[str | Secret | None] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._long: set[str] = set()  # forms whose runs of FRAGMENT characters are masked
        self._pattern: re.Pattern[str] | None = None
        self._blocks: dict[str, list[tuple[str, int]]] = {}
        self._dirty = False
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | Secret | None) -> None:
        """Register a secret with its escaped, URL-encoded and base64 forms. A URL's
        password is registered on its own; the rest of a URL only as a whole."""
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if not value or len(value) < MIN_LEN:
            return
        passwords = url_passwords(value)
        for user, password in passwords:
            self.add_basic_auth(user, password)
        escaped = escaped_forms(value)
        forms = escaped | url_forms(value) | base64_forms(value.encode())
        forms |= other_forms(value) | split_forms(value)
        long_forms = (
            set()
            if passwords or len(value) < 2 * FRAGMENT
            else {
                f
                for f in escaped
                | {base64.b64encode(value.encode()).decode(), quote(value), quote_plus(value)}
            }
        )
        self._register(forms, long_forms)

    def add_basic_auth(self, user: str, password: str | Secret) -> None:
        """The password and base64 of ``user:password`` (HTTP basic auth, authfiles)."""
        self.add(password)
        value = password.reveal() if isinstance(password, Secret) else password
        if value and len(value) >= MIN_LEN:
            self._register(base64_forms(f"{user}:{value}".encode()), set())

    def add_from_environ(self, environ: Mapping[str, str]) -> None:
        """Values of variables named like secrets, and passwords of URLs in any value;
        only those that can be secrets (:func:`env_secret`)."""
        for name, value in environ.items():
            if secret_name(name):
                if env_secret(value):
                    self.add(value)
            elif "://" in value:
                for user, password in url_passwords(value):
                    if env_secret(password):
                        self.add_basic_auth(user, password)

    def _register(self, forms: set[str], long_forms: set[str]) -> None:
        forms = {f for f in forms if len(f) >= MIN_LEN}
        with self._lock:
            if forms <= self._secrets and long_forms <= self._long:
                return
            self._secrets |= forms
            self._long |= long_forms
            self._dirty = True

    def _compiled(self) -> tuple[re.Pattern[str] | None, dict[str, list[tuple[str, int]]]]:
        with self._lock:
            if self._dirty:
                self._pattern = re.compile(_trie_pattern(self._secrets))
                blocks: dict[str, list[tuple[str, int]]] = {}
                for form in self._long:
                    for i in range(len(form) - _BLOCK + 1):
                        blocks.setdefault(form[i : i + _BLOCK], []).append((form, i))
                self._blocks = blocks
                self._dirty = False
            return self._pattern, self._blocks

    def __contains__(self, text: str) -> bool:
        return self.redact(text) != text

    def redact(self, text: str) -> str:
        if not text:
            return text
        pattern, blocks = self._compiled()
        if pattern is not None:
            text = pattern.sub(MASK, text)
        if blocks:
            text = _mask_runs(text, blocks)
        if "://" in text:
            text = mask_userinfo(text)
        if SESSION_SECRET_NAME in text:
            text = SESSION_SECRET_LINE.sub(lambda m: m.group(1) + MASK, text)
        return text

    def redact_argv(self, argv: Iterable[str]) -> list[str]:
        return [self.redact(a) for a in argv]

    @property
    def count(self) -> int:
        return len(self._secrets)


def _mask_runs(text: str, blocks: Mapping[str, list[tuple[str, int]]]) -> str:
    """``text`` with every maximal run of FRAGMENT or more characters of a long form
    replaced by the mask. Any such run holds a whole block of _BLOCK characters that
    starts at a multiple of _BLOCK in ``text``: only those blocks are looked up, and a hit
    is grown to the left and right along the form it came from."""
    chunks = _CHUNKS.findall(text)  # the aligned blocks, cut in C
    found = blocks.keys() & set(chunks)
    if not found:
        return text
    runs: list[tuple[int, int]] = []
    size = len(text)
    for index, chunk in enumerate(chunks):
        if chunk not in found:
            continue
        at = index * _BLOCK
        if runs and at + _BLOCK <= runs[-1][1]:
            continue
        hits = blocks[chunk]
        for form, offset in hits:
            left = 0
            while left < offset and left < at and text[at - left - 1] == form[offset - left - 1]:
                left += 1
            right = _BLOCK
            limit = min(len(form) - offset, size - at)
            while right < limit and text[at + right] == form[offset + right]:
                right += 1
            if left + right >= FRAGMENT:
                runs.append((at - left, at + right))
    if not runs:
        return text
    runs.sort()
    out: list[str] = []
    pos = 0
    for start, end in runs:
        if end <= pos:
            continue
        out.append(text[pos : max(pos, start)])
        if start >= pos:
            out.append(MASK)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def session_secret_values(text: str) -> list[str]:
    """Values printed as ``IHP_SESSION_SECRET=...`` or ``IHP_SESSION_SECRET: ...`` (a
    generated key leaked into a log): what :meth:`Redactor.redact` masks."""
    return [m.group(2) for m in SESSION_SECRET_LINE.finditer(text)]


def mask_tree(data: Any, redactor: Redactor) -> Any:
    """JSON-like ``data`` with every text (keys too) masked; numbers and the structure are
    kept as they are (threat model, promise 22)."""
    if isinstance(data, str):
        return redactor.redact(data)
    if isinstance(data, list):
        return [mask_tree(item, redactor) for item in data]
    if isinstance(data, dict):
        return {redactor.redact(k): mask_tree(v, redactor) for k, v in data.items()}
    return data
