#!/usr/bin/env bash
# Variational Bayes per iteration, EmKernels (double and float, 2 threads) vs scikit-learn 1.2.1's
# BayesianGaussianMixture (Debian's python3-sklearn, OpenBLAS), same data and the same start (random responsibilities,
# the first M-step of them: scikit-learn's _initialize(X, resp)), a Dirichlet-process weight prior and scikit-learn's
# default priors; alternates the implementations for ROUNDS rounds and writes perf-results/bayesian.md with medians,
# ratios, the fraction of this machine's FMA peak (measured in the same run by `EmKernels.Bench probe`) and the final
# lower bounds (scikit-learn's number; ours computed as it defines it, next to our full ELBO per point).
# scikit-learn runs as a user has it (bench/reference-python.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
ROUNDS=${ROUNDS:-3}
WORKLOADS=${WORKLOADS:-"full-200k:200000:32:16:full:6 diag-1M:1000000:16:16:diag:6"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build -c Release bench/EmKernels.Bench >/dev/null
dotnet build-server shutdown >/dev/null 2>&1 || true
bench=(dotnet bench/EmKernels.Bench/bin/Release/net10.0/EmKernels.Bench.dll)
source bench/reference-python.sh
check_reference "$work/threadpools.json"
probe=$("${bench[@]}" probe)
results="$work/results.txt"
for spec in $WORKLOADS; do
  IFS=: read -r name n d k kind m <<<"$spec"
  mkdir -p "$work/$name"
  /usr/bin/python3 bench/sklearn_gmm.py generate "$work/$name" "$n" "$d" "$k" "$kind" 20261122
  /usr/bin/python3 bench/sklearn_bgmm.py resp "$work/$name" "$n" "$k" 7
  args=(vb --data "$work/$name/x.f64" --n "$n" --d "$d" --k "$k" --covariance "$kind" --resp "$work/$name/resp.f64" --iterations "$m" --threads 2)
  for round in $(seq "$ROUNDS"); do
    echo "$name emkernels-double $n $d $k $kind $("${bench[@]}" "${args[@]}")" >> "$results"
    echo "$name emkernels-float $n $d $k $kind $("${bench[@]}" "${args[@]}" --float32)" >> "$results"
    echo "$name scikit-learn $n $d $k $kind $("${reference[@]}" bench/sklearn_bgmm.py run "$work/$name" "$n" "$d" "$k" "$kind" process "$m")" >> "$results"
  done
done
/usr/bin/python3 - "$results" "$probe" "$work/threadpools.json" > perf-results/bayesian.md <<'PY'
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
print("# Variational Bayes per iteration: EmKernels vs scikit-learn's BayesianGaussianMixture\n")
print(f"Measured {datetime.date.today()} on {model}, {os.cpu_count()} cores; .NET SDK {dotnet}; scikit-learn {sklearn.__version__} "
      f"(numpy {numpy.__version__}, OpenBLAS), Python {platform.python_version()}. Probe (`EmKernels.Bench probe`, 2 threads): "
      f"fp64 FMA peak {probe['fma_gflops']} GFLOP/s.\n")
print("Same data (bench/sklearn_gmm.py's mixtures) and start for both: random responsibilities (seeded, rows normalised) and "
      "the M-step of them (scikit-learn's `_initialize(X, resp)`); Dirichlet-process weight prior, scikit-learn's default priors, "
      "reg_covar 1e-6, no convergence test. scikit-learn is stepped as its `fit` steps (`_e_step`, `_m_step`, `_compute_lower_bound`); "
      "ours is `BayesianGaussianMixture<T>` through the engine (`EmKernels.Bench vb`). Seconds per iteration = median of "
      "iterations 2..M, then of the rounds. FLOPs counted as for EM (FMA = 2): full 2·K·N·D(D+1), diagonal 9·K·N·D. The lower "
      "bound is scikit-learn's `lower_bound_` after M iterations and ours computed as FORMAT.md (bayes) §5.5 defines it; the "
      "ELBO per point is our full bound (every constant included). `bash bench/compare-bayesian.sh` re-runs it; never edit by hand.\n")
pools = json.load(open(sys.argv[3]))
print("scikit-learn's thread pools (threadpoolctl.threadpool_info(), with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset): " +
      "; ".join(f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')}, {p.get('num_threads')} threads, {os.path.basename(p.get('filepath', ''))})" for p in pools) + "\n")
print("| workload | N × D, K, type | scikit-learn ms/it | EmKernels double ms/it | speed-up | EmKernels float ms/it | float vs double | % FMA peak (double) | lower bound (sklearn / ours) | relative difference | our ELBO per point |")
print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
for name in meta:
    n, d, k, kind = meta[name]
    s = lambda impl: median([r["seconds_per_iteration"] for r in rows[(name, impl)]])
    bound = lambda impl: rows[(name, impl)][0]["lower_bound"]
    flops = 2 * k * n * d * (d + 1) if kind in ("full", "tied") else 9 * k * n * d
    ours = s("emkernels-double")
    ms = lambda seconds: f"{1e3 * seconds:.4g}"
    ref, mine = bound("scikit-learn"), bound("emkernels-double")
    print(f"| {name} | {n:,} × {d}, {k}, {kind} | {ms(s('scikit-learn'))} | {ms(ours)} | {s('scikit-learn') / ours:.1f}× | {ms(s('emkernels-float'))} | "
          f"{ours / s('emkernels-float'):.2f}× | {100 * flops / ours / 1e9 / probe['fma_gflops']:.1f} % | {ref:.10g} / {mine:.10g} | {abs(ref - mine) / abs(ref):.1e} | "
          f"{rows[(name, 'emkernels-double')][0]['elbo_per_point']:.6f} |")
PY
cat perf-results/bayesian.md
