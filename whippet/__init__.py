"""whippet: an Apache Iggy 0.8 compatible, replicated message streaming platform.

The distribution maps the top-level source folders (wire/, storage/, metadata/,
node/, replication/, sdk/, cli/) to subpackages of ``whippet`` so the repository
keeps the user's layout while the installed names stay unique.
"""

__version__ = "0.1.0"
SERVER_VERSION = "0.8.0"
