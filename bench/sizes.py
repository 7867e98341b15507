"""How big each bench is: the full run of `make bench` and the tiny `--quick` one (smoke test)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    name: str
    latency_ms: float
    # 1. fan-out makespan: (tasks, concurrency) runs, each repeated (the best is reported)
    fanout_runs: tuple[tuple[int, int], ...]
    repeats: int
    sequential_sample: int
    # 2. write coalescing
    write_tasks: tuple[int, ...]
    write_concurrency: int
    # 3 and 5. status route under load, memory (one server)
    finished_executions: int
    finished_tasks_each: int
    running_executions: int
    running_questions: int
    running_samples: int
    running_concurrency: int
    load_requests: int
    load_concurrency: int
    load_rounds: int
    load_low_concurrency: int  # one more round per route, to see latency without queueing
    # 4. SSE fan-out
    sse_subscribers: int
    sse_tasks: int
    sse_concurrency: int
    # 6. server CPU per task: one execution over two platforms, polled, per answer kind
    cpu_tasks: int  # over both platforms, shaped as questions x samples x 2
    cpu_concurrency: int  # per platform
    cpu_repeats: int
    cpu_poll_s: float
    # 7. scale-out (bench/cluster.py): executions x tasks each, over each worker count; SSE
    # subscribers per API instance (two instances) on one execution of cluster_sse_tasks
    cluster_executions: int
    cluster_tasks_each: int
    cluster_workers: tuple[int, ...]
    cluster_sse_subscribers: int
    cluster_sse_tasks: int


FULL = Sizes(
    name="full", latency_ms=100, repeats=2,
    fanout_runs=((36, 8), (1000, 8), (36, 16), (400, 16), (1000, 16)),
    sequential_sample=36, write_tasks=(36, 360, 1000), write_concurrency=16,
    finished_executions=100, finished_tasks_each=10, running_executions=20, running_questions=20,
    running_samples=10, running_concurrency=4, load_requests=2000, load_concurrency=32,
    load_rounds=4, load_low_concurrency=4, sse_subscribers=1000, sse_tasks=36, sse_concurrency=8,
    cpu_tasks=1000, cpu_concurrency=16, cpu_repeats=5, cpu_poll_s=0.05,
    cluster_executions=10, cluster_tasks_each=200, cluster_workers=(1, 3),
    cluster_sse_subscribers=1000, cluster_sse_tasks=36,
)

QUICK = Sizes(
    name="quick", latency_ms=20, fanout_runs=((8, 4), (24, 4)), repeats=1,
    sequential_sample=6, write_tasks=(12,), write_concurrency=4,
    finished_executions=3, finished_tasks_each=2, running_executions=2, running_questions=5,
    running_samples=4, running_concurrency=1, load_requests=60, load_concurrency=8,
    load_rounds=2, load_low_concurrency=2, sse_subscribers=10, sse_tasks=6, sse_concurrency=2,
    cpu_tasks=40, cpu_concurrency=4, cpu_repeats=1, cpu_poll_s=0.05,
    cluster_executions=10, cluster_tasks_each=20, cluster_workers=(1, 3),
    cluster_sse_subscribers=50, cluster_sse_tasks=6,
)
