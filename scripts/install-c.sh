#!/usr/bin/env bash
# Installs the fraud-engine C library into PREFIX the way C and C++ projects
# expect a library to be installed:
#
#   scripts/install-c.sh PREFIX          # e.g. /usr/local, $HOME/.local
#
#   PREFIX/include/fraud_engine.h, fraud_engine.hpp (C++17 wrapper)
#   PREFIX/lib/libfraud_engine.a
#   PREFIX/lib/libfraud_engine.so.X.Y.Z   (SONAME libfraud_engine.so.X)
#   PREFIX/lib/libfraud_engine.so.X -> libfraud_engine.so.X.Y.Z
#   PREFIX/lib/libfraud_engine.so   -> libfraud_engine.so.X
#   PREFIX/lib/pkgconfig/fraud_engine.pc
#   PREFIX/lib/cmake/fraud_engine/fraud_engineConfig.cmake (+ ConfigVersion)
#
# Then:  cc app.c $(pkg-config --cflags --libs fraud_engine)
#   or:  find_package(fraud_engine) and link fraud_engine::fraud_engine.
#
# Builds the release library with cargo (honouring CARGO_TARGET_DIR) unless
# FRAUD_LIB_DIR names a directory that already holds libfraud_engine.{a,so}.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$1"
PREFIX="$(cd "$1" && pwd)"

VERSION="$(sed -n 's/^#define FRAUD_ENGINE_VERSION "\(.*\)"$/\1/p' "$REPO/include/fraud_engine.h")"
MAJOR="${VERSION%%.*}"
MINOR="$(echo "$VERSION" | cut -d. -f2)"
if [ -z "$VERSION" ]; then
    echo "error: no FRAUD_ENGINE_VERSION in include/fraud_engine.h" >&2
    exit 1
fi

if [ -n "${FRAUD_LIB_DIR:-}" ]; then
    LIB_DIR="$FRAUD_LIB_DIR"
else
    (cd "$REPO" && cargo build --release --quiet -p fraud-ffi --lib)
    LIB_DIR="${CARGO_TARGET_DIR:-$REPO/target}/release"
fi
for f in libfraud_engine.a libfraud_engine.so; do
    if [ ! -f "$LIB_DIR/$f" ]; then
        echo "error: no $f in $LIB_DIR" >&2
        exit 1
    fi
done

install -d "$PREFIX/include" "$PREFIX/lib/pkgconfig" "$PREFIX/lib/cmake/fraud_engine"
install -m 644 "$REPO/include/fraud_engine.h" "$REPO/include/fraud_engine.hpp" "$PREFIX/include/"
install -m 644 "$LIB_DIR/libfraud_engine.a" "$PREFIX/lib/"
install -m 755 "$LIB_DIR/libfraud_engine.so" "$PREFIX/lib/libfraud_engine.so.$VERSION"
ln -sfn "libfraud_engine.so.$VERSION" "$PREFIX/lib/libfraud_engine.so.$MAJOR"
ln -sfn "libfraud_engine.so.$MAJOR" "$PREFIX/lib/libfraud_engine.so"

fill() {
    sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@VERSION@|$VERSION|g" \
        -e "s|@MAJOR@|$MAJOR|g" -e "s|@MINOR@|$MINOR|g" "$1" > "$2"
}
fill "$REPO/fraud-ffi/install/fraud_engine.pc.in" "$PREFIX/lib/pkgconfig/fraud_engine.pc"
fill "$REPO/fraud-ffi/install/fraud_engineConfig.cmake" \
    "$PREFIX/lib/cmake/fraud_engine/fraud_engineConfig.cmake"
fill "$REPO/fraud-ffi/install/fraud_engineConfigVersion.cmake" \
    "$PREFIX/lib/cmake/fraud_engine/fraud_engineConfigVersion.cmake"

echo "installed fraud_engine $VERSION into $PREFIX"
