# syntax=docker/dockerfile:1
#
# Delegate's image: `delegate-server` (the HTTP server, the entrypoint) and `delegate` (the
# admin CLI: `delegate migrate`, `delegate users …`, `delegate sessions …`).
#
#   docker build -t delegate .
#   docker run --rm --env-file .env --entrypoint delegate delegate migrate
#   docker run --rm --env-file .env -p 3001:3001 delegate
#
# Configuration is environment variables only (.env.example lists the usual ones; README.md
# all of them). Without DATABASE_URL the server keeps a SQLite file, /app/delegate.db: mount
# a volume on /app to keep it. compose.yaml runs the scale-out setup: PostgreSQL, Redis, two
# instances and a load balancer.

# ---------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder

# The C code in the dependency tree needs only the C compiler this image already has:
# - aws-lc-sys 0.47 (AWS-LC under rustls' aws-lc-rs provider and jsonwebtoken) builds with
#   the `cc` crate on x86_64 and aarch64 Linux. CMake, Go and bindgen are needed only for its
#   FIPS variant, which Delegate does not use; Cargo.lock lists the `cmake` crate, but the
#   build does not run it.
# - libsqlite3-sys compiles SQLite in (`bundled`).
# No OpenSSL at build or run time.

WORKDIR /build

# 1. Third-party dependencies, rebuilt only when a manifest or Cargo.lock changes.
#    Cargo loads the whole workspace, so every member's manifest is copied and every target
#    file the manifests name (or Cargo finds by convention) gets a stand-in. Keep these two
#    lists in step with the manifests: delegate-core's deploy_files test checks them.
COPY Cargo.toml Cargo.lock ./
COPY delegate-core/Cargo.toml delegate-core/
COPY delegate-http/Cargo.toml delegate-http/
COPY delegate-cli/Cargo.toml delegate-cli/
COPY delegate-py/Cargo.toml delegate-py/
COPY benches/Cargo.toml benches/
COPY examples/Cargo.toml examples/
RUN set -eu; \
    for lib in \
        delegate-core/src/lib.rs \
        delegate-http/src/lib.rs \
        delegate-py/src/lib.rs \
        benches/lib.rs \
        examples/lib.rs; \
    do mkdir -p "$(dirname "$lib")"; touch "$lib"; done; \
    for main in \
        delegate-http/src/main.rs \
        delegate-cli/src/main.rs \
        benches/auth.rs benches/scaleout.rs benches/chat.rs benches/hardening.rs benches/metrics.rs benches/transcripts.rs benches/audio.rs benches/voice.rs benches/realtime.rs benches/alloc.rs \
        benches/load/floor.rs benches/load/upstream.rs \
        examples/host_app.rs examples/custom_backend.rs examples/realtime_client.rs; \
    do mkdir -p "$(dirname "$main")"; echo 'fn main() {}' > "$main"; done
RUN cargo build --release --locked -p delegate-http -p delegate-cli

# 2. The crates the binaries are made of (benches and examples keep their stand-ins: they are
#    not built here). Copied files keep their modification times, which may be older than
#    the stand-ins' build, and Cargo decides what to rebuild by modification time: touch them.
COPY delegate-core delegate-core
COPY delegate-http delegate-http
COPY delegate-cli delegate-cli
RUN find delegate-core delegate-http delegate-cli -name '*.rs' -exec touch {} + \
 && cargo build --release --locked -p delegate-http -p delegate-cli

# ---------------------------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# ca-certificates: the system roots rustls verifies PostgreSQL, Redis and AI-provider TLS
# against. curl: the health check below (the image has no other HTTP client).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

# An unprivileged user owning the working directory (where a SQLite database would live).
RUN groupadd --system --gid 10001 delegate \
 && useradd --system --uid 10001 --gid delegate --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin delegate \
 && install -d -o delegate -g delegate -m 0750 /app
WORKDIR /app

COPY --from=builder /build/target/release/delegate-server /usr/local/bin/delegate-server
COPY --from=builder /build/target/release/delegate /usr/local/bin/delegate

# Listen on every interface of the container (the default, made explicit) on port 3001.
ENV HOST=0.0.0.0 \
    PORT=3001
EXPOSE 3001

USER 10001:10001

# Liveness: GET /health answers without touching the store, so a database outage does not
# get the process restarted. (Readiness for an orchestrator: GET /health/ready.)
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD curl --fail --silent --show-error --max-time 2 "http://127.0.0.1:${PORT:-3001}/health" > /dev/null || exit 1

# The server stops gracefully on SIGTERM (docker stop), letting in-flight requests finish.
ENTRYPOINT ["delegate-server"]
