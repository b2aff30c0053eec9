#!/usr/bin/python3
"""Side-by-side helper for bench/compare-hmm.sh (Debian's python3-pomegranate 0.14.8, numpy).

  generate DIR N S D K SEED  writes DIR/x.f64 (raw little-endian row-major float64 observations: S sequences of N/S
                             steps drawn from a random diagonal-Gaussian HMM with K states) and DIR/init.json (lengths,
                             startprob, transmat, means, variances: a start shared by both)
  run DIR M                  runs M Baum-Welch iterations of pomegranate from that start (summarize + from_summaries,
                             the body of one fit() iteration, all pseudo-counts and inertia off) and prints one JSON
                             line {"seconds_per_iteration", "mean_log_likelihood", "iterations"} (median of iterations 2..M)
  report N S D K THREADPOOLS reads "key json" lines (key = implementation,round) and prints the markdown report
"""
import json, os, sys, time
import numpy as np

def generate(folder, n, s, d, k, seed):
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 3, size=(k, d))
    sds = rng.uniform(0.5, 1.5, size=(k, d))
    a = 0.7 * np.eye(k) + 0.3 * rng.dirichlet(np.ones(k), size=k)
    length = n // s
    x = np.empty((n, d))
    row = 0
    for _ in range(s):
        state = rng.integers(k)
        for _ in range(length):
            x[row] = means[state] + sds[state] * rng.standard_normal(d)
            state = rng.choice(k, p=a[state])
            row += 1
    x.tofile(f"{folder}/x.f64")
    # The start: uniform start probabilities, 0.5 I + 0.5 Dirichlet rows, means at K observations picked at random,
    # every variance the data's own.
    start_a = 0.5 * np.eye(k) + 0.5 * rng.dirichlet(np.ones(k), size=k)
    picked = x[rng.choice(n, size=k, replace=False)]
    variances = np.tile(x.var(axis=0), (k, 1))
    init = {"lengths": [length] * s, "startprob": [1.0 / k] * k, "transmat": start_a.ravel().tolist(),
            "means": picked.ravel().tolist(), "variances": variances.ravel().tolist()}
    with open(f"{folder}/init.json", "w") as f:
        json.dump(init, f)

def run(folder, m):
    from pomegranate import HiddenMarkovModel, IndependentComponentsDistribution, NormalDistribution
    init = json.load(open(f"{folder}/init.json"))
    lengths = init["lengths"]
    k = len(init["startprob"])
    means = np.array(init["means"]).reshape(k, -1)
    d = means.shape[1]
    variances = np.array(init["variances"]).reshape(k, d)
    x = np.fromfile(f"{folder}/x.f64", dtype=np.float64).reshape(-1, d)
    sequences = np.split(x, np.cumsum(lengths)[:-1])
    dists = [IndependentComponentsDistribution([NormalDistribution(means[j, f], np.sqrt(variances[j, f])) for f in range(d)]) for j in range(k)]
    model = HiddenMarkovModel.from_matrix(np.array(init["transmat"]).reshape(k, k), dists, np.array(init["startprob"]),
                                          state_names=[f"s{j:03d}" for j in range(k)])
    times = []
    for _ in range(m):
        start = time.perf_counter()
        model.summarize(sequences)
        model.from_summaries(inertia=None, pseudocount=None, transition_pseudocount=0, emission_pseudocount=0,
                             use_pseudocount=False, edge_inertia=0, distribution_inertia=0)
        times.append(time.perf_counter() - start)
    steady = sorted(times[1:]) or times
    total = sum(model.log_probability(seq) for seq in sequences)
    print(json.dumps({"seconds_per_iteration": steady[len(steady) // 2], "mean_log_likelihood": total / len(x), "iterations": m}))

def report(n, s, d, k, threadpools, probe):
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
    dotnet = subprocess.run(["dotnet", "--version"], capture_output=True, text=True).stdout.strip()
    reference = rows["pomegranate-1"][0]
    names = {"ours-double-2": "EmKernels, double, 2 threads", "ours-float-2": "EmKernels, float, 2 threads", "ours-double-1": "EmKernels, double, 1 thread",
             "ours-log-2": "EmKernels, double, 2 threads, log-domain recursion (the fits' fallback)",
             "pomegranate-1": "pomegranate, summarize + from_summaries, 1 thread"}
    probe = json.loads(probe)
    print("# Hidden Markov model (Baum–Welch): EmKernels vs pomegranate\n")
    print(f"Measured {datetime.date.today()} on {model}, {os.cpu_count()} cores; .NET SDK {dotnet}; pomegranate {pomegranate.__version__}, "
          f"numpy {np.__version__}, Python {platform.python_version()}. Probe (`EmKernels.Bench probe`, 2 threads): fp64 FMA peak "
          f"{probe['fma_gflops']} GFLOP/s, memory read bandwidth {probe['bandwidth_gbs']} GB/s.\n")
    print(f"Workload: {n:,} observations in {s} sequences of {n // s:,}, D = {d}, drawn from a random diagonal-Gaussian HMM; K = {k} "
          "states, the same start for both (uniform start probabilities, 0.5 I + 0.5 Dirichlet transition rows, means at K random "
          "observations, the data's variances). Seconds per Baum–Welch iteration: median of iterations 2..M, then of the rounds; "
          "pomegranate has no parallel Baum–Welch. `bash bench/compare-hmm.sh` re-runs it; never edit this file by hand.\n")
    print("| implementation | seconds / iteration | speed-up vs pomegranate | mean log-likelihood after M iterations |")
    print("|---|---:|---:|---:|")
    for key in ["ours-double-2", "ours-float-2", "ours-double-1", "ours-log-2", "pomegranate-1"]:
        seconds, ll = rows[key]
        print(f"| {names[key]} | {seconds:.4f} | {reference / seconds:.1f}× | {ll:.10f} |")
    ours = rows["ours-double-2"][0]
    flops = n * (6 * k * k + 3 * k * d)
    print(f"\nArithmetic per iteration, counted as done (FMA = 2): the forward step α̂ A, the backward step A β̂ and the expected "
          f"transitions' outer products, 2 K² each per observation, and the diagonal emissions, about 3 K D: {flops / 1e9:.2f} GFLOP, "
          f"so {flops / ours / 1e9:.1f} GFLOP/s at 2 threads, {100 * flops / ours / 1e9 / probe['fma_gflops']:.0f} % of the FMA peak; the data "
          f"({n * d * 8 / 1e6:.1f} MB, read once per iteration) take {100 * n * d * 8 / ours / 1e9 / probe['bandwidth_gbs']:.1f} % of the memory "
          "bandwidth. The recursion is sequential along a sequence, so it is vectorized across states (K = 16: two Vector512 of "
          "doubles per step, `MarkovKernels`) and parallel across sequences (segments of whole sequences, one per worker at a "
          "time); lanes across sequences instead of states: bench/hmm-lanes.sh. The log-domain recursion (log-sum-exp per state and step, "
          "as the fixtures define it) is what a sequence falls back to when the scaled one would underflow; the fits use the scaled one.")
    print("\npomegranate's thread pools (threadpoolctl.threadpool_info() of its interpreter, with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset): "
          + "; ".join(f"{p.get('internal_api')} {p.get('version')} {p.get('architecture', '')} kernels, {p.get('num_threads')} threads" for p in json.load(open(threadpools))) + ".")

if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2], *map(int, sys.argv[3:8]))
    elif sys.argv[1] == "run":
        run(sys.argv[2], int(sys.argv[3]))
    else:
        report(*map(int, sys.argv[2:6]), sys.argv[6], sys.argv[7])
