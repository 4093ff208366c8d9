"""T02 - Minimal IHP scaffold; `devenv up` serves the app."""

import pytest

from pytest_irp.appcode.checks import t02_scaffold
from pytest_irp.outcomes import not_checked

pytestmark = pytest.mark.irp_criterion("T02")


def test_T02_ihp_scaffold_present(app_repo):
    verdict = t02_scaffold(app_repo)
    assert verdict.ok, verdict.cause()


def test_T02_dev_server_answers(irp_settings):
    url = irp_settings.get("dev_url")
    if not url:
        not_checked("the dev server (`devenv up` serves /) was not checked: no dev_url", "dev_url")
    import requests

    response = requests.get(url + "/", timeout=10)
    assert response.status_code == 200
