# syntax=docker/dockerfile:1
#
# One image recipe for every binary of the workspace.
#   docker build --build-arg SERVICE=svc-auth -t ghcr.io/idp/svc-auth:dev .
# SERVICE is one of: idp (all-in-one, default), gateway, svc-auth, svc-tenants, svc-apps,
# svc-users, svc-login, svc-riskbits. Each is a workspace package with a binary of the same name.

ARG SERVICE=idp

# ---------------------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
ARG SERVICE
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The registry, git checkouts and target/ live in BuildKit cache mounts, so a rebuild after a
# source change recompiles only the touched crates. target/ is not part of the image layer:
# the binary is copied out in the same step.
RUN --mount=type=cache,id=idp-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=idp-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=idp-target,target=/src/target,sharing=locked \
    cargo build --release --locked --package "${SERVICE}" --bin "${SERVICE}" \
 && install -D -m 0755 "target/release/${SERVICE}" /out/app

# ---------------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
ARG SERVICE
# libpq5: diesel's Postgres backend; libssl3: josekit (system OpenSSL); ca-certificates: TLS to
# outside endpoints; curl: the container healthcheck in docker-compose.yml (Kubernetes uses
# its own HTTP probes).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libssl3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/idp --no-create-home \
      --shell /usr/sbin/nologin app \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/idp
COPY --from=builder /out/app /usr/local/bin/app
LABEL org.opencontainers.image.title="idp-${SERVICE}" \
      org.opencontainers.image.description="Identity provider: ${SERVICE}"
# Writable working directory: the all-in-one binary keeps its embedded storage in ./data
# (IDP_DATA_DIR's default); the services keep nothing on local disk.
WORKDIR /var/lib/idp
# The binaries listen on 127.0.0.1 unless told otherwise, unreachable from outside a container.
# docker-compose.yml and k8s/ set IDP_HTTP__BIND for every service (its own port); this default
# serves the all-in-one image: docker run -p 8080:8080 ghcr.io/idp/idp
ENV IDP_HTTP__BIND=0.0.0.0:8080
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/app"]
