#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Dispatch benchmarks on the real daemon (private bus, private tmux, fake Claude):

1. latency: a task file renamed into an inbox → Claude started in the
   pool session (the start time fake-claude logs: the daemon respawns the
   pane with Claude itself and types nothing before);
   p50/p90/max over N tasks, one at a time, sessions idle.
2. throughput: 200 fast tasks through 10 sessions; every task must be
   dispatched exactly once (fake Claude's log), none may be lost.
3. polling (--poll-samples N): the same latency with the inbox monitors
   disabled (bench/bench-no-inbox-monitor.c preloaded), so that the daemon
   finds new tasks only by its periodic full scan every --poll-interval
   seconds (lifecycle.interval): the naive approach, measured in the same run.

    bench/bench-dispatch.py [--tasks N] [--assert-p50-ms MS] [--throughput-tasks N]
                            [--poll-samples N --poll-interval S] [--json-out FILE]

Exits 1 when an assertion fails. Prints a Markdown table."""

import argparse
import glob
import json
import os
import random
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import Sandbox, _atomic_write, build_dir  # noqa: E402

SHIM = os.path.join(build_dir(), "bench", "libbench-no-inbox-monitor.so")


def idle_pool(sb):
    return [s[0] for s in sb.get_property("Sessions") if s[1] == "pool" and s[2] == "idle"]


def measure_latency(n, poll_interval=None):
    """Latencies in ms; with POLL_INTERVAL (s) the inbox monitors are off and
    the daemon's full scan runs every POLL_INTERVAL seconds."""
    samples = []
    with Sandbox("benchlat") as sb:
        sb.start_bus()
        sb.start_tmux()
        sb.fake_work_ms = 50
        overrides = {"pool": {"autonomous": {"min": 2, "max": 2}},
                     "watcher": {"interval": "100ms"}, "janitor": {"interval": "60s"}}
        env = None
        if poll_interval is not None:
            if not os.path.exists(SHIM):
                raise SystemExit(f"bench-dispatch: {SHIM} is not built")
            overrides["lifecycle"] = {"interval": f"{int(poll_interval * 1000)}ms"}
            env = sb.env(LD_PRELOAD=SHIM)
        sb.write_config(overrides)
        sb.start_daemon(env=env)
        if poll_interval is not None:
            sb.wait_for(lambda: "relying on periodic scans" in sb.daemon_log(), timeout=10,
                        what="the daemon to poll its inbox (no monitor)")
        inbox = os.path.join(sb.project_dir, ".agent-queue", "inbox")
        for i in range(n):
            sb.wait_for(lambda: len(idle_pool(sb)) == 2, timeout=30, what="idle pool")
            # The daemon's first act on a task is to start Claude in a session (the pane
            # respawned with Claude itself, nothing typed before): fake-claude logs when.
            started = len(sb.fake_events("start"))
            time.sleep(0.2)
            if poll_interval is not None:
                # A file lands at any phase of the poll timer, not just
                # after the previous task (which follows a poll).
                time.sleep(random.uniform(0, poll_interval))
            body = "---\npriority: default\n---\nFAKE:work=50\n"
            tmp = os.path.join(inbox, f".lat{i}.tmp")
            with open(tmp, "w") as f:
                f.write(body)
            t0 = time.time()
            os.rename(tmp, os.path.join(inbox, f"lat{i}.md"))
            first = sb.wait_for(lambda: sb.fake_events("start")[started:],
                                timeout=10 + 2 * (poll_interval or 0), interval=0.005,
                                what="Claude started")
            samples.append((first[0]["time"] - t0) * 1000)
            done = os.path.join(sb.project_dir, ".agent-queue", "done", f"lat{i}.md")
            sb.wait_for(lambda: os.path.exists(done), timeout=30, what=f"lat{i} done")
    return samples


def measure_throughput(n, sessions):
    with Sandbox("benchtp") as sb:
        sb.start_bus()
        sb.start_tmux()
        sb.fake_work_ms = 50
        sb.write_config({"pool": {"autonomous": {"min": sessions, "max": sessions}},
                         "watcher": {"interval": "100ms"}})
        sb.start_daemon()
        sb.wait_for(lambda: len(idle_pool(sb)) == sessions, timeout=60, what="idle pool")
        sb.call("PauseDispatch")
        for i in range(n):
            sb.add_task(f"tp{i:04d}", "FAKE:work=50")
        t0 = time.monotonic()
        sb.call("ResumeDispatch")
        done_dir = os.path.join(sb.project_dir, ".agent-queue", "done")
        sb.wait_for(lambda: len(glob.glob(os.path.join(done_dir, "*.md"))) == n, timeout=600,
                    interval=0.2, what=f"{n} tasks done")
        elapsed = time.monotonic() - t0
        prompts = [e["text"].split("]")[0][1:] for e in sb.fake_events("prompt")]
        leftovers = [p for place in ("inbox", "active", "failed")
                     for p in glob.glob(os.path.join(sb.project_dir, ".agent-queue", place, "*.md"))]
        return elapsed, len(prompts), len(set(prompts)), leftovers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--assert-p50-ms", type=float)
    parser.add_argument("--throughput-tasks", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--poll-samples", type=int, default=0)
    parser.add_argument("--poll-interval", type=float, default=30.0)
    parser.add_argument("--json-out")
    args = parser.parse_args()
    ok = True
    result = {}

    samples = measure_latency(args.tasks)
    p50 = statistics.median(samples)
    p90 = sorted(samples)[max(0, int(len(samples) * 0.9) - 1)]
    print("| measurement | value |\n|---|---|")
    print(f"| inbox file → Claude started in a session, p50 ({len(samples)} tasks) | {p50:.1f} ms |")
    print(f"| same, p90 | {p90:.1f} ms |")
    print(f"| same, max | {max(samples):.1f} ms |")
    result.update(tasks=len(samples), p50_ms=p50, p90_ms=p90, max_ms=max(samples),
                  samples_ms=samples)
    if args.poll_samples > 0:
        polled = measure_latency(args.poll_samples, args.poll_interval)
        pp50 = statistics.median(polled)
        print(f"| polling every {args.poll_interval:g} s (monitors off), p50 "
              f"({len(polled)} tasks) | {pp50:.0f} ms ({pp50 / p50:.0f}× the monitor's p50) |")
        print(f"| same, max | {max(polled):.0f} ms |")
        result.update(poll_interval_s=args.poll_interval, poll_tasks=len(polled),
                      poll_p50_ms=pp50, poll_mean_ms=statistics.mean(polled),
                      poll_max_ms=max(polled), poll_samples_ms=polled)
    if args.assert_p50_ms is not None and p50 >= args.assert_p50_ms:
        print(f"FAIL: p50 {p50:.1f} ms ≥ {args.assert_p50_ms} ms", file=sys.stderr)
        ok = False

    if args.throughput_tasks > 0:
        elapsed, prompts, unique, leftovers = measure_throughput(args.throughput_tasks, args.sessions)
        print(f"| {args.throughput_tasks} tasks through {args.sessions} sessions | {elapsed:.1f} s "
              f"({args.throughput_tasks / elapsed:.1f} tasks/s) |")
        print(f"| dispatches seen by Claude / distinct tasks | {prompts} / {unique} |")
        result.update(throughput_tasks=args.throughput_tasks, throughput_sessions=args.sessions,
                      throughput_s=elapsed, dispatches=prompts, distinct=unique,
                      leftovers=len(leftovers))
        if prompts != args.throughput_tasks or unique != args.throughput_tasks or leftovers:
            print(f"FAIL: {prompts} dispatches of {unique} distinct tasks, leftovers {leftovers}",
                  file=sys.stderr)
            ok = False
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(result, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
