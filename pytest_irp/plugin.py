"""pytest entry point (filled in by the plugin core)."""
