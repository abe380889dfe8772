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
# Dependencies first, so a source change does not fetch them again. Package.resolved is not
# in the repository (the versions come from Package.swift's ranges), so it is made here.
COPY Package.swift ./
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
# The packages are listed once, in scripts/image-packages: the test environment builds its
# stowage image (scripts/testenv load-image) from the same list.
FROM debian:bookworm-slim
COPY scripts/image-packages /tmp/image-packages
RUN apt-get update \
 && grep -v '^#' /tmp/image-packages | DEBIAN_FRONTEND=noninteractive xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/image-packages
COPY --from=build /out/stowage /usr/local/bin/stowage
# Non-root. Sync pods override the uid/gid (1000:100 by default, as notebooks write files).
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/stowage"]
CMD ["operator"]
