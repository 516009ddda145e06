#!/usr/bin/env bash
# Coverage-guided fuzzing of the loader, validator, shape inference, audit and rewrite pipeline with AFL++.
#   tests/OnnxConvTool.Fuzz/fuzz.sh SECONDS [SEED] [WORKDIR]
# Builds the harness, instruments a copy of OnnxConvTool.dll with sharpfuzz (the local dotnet tool of
# .config/dotnet-tools.json), writes the seed corpus, runs afl-fuzz on one core for SECONDS with the fixed SEED, then replays
# every saved crash and hang on the uninstrumented build (a hang counts only if it still runs after 60 s there).
# Prints "fuzz: ..." with the inputs tried; exits 0 when no finding was confirmed, 1 when one was, 77 when
# afl-fuzz is not installed (apt-get install afl++). Findings stay in WORKDIR/findings/default/{crashes,hangs}.
# FUZZ_MAX_SEED_BYTES=N seeds with files of at most N bytes only (the CI smoke's 64 KiB skips the large models).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:?usage: fuzz.sh SECONDS [SEED] [WORKDIR]}
seed=${2:-1}
work=${3:-$(mktemp -d -t onnxconv-fuzz.XXXXXX)}

if ! command -v afl-fuzz >/dev/null 2>&1; then
  echo "fuzz: afl-fuzz not found (apt-get install afl++)" >&2
  exit 77
fi

cd "$root" || exit 1
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if ! dotnet build tests/OnnxConvTool.Fuzz -c Release -v q -nologo >"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2; echo "fuzz: the harness does not build" >&2; exit 1
fi
build=tests/OnnxConvTool.Fuzz/bin/Release/net10.0
rm -rf "$work/instrumented" && cp -r "$build" "$work/instrumented"
if ! { dotnet tool restore >"$work/tool.log" 2>&1 && dotnet tool run sharpfuzz "$work/instrumented/OnnxConvTool.dll" >>"$work/tool.log" 2>&1; }; then
  cat "$work/tool.log" >&2; echo "fuzz: sharpfuzz could not instrument OnnxConvTool.dll" >&2; exit 1
fi
dotnet "$build/OnnxConvTool.Fuzz.dll" seeds "$work/seeds" >"$work/seeds.log" || { cat "$work/seeds.log" >&2; exit 1; }
# a short run spends its time on small seeds: FUZZ_MAX_SEED_BYTES leaves the larger ones out
if [ -n "${FUZZ_MAX_SEED_BYTES:-}" ]; then
  find "$work/seeds" -type f -size +"${FUZZ_MAX_SEED_BYTES}"c -delete
fi

started=$(date +%s)
AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
  ONNXCONV_FUZZ_SCRATCH="$work" DOTNET_PROCESSOR_COUNT=1 \
  afl-fuzz -i "$work/seeds" -o "$work/findings" -s "$seed" -V "$seconds" -t 10000 -m none \
    -- dotnet "$work/instrumented/OnnxConvTool.Fuzz.dll" afl >"$work/afl.log" 2>&1
afl_status=$?
elapsed=$(( $(date +%s) - started ))
stats="$work/findings/default/fuzzer_stats"
if [ ! -f "$stats" ]; then
  tail -n 30 "$work/afl.log" >&2; echo "fuzz: afl-fuzz did not start (exit $afl_status); log in $work/afl.log" >&2; exit 1
fi
stat_of() { awk -F' *: *' -v key="$1" '$1 == key {print $2}' "$stats"; }
execs=$(stat_of execs_done)
crashes=$(stat_of saved_crashes); crashes=${crashes:-$(stat_of unique_crashes)}
hangs=$(stat_of saved_hangs); hangs=${hangs:-$(stat_of unique_hangs)}

confirmed=0
shopt -s nullglob
saved=("$work"/findings/default/crashes/id* "$work"/findings/default/hangs/id*)
if [ ${#saved[@]} -gt 0 ]; then
  if ! dotnet "$build/OnnxConvTool.Fuzz.dll" replay "${saved[@]}" >"$work/replay.log" 2>&1; then
    confirmed=$(grep -cE '^(CRASH|HANG) ' "$work/replay.log")
    grep -E '^(CRASH|HANG) ' "$work/replay.log" >&2
  fi
fi
echo "fuzz: ${execs:-0} inputs tried in ${elapsed} s (seed $seed), ${crashes:-0} crashes and ${hangs:-0} hangs saved, $confirmed confirmed by replay; work folder $work"
[ "$confirmed" -eq 0 ]
