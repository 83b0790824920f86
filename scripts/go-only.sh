#!/usr/bin/env bash
# Runs a command as if this machine had nothing but Go: in a private mount
# namespace, the test peers (ffmpeg, GStreamer, nginx, Chromium, node/npm,
# yamdi, promtool, iproute2, curl) are covered by an empty, non-executable
# file, so that neither a PATH lookup nor an absolute path finds them. It
# shows that the unit tier (go test ./...) needs none of them:
#
#   sudo bash scripts/go-only.sh go test -race -count=1 ./...
#
# Needs root (unshare --mount). Nothing outside the namespace changes.
set -euo pipefail

tools=(ffmpeg ffprobe ffplay gst-launch-1.0 gst-inspect-1.0 nginx chromium chromium-browser
  google-chrome node nodejs npm npx yamdi promtool ip curl wget)

if [ -z "${FLVEDGE_GO_ONLY:-}" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "go-only.sh: needs root for unshare --mount" >&2; exit 1; }
  export FLVEDGE_GO_ONLY=1
  exec unshare --mount --propagation private bash "$0" "$@"
fi

empty=$(mktemp)
chmod 0644 "$empty"
emptydir=$(mktemp -d)
hidden=()
for t in "${tools[@]}"; do
  for dir in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
    p="$dir/$t"
    [ -e "$p" ] || continue
    real=$(readlink -f "$p")
    case " ${hidden[*]:-} " in *" $real "*) continue ;; esac
    [ -d "$real" ] && continue
    mount --bind "$empty" "$real"
    hidden+=("$real")
  done
done
# Chromium's and node's own trees, in case a test calls into them directly.
for d in /usr/lib/chromium /usr/lib/node_modules /usr/share/nodejs; do
  [ -d "$d" ] && mount --bind "$emptydir" "$d"
done
IFS=: read -ra path <<<"$PATH"
for t in "${tools[@]}"; do
  for dir in "${path[@]}"; do
    if [ -f "$dir/$t" ] && [ -x "$dir/$t" ]; then
      echo "go-only.sh: $t can still be run from $dir" >&2
      exit 1
    fi
  done
done
echo "go-only.sh: hidden: ${hidden[*]}" >&2
exec "$@"
