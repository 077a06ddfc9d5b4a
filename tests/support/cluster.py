"""Test-side names for the cluster helpers, which live in the package (the bench uses them too)."""

from whippet.procs import Cluster, free_port_pair

__all__ = ["Cluster", "free_port_pair"]
