#!/usr/bin/env bash
# EM per iteration, EmKernels (double and float, 2 threads) vs scikit-learn 1.2.1 (Debian's python3-sklearn,
# OpenBLAS), same data and start, on the standard workloads; alternates the implementations for ROUNDS rounds
# and writes perf-results/compare.md with medians, ratios, final mean log-likelihoods and the fraction of
# this machine's FMA peak and memory bandwidth (measured by `EmKernels.Bench probe`).
# scikit-learn runs as a user has it (bench/reference-python.sh: OpenBLAS required and left to pick its own kernels;
# threadpoolctl's view of its thread pools is recorded in the report; a reference BLAS or a Haswell pin is refused).
set -euo pipefail
cd "$(dirname "$0")/.."
# Every Python here (numpy included) runs as a user has it: this machine's shell pins OpenBLAS to its AVX2 kernels.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
ROUNDS=${ROUNDS:-3}
WORKLOADS=${WORKLOADS:-"small:10000:4:4:full:20 diag-1M:1000000:16:16:diag:6 full-200k:200000:32:16:full:6 full-100k-k64:100000:64:64:full:4"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build -c Release bench/EmKernels.Bench >/dev/null
dotnet build-server shutdown >/dev/null 2>&1 || true # the compiler servers would compete for the cores
bench=(dotnet bench/EmKernels.Bench/bin/Release/net10.0/EmKernels.Bench.dll)
source bench/reference-python.sh
check_reference "$work/threadpools.json"
probe=$("${bench[@]}" probe)
results="$work/results.txt"
for spec in $WORKLOADS; do
  IFS=: read -r name n d k kind m <<<"$spec"
  mkdir -p "$work/$name"
  /usr/bin/python3 bench/sklearn_gmm.py generate "$work/$name" "$n" "$d" "$k" "$kind" 20261122
  args=(iterate --data "$work/$name/x.f64" --n "$n" --d "$d" --k "$k" --covariance "$kind" --init "$work/$name/init.json" --iterations "$m" --threads 2)
  for round in $(seq "$ROUNDS"); do
    echo "$name emkernels-double $n $d $k $kind $("${bench[@]}" "${args[@]}")" >> "$results"
    echo "$name emkernels-float $n $d $k $kind $("${bench[@]}" "${args[@]}" --float32)" >> "$results"
    echo "$name scikit-learn $n $d $k $kind $("${reference[@]}" bench/sklearn_gmm.py run "$work/$name" "$n" "$d" "$k" "$kind" "$m")" >> "$results"
  done
done
/usr/bin/python3 - "$results" "$probe" "$work/threadpools.json" > perf-results/compare.md <<'PY'
import collections, datetime, json, os, platform, subprocess, sys
import numpy, sklearn
rows = collections.defaultdict(list)
meta = {}
for line in open(sys.argv[1]):
    name, impl, n, d, k, kind, payload = line.split(" ", 6)
    rows[(name, impl)].append(json.loads(payload))
    meta[name] = (int(n), int(d), int(k), kind)
probe = json.loads(sys.argv[2])
median = lambda xs: sorted(xs)[len(xs) // 2]
cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")), "?")
dotnet = subprocess.run(["dotnet", "--version"], capture_output=True, text=True).stdout.strip()
print("# EM per iteration: EmKernels vs scikit-learn\n")
print(f"Measured {datetime.date.today()} on {model}, {os.cpu_count()} cores; .NET SDK {dotnet}; scikit-learn {sklearn.__version__} "
      f"(numpy {numpy.__version__}, OpenBLAS), Python {platform.python_version()}. Probe (`EmKernels.Bench probe`, 2 threads): "
      f"fp64 FMA peak {probe['fma_gflops']} GFLOP/s (12 independent Vector512 FMA chains per thread), memory read bandwidth "
      f"{probe['bandwidth_gbs']} GB/s (vector sum of a 1 GiB array, best of 5).\n")
print("Same data and start for both (equal weights, means at K random rows, the data's covariance), reg_covar 1e-6, no convergence "
      "test; seconds per iteration = median of iterations 2..M, then of the rounds; scikit-learn is stepped with its own "
      "`_e_step` / `_m_step`, one EM iteration each. FLOPs counted as done (FMA = 2): full covariance 2·K·N·D(D+1) per "
      "iteration (triangular product and scatter), diagonal 9·K·N·D. `bash bench/compare.sh` re-runs it; never edit by hand.\n")
pools = json.load(open(sys.argv[3]))
print("scikit-learn's thread pools (threadpoolctl.threadpool_info(), with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset): " +
      "; ".join(f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')}, {p.get('num_threads')} threads, {os.path.basename(p.get('filepath', ''))})" for p in pools) + "\n")
print("| workload | N × D, K, type | scikit-learn ms/it | EmKernels double ms/it | speed-up | EmKernels float ms/it | float vs double | % FMA peak (double) | % bandwidth (double) | mean log-likelihood (sklearn / ours) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
for name in meta:
    n, d, k, kind = meta[name]
    s = lambda impl: median([r["seconds_per_iteration"] for r in rows[(name, impl)]])
    l = lambda impl: median([r["mean_log_likelihood"] for r in rows[(name, impl)]])
    flops = 2 * k * n * d * (d + 1) if kind in ("full", "tied") else 9 * k * n * d
    ours = s("emkernels-double")
    ms = lambda seconds: f"{1e3 * seconds:.4g}"
    print(f"| {name} | {n:,} × {d}, {k}, {kind} | {ms(s('scikit-learn'))} | {ms(ours)} | {s('scikit-learn') / ours:.1f}× | {ms(s('emkernels-float'))} | "
          f"{ours / s('emkernels-float'):.2f}× | {100 * flops / ours / 1e9 / probe['fma_gflops']:.1f} % | {100 * n * d * 8 / ours / 1e9 / probe['bandwidth_gbs']:.1f} % | "
          f"{l('scikit-learn'):.10f} / {l('emkernels-double'):.10f} |")
PY
cat perf-results/compare.md
# The README quotes the table between its COMPARE markers (generated, never edited by hand).
/usr/bin/python3 - <<'PY'
import re
report = open("perf-results/compare.md", encoding="utf-8").read().split("\n", 2)[2].strip()
text = open("README.md", encoding="utf-8").read()
text = re.sub(r"<!-- COMPARE -->.*<!-- /COMPARE -->", lambda m: "<!-- COMPARE -->\n" + report + "\n<!-- /COMPARE -->", text, flags=re.S)
open("README.md", "w", encoding="utf-8").write(text)
PY
