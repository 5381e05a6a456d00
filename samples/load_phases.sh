#!/bin/sh
# Drives samples/http_server through three load phases with wrk, telling the
# perfprobe sidecar each phase (PERFPROBE_SIDECAR_URL, set by `perfprobe
# sidecar ... -- samples/load_phases.sh PORT`):
#   idle    GET /static, 1 connection   (hash_handler absent)
#   peak    GET /hash, 4 connections    (hash_handler hot)
#   stress  GET /hash, 16 connections
# PHASE_SECONDS (default 10) is each phase's length.
set -eu
port=${1:-8080}
seconds=${PHASE_SECONDS:-10}
phase() {
    if [ -n "${PERFPROBE_SIDECAR_URL:-}" ]; then
        # With --token-file the sidecar hands the token over too.
        curl -sf -X POST -H "Authorization: Bearer ${PERFPROBE_SIDECAR_TOKEN:-none}" \
            -d "{\"name\": \"$1\"}" "$PERFPROBE_SIDECAR_URL/phase" >/dev/null
    fi
}
phase idle
wrk -t1 -c1 -d"${seconds}s" "http://127.0.0.1:$port/static"
phase peak
wrk -t2 -c4 -d"${seconds}s" "http://127.0.0.1:$port/hash"
phase stress
wrk -t2 -c16 -d"${seconds}s" "http://127.0.0.1:$port/hash"
