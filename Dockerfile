# PageNow: one binary, `pagenow`, that runs every service (`pagenow all`) or one of them
# (`pagenow command-api`, `relay`, `projector`, `query-api`, `push`), and applies the database
# migrations (`pagenow migrate`; they are compiled into the binary).

FROM rust:1-bookworm AS build
WORKDIR /src
# Queries checked at compile time must not need a live database inside the image build.
ENV SQLX_OFFLINE=true
COPY . .
RUN cargo build --release --locked -p pagenow

FROM debian:bookworm-slim
# CA certificates for TLS connections to NATS or Postgres outside the compose network.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home pagenow
COPY --from=build /src/target/release/pagenow /usr/local/bin/pagenow
USER pagenow
# Inside a container the services must listen on every interface to be reachable at all;
# docker-compose.yml publishes them on the host's loopback only.
ENV COMMAND_API_ADDR=0.0.0.0:8081 \
    QUERY_API_ADDR=0.0.0.0:8082 \
    PUSH_ADDR=0.0.0.0:8083
EXPOSE 8081 8082 8083
# Migrations first, so a fresh database works; then every service in one process.
# Override the command to run one service alone, e.g. ["pagenow", "projector"].
CMD ["sh", "-c", "pagenow migrate && exec pagenow all"]
