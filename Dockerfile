# syntax=docker/dockerfile:1.7
# flowdeck's container image: one static-ish binary on debian-slim, run as a non-root user.
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t flowdeck:dev .
#
# The binary is cross-compiled on the build machine's own platform (no emulation: a Rust build
# under QEMU takes an hour), for each target platform buildx asks for. The runtime image has the
# PostgreSQL client (for `flowdeck backup` / `restore`) but no PostgreSQL server: give it a
# DATABASE_URL (deploy/compose.yaml, deploy/kubernetes/).

ARG RUST_VERSION=1.95
ARG DEBIAN=bookworm

FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-${DEBIAN} AS build
ARG TARGETARCH
ARG VERSION=dev
ARG REVISION=unknown
WORKDIR /src
RUN case "$TARGETARCH" in \
      amd64) echo x86_64-unknown-linux-gnu > /target; gcc=gcc-x86-64-linux-gnu ;; \
      arm64) echo aarch64-unknown-linux-gnu > /target; gcc=gcc-aarch64-linux-gnu ;; \
      *) echo "unsupported TARGETARCH=$TARGETARCH" >&2; exit 1 ;; \
    esac \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$gcc" libc6-dev-"$TARGETARCH"-cross \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add "$(cat /target)"
ENV CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=x86_64-linux-gnu-gcc \
    CC_x86_64_unknown_linux_gnu=x86_64-linux-gnu-gcc \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
    SQLX_OFFLINE=true
COPY Cargo.toml Cargo.lock ./
COPY .sqlx .sqlx
COPY migrations migrations
COPY src src
# Cargo.toml declares the benches: cargo refuses a manifest whose targets are missing.
COPY benches benches
COPY style style
COPY assets assets
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,id=flowdeck-target-$TARGETARCH \
    FLOWDECK_COMMIT="$REVISION" cargo build --release --locked --target "$(cat /target)" \
 && cp "target/$(cat /target)/release/flowdeck" /flowdeck

FROM debian:${DEBIAN}-slim
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/flowdeck/flowdeck
LABEL org.opencontainers.image.title="flowdeck" \
      org.opencontainers.image.description="A self-hosted dashboard for lean remote engineering teams" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION" \
      org.opencontainers.image.source="$SOURCE" \
      org.opencontainers.image.licenses="MIT"
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 flowdeck \
 && useradd --system --uid 10001 --gid flowdeck --home-dir /var/lib/flowdeck --create-home flowdeck
COPY --from=build /flowdeck /usr/local/bin/flowdeck
USER 10001:10001
WORKDIR /var/lib/flowdeck
# The same names flowdeck reads everywhere (README "Configuration"); JSON logs for collectors.
ENV FLOWDECK_LISTEN=0.0.0.0:8080 \
    FLOWDECK_LOG_FORMAT=json \
    FLOWDECK_DATA_DIR=/var/lib/flowdeck
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["flowdeck", "healthcheck"]
ENTRYPOINT ["flowdeck"]
CMD ["serve"]
