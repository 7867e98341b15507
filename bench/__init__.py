"""Benchmarks of the service (`make bench`): fan-out makespan, write coalescing, the status
route under load, SSE fan-out and memory, against the targets of BENCHMARKS.md.

Loopback only, bounded request counts; never part of `make test` (one smoke test runs `--quick`).
"""
