# fraud-server as a container image: the server binary only, run as a
# non-root user, answering on port 5000, with its data (the default model
# cache and the SQLite history, unless DATABASE_URL names PostgreSQL) in the
# /app/data volume. HEALTHCHECK asks /ready with the binary itself, so the
# image needs no curl.
#
# Build from source (what users run; needs a registry with the Rust image):
#     docker build -t fraud-engine .
# Build around a binary built on the host (what the tests here run, since no
# container registry is reachable: scripts/test-container.sh):
#     cargo build --release -p fraud-server
#     docker build --build-arg BINARY=prebuilt -t fraud-engine .
# BASE_IMAGE chooses the runtime base: any glibc Debian (bookworm or later,
# as the host that built a prebuilt binary).
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim
ARG RUST_IMAGE=docker.io/library/rust:1-bookworm
# `source` compiles in the builder stage; `prebuilt` copies
# target/release/fraud-server from the build context.
ARG BINARY=source

FROM ${RUST_IMAGE} AS source
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p fraud-server \
    && install -D -m 0755 target/release/fraud-server /out/fraud-server

FROM ${BASE_IMAGE} AS prebuilt
COPY target/release/fraud-server /out/fraud-server

# The stage named by BINARY; builders skip the other one.
FROM ${BINARY} AS binary

FROM ${BASE_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin fraud \
    && mkdir -p /app/data \
    && chown fraud:fraud /app/data
COPY --from=binary --chmod=0755 /out/fraud-server /usr/local/bin/fraud-server
WORKDIR /app
ENV HOST=0.0.0.0 \
    PORT=5000 \
    DATA_DIR=/app/data \
    LOG_FORMAT=json
VOLUME ["/app/data"]
EXPOSE 5000
USER fraud:fraud
# SIGTERM (the default stop signal) drains requests and flushes the history.
STOPSIGNAL SIGTERM
# The default model is trained at the first start (a few seconds; cached in
# the volume after), hence the start period.
HEALTHCHECK --interval=10s --timeout=4s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/fraud-server", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/fraud-server"]
CMD ["serve"]
