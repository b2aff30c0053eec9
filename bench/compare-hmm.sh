#!/usr/bin/env bash
# Baum–Welch per iteration, EmKernels vs pomegranate 0.14.8 (Debian's python3-pomegranate; hmmlearn is not installable
# here), same data and start: a diagonal-Gaussian HMM, 200,000 observations in 100 sequences, D = 8, K = 16. Alternates
# the two for ROUNDS rounds, reports medians and the final log-likelihoods (they must agree), with the FMA peak and
# memory bandwidth measured in the same run, and writes perf-results/hmm-pomegranate.md. pomegranate runs as a user
# has it (bench/reference-python.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# Every Python here (numpy included) runs as a user has it: this machine's shell pins OpenBLAS to its AVX2 kernels.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
N=${N:-200000} S=${S:-100} D=${D:-8} K=${K:-16} M=${M:-5} ROUNDS=${ROUNDS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source bench/reference-python.sh
check_reference "$work/threadpools.json"
/usr/bin/python3 bench/pomegranate_hmm.py generate "$work" "$N" "$S" "$D" "$K" 20261201
dotnet build -c Release bench/EmKernels.Bench >/dev/null
dotnet build-server shutdown >/dev/null 2>&1 || true
bench=(dotnet bench/EmKernels.Bench/bin/Release/net10.0/EmKernels.Bench.dll)
probe=$("${bench[@]}" probe)
declare -A results
for round in $(seq "$ROUNDS"); do
  results[ours-double-2,$round]=$("${bench[@]}" hmm --data "$work" --iterations "$M" --threads 2)
  results[ours-float-2,$round]=$("${bench[@]}" hmm --data "$work" --iterations "$M" --threads 2 --float32)
  results[ours-double-1,$round]=$("${bench[@]}" hmm --data "$work" --iterations "$M" --threads 1)
  results[ours-log-2,$round]=$("${bench[@]}" hmm --data "$work" --iterations "$M" --threads 2 --log-domain)
  results[pomegranate-1,$round]=$("${reference[@]}" bench/pomegranate_hmm.py run "$work" "$M")
done
{
  for key in "${!results[@]}"; do echo "$key ${results[$key]}"; done
} | /usr/bin/python3 bench/pomegranate_hmm.py report "$N" "$S" "$D" "$K" "$work/threadpools.json" "$probe" > perf-results/hmm-pomegranate.md
cat perf-results/hmm-pomegranate.md
