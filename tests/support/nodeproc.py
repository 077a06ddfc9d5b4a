"""Test-side names for the node process helpers, which live in the package (the bench uses them too)."""

from whippet.procs import NodeProcess, free_port

__all__ = ["NodeProcess", "free_port"]
