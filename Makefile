# The two commands a fresh machine needs: `make run` and `make test`.
# Everything is installed from the hash-pinned lock files in requirements/ (see `make lock`).
PY ?= python3
VENV := .venv
VENV09 := .venv-iggy09
BIN := $(VENV)/bin
LOCK := requirements
DATA ?= ./data

.PHONY: install run test test-iggy09 check type lint bench lock clean proto cluster chaos fuzz
.PRECIOUS: $(VENV)/.%.installed

# One stamp per installed set; a superset's install leaves the smaller sets' packages in place.
$(VENV)/.%.installed: $(LOCK)/%.txt pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes --no-deps -r $(LOCK)/$*.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.test.installed

run: $(VENV)/.node.installed
	$(BIN)/whippet-node --data-dir $(DATA) --with-default-root-credentials

# Static checks first (seconds), then the suite: a type or lint error fails `make test` (and CI).
# Debian tools some tests drive: chromium (the console in a real browser), zsh and fish
# (the completion scripts). Installed when missing and root, as CI is.
TEST_DEBS := chromium zsh fish
test: $(VENV)/.test.installed $(VENV09)/.installed check test-tools
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)
	$(MAKE) test-iggy09

# apache-iggy 0.8.0 (in the test set) and 0.9.0 share a distribution name, so the 0.9 SDK
# and its test suite get their own venv, installed from their own lock.
$(VENV09)/.installed: $(LOCK)/iggy09.txt
	@test -x $(VENV09)/bin/python || $(PY) -m venv $(VENV09)
	$(VENV09)/bin/pip install -q --require-hashes --no-deps -r $(LOCK)/iggy09.txt
	touch $@

# The official apache-iggy 0.9.0 SDK's test suite (shared/vendor sdist) against one node,
# then against a metadata follower of a 3-node cluster (tests/iggy09/suite.py).
test-iggy09: $(VENV)/.test.installed $(VENV09)/.installed
	$(BIN)/python tests/iggy09/suite.py --mode single
	$(BIN)/python tests/iggy09/suite.py --mode cluster

.PHONY: test-tools
test-tools:
	@missing=""; for t in $(TEST_DEBS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y -qq $$missing >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; } || \
		echo "test: could not install$$missing; the tests that need them will fail"; fi

check: type lint

type: $(VENV)/.test.installed
	$(BIN)/mypy

lint: $(VENV)/.test.installed
	$(BIN)/ruff check .

# --compare uses Debian's nats-server and redis-server; install them when missing and root.
bench: $(VENV)/.bench.installed $(VENV09)/.installed
	@if [ "$$(id -u)" = 0 ] && ! { command -v nats-server && command -v redis-server; } >/dev/null 2>&1; then \
		apt-get install -y -qq nats-server redis-server >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq nats-server redis-server >/dev/null; } || \
		echo "bench: could not install nats-server/redis-server; comparing without them"; fi
	$(BIN)/whippet-bench suite --out bench-results
	$(BIN)/whippet-bench-transports --out bench-results
	$(BIN)/python -m whippet.cli.bench_versions --out bench-results
	$(BIN)/whippet-bench-cluster throughput --out bench-results
	$(BIN)/whippet-bench-cluster failover --rounds 5 --out bench-results

# The frame fuzzer at full size: FUZZ_FRAMES frames per binary transport, one transport after
# another against a fresh node each, niced; the report (docs/SECURITY.md) goes to FUZZ_REPORT.
# `make test` runs the same fuzzer bounded (tests/security/test_fuzz.py).
FUZZ_FRAMES ?= 1000000
FUZZ_REPORT ?= fuzz-report.json
fuzz: $(VENV)/.test.installed
	nice -n 10 $(BIN)/python -m tests.security.fuzz --frames $(FUZZ_FRAMES) --report $(FUZZ_REPORT)

# The Jepsen-style fault suite (docs/RELIABILITY.md): TRIALS seeded trials, even seeds on 3 nodes and
# odd seeds on 5, one at a time, then the results table of docs/RELIABILITY.md. Root only: every node
# runs as its own Unix user and partitions are iptables rules (installed when missing, removed on exit).
# Replay one seed with `.venv/bin/python -m whippet.chaos trial --seed N`.
TRIALS ?= 200
FIRST_SEED ?= 1
CHAOS_RESULTS ?= chaos-results
chaos: $(VENV)/.test.installed
	nice -n 10 $(BIN)/python -m whippet.chaos run --trials $(TRIALS) --first-seed $(FIRST_SEED) \
		--results $(CHAOS_RESULTS) --keep-data

# Regenerate the gRPC code from proto/ (committed; tests/unit/replication checks it is fresh).
proto: $(VENV)/.test.installed
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=replication/_pb \
		--grpc_python_out=replication/_pb --pyi_out=replication/_pb proto/replication.proto
	sed -i 's/^import replication_pb2 as/from . import replication_pb2 as/' replication/_pb/replication_pb2_grpc.py

# Deterministic simulation of the replication decisions (tests/simulation/): SEEDS random
# fault schedules, each replayable with `.venv/bin/python -m tests.simulation.run --first N --seeds 1`.
# `make test` runs 2000 of them.
SEEDS ?= 20000
.PHONY: simulate
simulate: $(VENV)/.test.installed
	$(BIN)/python -m tests.simulation.run --seeds $(SEEDS)

# A development CA and a localhost/127.0.0.1 node certificate in ./certs (CERTS=dir to change),
# and a cluster CA with one member certificate per node of cluster CLUSTER (certs/cluster/:
# what deploy/local and the Secret whippet-cluster-tls use); CAs are reused when present.
# See docs/TRANSPORTS.md and docs/OPERATIONS.md for the settings that use them.
CERTS ?= ./certs
CLUSTER ?= whippet
CLUSTER_NODES ?= 3
.PHONY: certs
certs: $(VENV)/.node.installed
	$(BIN)/python -m whippet.node.certs --out $(CERTS) --cluster $(CLUSTER) --nodes $(CLUSTER_NODES)

$(CERTS)/cluster/node-3.pem:
	$(MAKE) certs

clean:
	rm -rf $(VENV) $(VENV09) build *.egg-info

# Re-resolve every lock file (newest releases the ranges in pyproject.toml allow), install
# the new test set, and regenerate the gRPC code with the locked grpcio-tools, so
# tests/unit/replication/test_proto_fresh.py compares against what the lock produces.
UV_COMPILE = $(BIN)/uv pip compile -q --upgrade --universal --python-version 3.11 --generate-hashes --no-header
lock: $(VENV)/.dev.installed
	$(UV_COMPILE) pyproject.toml $(LOCK)/build.in -o $(LOCK)/sdk.txt
	for set in node bench test dev; do \
		$(UV_COMPILE) pyproject.toml $(LOCK)/build.in --extra $$set -o $(LOCK)/$$set.txt || exit 1; \
	done
	$(UV_COMPILE) $(LOCK)/iggy09.in -o $(LOCK)/iggy09.txt
	$(BIN)/pip install -q --require-hashes --no-deps -r $(LOCK)/dev.txt
	touch $(VENV)/.dev.installed $(VENV)/.test.installed
	$(MAKE) proto

# A 3-node cluster on loopback (node i on the default ports + 100*i, data in ./data/node-i).
# Ctrl-C stops all three.
cluster: $(VENV)/.node.installed $(CERTS)/cluster/node-3.pem
	@pids=""; \
	for i in 1 2 3; do \
		$(BIN)/whippet-node --config deploy/local/node-$$i.toml --with-default-root-credentials & pids="$$pids $$!"; \
	done; \
	trap 'kill $$pids; wait' INT TERM; wait
