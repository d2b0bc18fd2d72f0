#!/usr/bin/env bash
# Installs what `cargo test -p fraud-ffi` needs beyond Rust on a fresh Debian
# machine: a C and a C++ compiler for the examples, valgrind for the leak
# check, pkg-config and cmake for the install tests (a C program through
# pkg-config, a C++ project through find_package), and clang with its
# sanitizer runtimes (ASan, UBSan, TSan). Does nothing when they are all there.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
updated=""
install() {
  if [ -z "$updated" ]; then
    $SUDO apt-get update -qq
    updated=1
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "$@"
}

missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v readelf >/dev/null 2>&1 || missing+=(binutils)
command -v clang >/dev/null 2>&1 || missing+=(clang)
if [ ${#missing[@]} -gt 0 ]; then
  install "${missing[@]}" libc6-dev
fi

# The sanitizer runtimes ship apart from clang in recent Debian releases
# (libclang-rt-N-dev, N being clang's major version).
asan="$(clang -print-file-name=libclang_rt.asan-x86_64.a)"
if [ ! -f "$asan" ] && [ ! -f "$(clang -print-runtime-dir)/libclang_rt.asan.a" ]; then
  major="$(clang -dumpversion | cut -d. -f1)"
  install "libclang-rt-${major}-dev"
fi
