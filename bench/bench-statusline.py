#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`claude-failoverctl statusline` wall time, as Claude Code runs it on every
footer redraw (a new process, statusLine JSON on stdin, one line out), on
the real daemon (private bus, private tmux), and the daemon's CPU per
statusline report.

    bench/bench-statusline.py [--calls N] [--assert-p99-ms MS] [--json-out FILE]

Five conditions, N runs each: every run reports (a new session id each
time, so the per-pane rate limit never holds a report back) to an idle
daemon; the same input again (held back by the rate limit: parse, print);
a daemon that does not answer (SIGSTOP: the call's own deadline); the
daemon stopped (the bus up, the name unowned); no bus at all. The
daemon's cost is its main thread's CPU (/proc/PID/schedstat) over the
reporting runs divided by the reports it recorded. Exits 1 when
--assert-p99-ms is given and a p99 is above it. Prints a Markdown table."""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import Sandbox  # noqa: E402


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main_thread_cpu_ns(pid):
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def payload(session, now, five):
    return json.dumps({
        "session_id": session, "transcript_path": "/t.jsonl", "cwd": "/",
        "model": {"id": "claude-sonnet-4-5", "display_name": "Sonnet 4.5"},
        "version": "2.1.332", "cost": {"total_cost_usd": 0.1},
        "rate_limits": {"five_hour": {"used_percentage": five, "resets_at": now + 3600},
                        "seven_day": {"used_percentage": 12, "resets_at": now + 86400}},
    })


def fresh(n, now):
    """N inputs the rate limit lets through: each from a new session."""
    return [payload(str(uuid.uuid4()), now, i % 90) for i in range(n)]


def run_calls(sb, env, inputs):
    times = []
    for text in inputs:
        t0 = time.perf_counter()
        r = subprocess.run([sb.ctl_path, "statusline"], input=text, capture_output=True,
                           text=True, env=env, timeout=10)
        times.append(time.perf_counter() - t0)
        if r.returncode != 0 or r.stderr or r.stdout.count("\n") != 1:
            raise AssertionError(f"statusline: {r.returncode} {r.stdout!r} {r.stderr!r}")
    return times


def summary(times):
    ms = [t * 1000 for t in times]
    return {"p50_ms": round(pct(ms, 50), 2), "p99_ms": round(pct(ms, 99), 2),
            "max_ms": round(max(ms), 2), "calls": len(ms)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--assert-p99-ms", type=float, default=None)
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args()

    results = {}
    with Sandbox("benchsl") as sb:
        sb.start_bus()
        sb.start_tmux()
        sb.write_config({"pool": {"autonomous": {"min": 0, "max": 1}}})
        main_home = os.path.join(sb.home, ".claude-main")
        runtime = os.path.join(sb.root, "xdg-runtime")
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        env = sb.env(CLAUDE_CONFIG_DIR=main_home, XDG_RUNTIME_DIR=runtime)
        now = int(time.time())
        sb.start_daemon()
        time.sleep(1)

        # Every run a report: a new session each time.
        inputs = fresh(args.calls, now)
        cpu0 = main_thread_cpu_ns(sb.daemon.pid)
        times = run_calls(sb, env, inputs)
        time.sleep(0.2)
        cpu1 = main_thread_cpu_ns(sb.daemon.pid)
        recorded = sb.get_property("Usage")
        assert any(row[0] == "main" and row[1] >= 0 for row in recorded), recorded
        results["reporting"] = summary(times)
        results["daemon_cpu_us_per_report"] = round((cpu1 - cpu0) / 1000 / args.calls, 1)

        # The same input: held back by the per-pane limit.
        same = payload(str(uuid.uuid4()), now, 50)
        results["rate_limited"] = summary(run_calls(sb, env, [same] * args.calls))

        # A daemon that does not answer (stopped with SIGSTOP): the call's deadline.
        os.kill(sb.daemon.pid, signal.SIGSTOP)
        try:
            results["daemon_frozen"] = summary(run_calls(sb, env, fresh(args.calls, now)))
        finally:
            os.kill(sb.daemon.pid, signal.SIGCONT)

        sb.stop_daemon()
        results["daemon_stopped"] = summary(run_calls(sb, env, fresh(args.calls, now)))

        no_bus = dict(env, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={sb.root}/no-such-bus")
        results["no_bus"] = summary(run_calls(sb, no_bus, fresh(args.calls, now)))

    budget = 50.0
    print(f"bench-statusline: {args.calls} runs per condition, a new process each "
          "(what Claude Code pays per footer redraw), statusLine JSON of ~400 bytes")
    print()
    print("| condition | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|")
    labels = {"reporting": "daemon idle, every run reports",
              "rate_limited": "daemon idle, held back by the per-pane limit",
              "daemon_frozen": "daemon not answering (SIGSTOP)",
              "daemon_stopped": "daemon stopped (bus up)", "no_bus": "no system bus"}
    for key, label in labels.items():
        r = results[key]
        print(f"| {label} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.2f} |")
    print()
    print(f"daemon main-thread CPU per statusline report: {results['daemon_cpu_us_per_report']} µs")
    results["budget_ms"] = budget
    results["met"] = all(results[k]["p99_ms"] < budget for k in labels)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=1)
    if args.assert_p99_ms is not None:
        over = [k for k in labels if results[k]["p99_ms"] > args.assert_p99_ms]
        if over:
            print(f"p99 over {args.assert_p99_ms} ms: {', '.join(over)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
