#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Status read latency on the real daemon (private bus, private tmux, fake
Claude), with N pool sessions: D-Bus GetStatus and, over HTTP, /status,
/metrics and /health, each called back to back on one connection.

    bench/bench-status.py [--sessions N] [--calls N] [--rounds N]
                          [--compare-build DIR] [--assert-p99-ms MS]

--compare-build DIR also measures GetStatus with DIR's claude-failoverd (for
instance a build of another branch), alternating with this build round by
round in the same run, and prints the ratio of the medians. Exits 1 when
--assert-p99-ms is given and a p99 is above it. Prints a Markdown table."""

import argparse
import http.client
import os
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import Sandbox  # noqa: E402

import dbus  # noqa: E402  (Debian's /usr/bin/python3)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main_thread_cpu_ns(pid):
    """CPU time of PID's main thread, ns (/proc/PID/schedstat)."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def measure_round(daemon_path, sessions, calls, with_http):
    """{"GetStatus": [seconds…], "/status": […], …} for one fresh daemon."""
    with Sandbox("benchst") as sb:
        sb.daemon_path = daemon_path
        sb.start_bus()
        sb.start_tmux()
        port = free_port()
        sb.write_config({"pool": {"autonomous": {"min": sessions, "max": sessions}},
                         "janitor": {"interval": "60s"},
                         "http": {"listen": f"127.0.0.1:{port}" if with_http else ""}})
        sb.start_daemon()
        sb.wait_for(lambda: sum(1 for s in sb.get_property("Sessions") if s[2] == "idle")
                    >= sessions, timeout=120, what=f"{sessions} idle sessions")
        results = {}
        bus = dbus.bus.BusConnection(sb.bus_address)
        method = bus.get_object("org.claudefailover", "/org/claudefailover/Manager") \
                    .get_dbus_method("GetStatus", "org.claudefailover.Manager")
        reply = method()
        assert len(reply["Sessions"]) >= sessions
        samples = []
        cpu0 = main_thread_cpu_ns(sb.daemon.pid)
        for _ in range(calls):
            t0 = time.perf_counter()
            method()
            samples.append(time.perf_counter() - t0)
        results["GetStatus"] = samples
        # The daemon's own cost per call (nothing else happens meanwhile:
        # every session idle, no client but this one).
        results["GetStatus cpu"] = [(main_thread_cpu_ns(sb.daemon.pid) - cpu0) / calls / 1000]
        bus.close()
        if with_http:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            for path in ("/status", "/metrics", "/health"):
                samples = []
                for _ in range(calls):
                    t0 = time.perf_counter()
                    conn.request("GET", path)
                    r = conn.getresponse()
                    r.read()
                    samples.append(time.perf_counter() - t0)
                    assert r.status == 200, (path, r.status)
                results[path] = samples
            conn.close()
        return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--compare-build", default=None)
    ap.add_argument("--assert-p99-ms", type=float, default=None)
    args = ap.parse_args()

    build = os.environ.get("CF_BUILD_DIR") or os.path.join(HERE, "..", "build")
    ours = os.path.join(build, "src", "daemon", "claude-failoverd")
    theirs = (os.path.join(args.compare_build, "src", "daemon", "claude-failoverd")
              if args.compare_build else None)

    totals, other, other_cpu = {}, [], []
    for _ in range(args.rounds):
        for key, values in measure_round(ours, args.sessions, args.calls, True).items():
            totals.setdefault(key, []).extend(values)
        if theirs:
            r = measure_round(theirs, args.sessions, args.calls, False)
            other.extend(r["GetStatus"])
            other_cpu.extend(r["GetStatus cpu"])
    cpu = totals.pop("GetStatus cpu")

    print(f"bench-status: {args.sessions} pool sessions, {args.calls} calls per endpoint "
          f"per round, {args.rounds} rounds, one connection each")
    print()
    print("| read | calls | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    failed = False
    for key, values in totals.items():
        p99 = pct(values, 99) * 1000
        print(f"| {key} | {len(values)} | {pct(values, 50) * 1000:.3f} | {p99:.3f} | "
              f"{max(values) * 1000:.3f} |")
        if args.assert_p99_ms is not None and p99 > args.assert_p99_ms:
            failed = True
    if other:
        print(f"| GetStatus, {args.compare_build} | {len(other)} | {pct(other, 50) * 1000:.3f} | "
              f"{pct(other, 99) * 1000:.3f} | {max(other) * 1000:.3f} |")
        print()
        print(f"GetStatus median, this build / {args.compare_build}: "
              f"{statistics.median(totals['GetStatus']) / statistics.median(other):.2f}")
        print(f"daemon main-thread CPU per GetStatus (median of rounds): this build "
              f"{statistics.median(cpu):.1f} µs, {args.compare_build} "
              f"{statistics.median(other_cpu):.1f} µs, ratio "
              f"{statistics.median(cpu) / statistics.median(other_cpu):.2f}")
    print()
    print(f"daemon main-thread CPU per GetStatus call: {statistics.median(cpu):.1f} µs "
          f"(median of {len(cpu)} rounds)")
    if failed:
        print(f"FAIL: a p99 is above {args.assert_p99_ms} ms", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
