"""T09 - k3s registry configuration: the node pulls the image from the HTTP registry, and
the pull went over the http:// mirror (not k3s's https fallback server)."""

import pytest

pytestmark = pytest.mark.irp_criterion("T09")


def test_T09_registries_yaml_has_http_mirror(node_mirror):
    problems = node_mirror["problems"]
    assert not problems, "; ".join(problems)


def test_T09_node_pulls_pushed_digest(pulled_image, pushed_image):
    assert pulled_image["digest"] == pushed_image["digest"]


def test_T09_pull_went_over_http_mirror(pulled_image):
    assert pulled_image["route"] == "http", (f"cannot show the pull used the http:// "
                                             f"mirror: {pulled_image['route_why']}")
