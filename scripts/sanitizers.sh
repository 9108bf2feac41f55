#!/usr/bin/env bash
# Runs the test suite under the compiler's sanitizers (see docs/ROBUSTNESS.md, "Sanitizers").
#
#   scripts/sanitizers.sh [address|undefined|thread|all] [extra swift test arguments...]
#
#   address    the whole suite under AddressSanitizer (+ LeakSanitizer)
#   undefined  the whole suite under UndefinedBehaviorSanitizer
#   thread     the concurrent suites (TSAN_FILTER below) under ThreadSanitizer
#   all        the three in turn (the default); every one runs even if an earlier one fails
#
# Each sanitizer builds into its own scratch path, .build-san-<s> (instrumented objects can't
# share a build directory with normal ones), and logs to .build-san-<s>/test.log. Every run
# ends with one summary line:
#   sanitizers: <s>: PASS|FAIL, <n> tests passed|failed, <k> sanitizer reports, <wall time>
#               (CPU <user+system time of the run>, load <15-minute load average>), exit <code>
# The script exits non-zero if any run's tests fail or any sanitizer report appears in its log
# (reports from child processes, e.g. the `facerec` CLI the tests launch, count too).
# Extra arguments go to `swift test`, e.g. `scripts/sanitizers.sh address --filter LocalQueueTests`.
# Environment: SWIFT (default swift), NICE (default "nice -n 10"; set NICE= to run at normal
# priority), TSAN_FILTER to override the thread sanitizer's test selection.
set -uo pipefail
cd "$(dirname "$0")/.."

which_san="${1:-all}"
[ $# -gt 0 ] && shift
SWIFT="${SWIFT:-swift}"
NICE="${NICE-nice -n 10}"

# The suites with real concurrency (threads, task groups, several connections or processes):
# the SQLite queue (two connections racing on one file, long polls), the directory store (puts
# and deletes racing in shared directories), the process provider (child processes, reaping),
# both conformance suites (concurrent puts/lists), FaceNet's multi-thread test and MTCNN's
# concurrent detections (both share one model through InferenceContextPool), the recognizer's
# batch path, the test HTTP server (its own thread), and the CloudPipeline worker (lease
# extension beside the job, cancellation) and auto-scaler. InferenceContextPoolTests matches
# nothing yet: it is there for a direct pool test. (A regex over test ids
# "<Module>.<Type>/<function>".)
TSAN_FILTER="${TSAN_FILTER:-LocalQueueTests|LocalHTTPServerTests|LocalStoreTests|LocalProcessProviderTests|QueueConformanceTests|StoreConformanceTests|FaceNetParityTests/concurrentContexts|FaceNetParityTests/batchIndependence|MTCNNAPITests/concurrentDetectionsAgree|InferenceContextPoolTests|RecognitionAgreementTests/thresholdAndNoFace|RecognitionWorkerTests|AutoScalerTests}"

# Lines that only a sanitizer runtime prints.
REPORT_PATTERN='ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|ThreadSanitizer: reported|runtime error: |SUMMARY: UndefinedBehaviorSanitizer|ERROR: UndefinedBehaviorSanitizer'

# `nice` alone does not keep a test run at low priority on Linux: niceness is per thread there,
# and libdispatch gives each worker thread the niceness of its QoS class (0 for default,
# -4 for overcommit). swift-test launches the test binary from such a thread, and the tests
# run on such threads, so they all end up at nice 0 or below. While a run lasts, this re-nices
# every thread of every process under `root` to the NICE level every 2 s.
keep_niced() { # root-pid level
    local root="$1" level="$2"
    while kill -0 "$root" 2>/dev/null; do
        local pids
        pids=$(ps -e -o pid=,ppid= | awk -v root="$root" '
            { parent[$1] = $2 }
            END { for (p in parent) { q = p; while (q in parent && q != root && q > 1) q = parent[q]; if (q == root) print p } }')
        for pid in $root $pids; do
            for task in /proc/"$pid"/task/*; do
                local tid=${task##*/} ni
                ni=$(sed 's/.*) //' "$task/stat" 2>/dev/null | awk '{print $17}') || continue
                [ -n "$ni" ] && [ "$ni" -lt "$level" ] && renice -n "$level" -p "$tid" >/dev/null 2>&1
            done
        done
        sleep 2
    done
}

# User+system CPU seconds of this shell's finished children (bash's `times`, second line),
# into the variable named $1. `times` must run in this shell, not a $(...) subshell.
children_cpu() {
    local file
    file=$(mktemp)
    times > "$file"
    printf -v "$1" '%s' "$(sed -n 2p "$file" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%d", t }')"
    rm -f "$file"
}

run_one() { # sanitizer
    local s="$1" scratch=".build-san-$1"; shift
    local log="$scratch/test.log"
    local -a args=(test --no-parallel --scratch-path "$scratch")
    mkdir -p "$scratch"
    case "$s" in
    address)
        args+=(--sanitize=address)
        # detect_leaks: LeakSanitizer at exit. halt_on_error: stop at the first report.
        # detect_stack_use_after_return catches pointers into dead frames (C kernels' buffers).
        # strict_string_checks/check_initialization_order: extra C-string and init checks.
        export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:strict_init_order=1:print_summary=1"
        # Suppressions: third-party runtime leaks only, each justified in the file.
        export LSAN_OPTIONS="print_suppressions=0:suppressions=${LSAN_SUPPRESSIONS:-$PWD/scripts/sanitizers/lsan.supp}"
        ;;
    undefined)
        # swiftc has no -sanitize=undefined on Linux ("unsupported option ... for target
        # x86_64-unknown-linux-gnu"), so `swift test --sanitize=undefined` can't build here.
        # Undefined behaviour is a C notion anyway (Swift traps on overflow and out-of-bounds
        # access itself): instrument every C target (CFaceNet, CImageIO, and the C code of the
        # dependencies) through clang, and have swiftc's clang link step pull in the runtime.
        # vptr checks are C++-only and need the C++ runtime part; there is no C++ here.
        args+=(-Xcc -fsanitize=undefined -Xcc -fno-sanitize=vptr
               -Xswiftc -Xclang-linker -Xswiftc -fsanitize=undefined)
        export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:print_summary=1"
        ;;
    thread)
        # OpenBLAS's own thread pool synchronises with spin-waits on plain (non-atomic) flags,
        # which TSan can't see through: that is OpenBLAS's design, not a race in our code, and
        # it isn't instrumented anyway. One BLAS thread keeps every report about our code.
        export OPENBLAS_NUM_THREADS=1
        export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=4:print_summary=1"
        args+=(--sanitize=thread --filter "$TSAN_FILTER")
        ;;
    *) echo "sanitizers.sh: unknown sanitizer '$s' (address, undefined, thread or all)" >&2; return 2 ;;
    esac
    args+=("$@")

    echo "==> $s: $SWIFT ${args[*]}"
    local start=$SECONDS status cpu_before cpu_after
    children_cpu cpu_before
    # shellcheck disable=SC2086
    $NICE "$SWIFT" "${args[@]}" > >(tee "$log") 2>&1 &
    local pid=$! watcher=
    local level
    level=$(echo "$NICE" | grep -oE -- '-n *[0-9]+' | grep -oE '[0-9]+')
    if [ -n "$level" ]; then keep_niced "$pid" "$level" & watcher=$!; fi
    wait "$pid"
    status=$?
    [ -n "$watcher" ] && kill "$watcher" 2>/dev/null && wait "$watcher" 2>/dev/null
    sleep 0.2 # let tee flush
    local elapsed=$((SECONDS - start))
    children_cpu cpu_after
    local reports
    reports=$(grep -cE "$REPORT_PATTERN" "$log")
    # Swift Testing: "Test run with 123 tests in 45 suites passed after 6.7 seconds."
    # or "Test run with 123 tests in 45 suites failed after 6.7 seconds with 2 issues."
    local run_line tests outcome
    run_line=$(grep -oE 'Test run with [0-9]+ tests?.* (passed|failed) after [0-9.]+ seconds?' "$log" | tail -1)
    tests=$(echo "$run_line" | grep -oE '[0-9]+' | head -1)
    outcome=$(echo "$run_line" | grep -oE '(passed|failed) after' | cut -d' ' -f1)
    local verdict=PASS
    if [ "$status" -ne 0 ] || [ "$reports" -ne 0 ] || [ "$outcome" != passed ]; then verdict=FAIL; fi
    local line
    local cpu=$((cpu_after - cpu_before))
    line=$(printf 'sanitizers: %s: %s, %s tests %s, %d sanitizer reports, %dm%02ds (CPU %dm%02ds, load %s), exit %d' \
        "$s" "$verdict" "${tests:-?}" "${outcome:-did not finish}" "$reports" \
        $((elapsed / 60)) $((elapsed % 60)) $((cpu / 60)) $((cpu % 60)) "$(cut -d' ' -f3 /proc/loadavg 2>/dev/null)" "$status")
    echo "$line" | tee -a "$log"
    SUMMARY+=("$line")
    [ "$verdict" = PASS ]
}

SUMMARY=()
failed=0
case "$which_san" in
all) for s in address undefined thread; do run_one "$s" "$@" || failed=1; done ;;
address|undefined|thread) run_one "$which_san" "$@" || failed=1 ;;
-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
*) echo "sanitizers.sh: unknown sanitizer '$which_san' (address, undefined, thread or all)" >&2; exit 2 ;;
esac
echo
printf '%s\n' "${SUMMARY[@]}"
exit "$failed"
