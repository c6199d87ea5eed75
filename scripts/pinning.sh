# Where a benchmark's processes run, shared by scripts/bench-warm.sh,
# scripts/bench-backends.sh and tools/origins/run.sh (sourced, not run).
#
#   pin_benchmark
#
# With two CPUs or more and taskset, every server goes on SERVER_CPU (0) and
# the load tool on WRK_CPU (1). Unpinned, a server and wrk share a CPU in
# some runs and not in others, which moves the faster server more (its wrk
# needs more CPU). On one CPU, or without taskset, nothing is pinned. Sets
# ON_SERVER_CPU and ON_WRK_CPU, command prefixes (empty arrays when not
# pinned), and PINNED (1 or 0) for the scripts' generated text.
pin_benchmark() {
  ON_SERVER_CPU=(); ON_WRK_CPU=(); PINNED=0
  if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    SERVER_CPU=${SERVER_CPU:-0}; WRK_CPU=${WRK_CPU:-1}
    ON_SERVER_CPU=(taskset -c "$SERVER_CPU"); ON_WRK_CPU=(taskset -c "$WRK_CPU")
    PINNED=1
  fi
}
