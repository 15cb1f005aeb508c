#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers that read outside bytes: SharpFuzz-instrumented assemblies under afl++.
#
#   tests/Provisioning.Fuzzing/run.sh <target|all> <seconds>
#
# Runs each target for <seconds> (one target at a time, niced: the machine is shared), then prints one line per target:
#   <target>: <executions> execs, <crashes> crashes, <hangs> hangs
# Exit status: 0 when every target ended with 0 crashes and 0 hangs, 1 otherwise, 2 on a usage or setup error.
#
# Needs afl++ (Debian: apt-get install afl++) and the .NET SDK; the SharpFuzz.CommandLine tool comes from the tool manifest
# beside this script. Findings go to $FUZZ_WORK (default: tests/Provisioning.Fuzzing/.work/<target>/default/{crashes,hangs});
# replay one on an uninstrumented build (the instrumented one only runs under afl):
#   dotnet run --project tests/Provisioning.Fuzzing -c Release -- --replay <target> <file|folder>...
# Environment: FUZZ_WORK (findings folder), FUZZ_TIMEOUT_MS (afl's per-input timeout, default 2000), FUZZ_NICE (default 15),
#   FUZZ_EXECS (also stop a target once it reached about this many executions, e.g. 1000000: afl's -E),
#   FUZZ_REUSE_BUILD=1 (skip the build and instrumentation when a previous run left them in $FUZZ_WORK/build).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="${FUZZ_WORK:-$here/.work}"
timeout_ms="${FUZZ_TIMEOUT_MS:-2000}"
niceness="${FUZZ_NICE:-15}"
build="$work/build"

if [[ $# -ne 2 || ! "$2" =~ ^[0-9]+$ || "$2" -lt 1 ]]; then
    echo "usage: $0 <target|all> <seconds>" >&2
    exit 2
fi
selection="$1"
seconds="$2"

if ! command -v afl-fuzz >/dev/null 2>&1; then
    echo "afl-fuzz is not installed (Debian: apt-get install afl++)." >&2
    exit 2
fi

mkdir -p "$work"

# Build once, then instrument the product assemblies (only they: the harness and the framework stay uninstrumented).
if [[ "${FUZZ_REUSE_BUILD:-0}" == "1" && -f "$build/.instrumented" ]]; then
    echo "reusing the instrumented build in $build" >&2
else
    echo "building and instrumenting into $build ..." >&2
    rm -rf "$build"
    nice -n 10 dotnet publish "$here/Provisioning.Fuzzing.csproj" -c Release -o "$build" --nologo -v quiet >&2
    (cd "$here" && dotnet tool restore >/dev/null)
    for assembly in Provisioning.Device.Tpm Provisioning.Device Provisioning.Device.Hub Provisioning.Emulator; do
        (cd "$here" && dotnet tool run sharpfuzz "$build/$assembly.dll" >/dev/null)
    done
    touch "$build/.instrumented"
fi

if [[ "$selection" == "all" ]]; then
    mapfile -t targets < <(dotnet "$build/Provisioning.Fuzzing.dll" --list)
else
    if ! dotnet "$build/Provisioning.Fuzzing.dll" --list | grep -qx -- "$selection"; then
        echo "unknown target '$selection'; targets: $(dotnet "$build/Provisioning.Fuzzing.dll" --list | tr '\n' ' ')" >&2
        exit 2
    fi
    targets=("$selection")
fi

# afl++ settings for a managed target on a shared machine: the binary is dotnet (no afl instrumentation of its own; SharpFuzz
# reports coverage), no CPU pinning, a generous fork-server start-up for the runtime, no UI, core dumps left as configured.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_FORKSRV_INIT_TMOUT=60000
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1

status=0
for target in "${targets[@]}"; do
    out="$work/$target"
    log="$work/$target.log"
    stats="$out/default/fuzzer_stats"
    # The fork server's first report is occasionally empty under load ("No instrumentation detected"): up to 3 starts.
    for attempt in 1 2 3; do
        rm -rf "$out"
        # -V: stop after <seconds>; the outer timeout is a backstop should afl itself stall.
        set +e
        nice -n "$niceness" timeout --kill-after=30 $((seconds + 120)) \
            afl-fuzz -V "$seconds" ${FUZZ_EXECS:+-E "$FUZZ_EXECS"} -t "$timeout_ms" -m none -i "$here/corpus/$target" -o "$out" \
            -- dotnet "$build/Provisioning.Fuzzing.dll" "$target" >"$log" 2>&1
        rc=$?
        set -e
        if [[ -f "$stats" ]] || ! grep -q "No instrumentation detected" "$log"; then
            break
        fi
    done
    if [[ ! -f "$stats" ]]; then
        echo "$target: afl-fuzz did not start (exit $rc); see $log" >&2
        tail -n 20 "$log" >&2
        echo "$target: 0 execs, 0 crashes, 0 hangs (afl-fuzz failed to start)"
        status=1
        continue
    fi
    execs=$(awk -F: '/^execs_done/ {gsub(/ /, "", $2); print $2}' "$stats")
    crashes=$(awk -F: '/^saved_crashes/ {gsub(/ /, "", $2); print $2}' "$stats")
    hangs=$(awk -F: '/^saved_hangs/ {gsub(/ /, "", $2); print $2}' "$stats")
    echo "$target: ${execs:-0} execs, ${crashes:-0} crashes, ${hangs:-0} hangs"
    if [[ "${crashes:-0}" != "0" || "${hangs:-0}" != "0" ]]; then
        status=1
    fi
done

exit $status
