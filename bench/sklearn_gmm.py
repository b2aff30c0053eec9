#!/usr/bin/python3
"""Helper for bench/compare.sh (Debian's python3-sklearn 1.2.1, numpy).

  generate DIR N D K TYPE SEED  DIR/x.f64 (raw float64, row-major; a random K-component Gaussian mixture in D dims)
                                and DIR/init.json (weights 1/K, means = K random rows, every covariance = the data's,
                                in the layout of ../shared/fixtures/FORMAT.md §4)
  run DIR N D K TYPE M          M EM iterations of scikit-learn from that start; prints one JSON line
                                {"seconds_per_iteration", "mean_log_likelihood", "iterations"} (median of iterations 2..M)
"""
import json, sys, time
import numpy as np

def generate(folder, n, d, k, kind, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, size=(k, d))
    labels = rng.integers(0, k, size=n)
    x = np.empty((n, d))
    for j in range(k):
        rows = labels == j
        a = rng.normal(0, 1, size=(d, d)) / np.sqrt(d)
        x[rows] = centres[j] + rng.normal(0, 1, size=(rows.sum(), d)) @ (a + np.eye(d))
    x.tofile(f"{folder}/x.f64")
    cov = np.cov(x, rowvar=False, bias=True).reshape(d, d)
    shaped = {"full": np.tile(cov.ravel(), k), "tied": cov.ravel(), "diag": np.tile(np.diag(cov), k),
              "spherical": np.full(k, np.diag(cov).mean())}[kind]
    init = {"weights": [1.0 / k] * k, "means": x[rng.choice(n, k, replace=False)].ravel().tolist(), "covariances": shaped.tolist()}
    json.dump(init, open(f"{folder}/init.json", "w"))

def run(folder, n, d, k, kind, m):
    from sklearn.mixture import GaussianMixture
    x = np.fromfile(f"{folder}/x.f64").reshape(n, d)
    init = json.load(open(f"{folder}/init.json"))
    cov = np.array(init["covariances"])
    precisions = {"full": lambda: np.linalg.inv(cov.reshape(k, d, d)), "tied": lambda: np.linalg.inv(cov.reshape(d, d)),
                  "diag": lambda: 1 / cov.reshape(k, d), "spherical": lambda: 1 / cov}[kind]()
    gm = GaussianMixture(k, covariance_type=kind, tol=0, max_iter=1, init_params="random", reg_covar=1e-6,
                         weights_init=np.array(init["weights"]), means_init=np.array(init["means"]).reshape(k, d), precisions_init=precisions)
    gm._initialize_parameters(x, np.random.RandomState(0))   # exactly the given start
    times = []
    for _ in range(m):
        start = time.perf_counter()
        _, log_resp = gm._e_step(x)
        gm._m_step(x, log_resp)
        times.append(time.perf_counter() - start)
    steady = sorted(times[1:]) or times
    print(json.dumps({"seconds_per_iteration": steady[len(steady) // 2], "mean_log_likelihood": float(gm.score(x)), "iterations": m}))

if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], int(sys.argv[7]))
    else:
        run(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], int(sys.argv[7]))
