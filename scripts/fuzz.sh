#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/ package, Swift, plus the C target for the CImageIO shim)
# and runs each one for a set time, one after another, then prints per target: executions,
# exec/s, coverage (libFuzzer's cov: and ft:), corpus size, and findings (crash/leak/timeout/
# oom artifacts). Any finding makes the script exit 1.
#
#   scripts/fuzz.sh [--time SECONDS] [--no-build] [--jobs N] [TARGET...]
#
# Targets: FuzzCImageIO FuzzImageDecoder FuzzWeights FuzzAWSXML FuzzS3XML FuzzSQSJSON
#          FuzzEC2XML FuzzJobMessage FuzzMultipart (default: all).
# Seeds come from Fuzz/make_seeds.py into Fuzz/corpus/<Target>/ (gitignored; the corpus grows
# as libFuzzer finds new coverage). Findings land in Fuzz/artifacts/<Target>/, logs in
# Fuzz/logs/<Target>.log. Re-run one finding: Fuzz/.build/release/<Target> <file>.
#
# libFuzzer flags used: -max_total_time, -rss_limit_mb=4096, -malloc_limit_mb=2048, -timeout=10
# (a hang is any input over 10 s), -detect_leaks=1 (LeakSanitizer after every input whose
# mallocs and frees differ). The three client targets (S3/SQS/EC2) run with per-input leak
# checks off: Swift concurrency's pool threads free task memory after the input returns, which
# makes every input look unbalanced and costs a ~20 ms LeakSanitizer scan each; they still run
# LeakSanitizer at exit (ASAN_OPTIONS=detect_leaks=1), which reports anything unreachable.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
fuzz="$root/Fuzz"
time_per_target=300
build=1
all=(FuzzCImageIO FuzzImageDecoder FuzzWeights FuzzAWSXML FuzzJobMessage FuzzMultipart FuzzS3XML FuzzSQSJSON FuzzEC2XML)
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --time) time_per_target="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

swift_flags=(-c release --package-path "$fuzz"
    -Xswiftc -sanitize=fuzzer,address
    -Xcc -fsanitize=fuzzer-no-link,address
    # ld.gold cannot link SwiftPM's `--defsym main=<target>_main` with libFuzzer's objects
    # (internal error in format_file_lineno); lld can.
    -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld)

if [ "$build" = 1 ]; then
    needs_swift=0
    for t in "${targets[@]}"; do [ "$t" = FuzzCImageIO ] || needs_swift=1; done
    if [ "$needs_swift" = 1 ]; then
        echo "== building Swift fuzz targets (release, ASan + libFuzzer)"
        nice -n 10 swift build "${swift_flags[@]}"
    fi
    echo "== building FuzzCImageIO (clang, ASan + libFuzzer)"
    mkdir -p "$fuzz/.build/c"
    # shellcheck disable=SC2046
    nice -n 10 clang -O1 -g -fuse-ld=lld -fsanitize=fuzzer,address \
        -I"$root/Sources/CImageIO/include" -I"$root/Sources/CImageIO" \
        "$root"/Sources/CImageIO/*.c "$fuzz/C/fuzz_cimageio.c" \
        $(pkg-config --cflags --libs libjpeg libpng) -o "$fuzz/.build/c/FuzzCImageIO"
fi
bin_dir=$(nice -n 10 swift build "${swift_flags[@]}" --show-bin-path 2>/dev/null || echo "$fuzz/.build/release")

[ -d "$fuzz/corpus" ] || python3 "$fuzz/make_seeds.py" --out "$fuzz/corpus"
mkdir -p "$fuzz/logs"

# Swift's own crash backtracer reads the stack in a way ASan reports as a stack-buffer-underflow,
# hiding the real trap; libFuzzer prints the stack instead.
export SWIFT_BACKTRACE="enable=no"
# Fuzz/lsan.supp lists leaks found in the toolchain's own libraries (not ours), with the reason.
export LSAN_OPTIONS="suppressions=$fuzz/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:detect_stack_use_after_return=0:handle_abort=1:${ASAN_OPTIONS:-}"

summary=()
failed=0
for t in "${targets[@]}"; do
    if [ "$t" = FuzzCImageIO ]; then exe="$fuzz/.build/c/FuzzCImageIO"; else exe="$bin_dir/$t"; fi
    [ -x "$exe" ] || { echo "no binary for $t at $exe" >&2; exit 2; }
    corpus="$fuzz/corpus/$t"; artifacts="$fuzz/artifacts/$t"; log="$fuzz/logs/$t.log"
    mkdir -p "$corpus" "$artifacts"
    extra=(-detect_leaks=1)
    case "$t" in
        FuzzS3XML|FuzzSQSJSON|FuzzEC2XML) extra=(-detect_leaks=0) ;;
        FuzzWeights) extra+=(-max_len=65536) ;;
        FuzzImageDecoder|FuzzCImageIO) extra+=(-max_len=16384) ;;
    esac
    echo "== $t for ${time_per_target}s: $exe ${extra[*]}"
    set +e
    nice -n 10 "$exe" "$corpus" -max_total_time="$time_per_target" -rss_limit_mb=4096 -malloc_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/" "${extra[@]}" >"$log" 2>&1
    status=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -1)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$last")
    findings=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    if [ "$status" -ne 0 ] || [ "$findings" -ne 0 ]; then failed=1; fi
    line=$(printf '%-17s execs %10s  exec/s %7s  cov %5s  ft %6s  corpus %-12s findings %s  exit %s' \
        "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$findings" "$status")
    echo "$line"
    summary+=("$line")
done

echo
echo "== summary (${time_per_target}s per target)"
printf '%s\n' "${summary[@]}"
exit $failed
