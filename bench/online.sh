#!/usr/bin/env bash
# Stepwise (online) EM against batch EM on diag-1M (1,000,000 × 16, K = 16, diagonal; bench/compare.sh's workload):
# both from the same k-means start, batch EM to convergence (tolerance 1e-6, at most 300 iterations), stepwise EM for
# 5 epochs; the passes over the data and the seconds each needs to come within 1e-3 of batch EM's final mean
# log-likelihood. Writes perf-results/online.md. Needs numpy (Debian's python3-numpy).
set -euo pipefail
cd "$(dirname "$0")/.."
# Every Python here (numpy included) runs as a user has it: this machine's shell pins OpenBLAS to its AVX2 kernels.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
work=${WORK:-$(mktemp -d)}
dotnet build -c Release bench/EmKernels.Bench >/dev/null
dotnet build-server shutdown >/dev/null 2>&1 || true
/usr/bin/python3 bench/sklearn_gmm.py generate "$work" 1000000 16 16 diag 20261122
/usr/bin/python3 -c "
import numpy as np, sys
np.save('$work/diag-1M.npy', np.fromfile('$work/x.f64').reshape(-1, 16))"
bench=(dotnet bench/EmKernels.Bench/bin/Release/net10.0/EmKernels.Bench.dll)
results="$work/online.txt"
: > "$results"
for batch in 10000 20000; do
  "${bench[@]}" online --data "$work/diag-1M.npy" --k 16 --covariance diag --batch-size "$batch" --kappa 0.6 --epochs 5 --threads 2 >> "$results"
done
/usr/bin/python3 - "$results" > perf-results/online.md <<'PY'
import datetime, json, os, subprocess, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")), "?")
dotnet = subprocess.run(["dotnet", "--version"], capture_output=True, text=True).stdout.strip()
print("# Stepwise (online) EM against batch EM\n")
print(f"Measured {datetime.date.today()} on {model}, {os.cpu_count()} cores; .NET SDK {dotnet}. `bash bench/online.sh` re-runs it; never edit by hand.\n")
print("diag-1M (1,000,000 × 16 drawn from a 16-component mixture, bench/compare.sh's data), K = 16, diagonal covariance, double, 2 threads. "
      "Both start from the same k-means parameters. Batch EM runs to convergence (change of the mean log-likelihood below 1e-6, at most 300 "
      "iterations); its final mean log-likelihood is the target. Stepwise EM (κ = 0.6, t0 = 1, shuffled minibatches) runs 5 epochs; the mean "
      "log-likelihood on all the data is evaluated after each epoch, outside the timing. A pass is one E-step over all the points: one batch "
      "iteration, or one epoch.\n")
print("| method | passes to within 1e-3 of the target | seconds to within 1e-3 | mean log-likelihood after each epoch |")
print("|---|---:|---:|---|")
first = runs[0]
print(f"| batch EM (target {first['batch_final_mean_log_likelihood']:.6f} after {first['batch_iterations']} iterations, {first['batch_seconds']:.2f} s) | "
      f"{first['batch_passes_to_within_1e-3']} | {first['batch_seconds_to_within_1e-3']:.2f} | |")
for run in runs:
    epochs = run["online_epochs_to_within_1e-3"]
    seconds = run["online_seconds_to_within_1e-3"]
    trace = ", ".join(f"{v:.6f}" for v in run["online_epoch_objectives"])
    print(f"| stepwise EM, minibatch {run['batch_size']:,} | {epochs if epochs is not None else '> 5'} | {f'{seconds:.2f}' if seconds is not None else '—'} | {trace} |")
PY
cat perf-results/online.md
