"""T03 - `probes` table in the schema (parsed by PostgreSQL's parser); code-gen present."""

import pytest

from pytest_irp.app import parse_schema, schema_problems

pytestmark = pytest.mark.irp_criterion("T03")


def test_T03_probes_table_as_specified(read_app_file):
    problems = schema_problems(parse_schema(read_app_file("Application/Schema.sql")))
    assert not problems, "; ".join(problems)


def test_T03_migration_exists(app_repo):
    migrations = sorted((app_repo / "Application" / "Migration").glob("*.sql"))
    assert any("probes" in m.read_text(encoding="utf-8") for m in migrations), \
        "no migration in Application/Migration/ creates probes"


def test_T03_generated_types_contain_probe(read_app_file, irp_settings):
    text = read_app_file(irp_settings["generated_types"])
    assert "Probe" in text, f"{irp_settings['generated_types']} has no Probe type"
