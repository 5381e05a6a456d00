#!/usr/bin/env bash
# Installs the Debian packages perfprobe builds, tests and benchmarks with,
# only those missing, so a machine that has them all runs no apt.
# Extra package names (the benchmark's linux-perf) come as arguments.
set -euo pipefail
packages=(
  libelf-dev      # symbol tables (CLibElf)
  libdw-dev       # source lines and inlined frames (CLibElf)
  libunwind-dev   # DWARF unwinding of sampled user stacks
  pkg-config      # how SwiftPM finds both
  libc6-dbg       # glibc's full symbols, found by build-id
  zlib1g-dev      # gzip for pprof files
  libzstd-dev     # zstd-compressed debug sections
  libncurses-dev  # perfprobe top's screen, the status line's terminfo
  make binutils gcc g++  # samples/ and the ELF files the tests build
  golang-go       # samples/go, and the real pprof that reads perfprobe's files
  "$@"
)
# The samples build with clang; the Swift toolchain ships one.
command -v clang >/dev/null || packages+=(clang)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
