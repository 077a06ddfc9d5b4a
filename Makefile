# The two commands a fresh machine needs: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= ./data

.PHONY: install run test bench lint clean proto cluster

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/whippet-node --data-dir $(DATA) --with-default-root-credentials

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# --compare uses Debian's nats-server and redis-server; install them when missing and root.
bench: $(STAMP)
	@if [ "$$(id -u)" = 0 ] && ! { command -v nats-server && command -v redis-server; } >/dev/null 2>&1; then \
		apt-get install -y -qq nats-server redis-server >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq nats-server redis-server >/dev/null; } || \
		echo "bench: could not install nats-server/redis-server; comparing without them"; fi
	$(BIN)/whippet-bench suite --out bench-results
	$(BIN)/whippet-bench-transports --out bench-results
	$(BIN)/whippet-bench-cluster throughput --out bench-results
	$(BIN)/whippet-bench-cluster failover --rounds 5 --out bench-results

lint: $(STAMP)
	$(BIN)/pip install -q ruff
	$(BIN)/ruff check .

# Regenerate the gRPC code from proto/ (committed; tests/unit/replication checks it is fresh).
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=replication/_pb \
		--grpc_python_out=replication/_pb --pyi_out=replication/_pb proto/replication.proto
	sed -i 's/^import replication_pb2 as/from . import replication_pb2 as/' replication/_pb/replication_pb2_grpc.py

# A development CA and a localhost/127.0.0.1 node certificate in ./certs (CERTS=dir to change);
# the CA is reused when present. See docs/TRANSPORTS.md for the settings that use them.
CERTS ?= ./certs
.PHONY: certs
certs: $(STAMP)
	$(BIN)/python -m whippet.cli.certs --out $(CERTS)

clean:
	rm -rf $(VENV) build *.egg-info

# A 3-node cluster on loopback (node i on the default ports + 100*i, data in ./data/node-i).
# Ctrl-C stops all three.
cluster: $(STAMP)
	@pids=""; \
	for i in 1 2 3; do \
		$(BIN)/whippet-node --config deploy/local/node-$$i.toml --with-default-root-credentials & pids="$$pids $$!"; \
	done; \
	trap 'kill $$pids; wait' INT TERM; wait
