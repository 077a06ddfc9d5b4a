"""Whose data this is: the data dir's identity stamp (``<data_dir>/identity``).

A node's data dir holds its partition replicas, its epoch files and its copy of
the metadata journal; all of it is only right for one node of one cluster. A node
started on another node's data dir (a copied volume, a wrong ``--data-dir``, a
single node pointed at a cluster member's directory) would call itself by its own
id, claim the partitions the real owner leads and rewrite the journal the real
owner's Raft group still counts on. So the first start writes the cluster name
and node id here, and every later start compares them with the configuration
before anything else in the directory is opened.

A data dir from before this stamp existed gets one on its first start, with the
configuration that start runs with. The file is small JSON with a format number,
written atomically (temp file, fsync, rename, directory fsync).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from whippet.metadata.journal import write_file_durably
from whippet.node.config import ConfigError

__all__ = ["IDENTITY_FILE", "DataIdentity", "claim"]

IDENTITY_FILE = "identity"
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class DataIdentity:
    cluster: str
    node_id: int

    def describe(self) -> str:
        return f"node {self.node_id} of cluster {self.cluster}"


def _read(path: Path) -> DataIdentity:
    try:
        data = json.loads(path.read_text())
        if data.get("format") != _FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
        return DataIdentity(cluster=str(data["cluster"]), node_id=int(data["node_id"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"data dir identity {path} is unreadable ({exc}); it says which node owns the data, "
                          "so the node does not guess") from None


def _write(path: Path, identity: DataIdentity) -> None:
    body = json.dumps({"format": _FORMAT, "cluster": identity.cluster, "node_id": identity.node_id}) + "\n"
    write_file_durably(path, body.encode())


def claim(data_dir: Path, cluster: str, node_id: int) -> DataIdentity:
    """Stamp ``data_dir`` on first use, or check that it belongs to ``cluster``/``node_id``.

    Raises:
        ConfigError: the directory belongs to another node or cluster (the message
            names both), or its stamp is unreadable.
    """
    path = data_dir / IDENTITY_FILE
    mine = DataIdentity(cluster=cluster, node_id=node_id)
    if not path.exists():
        _write(path, mine)
        return mine
    found = _read(path)
    if found != mine:
        raise ConfigError(f"data dir {data_dir} belongs to {found.describe()}; this node is {mine.describe()} "
                          "(check --data-dir / node_id / cluster_name)")
    return found
