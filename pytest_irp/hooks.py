"""Hooks that other plugins and conftest files can implement."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .redact import Redactor
    from .runners import Runner
    from .settings import Resolved


@pytest.hookspec(firstresult=True)
def pytest_irp_make_runner(
    config: pytest.Config, host: str, settings: Resolved, redactor: Redactor
) -> Runner | None:
    """Return the runner for ``host`` ("local" for this machine), or None for the default
    (:class:`~pytest_irp.runners.LocalRunner` or :class:`~pytest_irp.runners.SshRunner`).

    Used by the plugin's own tests to put a scripted fake in place of real commands.
    """
