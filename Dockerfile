# finseed container image: the finseed binary on a distroless base, running as a non-root user,
# with no PostgreSQL server inside (point it at one with DATABASE_URL). Profiles, DDL, queries
# and scenarios are compiled into the binary (include_str!), so nothing else is copied.
#   docker build -t finseed:0.1.0 .
#   docker run --rm -e DATABASE_URL=postgres://... finseed:0.1.0 seed -p small --jobs 2

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY schemas ./schemas
COPY profiles ./profiles
RUN cargo build --release --locked --bin finseed \
    && strip target/release/finseed

# distroless/cc has glibc and libgcc_s (all the binary links) and the `nonroot` user (65532).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/finseed /usr/local/bin/finseed
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/finseed"]
CMD ["--help"]
