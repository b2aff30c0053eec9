#!/usr/bin/env python3
"""Summarizes the BenchmarkDotNet CSVs under perf-results/kernels/results into perf-results/kernels/SUMMARY.md
and the README's benchmark section (between the BENCHMARKS markers). Never edit those tables by hand."""
import csv, datetime, glob, os, platform, re, subprocess

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
results = os.path.join(root, "perf-results", "kernels", "results")

def micros(text):
    value, unit = text.replace(",", "").split()
    return float(value) * {"ns": 1e-3, "μs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}[unit]

# Whole EM iterations (IterationBenchmarks): the shapes of bench/compare.sh, every core.
SHAPES = {"Full": (200_000, 32, 16), "Tied": (200_000, 32, 16), "Diagonal": (1_000_000, 16, 16), "Spherical": (1_000_000, 16, 16)}

def flops(covariance, n, d, k):
    # As perf-results/compare.md counts them (FMA = 2): triangular product and scatter, or 9·K·N·D.
    return 2 * k * n * d * (d + 1) if covariance in ("Full", "Tied") else 9 * k * n * d

rows, iterations = [], []
for path in sorted(glob.glob(os.path.join(results, "*-report.csv"))):
    kernel, elem = re.match(r".*\.(\w+)Benchmarks_(\w+)_-report\.csv", path).groups()
    if kernel == "Iteration":
        with open(path, encoding="utf-8") as f:
            for r in csv.DictReader(f):
                n, d, k = SHAPES[r["Covariance"]]
                iterations.append((r["Covariance"], elem.lower(), n, d, k, micros(r["Mean"]), r["Allocated"]))
        continue
    data = {}
    with open(path, encoding="utf-8") as f:
        for r in csv.DictReader(f):
            data[(r["Points"], r["Method"])] = (micros(r["Mean"]), r["Allocated"])
    for points in sorted({p for p, _ in data}, key=int):
        scalar, _ = data[(points, "ScalarLoop")]
        ours, allocated = data[(points, "EmKernels")]
        tp = data.get((points, "TensorPrimitivesComposition"), (None, None))[0]
        rows.append((kernel, elem.lower(), points, scalar, ours, tp, allocated))

header = open(glob.glob(os.path.join(results, "*-github.md"))[0], encoding="utf-8").read().split("```")[1].strip().splitlines()
machine = [l.strip() for l in header if l.startswith(("BenchmarkDotNet", "AMD", "Intel", ".NET SDK")) or "[Host]" in l]
def measured(path):
    # The date a result was written: today when it differs from the committed copy, else its last commit's date
    # (file times say nothing in a fresh clone).
    changed = subprocess.run(["git", "status", "--porcelain", "--", path], capture_output=True, text=True, cwd=root).stdout.strip()
    committed = subprocess.run(["git", "log", "-1", "--format=%cs", "--", path], capture_output=True, text=True, cwd=root).stdout.strip()
    return datetime.date.today().isoformat() if changed or not committed else committed

def span(paths):
    dates = sorted({measured(p) for p in paths})
    return dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"

csvs = glob.glob(os.path.join(results, "*-report.csv"))
kernel_stamp = span([p for p in csvs if "IterationBenchmarks" not in p])
iteration_stamp = span([p for p in csvs if "IterationBenchmarks" in p]) if any("IterationBenchmarks" in p for p in csvs) else None
stamp = f"kernels {kernel_stamp}" + (f", whole iterations {iteration_stamp}" if iteration_stamp else "")
lines = [f"Measured: {stamp}; kernels: K = 16, D = 16, one thread. " + "; ".join(machine) + ".", "",
         "| kernel | type | B | scalar loop | EmKernels | TensorPrimitives composition | vs scalar | vs TP | allocated |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
for kernel, elem, points, scalar, ours, tp, allocated in rows:
    tp_time, tp_ratio = ("—", "—") if tp is None else (f"{tp:,.1f} µs", f"{tp / ours:.2f}×")
    lines.append(f"| {kernel} | {elem} | {points} | {scalar:,.1f} µs | {ours:,.1f} µs | {tp_time} | {scalar / ours:.1f}× | {tp_ratio} | {allocated} |")
if iterations:
    lines += ["", "Whole EM iterations (`IterationBenchmarks`: E-step pass with sufficient statistics, then the M-step), every core (2), "
              "FLOPs counted as perf-results/compare.md counts them:", "",
              "| covariance | type | N × D, K | time per iteration | GFLOP/s | allocated |", "|---|---|---|---:|---:|---:|"]
    for covariance, elem, n, d, k, mean, allocated in sorted(iterations):
        lines.append(f"| {covariance} | {elem} | {n:,} × {d}, {k} | {mean / 1e3:,.1f} ms | {flops(covariance, n, d, k) / (mean * 1e-6) / 1e9:.1f} | {allocated} |")
table = "\n".join(lines) + "\n"
open(os.path.join(root, "perf-results", "kernels", "SUMMARY.md"), "w", encoding="utf-8").write("# Kernel benchmarks\n\n" + table)
readme = os.path.join(root, "README.md")
text = open(readme, encoding="utf-8").read()
text = re.sub(r"<!-- BENCHMARKS -->.*<!-- /BENCHMARKS -->", "<!-- BENCHMARKS -->\n" + table.replace("\\", "\\\\") + "<!-- /BENCHMARKS -->", text, flags=re.S)
open(readme, "w", encoding="utf-8").write(text)
print(table)
