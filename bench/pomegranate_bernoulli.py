#!/usr/bin/python3
"""Side-by-side helper for bench/compare-pomegranate.sh (Debian's python3-pomegranate 0.14.8, numpy).

  generate DIR N D K SEED   writes DIR/x.f64 (raw little-endian row-major float64 0/1 data drawn from a
                            random Bernoulli mixture) and DIR/init.json (weights, probs: a start shared by both)
  report N D K             reads "key json" lines (key = implementation,round) and prints the markdown report
  run DIR N D K M JOBS      runs M EM iterations of pomegranate from that start and prints one JSON line
                            {"seconds_per_iteration", "mean_log_likelihood", "iterations"} (median of iterations 2..M)
"""
import json, os, sys, time
import numpy as np

def generate(folder, n, d, k, seed):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.02, 0.98, size=(k, d)) ** 2      # skewed, some pixels nearly always off
    labels = rng.integers(0, k, size=n)
    x = (rng.random((n, d)) < centres[labels]).astype(np.float64)
    x.tofile(f"{folder}/x.f64")
    init = {"weights": [1.0 / k] * k, "probs": rng.uniform(0.25, 0.75, size=(k, d)).ravel().tolist()}
    with open(f"{folder}/init.json", "w") as f:
        json.dump(init, f)

def run(folder, n, d, k, m, jobs):
    from pomegranate import GeneralMixtureModel, IndependentComponentsDistribution, BernoulliDistribution
    x = np.fromfile(f"{folder}/x.f64", dtype=np.float64).reshape(n, d)
    init = json.load(open(f"{folder}/init.json"))
    probs = np.array(init["probs"]).reshape(k, d)
    components = [IndependentComponentsDistribution([BernoulliDistribution(p) for p in probs[j]]) for j in range(k)]
    model = GeneralMixtureModel(components, weights=np.array(init["weights"]))
    times = []
    if jobs == 1:
        for _ in range(m):
            start = time.perf_counter()
            model.summarize(x)          # E-step and weighted sufficient statistics
            model.from_summaries()      # M-step
            times.append(time.perf_counter() - start)
    else:
        # pomegranate parallelises only inside fit(); time the whole fit and divide.
        start = time.perf_counter()
        model.fit(x, max_iterations=m, stop_threshold=-1e300, n_jobs=jobs)
        times = [(time.perf_counter() - start) / m] * m
    steady = sorted(times[1:]) or times
    mean_ll = float(np.mean(model.log_probability(x)))
    print(json.dumps({"seconds_per_iteration": steady[len(steady) // 2], "mean_log_likelihood": mean_ll, "iterations": m}))

def report(n, d, k, threadpools):
    import collections, datetime, platform, subprocess
    import pomegranate
    runs = collections.defaultdict(list)
    for line in sys.stdin:
        key, payload = line.split(" ", 1)
        runs[key.rsplit(",", 1)[0]].append(json.loads(payload))
    median = lambda xs: sorted(xs)[len(xs) // 2]
    rows = {key: (median([r["seconds_per_iteration"] for r in v]), median([r["mean_log_likelihood"] for r in v])) for key, v in runs.items()}
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")), "?")
    cores = os.cpu_count()
    dotnet = subprocess.run(["dotnet", "--version"], capture_output=True, text=True).stdout.strip()
    best = min(rows["pomegranate-1"][0], rows["pomegranate-2"][0])
    names = {"ours-double-2": "EmKernels, double, 2 threads", "ours-float-2": "EmKernels, float, 2 threads", "ours-double-1": "EmKernels, double, 1 thread",
             "pomegranate-1": "pomegranate, summarize + from_summaries, 1 thread", "pomegranate-2": "pomegranate, fit(n_jobs=2)"}
    print("# Bernoulli mixture EM: EmKernels vs pomegranate\n")
    print(f"Measured {datetime.date.today()} on {model}, {cores} cores; .NET SDK {dotnet}; pomegranate {pomegranate.__version__}, "
          f"numpy {np.__version__}, Python {platform.python_version()}.\n")
    print(f"Workload: {n:,} × {d} binary data (float64) drawn from a random {k}-component Bernoulli mixture, K = {k}, the same start "
          "for both (equal weights, probabilities uniform in [0.25, 0.75]). Seconds per EM iteration: median of iterations 2..M, then "
          "of the rounds (pomegranate with n_jobs=2 times its whole fit and divides). `bash bench/compare-pomegranate.sh` re-runs it; "
          "never edit this file by hand.\n")
    print("| implementation | seconds / iteration | speed-up vs best pomegranate | final mean log-likelihood |")
    print("|---|---:|---:|---:|")
    for key in ["ours-double-2", "ours-float-2", "ours-double-1", "pomegranate-1", "pomegranate-2"]:
        seconds, ll = rows[key]
        print(f"| {names[key]} | {seconds:.4f} | {best / seconds:.1f}× | {ll:.10f} |")
    print("\npomegranate's thread pools (threadpoolctl.threadpool_info() of its interpreter, with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset): "
          + "; ".join(f"{p.get('internal_api')} {p.get('version')} {p.get('architecture', '')} kernels, {p.get('num_threads')} threads ({p.get('filepath')})" for p in json.load(open(threadpools))) + ".")

if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2], *map(int, sys.argv[3:7]))
    elif sys.argv[1] == "report":
        report(*map(int, sys.argv[2:5]), sys.argv[5])
    else:
        run(sys.argv[2], *map(int, sys.argv[3:8]))
