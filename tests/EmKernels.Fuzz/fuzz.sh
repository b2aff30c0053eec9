#!/usr/bin/env bash
# Coverage-guided fuzzing of the CSV, .npy, model-file and HMM model-file readers (and everything emk does with what they read):
# afl-fuzz (Debian's afl++) drives tests/EmKernels.Fuzz through SharpFuzz. The harness is published, the
# assemblies under test (EmKernels.IO, emk, EmKernels) are instrumented with the SharpFuzz.CommandLine tool (never
# the harness itself), and each target runs for SECONDS (default 60) from its corpus. Every crash or hang afl
# finds is replayed through the harness and printed; the script exits 1 if there was any.
#   bash tests/EmKernels.Fuzz/fuzz.sh [SECONDS] [TARGET ...]     (targets: csv npy model hmm; default all)
# Needs: apt-get install afl++; dotnet tool install -g SharpFuzz.CommandLine --version 2.3.0.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
targets=("${@:-csv npy model hmm}")
read -r -a targets <<<"${targets[*]}"
work=${WORK:-$(mktemp -d)}
out="$work/harness"
export PATH="$PATH:$HOME/.dotnet/tools"
dotnet publish -c Release tests/EmKernels.Fuzz -o "$out" >/dev/null
for dll in EmKernels.IO.dll emk.dll EmKernels.dll; do
  sharpfuzz "$out/$dll" >/dev/null
done
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
found=0
for target in "${targets[@]}"; do
  findings="$work/findings-$target"
  echo "== $target: $seconds s of afl-fuzz from tests/EmKernels.Fuzz/corpus/$target"
  timeout --preserve-status -s INT "$((seconds + 30))" \
    afl-fuzz -V "$seconds" -t 10000 -m none -i "tests/EmKernels.Fuzz/corpus/$target" -o "$findings" -- dotnet "$out/EmKernels.Fuzz.dll" "$target" \
    > "$work/afl-$target.log" 2>&1 || true
  stats="$findings/default/fuzzer_stats"
  if [ -f "$stats" ]; then
    grep -E "^(execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg) " "$stats" | tr -s ' ' | sed 's/^/   /'
  else
    echo "   afl-fuzz did not start; its log:"; tail -20 "$work/afl-$target.log"; found=1
  fi
  for kind in crashes hangs; do
    for input in "$findings"/default/$kind/id:*; do
      [ -e "$input" ] || continue
      found=1
      echo "   $kind: $input"
      dotnet "$out/EmKernels.Fuzz.dll" "$target" "$input" 2>&1 | head -3 | sed 's/^/     /' || true
    done
  done
done
echo "findings in $work"
exit "$found"
