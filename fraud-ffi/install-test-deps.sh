#!/usr/bin/env bash
# Installs what `cargo test -p fraud-ffi` needs beyond Rust on a fresh Debian
# machine: a C and a C++ compiler for the examples, valgrind for the leak
# check. Does nothing when they are all there already.
set -euo pipefail
missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
if [ ${#missing[@]} -gt 0 ]; then
  # As root, apt-get directly; otherwise through sudo (as setup-browser.sh does).
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" libc6-dev
fi
