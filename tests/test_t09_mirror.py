"""T09 - k3s registry configuration: the node pulls the image from the HTTP registry."""

import pytest

pytestmark = pytest.mark.irp_criterion("T09")


def test_T09_registries_yaml_has_http_mirror(node_mirror):
    problems = node_mirror["problems"]
    assert not problems, "; ".join(problems)


def test_T09_node_pulls_pushed_digest(pulled_image, pushed_image):
    assert pulled_image["digest"] == pushed_image["digest"]
