# whippet node image: `docker build -t whippet:0.1.0 .`
# Runs one node; deploy/k8s/ runs a cluster of them. Settings: docs/CONFIG.md.

FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
# Exactly the locked runtime set (hash-checked), then the package itself, into one venv
# that the final stage copies: no compiler, no build tools fetched at their newest.
RUN python -m venv /opt/whippet \
 && /opt/whippet/bin/pip install --no-cache-dir --require-hashes --no-deps -r requirements/node.txt \
 && /opt/whippet/bin/pip install --no-cache-dir --no-deps --no-build-isolation . \
 && /opt/whippet/bin/python -c "import whippet.node.__main__, whippet.node.handlers, whippet.replication"

FROM python:3.11-slim
RUN groupadd --system --gid 10001 whippet \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/whippet --shell /usr/sbin/nologin whippet \
 && install -d -o 10001 -g 10001 /var/lib/whippet
COPY --from=build /opt/whippet /opt/whippet
RUN /opt/whippet/bin/whippet-node --help > /dev/null
ENV PATH=/opt/whippet/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WHIPPET_HOST=0.0.0.0 \
    WHIPPET_CLUSTER_HOST=127.0.0.1 \
    WHIPPET_DATA_DIR=/var/lib/whippet
USER 10001:10001
WORKDIR /var/lib/whippet
VOLUME ["/var/lib/whippet"]
# tcp, http (REST, /ping, /metrics), quic, websocket. The cluster ports (raft 18090, replication
# 18091) bind WHIPPET_CLUSTER_HOST, loopback here: a member sets it to its own address
# (deploy/k8s does: the pod IP), `docker run -e WHIPPET_CLUSTER_HOST=...` does it by hand.
EXPOSE 8090 3000 8080/udp 8092
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/ping', timeout=2)"]
CMD ["whippet-node"]
