# Builds the ingest and edge as static binaries into a minimal, non-root
# image:
#   docker build -t flvedge .
#   docker run -p 1935:1935 -p 8080:8080 flvedge flvedge-ingest --demo
# Kubernetes manifests: deploy/kubernetes; configs: deploy/configs.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The player page embeds mpegts.js when web/player's npm project was
# installed before the build; without it the page loads it from a CDN.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/flvedge-ingest ./cmd/ingest && \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/flvedge-edge ./cmd/edge

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER nonroot:nonroot
EXPOSE 1935 8080 9090
ENTRYPOINT []
CMD ["/usr/local/bin/flvedge-edge", "--help"]
