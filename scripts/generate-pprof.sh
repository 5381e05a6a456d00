#!/bin/sh
# Regenerates Sources/PerfProbeCore/Reports/Pprof/profile.pb.swift from
# profile.proto with Debian's protoc and swift-protobuf's protoc-gen-swift
# (built from the package checkout). The output is committed: builds never
# run protoc, nor swift-protobuf's build plugin.
set -eu
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || scripts/install-deps.sh protobuf-compiler
swift package resolve
swift build -c release --package-path .build/checkouts/swift-protobuf --product protoc-gen-swift
plugin=.build/checkouts/swift-protobuf/.build/release/protoc-gen-swift
protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Internal \
    --swift_out=Sources/PerfProbeCore/Reports/Pprof -I Sources/PerfProbeCore/Reports/Pprof profile.proto
