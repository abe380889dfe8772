# The Stowage image: one static-stdlib binary that runs the operator, the webhook and the
# sync pods (`stowage operator`, `stowage sync`, `stowage wait`).
#
#   docker build -t registry.example.org/stowage:0.1.0 .
#
# Tests/ControllersTests/ImageTests.swift checks that every shared library the binary links
# comes from a package the runtime stage installs (or from the base image's required set).

ARG SWIFT_VERSION=6.3

# ---------------------------------------------------------------------------- build
FROM swift:${SWIFT_VERSION}-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libcurl4-openssl-dev libyaml-dev libxml2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so a source change does not fetch them again.
COPY Package.swift Package.resolved ./
RUN swift package resolve
COPY Sources ./Sources
COPY bench/Sources ./bench/Sources
COPY Tests ./Tests
# The Swift runtime and Foundation are linked statically; libcurl, libyaml and libxml2
# (FoundationXML) stay shared, from Debian.
RUN swift build -c release --static-swift-stdlib --product stowage \
 && install -D -m 0755 "$(swift build -c release --show-bin-path)/stowage" /out/stowage \
 && strip /out/stowage

# ---------------------------------------------------------------------------- runtime
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 libyaml-0-2 libxml2 libstdc++6 tzdata \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/stowage /usr/local/bin/stowage
# Non-root. Sync pods override the uid/gid (1000:100 by default, as notebooks write files).
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/stowage"]
CMD ["operator"]
