# chime: one image with all three service binaries (chime-api, chime-scheduler,
# chime-worker), picked with the container command (default: chime-api), and the
# `chime` command line (`docker compose exec api chime …`).

FROM rust:1-bookworm AS builder
WORKDIR /src
# Only what the build needs (the workspace members and the lock file).
COPY Cargo.toml Cargo.lock ./
COPY shared/core shared/core
COPY shared/store shared/store
COPY shared/broker shared/broker
COPY shared/runtime shared/runtime
COPY scheduler scheduler
COPY worker worker
COPY api api
COPY cli cli
COPY tests tests
COPY bench bench
RUN cargo build --release --locked --bins \
 && mkdir -p /out \
 && cp target/release/chime-api target/release/chime-scheduler target/release/chime-worker target/release/chime /out/

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin chime
COPY --from=builder /out/ /usr/local/bin/
USER chime:chime
# Listen on all interfaces inside the container; health/metrics of the
# scheduler and worker on a fixed port so healthchecks can find them.
ENV CHIME_API_ADDR=0.0.0.0:8080 \
    CHIME_OPS_ADDR=0.0.0.0:9100 \
    CHIME_LOG_FORMAT=json
EXPOSE 8080 9100
STOPSIGNAL SIGTERM
CMD ["chime-api"]
