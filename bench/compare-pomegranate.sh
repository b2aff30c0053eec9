#!/usr/bin/env bash
# Bernoulli mixture EM per iteration, EmKernels vs pomegranate 0.14.8, same data and start:
# 100,000 × 784 binary data, K = 10. Alternates the two, 3 rounds, reports medians, and writes
# perf-results/bernoulli-pomegranate.md. Needs Debian's python3-pomegranate, python3-numpy, python3-threadpoolctl and
# libopenblas0-pthread; pomegranate runs as a user has it (bench/reference-python.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# Every Python here (numpy included) runs as a user has it: this machine's shell pins OpenBLAS to its AVX2 kernels.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
N=${N:-100000} D=${D:-784} K=${K:-10} M=${M:-6} ROUNDS=${ROUNDS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source bench/reference-python.sh
check_reference "$work/threadpools.json"
/usr/bin/python3 bench/pomegranate_bernoulli.py generate "$work" "$N" "$D" "$K" 20261122
dotnet build -c Release bench/EmKernels.Bench >/dev/null
bench=(dotnet bench/EmKernels.Bench/bin/Release/net10.0/EmKernels.Bench.dll iterate --model bernoulli --data "$work/x.f64" --n "$N" --d "$D" --k "$K" --init "$work/init.json" --iterations "$M")
declare -A results
for round in $(seq "$ROUNDS"); do
  results[ours-double-2,$round]=$("${bench[@]}" --threads 2)
  results[ours-float-2,$round]=$("${bench[@]}" --threads 2 --float32)
  results[ours-double-1,$round]=$("${bench[@]}" --threads 1)
  results[pomegranate-1,$round]=$("${reference[@]}" bench/pomegranate_bernoulli.py run "$work" "$N" "$D" "$K" "$M" 1)
  results[pomegranate-2,$round]=$("${reference[@]}" bench/pomegranate_bernoulli.py run "$work" "$N" "$D" "$K" "$M" 2)
done
{
  for key in "${!results[@]}"; do echo "$key ${results[$key]}"; done
} | /usr/bin/python3 bench/pomegranate_bernoulli.py report "$N" "$D" "$K" "$work/threadpools.json" > perf-results/bernoulli-pomegranate.md
cat perf-results/bernoulli-pomegranate.md
# The README quotes the report between its POMEGRANATE markers (generated, never edited by hand).
/usr/bin/python3 - <<'PY'
import re
report = open("perf-results/bernoulli-pomegranate.md", encoding="utf-8").read().split("\n", 2)[2].strip()
text = open("README.md", encoding="utf-8").read()
text = re.sub(r"<!-- POMEGRANATE -->.*<!-- /POMEGRANATE -->", lambda m: "<!-- POMEGRANATE -->\n" + report + "\n<!-- /POMEGRANATE -->", text, flags=re.S)
open("README.md", "w", encoding="utf-8").write(text)
PY
