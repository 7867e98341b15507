"""`python -m bench [--quick] [--only PART] [--out PATH]`: run every bench in one go, print the
table, write BENCHMARKS.md (the full run) or `--out` (any run). `--quick` is the smoke test's
tiny size; `--only` runs one part (never writes BENCHMARKS.md unless `--out` says so).

`cluster` needs PostgreSQL and Redis on 127.0.0.1 and starts a dozen processes, so `--quick`
leaves it out unless asked for by name (`--quick --only cluster`); the full run includes it."""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench import analysis, cluster, collector, cpu, fanout, live, report, spacing, sse, writes
from bench.loop import run_async
from bench.procs import REPO_ROOT, fake_provider
from bench.results import Section
from bench.sizes import FULL, QUICK

PARTS = ("fanout", "writes", "live", "cpu", "cluster")
NOT_IN_QUICK = ("cluster",)  # needs PostgreSQL and Redis (see above)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--out", type=Path, help="where to write the markdown report")
    parser.add_argument("--only", choices=PARTS, help="run one part of the bench")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    out = args.out or (None if args.quick or args.only else REPO_ROOT / "BENCHMARKS.md")
    parts = [args.only] if args.only else [
        p for p in PARTS if not (args.quick and p in NOT_IN_QUICK)]
    began = time.monotonic()
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="diagnosis-bench-") as tmp:
        work_dir = Path(tmp)
        with fake_provider(sizes.latency_ms, work_dir) as fake:
            provider_url = fake.base_url + "/v1"
            if "fanout" in parts:
                data = run_async(fanout.measure(sizes, provider_url, work_dir))
                sections.append(fanout.makespan_section(sizes, data))
                sections.append(fanout.transport_section(sizes, data))
                sections.append(fanout.baselines_section(sizes, data))
            if "writes" in parts:
                write_runs = run_async(writes.measure(sizes, provider_url, work_dir))
                sections.append(writes.section(sizes, write_runs))
            if "live" in parts:
                status, memory = live.run(sizes, fake, work_dir)
                sections += [status, sse.run(sizes, fake, work_dir), memory]
            if "cpu" in parts:
                sections.append(cpu.run(sizes, fake, work_dir))
                sections.append(analysis.section(sizes))
                gc_runs = run_async(collector.measure(sizes, provider_url, work_dir))
                sections.append(collector.section(sizes, gc_runs))
                sections.append(spacing.section(sizes))
            if "cluster" in parts:
                sections += cluster.run(sizes, fake, work_dir)
    print(report.render_text(sizes, sections))
    print(f"\n(bench took {time.monotonic() - began:.0f} s)", file=sys.stderr)
    if out is not None:
        out.write_text(report.render_markdown(sizes, sections))
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
