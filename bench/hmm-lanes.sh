#!/usr/bin/env bash
# Where the Baum–Welch recursion's time goes: vector lanes across states (the library's way) against lanes across
# sequences (eight sequences per Vector512), one thread, double, for K = 2 … 32 (EmKernels.Bench hmm-lanes). Writes
# perf-results/hmm-lanes.md with the FMA peak measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
# Every Python here (numpy included) runs as a user has it: this machine's shell pins OpenBLAS to its AVX2 kernels.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
S=${S:-64} T=${T:-2000}
dotnet build -c Release bench/EmKernels.Bench >/dev/null
dotnet build-server shutdown >/dev/null 2>&1 || true
bench=(dotnet bench/EmKernels.Bench/bin/Release/net10.0/EmKernels.Bench.dll)
probe=$("${bench[@]}" probe)
results=$("${bench[@]}" hmm-lanes --sequences "$S" --length "$T")
/usr/bin/python3 - "$probe" "$S" "$T" > perf-results/hmm-lanes.md <<PY
import datetime, json, os, subprocess, sys
probe = json.loads(sys.argv[1])
s, t = int(sys.argv[2]), int(sys.argv[3])
rows = [json.loads(line) for line in """$results""".strip().splitlines()]
cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")), "?")
dotnet = subprocess.run(["dotnet", "--version"], capture_output=True, text=True).stdout.strip()
peak = probe["fma_gflops"] / 2  # one thread
print("# HMM recursion: vector lanes across states or across sequences\n")
print(f"Measured {datetime.date.today()} on {model}, {os.cpu_count()} cores; .NET SDK {dotnet}. Probe (\`EmKernels.Bench probe\`): fp64 FMA peak "
      f"{probe['fma_gflops']} GFLOP/s on 2 threads, so {peak:.1f} on the one thread used here.\n")
print(f"{s} sequences of {t} steps, random transitions and normalized emissions; per observation the scaled forward step, the backward "
      "step and the expected transitions' outer product (3 K² multiply-adds, 6 K² FLOP). Across states: the library's way (\`MarkovKernels\`, "
      "each step's vectors over the K states). Across sequences: eight sequences of the same length in the lanes of a Vector512, K² "
      "broadcast multiply-adds per step and group (the emissions arranged time × state × lane beforehand, not timed). Best of 5 "
      "rounds, one thread, double. \`bash bench/hmm-lanes.sh\` re-runs it; never edit by hand.\n")
print("| K | across states, ns / observation | across sequences, ns / observation | across sequences vs states | GFLOP/s across states | GFLOP/s across sequences | log-likelihoods agree |")
print("|---:|---:|---:|---:|---:|---:|---|")
for r in rows:
    k = r["k"]; flops = 6 * k * k
    a, b = r["ns_per_observation_across_states"], r["ns_per_observation_across_sequences"]
    agree = abs(r["log_likelihood_states"] - r["log_likelihood_lanes"]) <= 1e-9 * abs(r["log_likelihood_states"])
    print(f"| {k} | {a:.1f} | {b:.1f} | {a / b:.2f}× | {flops / a:.1f} ({100 * flops / a / peak:.0f} %) | {flops / b:.1f} ({100 * flops / b / peak:.0f} %) | {'yes' if agree else 'NO'} |")
PY
cat perf-results/hmm-lanes.md
