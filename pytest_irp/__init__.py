"""pytest-irp: prove an app's whole road to production with one ordered pytest run."""

__version__ = "0.1.0"
