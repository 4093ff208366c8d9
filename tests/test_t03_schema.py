"""T03 - `probes` table in the schema (parsed by PostgreSQL's parser); code-gen present."""

import pytest

from pytest_irp.appcode import warn_findings
from pytest_irp.appcode.checks import t03_migration, t03_schema

pytestmark = pytest.mark.irp_criterion("T03")


def test_T03_probes_table_as_specified(app_repo):
    verdict = t03_schema(app_repo)
    warn_findings(verdict)
    assert verdict.ok, verdict.cause()


def test_T03_migration_exists(app_repo):
    verdict = t03_migration(app_repo)
    assert verdict.ok, verdict.cause()


def test_T03_generated_types_contain_probe(read_app_file, irp_settings):
    text = read_app_file(irp_settings["generated_types"])
    assert "Probe" in text, f"{irp_settings['generated_types']} has no Probe type"
