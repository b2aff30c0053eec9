"""Factor analysis workloads for bench/compare-fa.sh.

generate DIR N D Q SEED: x = W z + mu + noise (W ~ N(0,1), per-feature noise sd in [0.5, 1.5]), written as DIR/x.f64 (raw row-major float64).
run DIR N D Q: scikit-learn's FactorAnalysis(n_components=Q, random_state=0) with its defaults (tol 1e-2, randomized SVD),
    timed around fit(); prints JSON: seconds, iterations (n_iter_), mean_log_likelihood (score(X)).
"""
import json, sys, time
import numpy as np

def generate(folder, n, d, q, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((d, q))
    mu = rng.uniform(-5, 5, d)
    sd = rng.uniform(0.5, 1.5, d)
    x = np.empty((n, d))
    step = 100_000
    for s in range(0, n, step):
        m = min(step, n - s)
        x[s:s + m] = rng.standard_normal((m, q)) @ w.T + mu + rng.standard_normal((m, d)) * sd
    x.tofile(f"{folder}/x.f64")

def run(folder, n, d, q):
    from sklearn.decomposition import FactorAnalysis
    x = np.fromfile(f"{folder}/x.f64").reshape(n, d)
    fa = FactorAnalysis(n_components=q, random_state=0)
    start = time.perf_counter()
    fa.fit(x)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "iterations": int(fa.n_iter_), "mean_log_likelihood": float(fa.score(x))}))

if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2], *map(int, sys.argv[3:7]))
    else:
        run(sys.argv[2], *map(int, sys.argv[3:6]))
