#!/usr/bin/env bash
# Runs every check and test of flvedge, in two tiers:
#
#   unit tier  go test -race ./...             nothing but Go; fixtures from
#                                               testdata/
#   e2e tier   go test -race -tags e2e ./...   real peers: ffmpeg, GStreamer,
#              headless Chromium with mpegts.js, nginx, yamdi, promtool, and
#              the region test's network namespaces (root)
#
# and formatting, vet and staticcheck of both builds, so that the files
# tagged e2e are checked too. The unit tier runs first; the peers of the e2e
# tier are installed after it when they are missing (Debian packages, needs
# root or sudo; npm packages from browsertest/ and
# web/player/package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet (unit and e2e builds)"
go vet ./...
go vet -tags e2e ./...

echo "== staticcheck (unit and e2e builds)"
staticcheck=$(go env GOPATH)/bin/staticcheck
[ -x "$staticcheck" ] || go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
"$staticcheck" ./...
"$staticcheck" -tags e2e ./...

echo "== unit tier: go test -race ./..."
go test -race -count=1 -timeout 10m ./...

packages=(ffmpeg gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav)
missing=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
if ! command -v gst-inspect-1.0 >/dev/null ||
  ! gst-inspect-1.0 rtmp2sink >/dev/null 2>&1 || ! gst-inspect-1.0 x264enc >/dev/null 2>&1 ||
  ! gst-inspect-1.0 avenc_aac >/dev/null 2>&1; then
  missing+=(gstreamer)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing test peers (missing: ${missing[*]})"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi

# Browser tests: Debian's Chromium driven by playwright-core (pinned in
# browsertest/package-lock.json), mpegts.js (pinned in
# web/player/package-lock.json); yamdi writes the reference
# keyframe indexes the VOD tests compare with.
extra=()
[ -x /usr/bin/chromium ] || extra+=(chromium)
command -v yamdi >/dev/null || extra+=(yamdi)
command -v node >/dev/null && command -v npm >/dev/null || extra+=(nodejs npm)
# Debian's nginx is the VOD origin of the edge cache tests
# (internal/app/vodcache_test.go), which start it on their own, and the
# origin and the proxy_cache + slice reference of scripts/bench-vod.sh
# (its smoke test: cmd/bench).
[ -x /usr/sbin/nginx ] || extra+=(nginx-light)
# The region test (internal/regiontest, scripts/regiontest.sh) makes hosts
# of network namespaces with iproute2 and fetches from them with curl.
command -v ip >/dev/null && command -v curl >/dev/null || extra+=(iproute2 curl)
if [ ${#extra[@]} -gt 0 ]; then
  echo "== installing test tools (missing: ${extra[*]})"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${extra[@]}" >/dev/null
fi
# promtool (Debian's prometheus package) checks the /metrics output.
if ! command -v promtool >/dev/null; then
  echo "== installing promtool"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# Again when the pins changed (dash.js was added for the Smooth Streaming
# test): npm ci writes node_modules/.package-lock.json.
if [ ! -f browsertest/node_modules/.package-lock.json ] ||
  [ browsertest/package-lock.json -nt browsertest/node_modules/.package-lock.json ]; then
  echo "== npm ci (browsertest)"
  (cd browsertest && npm ci --no-audit --no-fund --loglevel=error)
fi
# mpegts.js for the player page and the browser tests, again when its pin
# changed.
if [ ! -f web/player/mpegts/mpegts.js ] || [ web/player/package-lock.json -nt web/player/mpegts/mpegts.js ]; then
  echo "== npm ci (web/player)"
  (cd web/player && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "== e2e tier: go test -race -tags e2e ./..."
go test -race -count=1 -timeout 20m -tags e2e ./...

# deploy/ is a module of its own, so that the Kubernetes API types it checks
# the manifests with stay out of the server's dependencies.
echo "== deploy: manifests and sample configs"
(cd deploy && go vet ./... && "$staticcheck" ./... && go test -count=1 ./...)
