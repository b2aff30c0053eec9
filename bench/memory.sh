#!/usr/bin/env bash
# Peak resident memory of an in-memory `emk fit` of a 5e6 x 16 float32 .npy (305 MiB), in double and with
# --float32, against the size of the data in the fit's precision. Writes perf-results/memory.md.
# Needs numpy (Debian's python3-numpy) and /usr/bin/time (Debian's time).
set -euo pipefail
cd "$(dirname "$0")/.."
# Every Python here (numpy included) runs as a user has it: this machine's shell pins OpenBLAS to its AVX2 kernels.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
work=${WORK:-$(mktemp -d)}
dotnet build -c Release src/EmKernels.Cli >/dev/null
/usr/bin/python3 - "$work" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(20261130)
x = np.lib.format.open_memmap(f"{sys.argv[1]}/x5e6.npy", mode="w+", dtype=np.float32, shape=(5_000_000, 16))
for s in range(0, 5_000_000, 1_000_000):
    x[s:s+1_000_000] = rng.normal(size=(1_000_000, 16)).astype(np.float32)
x.flush()
PY
emk=(dotnet src/EmKernels.Cli/bin/Release/net10.0/emk.dll)
results="$work/results.txt"
: > "$results"
for precision in double float32; do
  flag=$([ "$precision" = float32 ] && echo --float32 || true)
  /usr/bin/time -f "%M" -o "$work/$precision.time" "${emk[@]}" fit "$work/x5e6.npy" -k 4 --covariance diag --max-iter 3 $flag -o "$work/$precision.json" > /dev/null
  echo "$precision $(cat "$work/$precision.time")" >> "$results"
done
/usr/bin/python3 - "$results" > perf-results/memory.md <<'PY'
import datetime, os, subprocess, sys
cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")), "?")
dotnet = subprocess.run(["dotnet", "--version"], capture_output=True, text=True).stdout.strip()
print("# Memory of an in-memory fit\n")
print(f"Measured {datetime.date.today()} on {model}, {os.cpu_count()} cores; .NET SDK {dotnet}. `bash bench/memory.sh` re-runs it; never edit by hand.\n")
print("Peak resident memory (`/usr/bin/time`, maximum resident set size) of `emk fit x5e6.npy -k 4 --covariance diag --max-iter 3` "
      "on a 5,000,000 × 16 float32 .npy (305 MiB of data in the file). The data are read straight into one feature-major copy in the fit's precision.\n")
print("| precision | data in that precision | peak RSS | RSS / data |")
print("|---|---:|---:|---:|")
for line in open(sys.argv[1]):
    precision, kb = line.split()
    data = 5_000_000 * 16 * (4 if precision == "float32" else 8) / 2**20
    rss = int(kb) / 1024
    print(f"| {precision} | {data:,.0f} MiB | {rss:,.0f} MiB | {rss / data:.2f}× |")
PY
cat perf-results/memory.md
