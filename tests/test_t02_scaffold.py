"""T02 - Minimal IHP scaffold; `devenv up` serves the app."""

import pytest

from pytest_irp.appcode.checks import t02_scaffold

pytestmark = pytest.mark.irp_criterion("T02")


def test_T02_ihp_scaffold_present(app_repo):
    verdict = t02_scaffold(app_repo)
    assert verdict.ok, verdict.cause()


def test_T02_dev_server_answers(irp_settings):
    url = irp_settings.get("dev_url")
    if not url:
        pytest.skip("no dev_url configured (devenv up not running): live part not checked")
    import requests

    response = requests.get(url + "/", timeout=10)
    assert response.status_code == 200
