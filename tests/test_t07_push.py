"""T07 - Push the OCI image to the Gitea registry; the image is visible in the registry."""

import pytest

pytestmark = pytest.mark.irp_criterion("T07")


def test_T07_tag_listed_in_registry(pushed_image):
    assert pushed_image["tag"] in pushed_image["tags"]


def test_T07_registry_digest_equals_pushed_digest(pushed_image):
    assert pushed_image["digest"].startswith("sha256:")
