#!/usr/bin/env bash
# Builds and runs every fuzz target for FUZZ_SECONDS (default 20) each, on stable Rust
# (`-s none`: no sanitizer, which needs nightly; Rust code without `unsafe` gains little
# from AddressSanitizer). A crash fails the script; its input is left in
# fuzz/artifacts/<target>/ for a regression test.
#   fuzz/run.sh                 # every target, 20 s each
#   FUZZ_SECONDS=300 fuzz/run.sh mcp_body
#   FUZZ_PROFILE=dev fuzz/run.sh   # unoptimised: builds in about half the time, runs
#                                  # slower; enough for CI's short runs
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-20}"
case "${FUZZ_PROFILE:-release}" in
    release) profile=() ;; # cargo-fuzz's default: optimised, with debug assertions
    dev) profile=(--dev) ;;
    *) echo "fuzz/run.sh: FUZZ_PROFILE must be release or dev, not '$FUZZ_PROFILE'" >&2; exit 1 ;;
esac
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
[ "${#targets[@]}" -gt 0 ] || { echo "fuzz/run.sh: no fuzz targets found" >&2; exit 1; }

cargo fuzz build -s none "${profile[@]}"
failed=()
for target in "${targets[@]}"; do
    echo "fuzz/run.sh: $target for ${seconds}s"
    # New inputs go to a scratch directory; the committed seeds are only read.
    scratch="$(mktemp -d)"
    if ! cargo fuzz run -s none "${profile[@]}" "$target" "$scratch" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1; then
        failed+=("$target")
    fi
    rm -rf "$scratch"
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz/run.sh: CRASH in ${failed[*]}; the inputs are in fuzz/artifacts/" >&2
    exit 1
fi
echo "fuzz/run.sh: every target ran ${seconds}s without a crash"
