"""The committed gRPC code is what proto/replication.proto generates today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_generated_code_matches_proto(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}", f"--python_out={tmp_path}",
         f"--grpc_python_out={tmp_path}", f"--pyi_out={tmp_path}", str(ROOT / "proto" / "replication.proto")],
        check=True,
    )
    grpc_file = tmp_path / "replication_pb2_grpc.py"
    grpc_file.write_text(
        grpc_file.read_text().replace("import replication_pb2 as", "from . import replication_pb2 as")
    )
    for name in ("replication_pb2.py", "replication_pb2.pyi", "replication_pb2_grpc.py"):
        committed = (ROOT / "replication" / "_pb" / name).read_text()
        assert committed == (tmp_path / name).read_text(), f"{name} is stale: run `make proto`"
