"""T03 - `probes` table in the schema (parsed by PostgreSQL's parser); code-gen present."""

import pytest

from pytest_irp.appcode.schema import migration_verdict, schema_verdict

pytestmark = pytest.mark.irp_criterion("T03")


def test_T03_probes_table_as_specified(read_app_file):
    verdict = schema_verdict(read_app_file("Application/Schema.sql"))
    assert verdict.ok, verdict.cause()


def test_T03_migration_exists(app_repo):
    folder = app_repo / "Application" / "Migration"
    migrations = {f"Application/Migration/{m.name}": m.read_text(encoding="utf-8")
                  for m in sorted(folder.glob("*.sql"))}
    verdict = migration_verdict(migrations)
    assert verdict.ok, verdict.cause()


def test_T03_generated_types_contain_probe(read_app_file, irp_settings):
    text = read_app_file(irp_settings["generated_types"])
    assert "Probe" in text, f"{irp_settings['generated_types']} has no Probe type"
