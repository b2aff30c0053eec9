#!/usr/bin/env bash
# EM per iteration before and after a change, on bench/compare.sh's diag-1M and full-200k workloads (2 threads, same data
# and start): BASELINE (a commit, built in a temporary worktree) against the working tree, and the working tree with
# --missing (Gaussian mixtures that marginalise missing values, on these complete data: complete rows must keep the
# fused kernels' speed). Alternates the three for ROUNDS rounds; writes perf-results/before-after.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# numpy (which makes the data) as its users have it: this shell pins OpenBLAS to AVX2 kernels and a small L2.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
BASELINE=${BASELINE:-e3ca5ae}
ROUNDS=${ROUNDS:-5}
WORKLOADS=${WORKLOADS:-"diag-1M:1000000:16:16:diag:8 full-200k:200000:32:16:full:8"}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/baseline" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach "$work/baseline" "$BASELINE" >/dev/null 2>&1
dotnet build -c Release "$work/baseline/bench/EmKernels.Bench" >/dev/null
dotnet build -c Release bench/EmKernels.Bench >/dev/null
dotnet build-server shutdown >/dev/null 2>&1 || true
before=(dotnet "$work/baseline/bench/EmKernels.Bench/bin/Release/net10.0/EmKernels.Bench.dll")
after=(dotnet bench/EmKernels.Bench/bin/Release/net10.0/EmKernels.Bench.dll)
probe=$("${after[@]}" probe)
results="$work/results.txt"
for spec in $WORKLOADS; do
  IFS=: read -r name n d k kind m <<<"$spec"
  mkdir -p "$work/$name"
  /usr/bin/python3 bench/sklearn_gmm.py generate "$work/$name" "$n" "$d" "$k" "$kind" 20261122
  args=(iterate --data "$work/$name/x.f64" --n "$n" --d "$d" --k "$k" --covariance "$kind" --init "$work/$name/init.json" --iterations "$m" --threads 2)
  for round in $(seq "$ROUNDS"); do
    echo "$name before $("${before[@]}" "${args[@]}")" >> "$results"
    echo "$name after $("${after[@]}" "${args[@]}")" >> "$results"
    echo "$name after-missing $("${after[@]}" "${args[@]}" --missing)" >> "$results"
  done
done
commit=$(git rev-parse --short HEAD)
/usr/bin/python3 - "$results" "$probe" "$BASELINE" "$commit" > perf-results/before-after.md <<'PY'
import collections, datetime, json, platform, subprocess, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, which, payload = line.split(" ", 2)
    runs[(name, which)].append(json.loads(payload))
probe = json.loads(sys.argv[2])
def median(v):
    v = sorted(v); return v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
dotnet = subprocess.run(["dotnet", "--version"], capture_output=True, text=True).stdout.strip()
print("# EM per iteration before and after\n")
print(f"Measured {datetime.date.today()} on {cpu}, 2 threads, .NET {dotnet}; FMA peak of this run {probe['fma_gflops']} GFLOP/s. "
      f"Baseline {sys.argv[3]} (before the segment tree, initializations as sums, Monte-Carlo EM and missing values), after {sys.argv[4]}. "
      "`bash bench/before-after.sh` (ROUNDS=5, alternated); the bench's `iterate` command, same data and start, median seconds per "
      "iteration over iterations 2..M. \"after, --missing\" fits with MissingValues.Marginalize on the same complete data: every row "
      "takes the fused kernels, after a scan of each tile for NaN.\n")
print("| workload | before (s) | after (s) | after / before | after, --missing (s) | --missing / after | final mean log-likelihood (before / after / --missing) |")
print("|---|---|---|---|---|---|---|")
for name in dict.fromkeys(n for n, _ in runs):
    b, a, m = (median([r["seconds_per_iteration"] for r in runs[(name, w)]]) for w in ("before", "after", "after-missing"))
    ll = " / ".join(repr(runs[(name, w)][0]["mean_log_likelihood"]) for w in ("before", "after", "after-missing"))
    print(f"| {name} | {b:.4f} | {a:.4f} | {a / b:.3f} | {m:.4f} | {m / a:.3f} | {ll} |")
PY
