#!/usr/bin/python3
"""Helper for bench/compare-bayesian.sh (Debian's python3-sklearn 1.2.1, numpy).

  resp DIR N K SEED             DIR/resp.f64: N × K random responsibilities (uniform, rows normalised: scikit-learn's
                                init_params='random'), float64 row-major
  run DIR N D K TYPE PRIOR M    M iterations of scikit-learn's BayesianGaussianMixture from those responsibilities
                                (_initialize(X, resp), then _e_step / _m_step / _compute_lower_bound as fit does); prints
                                one JSON line {"seconds_per_iteration", "lower_bound", "iterations"} (median of iterations 2..M)
"""
import json, sys, time
import numpy as np

def resp(folder, n, k, seed):
    r = np.random.default_rng(seed).uniform(size=(n, k))
    r /= r.sum(axis=1)[:, None]
    r.tofile(f"{folder}/resp.f64")

def run(folder, n, d, k, kind, prior, m):
    from sklearn.mixture import BayesianGaussianMixture
    x = np.fromfile(f"{folder}/x.f64").reshape(n, d)
    r = np.fromfile(f"{folder}/resp.f64").reshape(n, k)
    bgm = BayesianGaussianMixture(n_components=k, covariance_type=kind, tol=0, max_iter=m, reg_covar=1e-6,
                                  weight_concentration_prior_type={"process": "dirichlet_process", "distribution": "dirichlet_distribution"}[prior])
    bgm._check_parameters(x)
    bgm._initialize(x, r)
    times = []
    for _ in range(m):
        start = time.perf_counter()
        log_prob_norm, log_resp = bgm._e_step(x)
        bgm._m_step(x, log_resp)
        bound = bgm._compute_lower_bound(log_resp, log_prob_norm)
        times.append(time.perf_counter() - start)
    steady = sorted(times[1:]) or times
    print(json.dumps({"seconds_per_iteration": steady[len(steady) // 2], "lower_bound": float(bound), "iterations": m}))

if __name__ == "__main__":
    if sys.argv[1] == "resp":
        resp(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        run(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7], int(sys.argv[8]))
