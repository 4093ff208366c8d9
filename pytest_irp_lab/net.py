"""The lab network: bridge ``irpbr0`` (10.77.0.1/24) and one network namespace per lab host.

Each host gets a veth pair: ``irpv-...`` in the root namespace, enslaved to the bridge, and
``irp0`` inside the namespace (address, ``lo`` up, default route via the bridge).

Pure functions plan the ``ip`` commands from what exists (:func:`plan_up`,
:func:`plan_down`); :func:`observe`, :func:`up` and :func:`down` are the thin layer that
reads the machine and runs them. :func:`up` returns what it created so that :func:`down`
removes only that (a bridge made by someone else, e.g. the cluster, stays).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pytest_irp_lab.proc import LabError, Proc, alive, run, spawn, wait_for

BRIDGE: Final = "irpbr0"
BRIDGE_ADDRESS: Final = "10.77.0.1"
PREFIX_LEN: Final = 24
NS_IFACE: Final = "irp0"
LAB_IFACE_PREFIX: Final = "irp"  # the lab's interfaces: irpbr0, the cluster's irpcni0
IFNAMSIZ: Final = 15
MAC_PREFIX: Final = "02:69:72:70:00"  # locally administered, "irp"


def mac_for(address: str) -> str:
    """A fixed MAC per lab address: a re-made interface keeps its MAC, so no neighbour
    cache on the bridge or in another namespace goes stale (that stalls connections)."""
    last = int(address.rsplit(".", 1)[1])
    return f"{MAC_PREFIX}:{last:02x}"


@dataclass(frozen=True)
class LabHost:
    """One lab host: a network namespace with one address on the lab bridge."""

    name: str
    netns: str
    address: str
    veth: str

    def __post_init__(self) -> None:
        for iface in (self.veth, NS_IFACE):
            if not iface.startswith("irp") or len(iface) > IFNAMSIZ:
                raise ValueError(f"bad interface name {iface!r}")
        if not self.netns.startswith("irp"):
            raise ValueError(f"bad netns name {self.netns!r}")
        if not self.address.startswith("10.77.0."):
            raise ValueError(f"address {self.address} is outside the lab network")


HOSTS: Final = (
    LabHost("haskelseed", "irp-haskelseed", "10.77.0.2", "irpv-haskelseed"),
    LabHost("gitea", "irp-gitea", "10.77.0.3", "irpv-gitea"),
    LabHost("railiance01", "irp-railiance01", "10.77.0.4", "irpv-rail01"),
)
HOSTS_BY_NAME: Final = {h.name: h for h in HOSTS}


@dataclass(frozen=True)
class Step:
    """One command; ``creates`` names what it creates, as ``(kind, name)``, if anything."""

    argv: tuple[str, ...]
    creates: tuple[str, str] | None = None


@dataclass(frozen=True)
class NetState:
    """What exists now: link names in the root namespace, network namespaces, and the link
    names inside each lab namespace that exists."""

    links: frozenset[str]
    netns: frozenset[str]
    ns_links: Mapping[str, frozenset[str]] = field(default_factory=dict)


# ------------------------------------------------------------------------ pure planning


def ip(*args: str) -> tuple[str, ...]:
    return ("ip", *args)


def bridge_steps(state: NetState) -> list[Step]:
    steps: list[Step] = []
    if BRIDGE not in state.links:
        steps.append(Step(ip("link", "add", BRIDGE, "type", "bridge"), ("bridge", BRIDGE)))
    steps += [
        Step(ip("link", "set", BRIDGE, "address", mac_for(BRIDGE_ADDRESS))),
        Step(ip("addr", "replace", f"{BRIDGE_ADDRESS}/{PREFIX_LEN}", "dev", BRIDGE)),
        Step(ip("link", "set", BRIDGE, "up")),
    ]
    return steps


def host_steps(host: LabHost, state: NetState) -> list[Step]:
    steps: list[Step] = []
    if host.netns not in state.netns:
        steps.append(Step(ip("netns", "add", host.netns), ("netns", host.netns)))
    inner_ok = host.netns in state.netns and NS_IFACE in state.ns_links.get(host.netns, ())
    if host.veth in state.links and not inner_ok:
        # the veth's peer is not in the (possibly re-made) namespace: make the pair anew
        steps.append(Step(ip("link", "del", host.veth)))
    if host.veth not in state.links or not inner_ok:
        steps.append(
            Step(
                ip(
                    "link",
                    "add",
                    host.veth,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    NS_IFACE,
                    "address",
                    mac_for(host.address),
                    "netns",
                    host.netns,
                ),
                ("link", host.veth),
            )
        )
    n = ("-n", host.netns)
    steps += [
        Step(ip("link", "set", host.veth, "master", BRIDGE)),
        Step(ip("link", "set", host.veth, "up")),
        Step(ip(*n, "link", "set", "lo", "up")),
        Step(ip(*n, "addr", "replace", f"{host.address}/{PREFIX_LEN}", "dev", NS_IFACE)),
        Step(ip(*n, "link", "set", NS_IFACE, "up")),
        Step(ip(*n, "route", "replace", "default", "via", BRIDGE_ADDRESS)),
    ]
    return steps


def plan_up(state: NetState, hosts: Sequence[LabHost] = HOSTS) -> list[Step]:
    """Commands that bring the network up from ``state`` (address/route steps use
    ``replace`` and ``set``, so running the plan twice is harmless)."""
    steps = bridge_steps(state)
    for host in hosts:
        steps += host_steps(host, state)
    return steps


def plan_down(created: Iterable[tuple[str, str]], state: NetState) -> list[Step]:
    """Commands that remove what we created and still exists: links, then namespaces,
    then the bridge."""
    created = list(created)
    order = {"link": 0, "netns": 1, "bridge": 2}
    steps: list[Step] = []
    for kind, name in sorted(set(created), key=lambda c: (order.get(c[0], 9), c[1])):
        if kind in ("link", "bridge") and name in state.links:
            steps.append(Step(ip("link", "del", name)))
        elif kind == "netns" and name in state.netns:
            steps.append(Step(ip("netns", "del", name)))
    return steps


def parse_links(ip_json: str) -> frozenset[str]:
    """Names from ``ip -j link show``."""
    if not ip_json.strip():
        return frozenset()
    return frozenset(str(item["ifname"]) for item in json.loads(ip_json))


def parse_netns(text: str) -> frozenset[str]:
    """Names from ``ip netns list`` (lines like ``irp-gitea (id: 1)``)."""
    return frozenset(line.split()[0] for line in text.splitlines() if line.strip())


def netns_exec(netns: str, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", netns, *argv]


def route_device(route_get_output: str) -> str | None:
    """The ``dev`` of an ``ip route get ADDRESS`` answer."""
    words = route_get_output.split()
    return words[words.index("dev") + 1] if "dev" in words[:-1] else None


def routed_via_bridge(route_get_output: str) -> bool:
    """Does ``ip route get ADDRESS`` say the address is reached through the lab bridge?"""
    return route_device(route_get_output) == BRIDGE


def lab_route_problem(address: str, route_get_output: str) -> str | None:
    """None when ``address`` may be contacted: loopback, or routed through a lab interface
    (``irp*``); else why not."""
    if ipaddress.ip_address(address).is_loopback:
        return None
    device = route_device(route_get_output)
    if device is not None and device.startswith(LAB_IFACE_PREFIX):
        return None
    return f"{address} is not routed through a lab interface ({device}): refusing to contact it"


def split_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an ``http://`` or ``https://`` URL."""
    scheme, _, rest = url.partition("://")
    hostport, _, path = rest.partition("/")
    host, _, port_text = hostport.partition(":")
    return scheme, host, int(port_text or (443 if scheme == "https" else 80)), "/" + path


# ------------------------------------------------------------------------ thin layer


def require_lab_route(address: str) -> None:
    """Refuse to contact ``address`` unless it is loopback or reached through a lab
    interface (when the lab network is down, a lab address would be routed off the
    machine)."""
    if ipaddress.ip_address(address).is_loopback:
        return
    problem = lab_route_problem(address, run(["ip", "route", "get", address], check=False).stdout)
    if problem is not None:
        raise LabError(problem)


def bridge_has_address(address: str) -> bool:
    """Is ``address`` an address of the lab bridge (else nothing may contact it there)?"""
    out = run(["ip", "-o", "-4", "addr", "show", "dev", BRIDGE], check=False).stdout
    return f" {address}/" in out


def http_request(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 5.0,
    context: ssl.SSLContext | None = None,
) -> tuple[int, list[str], bytes]:
    """One request on a fresh connection: (status, WWW-Authenticate values, body); status 0
    when the connection is refused. The caller checks the route first
    (:func:`require_lab_route`)."""
    scheme, host, port, path = split_url(url)
    conn = (
        http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        if scheme == "https"
        else http.client.HTTPConnection(host, port, timeout=timeout)
    )
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.headers.get_all("WWW-Authenticate") or [], data
    except ConnectionRefusedError:
        return 0, [], b""
    finally:
        conn.close()


def http_get(
    url: str, *, timeout: float = 3.0, context: ssl.SSLContext | None = None
) -> tuple[int, bytes]:
    """``GET url``: (status, body); status 0 when the connection is refused."""
    status, _, body = http_request(url, timeout=timeout, context=context)
    return status, body


def observe(hosts: Sequence[LabHost] = HOSTS) -> NetState:
    links = parse_links(run(["ip", "-j", "link", "show"]).stdout)
    netns = parse_netns(run(["ip", "netns", "list"]).stdout)
    ns_links = {
        h.netns: parse_links(run(["ip", "-n", h.netns, "-j", "link", "show"]).stdout)
        for h in hosts
        if h.netns in netns
    }
    return NetState(links, netns, ns_links)


def up(hosts: Sequence[LabHost] = HOSTS) -> list[tuple[str, str]]:
    """Bring the network up; returns what this call created, as (kind, name) pairs.

    On a failure, what was created so far is removed again before the error is raised.
    """
    created: list[tuple[str, str]] = []
    try:
        for step in plan_up(observe(hosts), hosts):
            run(step.argv)
            if step.creates is not None:
                created.append(step.creates)
    except LabError:
        down(created)
        raise
    return created


def netns_pids(netns: str) -> list[int]:
    """Pids of the processes living in ``netns`` (none when it does not exist)."""
    res = run(["ip", "netns", "pids", netns], check=False)
    return [int(p) for p in res.stdout.split() if p.isdigit()] if res.ok else []


def down(created: Iterable[tuple[str, str]]) -> None:
    for step in plan_down(created, observe()):
        run(step.argv, check=False)


def status(hosts: Sequence[LabHost] = HOSTS) -> dict[str, object]:
    state = observe()
    return {
        "bridge": BRIDGE in state.links,
        "netns": {h.netns: h.netns in state.netns for h in hosts},
        "veth": {h.veth: h.veth in state.links for h in hosts},
    }


def port_open(address: str, port: int) -> bool:
    """Does something listen on ``address:port``? Asked only of loopback or an address of
    the lab bridge (the lab's own daemons bind it): when the bridge is gone, that address
    would be routed off the machine, so the answer is no, without a packet."""
    if not (ipaddress.ip_address(address).is_loopback or bridge_has_address(address)):
        return False
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def spawn_listening(
    what: str,
    argv: Sequence[str],
    log: Path,
    address: str,
    port: int,
    timeout: float,
    *,
    pid_file: Path,
    env: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Proc:
    """Start a lab daemon (:func:`pytest_irp_lab.proc.spawn`) and wait until it listens on
    ``address:port``; one paragraph with the end of its log when it dies first."""
    started = spawn(list(argv), log, pid_file=pid_file, env=env, environ=environ)
    wait_for(
        f"{what} on {address}:{port}",
        lambda: not alive(started) or port_open(address, port),
        timeout=timeout,
    )
    if not alive(started):
        said = log.read_text(errors="replace").strip()[-400:]
        raise LabError(f"{what} died at start: {said or 'no output'}")
    return started
