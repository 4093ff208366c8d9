"""T07 - Push the OCI image to the Gitea registry; the image is visible in the registry."""

import pytest

from pytest_irp.registry_facts import digest_problem, tag_problem

pytestmark = pytest.mark.irp_criterion("T07")


def test_T07_tag_listed_in_registry(pushed_image):
    """The tag in the registry's own tags/list (all pages), as the registry answered it."""
    problem = tag_problem(
        pushed_image["tag"], pushed_image["registry_tags"], pushed_image["image"].rsplit(":", 1)[0]
    )
    assert not problem, problem


def test_T07_registry_digest_equals_pushed_digest(pushed_image):
    """The digest skopeo reported for the push and the one the registry serves for the tag
    (Docker-Content-Digest); on the same predicate the push stage holds the pull and the
    release."""
    problem = digest_problem(
        pushed_image["digest"], pushed_image["served_digest"], pushed_image["tag"]
    )
    assert not problem, problem


def test_T07_skopeo_inspect_of_pushed_reference_succeeds(pushed_image):
    assert pushed_image["inspect_ok"], pushed_image["inspect_error"]
    assert pushed_image["inspect_digest"] == pushed_image["digest"]


def test_T07_image_visible_in_gitea_packages(pushed_image):
    versions = pushed_image["package_versions"]
    assert versions is not None, "the registry is no Gitea: no packages API to ask"
    assert pushed_image["tag"] in versions, (
        f"{pushed_image['repository']} tag {pushed_image['tag']} is not in Gitea's packages "
        f"of the owner (versions seen: {', '.join(versions[:10]) or 'none'})"
    )
