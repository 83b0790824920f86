#!/usr/bin/env bash
# Runs the demo: an ingest with a looping test stream at /live/demo.flv and
# the player page at http://localhost:8080/. First, when npm is at hand, it
# installs the mpegts.js pinned in web/player (npm ci), so that the page
# embeds it; without npm, or offline, the page loads it from a CDN.
# Arguments go to the ingest: bash scripts/demo.sh --http-listen :8081
set -euo pipefail
cd "$(dirname "$0")/.."

lock=web/player/package-lock.json
installed=web/player/mpegts/mpegts.js
if [ -f "$installed" ] && [ ! "$lock" -nt "$installed" ]; then
  : # installed, and the pin has not changed since
elif command -v npm >/dev/null &&
  echo "== npm ci (web/player): mpegts.js for the player page" &&
  (cd web/player && npm ci --no-audit --no-fund --loglevel=error); then
  :
elif [ -f "$installed" ]; then
  echo "no npm, or npm ci failed: the player page embeds the mpegts.js installed before" >&2
else
  echo "no npm, or npm ci failed: the player page will load mpegts.js from a CDN" >&2
fi
exec go run ./cmd/ingest --demo "$@"
