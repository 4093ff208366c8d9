"""T03's schema judge: the final state of Application/Schema.sql and the migrations."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_irp.appcode.schema import final_tables, migration_verdict, schema_verdict, strip_meta

GOOD = """CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE TABLE probes (
    id UUID DEFAULT uuid_generate_v4() PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL
);
"""

TABLE_PK = GOOD.replace("PRIMARY KEY NOT NULL", "NOT NULL").replace(
    "now() NOT NULL\n", "now() NOT NULL,\n    PRIMARY KEY (id)\n"
)
ALTER_PK = (
    GOOD.replace("PRIMARY KEY NOT NULL", "NOT NULL")
    + "ALTER TABLE ONLY public.probes ADD CONSTRAINT probes_pkey PRIMARY KEY (id);\n"
)
PK_NO_NOT_NULL = GOOD.replace("PRIMARY KEY NOT NULL", "PRIMARY KEY")
PG_DUMP = "\\restrict abcDEF123\n" + GOOD + "\\unrestrict abcDEF123\n"


@pytest.mark.parametrize(
    "sql",
    [
        GOOD,
        TABLE_PK,
        ALTER_PK,
        PK_NO_NOT_NULL,
        PG_DUMP,
        GOOD.replace("probes", "public.probes"),
        GOOD.replace("TIMESTAMP WITH TIME ZONE", "timestamp with time zone"),
        GOOD.replace("TEXT", "text").replace("UUID", "uuid"),
        GOOD.replace("CREATE TABLE", "CREATE UNLOGGED TABLE"),
        "SET check_function_bodies = false;\n"
        "SELECT pg_catalog.set_config('search_path', '', false);\n" + GOOD,
        GOOD + "ALTER TABLE probes ADD COLUMN note TEXT DEFAULT null;\n"
        "ALTER TABLE probes DROP COLUMN note;\n",
    ],
)
def test_correct_forms_pass(sql: str) -> None:
    verdict = schema_verdict(sql)
    assert verdict.ok, verdict.cause()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (GOOD.replace("name TEXT", "name TEXT[]"), "Schema.sql:4: probes.name is TEXT[] NOT NULL"),
        (
            GOOD.replace("name TEXT", "name INT"),
            "probes.name is INT (int4) NOT NULL, expected TEXT",
        ),
        (GOOD.replace("probes", "audit.probes"), "no table probes in schema public"),
        (
            GOOD + "ALTER TABLE probes ALTER COLUMN name DROP NOT NULL;\n",
            "Schema.sql:7: probes.name is TEXT, expected TEXT NOT NULL",
        ),
        (
            GOOD + "ALTER TABLE probes ALTER COLUMN name TYPE varchar(20);\n",
            "Schema.sql:7: probes.name is varchar(20) (varchar) NOT NULL",
        ),
        (GOOD + "ALTER TABLE probes DROP COLUMN created_at;\n", "probes lacks created_at"),
        (GOOD + "ALTER TABLE probes ADD COLUMN note TEXT;\n", "has extra note"),
        (
            GOOD + "ALTER TABLE probes ALTER COLUMN created_at DROP DEFAULT;\n",
            "probes.created_at is TIMESTAMP WITH TIME ZONE (timestamptz) NOT NULL",
        ),
        (GOOD + "DROP TABLE probes;\n", "no table probes"),
        # IHP's parser reads TIMESTAMPZ, PostgreSQL has no such type (its name: timestamptz)
        (GOOD.replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPZ"), "created_at is TIMESTAMPZ DEF"),
        (
            GOOD + "ALTER TABLE probes DROP CONSTRAINT probes_pkey;\n",
            "probes.id is UUID DEFAULT uuid_generate_v4() NOT NULL, expected",
        ),
        (
            GOOD.replace(" PRIMARY KEY NOT NULL", ""),
            "probes.id is UUID DEFAULT uuid_generate_v4(), expected",
        ),
        (GOOD + "ALTER TABLE probes RENAME COLUMN name TO title;\n", "lacks name"),
    ],
)
def test_defects_fail_naming_file_and_line(sql: str, expected: str) -> None:
    verdict = schema_verdict(sql)
    assert not verdict.ok
    assert expected in verdict.cause()
    assert verdict.cause().startswith("Application/Schema.sql")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            GOOD.replace("CREATE TABLE probes", "CREATE TABLE IF NOT EXISTS probes"),
            "Schema.sql:2: column 14: IHP's schema parser rejects it, so code generation "
            "fails though PostgreSQL accepts it: `CREATE TABLE` takes no `IF NOT EXISTS`",
        ),
        (
            GOOD.replace("CREATE TABLE", "create table"),
            "Schema.sql:2: column 1: IHP's schema parser rejects it, so code generation fails "
            'though PostgreSQL accepts it: keywords are case-sensitive there (`lexeme "CREATE"`)',
        ),
        (GOOD.replace("name TEXT NOT NULL", "name TEXT not null"), "Schema.sql:4: column 15:"),
        (GOOD.replace("now() NOT NULL", "now() Not Null"), "`Not` must be written `NOT`"),
        (GOOD.replace("DEFAULT uuid", "default uuid"), "Schema.sql:3: column 13:"),
        (
            GOOD.replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"),
            "Schema.sql:5: column 16: IHP's schema parser rejects it, so code generation fails "
            "though PostgreSQL accepts it: its `sqlType` does not read the type `TIMESTAMPTZ`: "
            "`TZ` is left over",
        ),
        (GOOD.replace("TIMESTAMP WITH TIME ZONE", "timestamptz"), "`tz` is left over"),
        (GOOD + "alter table probes ADD COLUMN x INT;\n", "Schema.sql:7: column 1:"),
        (
            GOOD + "ALTER TABLE probes ADD COLUMN at TIMESTAMP(3) WITH TIME ZONE;\n",
            "`(3) WITH TIME ZONE` is left over",
        ),
    ],
)
def test_sql_that_ihp_cannot_parse_fails_naming_the_rule(sql: str, expected: str) -> None:
    cause = schema_verdict(sql).cause()
    assert expected in cause
    assert "ihp-postgres-parser/IHP/Postgres/Parser.hs, IHP 1.5.0 and 1.6.0" in cause


def test_syntax_error_names_file_line_column_and_quotes_the_line() -> None:
    verdict = schema_verdict(GOOD.replace("name TEXT NOT NULL", "name TEXT NOT NUL"))
    assert verdict.cause() == (
        "Application/Schema.sql:4: column 19: PostgreSQL's parser "
        'rejects it (syntax error at or near "NUL"): '
        "`name TEXT NOT NUL,`"
    )
    other = schema_verdict("\\connect x\n" + GOOD)
    assert "Schema.sql:1:" in other.cause()
    assert "\n" not in other.cause()


def test_pg_dump_meta_lines_are_blanked_in_place() -> None:
    assert strip_meta(PG_DUMP) == " " * 19 + "\n" + GOOD + " " * 21 + "\n"
    assert list(final_tables(PG_DUMP)) == ["probes"]


def test_migration_must_create_or_change_probes_in_code() -> None:
    assert migration_verdict({"Application/Migration/1-a.sql": GOOD}).ok
    alter = "ALTER TABLE probes ADD COLUMN note TEXT;"
    assert migration_verdict({"Application/Migration/1-a.sql": alter}).ok
    comment = {"Application/Migration/1-a.sql": "-- create the probes table\nSELECT 1;"}
    assert (
        "none of the 1 migrations creates or alters table probes"
        in migration_verdict(comment).cause()
    )
    assert "no migration" in migration_verdict({}).cause()
    broken = {
        "Application/Migration/1-a.sql": GOOD,
        "Application/Migration/2-b.sql": "CREATE TABLE x (;",
    }
    assert "Application/Migration/2-b.sql:1: column" in migration_verdict(broken).cause()


@given(
    st.lists(
        st.sampled_from(
            ["-- probes\n", "/* x */\n", "\n", "  \n", "\\restrict k1\n", "\\unrestrict k1\n"]
        ),
        max_size=6,
    )
)
def test_comments_blank_lines_and_meta_lines_never_change_the_verdict(junk: list[str]) -> None:
    sql = "".join(junk) + GOOD + "".join(reversed(junk))
    assert schema_verdict(sql).ok
    assert not schema_verdict(sql.replace("name TEXT", "name TEXT[]")).ok


@given(st.text(max_size=200))
def test_any_text_gives_a_verdict_never_a_traceback(sql: str) -> None:
    schema_verdict(sql)
    migration_verdict({"Application/Migration/x.sql": sql})


def test_what_ihp_parses_is_not_flagged() -> None:
    """Statements of the kinds IHP's schema parser reads (its ParserSpec covers them):
    expressions inside parentheses and after DEFAULT keep whatever case they have."""
    rest = """CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE notes (
    id UUID DEFAULT uuid_generate_v4() PRIMARY KEY NOT NULL,
    probe_id UUID NOT NULL,
    body TEXT DEFAULT '' NOT NULL,
    score NUMERIC(10, 2) DEFAULT 0 CHECK (score >= 0 and true),
    tags TEXT[] DEFAULT '{}'::text[],
    public BOOLEAN DEFAULT false NOT NULL,
    weight DOUBLE PRECISION,
    embedding VECTOR(3),
    feeling mood
);
CREATE INDEX notes_probe_id_index ON notes (probe_id);
ALTER TABLE notes ADD CONSTRAINT notes_ref_probe_id FOREIGN KEY (probe_id)
    REFERENCES probes (id) ON DELETE CASCADE;
CREATE POLICY "Notes are public" ON notes FOR SELECT USING (true);
CREATE FUNCTION set_updated_at_to_now() RETURNS TRIGGER AS $$
    BEGIN NEW.updated_at = NOW(); RETURN NEW; END;
$$ language plpgsql;
"""
    verdict = schema_verdict(GOOD + rest)
    assert verdict.ok, verdict.cause()
