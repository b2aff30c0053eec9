# Sourced by the comparison scripts: the reference side (scikit-learn, pomegranate) runs as a user has it.
#  - numpy must use OpenBLAS: Debian's python3-numpy falls back to the slow reference BLAS until
#    libopenblas0-pthread is installed (`apt-get install libopenblas0-pthread`), so the scripts require it;
#  - OpenBLAS picks its own kernels: this machine's shell exports OPENBLAS_CORETYPE=Haswell, which forces AVX2
#    kernels on an AVX-512 CPU, so it and OPENBLAS_L2_SIZE are unset for the reference side;
#  - threadpoolctl.threadpool_info() of the reference interpreter is written to $1 for the report, and a
#    comparison against the reference BLAS or a pinned Haswell kernel on an AVX-512 CPU is refused.
# Defines the array `reference` (the command that runs the reference Python).
reference=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3)
check_reference() {
  local out=$1
  if ! dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed"; then
    echo "refusing to compare: numpy would use the reference BLAS; install libopenblas0-pthread (apt-get install libopenblas0-pthread)" >&2
    exit 3
  fi
  "${reference[@]}" -c "import json, numpy, threadpoolctl; print(json.dumps(threadpoolctl.threadpool_info()))" > "$out"
  /usr/bin/python3 - "$out" <<'PY'
import json, sys
pools = json.load(open(sys.argv[1]))
blas = [p for p in pools if p.get("user_api") == "blas"]
flags = open("/proc/cpuinfo").read()
if not blas or all(p.get("internal_api") != "openblas" for p in blas):
    sys.exit(f"refusing to compare: the reference side's numpy does not use OpenBLAS ({blas})")
if "avx512f" in flags and any(p.get("architecture") == "Haswell" for p in blas):
    sys.exit("refusing to compare: OpenBLAS runs its Haswell (AVX2) kernels on an AVX-512 CPU (is OPENBLAS_CORETYPE set?)")
PY
}
