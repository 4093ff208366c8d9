"""The lab's ``devenv up``: the sample app as IHP's dev server serves it, for T02's live part.

On a developer's machine ``devenv up`` runs IHP's dev server (``RunDevServer``): the app on
port 8000 in the Development environment (it prints ``Server started``, IHP/Server.hs), its
start page at ``/``. The lab's developer machine is this machine, so the lab runs a stand-in
of it here, on the lab bridge's address (``http://10.77.0.1:8000``: a lab address, so it
never takes loopback's port 8000 from anything else): ``/`` is the app's welcome view (the
``hsx`` block of ``Web/View/Static/Welcome.hs`` in the lab's app repo, inside the layout of
``Web/View/Layout.hs``), and every ``GET`` route of ``Web/Routes.hs`` whose action renders
plain text answers that text. Everything else is a 404, as in IHP.

``python -m pytest_irp_lab.devserver --repo APP_REPO --address A --port P`` is the server;
:class:`DevServer` starts, finds and stops it (a pid record in the lab directory).
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final

from pytest_irp_lab import net
from pytest_irp_lab.proc import (
    Proc,
    cmdline,
    live,
    pids_with_arg,
    proc_of,
    terminate,
)

DEV_PORT: Final = 8000  # IHP's dev server (and `devenv up`) serve the app on 8000
DEV_URL: Final = f"http://{net.BRIDGE_ADDRESS}:{DEV_PORT}"
START_TIMEOUT: Final = 15.0

# ------------------------------------------------------------------------ pure


_HSX = re.compile(r"\[hsx\|(.*?)\|\]", re.S)
_ROUTE = re.compile(r"^\s*GET\s+(/\S*)\s+(\w+)\s*$", re.M)


def hsx_block(source: str) -> str:
    """The first ``[hsx|...|]`` block of a Haskell module, trimmed ("" when none)."""
    found = _HSX.search(source)
    return found.group(1).strip() if found else ""


def render_hsx(block: str, paths: dict[str, str]) -> str:
    """Static HTML of an hsx block: ``{SomeAction}`` (an attribute value) becomes the
    quoted path of that action's route; any other ``{expr}`` becomes empty."""

    def value(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        return f'"{paths[expr]}"' if expr in paths else ""

    return re.sub(r"\{([^{}]*)\}", value, block)


def routes(repo: Path) -> list[tuple[str, str]]:
    """``(path, action)`` of each ``GET`` route of ``Web/Routes.hs``."""
    return _ROUTE.findall(_read(repo / "Web/Routes.hs"))


def welcome_page(repo: Path) -> str:
    """The welcome view inside the app's layout."""
    paths = {action: path for path, action in routes(repo)}
    view = render_hsx(hsx_block(_read(repo / "Web/View/Static/Welcome.hs")), paths)
    layout = hsx_block(_read(repo / "Web/View/Layout.hs"))
    if "{inner}" in layout:
        return layout.replace("{inner}", view) + "\n"
    return view + "\n"


def plain_routes(repo: Path) -> dict[str, str]:
    """``path -> text`` for each ``GET`` route whose action renders plain text."""
    actions: dict[str, str] = {}
    for module in sorted((repo / "Web/Controller").glob("*.hs")):
        for name, text in re.findall(
            r'action\s+(\w+)\s*=\s*renderPlain\s+"([^"]*)"', _read(module)
        ):
            actions[name] = text
    return {path: actions[action] for path, action in routes(repo) if action in actions}


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


# ------------------------------------------------------------------------ the server


def serve(repo: Path, address: str, port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        server_version = "irp-lab-devserver"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/":
                body, kind = welcome_page(repo), "text/html; charset=utf-8"
            elif path in (plain := plain_routes(repo)):
                body, kind = plain[path], "text/plain; charset=utf-8"
            else:
                body = f"<h1>Not found</h1><p>{html.escape(path)}</p>"
                self._answer(404, body, "text/html; charset=utf-8")
                return
            self._answer(200, body, kind)

        def _answer(self, status: int, body: str, kind: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer((address, port), Handler)
    print("Server started", flush=True)  # IHP in Development (IHP/Server.hs)
    server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pytest_irp_lab.devserver")
    p.add_argument("--repo", required=True, type=Path)
    p.add_argument("--address", default=net.BRIDGE_ADDRESS)
    p.add_argument("--port", type=int, default=DEV_PORT)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    serve(args.repo, args.address, args.port)
    return 0


# ------------------------------------------------------------------------ thin layer


class DevServer:
    """The lab's dev server: files under ``directory`` (pid record, log)."""

    def __init__(self, directory: Path, repo: Path) -> None:
        self.dir = directory
        self.repo = repo

    @property
    def pid_file(self) -> Path:
        return self.dir / "devserver.pid"

    @property
    def log(self) -> Path:
        return self.dir / "devserver.log"

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "pytest_irp_lab.devserver",
            "--repo",
            str(self.repo),
            "--address",
            net.BRIDGE_ADDRESS,
            "--port",
            str(DEV_PORT),
        ]

    def running(self) -> Proc | None:
        proc = live(self.pid_file)
        if proc is None or "pytest_irp_lab.devserver" not in cmdline(proc.pid):
            return None
        return proc

    def start(self) -> Proc:
        proc = self.running()
        if proc is not None and net.port_open(net.BRIDGE_ADDRESS, DEV_PORT):
            return proc
        if proc is not None:
            terminate(proc)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log.unlink(missing_ok=True)
        return net.spawn_listening(
            "the dev server",
            self.argv(),
            self.log,
            net.BRIDGE_ADDRESS,
            DEV_PORT,
            START_TIMEOUT,
            pid_file=self.pid_file,
        )

    def stop(self) -> None:
        """Stop ours: the recorded one, and any dev server of this repo whose record was
        lost (a deleted lab directory, a killed ``up``)."""
        procs = [self.running()] + [
            proc_of(pid)
            for pid in pids_with_arg(str(self.repo))
            if "pytest_irp_lab.devserver" in cmdline(pid)
        ]
        for proc in procs:
            if proc is not None:
                terminate(proc)
        self.pid_file.unlink(missing_ok=True)

    def status(self) -> dict[str, object]:
        proc = self.running()
        return {"url": DEV_URL, "pid": proc.pid if proc else None, "running": proc is not None}


if __name__ == "__main__":
    raise SystemExit(main())
