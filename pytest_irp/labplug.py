"""--irp-lab: bring the embedded lab up and use its settings as a config layer."""

from __future__ import annotations

from typing import Any

import pytest

from .settings import SettingError, load_file


def lab_layer(config: pytest.Config) -> tuple[Any, dict[str, Any]]:
    try:
        from .lab.orchestrator import Lab
    except ImportError as exc:
        raise SettingError(f"the embedded lab is not available: {exc}") from None
    variant = config.getoption("irp_lab_variant", None) or "ok"
    lab = Lab()
    try:
        toml_path = lab.up(variant=variant)
    except Exception as exc:
        raise SettingError(f"the embedded lab could not start: {exc}") from None
    return lab, load_file(toml_path, section_required=False)
