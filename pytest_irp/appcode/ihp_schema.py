"""T03: ``Application/Schema.sql`` as IHP's own schema parser reads it. IHP generates its
types from the file with ihp-postgres-parser/IHP/Postgres/Parser.hs (the same rules, at
the same lines, in IHP 1.5.0 and 1.6.0), which is stricter than PostgreSQL: SQL that
PostgreSQL accepts can still make IHP's code generation fail. Three of its rules are
checked here, on what PostgreSQL's parser (pglast) already accepted:

- keywords are case-sensitive lexemes (``lexeme "CREATE"``, ``lexeme "NOT"``, L57-58):
  ``create table``, ``not null`` do not parse; type names are read with ``symbol'``,
  case-insensitively (L63-64), so ``text`` and ``uuid`` do;
- ``CREATE TABLE`` takes no ``IF NOT EXISTS`` (``createTable``, L96-99: ``CREATE``,
  optional ``UNLOGGED``, ``TABLE``, the name); only ``CREATE EXTENSION`` does (L86);
- the types are ``sqlType``'s (L274-): each alternative a case-insensitive prefix, tried
  in order, then ``[]``; ``TIMESTAMPTZ`` is read as ``TIMESTAMP`` (L321) and ``TZ`` is
  left over (IHP spells it ``TIMESTAMP WITH TIME ZONE``, L313, or ``TIMESTAMPZ``, L317).
"""

from __future__ import annotations

import re
from typing import Any

PARSER = "ihp-postgres-parser/IHP/Postgres/Parser.hs, IHP 1.5.0 and 1.6.0"

# sqlType's alternatives in order: each a list of options, each option a sequence of
# symbol' words; a trailing "(" means a parenthesised modifier must follow
_W = r"[ \t\r\n]*"
TYPES: list[tuple[str, ...]] = [
    ("UUID",),
    ("TEXT",),
    ("INTERVAL",),
    ("BIGINT", "INT8"),
    ("SMALLINT", "INT2"),
    ("INTEGER", "INT4", "INT"),
    ("BOOLEAN", "BOOL"),
    ("TIMESTAMP WITHOUT TIME ZONE",),
    ("TIMESTAMP WITH TIME ZONE",),
    ("TIMESTAMPZ",),
    ("TIMESTAMP",),
    ("REAL", "FLOAT4"),
    ("DOUBLE PRECISION", "FLOAT8"),
    ("POINT",),
    ("POLYGON",),
    ("DATE",),
    ("BYTEA",),
    ("TIME WITHOUT TIME ZONE", "TIME"),
    ("NUMERIC(",),
    ("NUMERIC",),
    ("CHAR(", "CHARACTER("),
    ("CHARACTER VARYING", "VARCHAR"),
    ("SERIAL",),
    ("BIGSERIAL",),
    ("JSONB",),
    ("INET",),
    ("TSVECTOR",),
    ("TRIGGER",),
    ("EVENT_TRIGGER",),
]
_TYPE_STOP = re.compile(
    r"(?i)\b(DEFAULT|NOT|NULL|PRIMARY|REFERENCES|UNIQUE|CHECK|"
    r"CONSTRAINT|COLLATE|GENERATED|USING)\b|[,();]"
)
_INTERVAL_FIELDS = re.compile(
    r"(?i)(YEAR TO MONTH|DAY TO HOUR|DAY TO MINUTE|DAY TO SECOND|HOUR TO MINUTE|"
    r"HOUR TO SECOND|MINUTE TO SECOND|YEAR|MONTH|DAY|HOUR|MINUTE|SECOND)" + _W
)


def type_end(sql: str, start: int) -> int:
    """Where the type written at ``start`` ends: a constraint word, or , ) ; outside
    the type's own parentheses (``varchar(20)``, ``numeric(10, 2)``)."""
    depth, pos = 0, start
    while True:
        stop = _TYPE_STOP.search(sql, pos)
        if stop is None:
            return len(sql)
        word = stop.group(0)
        if word == "(":
            depth += 1
        elif word == ")" and depth:
            depth -= 1
        elif depth == 0:
            return stop.start()
        pos = stop.end()


def _symbol(word: str, text: str, pos: int) -> int | None:
    """``symbol' word``: the words as written (one space between, as IHP's literal has),
    any case, then whitespace."""
    if text[pos : pos + len(word)].upper() != word.upper():
        return None
    return re.compile(_W).match(text, pos + len(word)).end()  # type: ignore[union-attr]


def type_leftover(spelled: str) -> str:
    """What of a column type, as written, IHP's ``sqlType`` leaves unread ('' = all)."""
    text, pos = spelled.strip(), None
    for options in TYPES:
        for option in options:
            words = option.split(" ") if "(" not in option else [option]
            at: int | None = 0
            for word in words:
                at = _symbol(word, text, at) if at is not None else None
            if at is not None:
                pos = _after(option, text, at)
                break
        if pos is not None:
            break
    if pos is None:  # customType: optional public. then [A-Za-z0-9_]+ then optional (...)
        found = re.compile(r"(?:public\.)?[A-Za-z0-9_]+(?:\([^)]*\)" + _W + ")?").match(text)
        pos = found.end() if found else 0
    array = _symbol("[]", text, pos)
    return text[array if array is not None else pos :].strip()


_CLOSE = re.compile(r"[^)]*\)" + _W)  # the rest of `NUMERIC(` / `CHAR(`
_MODIFIER = re.compile(r"\([^)]*\)" + _W)  # VARCHAR's optional (n)


def _after(option: str, text: str, pos: int) -> int:
    """Past what follows the type's words (an interval field, a modifier)."""
    pattern = {"INTERVAL": _INTERVAL_FIELDS, "VARCHAR": _MODIFIER}.get(option)
    if option == "CHARACTER VARYING":
        pattern = _MODIFIER
    elif option.endswith("("):
        pattern = _CLOSE
    found = pattern.match(text, pos) if pattern is not None else None
    return found.end() if found else pos


def ihp_problem(sql: str, statements: list[tuple[int, Any]]) -> tuple[int, str] | None:
    """(offset, the IHP rule that fails) for the first thing IHP's parser rejects."""
    from pglast import ast
    from pglast.parser import scan

    tokens = scan(sql)
    skip: list[tuple[int, int]] = []  # type spans: read case-insensitively
    found: list[tuple[int, str]] = []
    for _line, stmt in statements:
        columns: list[Any] = []
        if isinstance(stmt, ast.CreateStmt):
            if stmt.if_not_exists:
                start = stmt.relation.location if stmt.relation is not None else 0
                at = max(sql.upper().rfind("IF", 0, start), 0)
                found.append(
                    (
                        at,
                        "`CREATE TABLE` takes no `IF NOT EXISTS` (`createTable` reads CREATE, "
                        "optional UNLOGGED, TABLE, then the name; only `CREATE EXTENSION` reads "
                        "IF NOT EXISTS)",
                    )
                )
            columns = [e for e in stmt.tableElts or () if isinstance(e, ast.ColumnDef)]
        elif isinstance(stmt, ast.AlterTableStmt):
            columns = [
                c.def_
                for c in stmt.cmds or ()
                if isinstance(getattr(c, "def_", None), ast.ColumnDef)
            ]
        for col in columns:
            loc = getattr(col.typeName, "location", -1) if col.typeName is not None else -1
            if not isinstance(loc, int) or loc < 0:
                continue
            end = type_end(sql, loc)
            skip.append((loc, end))
            left = type_leftover(sql[loc:end])
            if left:
                spelled = " ".join(sql[loc:end].split())
                found.append(
                    (
                        loc,
                        f"its `sqlType` does not read the type `{spelled}`: `{left}` is left "
                        f"over (IHP knows `TIMESTAMP WITH TIME ZONE` and `TIMESTAMPZ`, not "
                        f"`TIMESTAMPTZ`; types are prefixes tried in order)",
                    )
                )
    found += _lowercase_keywords(sql, tokens, skip)
    return min(found) if found else None


def _lowercase_keywords(
    sql: str, tokens: list[Any], skip: list[tuple[int, int]]
) -> list[tuple[int, str]]:
    """Reserved keywords (never an identifier) not in capitals, outside types, DEFAULT
    expressions and parentheses other than a table's column list."""
    out = []
    depth, first, in_default, create_table, raw = 0, True, False, False, False
    for i, tok in enumerate(tokens):
        word = sql[tok.start : tok.end + 1]
        if word == ";":
            depth, first, in_default, create_table = 0, True, False, False
            continue
        if word == "(":
            depth += 1
        elif word == ")":
            depth -= 1
        elif word == "," and depth <= 1:
            in_default = False
        nxt = sql[tokens[i + 1].start : tokens[i + 1].end + 1] if i + 1 < len(tokens) else ""
        if first:  # a table's column list is judged, other parentheses are expressions
            create_table = word.upper() == "CREATE" and nxt.upper() in ("TABLE", "UNLOGGED")
            # SET reads an expression, SELECT and COMMENT take the rest raw (L959-978)
            raw = word.upper() in ("SET", "SELECT", "COMMENT")
        elif raw:
            continue
        keyword = tok.kind == "RESERVED_KEYWORD" or (first and tok.kind != "NO_KEYWORD")
        if in_default and word.upper() == "NOT" and nxt.upper() == "NULL":
            in_default = False
        top = depth == 0 or (depth == 1 and create_table)
        if (
            keyword
            and top
            and not in_default
            and word != word.upper()
            and not any(a <= tok.start < b for a, b in skip)
        ):
            out.append(
                (
                    tok.start,
                    f'keywords are case-sensitive there (`lexeme "{word.upper()}"`): '
                    f"`{word}` must be written `{word.upper()}`",
                )
            )
        if word.upper() == "DEFAULT":
            in_default = True
        first = False
    return out
