#!/usr/bin/env bash
# Builds nncore with AddressSanitizer and UndefinedBehaviorSanitizer (gcc or
# clang, Linux) into a fresh virtual environment and runs the kernel and model
# tests against it. Any out-of-bounds access, use after free or undefined
# behaviour in the C code stops the run with a report.
#
# Usage: bash scripts/sanitize.sh [pytest arguments]
# (default: the kernel and model tests of the copy it builds, in $OUT/src/tests)
# Works in a temporary folder, removed when all passed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$(mktemp -d "${TMPDIR:-/tmp}/nncore-sanitize.XXXXXX")
CC=${CC:-cc}
echo "working in $OUT"

# -fno-sanitize-recover: undefined behaviour is an error, not a line in the log
SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
python -m venv "$OUT/venv"
"$OUT/venv/bin/python" -m pip install --quiet --upgrade pip
"$OUT/venv/bin/python" -m pip install --quiet "setuptools>=77" Cython numpy pytest hypothesis threadpoolctl
# Built from a copy, so that no instrumented object is left in the tree's build/
mkdir "$OUT/src"
tar -C "$ROOT" --exclude=./.git --exclude=./build --exclude='./.venv*' --exclude='*.so' -cf - . |
    tar -C "$OUT/src" -xf -
CC=$CC CFLAGS="$SANITIZE -g -O1" LDFLAGS="$SANITIZE" \
    "$OUT/venv/bin/python" -m pip install --quiet --no-build-isolation "$OUT/src"

# Python itself is not instrumented: the sanitizer runtimes are loaded first.
# Leak checking is off, because the interpreter keeps memory until exit by design.
runtime() { "$CC" -print-file-name="$1"; }
export LD_PRELOAD="$(runtime libasan.so) $(runtime libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1
if [ $# -eq 0 ]; then
    set -- "$OUT"/src/tests/test_{gemm,activations,losses,optimizers,network,models,layers,io}.py
fi
(cd "$OUT" && "$OUT/venv/bin/python" -m pytest -q -p no:cacheprovider "$@")
rm -rf "$OUT"
