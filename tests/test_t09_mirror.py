"""T09 - k3s registry configuration: the node pulls the image from the HTTP registry, and
the pull went over the http:// mirror (not k3s's https fallback server)."""

import pytest

from pytest_irp.mirror_judge import mirror_problems, parse_k3s_version, pull_route

pytestmark = pytest.mark.irp_criterion("T09")


def test_T09_registries_yaml_has_http_mirror(node_mirror):
    """Judged on the node's registries.yaml, containerd's hosts.toml (None: not there) and
    `k3s --version` as the mirror stage read them."""
    problems, _ = mirror_problems(
        node_mirror["registries_yaml"],
        node_mirror["hostport"],
        node_mirror["hosts_toml"],
        parse_k3s_version(node_mirror["k3s_version_output"]),
    )
    assert not problems, "; ".join(problems)


def test_T09_node_pulls_pushed_digest(pulled_image, pushed_image):
    assert pulled_image["digest"] == pushed_image["digest"]


def test_T09_pull_went_over_http_mirror(pulled_image):
    """Judged on the hosts.toml containerd pulled through (k3s's https fallback `server`
    or the http:// mirror host), recorded by the pull stage."""
    route, why = pull_route(
        pulled_image["hosts_toml"], pulled_image["image"].split("/")[0], pulled_image["plain_http"]
    )
    assert route == "http", f"cannot show the pull used the http:// mirror: {why}"
