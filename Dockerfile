# Multi-stage build: compile in the Rust image, run as a non-root user in a
# slim Debian image with only the binary.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
COPY migrations migrations
COPY src src
RUN cargo build --release --locked --bin statusgate

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home --home-dir /var/lib/statusgate statusgate
COPY --from=build /src/target/release/statusgate /usr/local/bin/statusgate
USER statusgate
WORKDIR /var/lib/statusgate
ENV STATUSGATE_GRPC_LISTEN=0.0.0.0:50051 \
    STATUSGATE_HTTP_LISTEN=0.0.0.0:8080
EXPOSE 50051 8080
ENTRYPOINT ["statusgate"]
