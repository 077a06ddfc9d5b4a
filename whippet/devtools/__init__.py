"""Tools for working on whippet itself (not shipped behaviour): run with ``python -m``.

``package_graph``: the import graph between whippet's packages, read from the code;
``tests/unit/test_import_graph.py`` checks it and docs/ARCHITECTURE.md draws it.
"""
