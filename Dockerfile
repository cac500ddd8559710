# Sandman's image: `make image` (IMAGE=registry.example.com/sandman:TAG).
# Build stage: the release binary with the Swift runtime linked in statically.
FROM swift:6.3-bookworm AS build
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        liblua5.4-dev libcurl4-openssl-dev libsqlite3-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
COPY Tests Tests
RUN swift build -c release --static-swift-stdlib --product sandman \
    && mkdir -p /out \
    && cp "$(swift build -c release --show-bin-path)/sandman" /out/ \
    && cp -R "$(swift build -c release --show-bin-path)/sandman_Hub.resources" /out/

# Runtime stage: exactly the shared libraries the binary needs (checked by the
# "Container image" tests against ldd and dpkg), CA certificates and time zones.
FROM debian:bookworm-slim
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        ca-certificates tzdata libc6 libcurl4 libgcc-s1 liblua5.4-0 libsqlite3-0 libstdc++6 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/sandman /usr/local/bin/sandman
COPY --from=build /out/sandman_Hub.resources /usr/local/bin/sandman_Hub.resources
# The default plugins, in their folders; ConfigMaps mounted per folder replace them.
COPY plugins /etc/sandman/plugins
# Writable places are volumes (/var/lib/sandman for the database, /tmp): the root
# filesystem can be read-only.
RUN mkdir -p /var/lib/sandman && chown 65532:65532 /var/lib/sandman
USER 65532:65532
EXPOSE 8080
VOLUME ["/var/lib/sandman"]
ENTRYPOINT ["/usr/local/bin/sandman"]
CMD ["serve", "--config", "/etc/sandman/sandman.yaml", "--log-format", "json"]
