"""The embedded lab of pytest-irp, a package (and a distribution, ``pytest-irp-lab``, built
from ``lab/pyproject.toml``) of its own beside the plugin: it imports the plugin, the plugin
imports it only by name for ``--irp-lab`` (:mod:`pytest_irp_lab.plugin_layer`). Its
non-Python sources are in ``lab/`` (:mod:`pytest_irp_lab.sources`)."""
