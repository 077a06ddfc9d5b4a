"""The whippet CLI and the whippet-bench tool: thin layers over the SDK."""
