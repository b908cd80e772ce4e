#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Footprint and growth with the number of sessions, on the real daemon
(private bus, private tmux, fake Claude). For each size N (--sizes), in a
fresh sandbox with N idle pool sessions, quota.interval and watcher.interval
at 1 s (every pane polled every second), HTTP on:

1. memory: VmRSS, VmHWM, RssAnon of the daemon (/proc/PID/status), PSS;
2. idle CPU: every session working on a long task (the daemon polls working
   sessions, not idle ones: quota and watcher, each every second), nothing
   else happening: the daemon's CPU time over --idle-s seconds, as a
   percentage of one core and per session poll; the tmux server's too;
3. GetStatus p50/p99 at rest (--calls back-to-back calls, one connection);
4. inbox file → Claude started in a session, p50 (--keystrokes tasks, one at a time);
5. storm: --storm-tasks tasks released at once (dispatch storm) and, 0.5 s
   later, every session on the active account hits the usage limit (swap);
   GetStatus called back to back throughout, from the release to
   SwapFinished + 0.5 s: p50/p99/max; meanwhile how long the daemon's main
   thread (the one that answers D-Bus) ran and how long it waited for a CPU
   while runnable (/proc/PID/schedstat); then VmHWM again.

--nice-sessions N sets the daemon's own tmux.nice to N and lets the daemon
start the tmux server (with the harness's server options, from the sandbox
home's .tmux.conf), so that server and every fake Claude session and hook
in it run N steps below the daemon, as in production: the daemon then gets
a CPU first, which separates its own latency from the wait for a CPU that
50 busy sessions on 2 cores impose.

    bench/bench-scale.py [--sizes 5,10,25,50] [--idle-s S] [--calls N]
                         [--keystrokes N] [--storm-tasks N] [--nice-sessions N]
                         [--assert] [--assert-footprint]
                         [--json-out FILE]

--assert: every size must meet the ARCHITECTURE.md §7 latency budgets:
GetStatus p99 < 5 ms during the storm, first keystroke p50 < 100 ms. A storm
p99 over 5 ms fails unless the daemon's main thread was starved of a CPU
(it waited at least half as long as it ran): on 2 cores, N busy sessions
decide that wait, not the daemon. The daemon's own share is asserted in
every case: no main-loop iteration in the storm may use 5 ms of CPU;
--assert-footprint: idle CPU < 1 %, and with --assert-rss VmRSS < 10 MiB
(not under sanitizers, which inflate both; VmRSS is over its budget today,
see docs/benchmarks.md, so the CI test does not assert it). The CI test of a
sanitizer build passes neither flag: it runs the load for the sanitizers and
prints the numbers. Exits 1 when an asserted budget is missed.
Prints a Markdown table."""

import argparse
import glob
import json
import os
import socket
import statistics
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import Sandbox, _atomic_write, build_dir  # noqa: E402
from signal_log import SignalLog  # noqa: E402

import dbus  # noqa: E402  (Debian's /usr/bin/python3)

STAMP = os.path.join(build_dir(), "bench", "bench-stamp-first-output")
GETSTATUS = os.path.join(build_dir(), "bench", "bench-getstatus")
TICK = os.sysconf("SC_CLK_TCK")
BUDGET_RSS_KIB = 10 * 1024
BUDGET_CPU_PCT = 1.0
BUDGET_STATUS_P99_MS = 5.0
BUDGET_KEYSTROKE_MS = 100.0


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0])   # kB
    return out


def pss_kib(pid):
    """Proportional set size: shared library pages divided among their users."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return None


def main_thread_sched_ns(pid):
    """(ran, waited runnable) in ns for PID's main thread: /proc/PID/schedstat."""
    with open(f"/proc/{pid}/schedstat") as f:
        fields = f.read().split()
    return int(fields[0]), int(fields[1])


def cpu_ns(pid):
    """CPU time of the live threads of PID in ns (/proc/PID/task/*/schedstat):
    finer than the 10 ms ticks of /proc/PID/stat."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])        # utime + stime


def sessions_in(sb, state):
    return [s[0] for s in sb.get_property("Sessions") if s[1] == "pool" and s[2] == state]


def read_calls(path):
    """[(epoch seconds, latency ms)] written by bench-getstatus."""
    with open(path) as f:
        return [(float(t), int(us) / 1000) for t, us in (line.split() for line in f)]


def loop_histogram(sb):
    """The daemon's main-loop iteration histogram from /metrics (cf-loop-watch):
    {"buckets": {le seconds: cumulative count}, "sum": s, "count": n, "max": s}."""
    with urllib.request.urlopen(f"http://{sb.config['http']['listen']}/metrics", timeout=10) as f:
        text = f.read().decode()
    prefix = "claude_failover_main_loop_iteration_"
    h = {"buckets": {}}
    for line in text.splitlines():
        if not line.startswith(prefix):
            continue
        name, value = line[len(prefix):].rsplit(" ", 1)
        if name.startswith('cpu_seconds_bucket{le="'):
            h["buckets"][float(name.split('"')[1])] = int(value)
        elif name == "cpu_seconds_sum":
            h["sum"] = float(value)
        elif name == "cpu_seconds_count":
            h["count"] = int(value)
        elif name == "max_cpu_seconds":
            h["max"] = float(value)
    return h


def loop_window(h0, h1):
    """What the main loop did between two loop_histogram() readings."""
    count = h1["count"] - h0["count"]
    delta = {le: h1["buckets"][le] - h0["buckets"].get(le, 0) for le in sorted(h1["buckets"])}
    longest = next(le for le, n in delta.items() if n == count)
    return {
        "storm_loop_iterations": count,
        "storm_loop_cpu_ms": (h1["sum"] - h0["sum"]) * 1000,
        "storm_loop_over_1ms": count - delta[0.001],
        "storm_loop_over_5ms": count - delta[0.005],
        # Upper bound of the window's longest iteration (its bucket's bound).
        "storm_loop_longest_le_ms": longest * 1000,
        "loop_max_cpu_ms_since_start": h1["max"] * 1000,
    }


class StatusHammer:
    """bench-getstatus calling GetStatus back to back on its own connection
    until stopped; samples = [(t, latency ms)]."""

    def __init__(self, sb):
        self.sb = sb
        self.out = os.path.join(sb.root, f"getstatus-{time.monotonic_ns()}.txt")
        self.stop_file = self.out + ".stop"
        self.proc = sb.spawn([GETSTATUS, sb.bus_address, self.out, "--stop-file", self.stop_file])
        self.samples = []

    def finish(self):
        _atomic_write(self.stop_file, "")
        if self.proc.wait(timeout=30) != 0:
            raise AssertionError(f"bench-getstatus exited {self.proc.returncode}")
        self.samples = read_calls(self.out)


def first_keystrokes(sb, n, size):
    """Inbox file → Claude started in a session, ms: the daemon's first act on the task
    (it respawns the session's pane with Claude itself; nothing is typed before Claude
    runs), read from the start time fake-claude logs."""
    inbox = os.path.join(sb.project_dir, ".agent-queue", "inbox")
    samples = []
    for i in range(n):
        sb.wait_for(lambda: len(sessions_in(sb, "idle")) == size, timeout=60,
                    what="every session idle")
        started = len(sb.fake_events("start"))
        time.sleep(0.3)
        tmp = os.path.join(inbox, f".ks{i}.tmp")
        with open(tmp, "w") as f:
            f.write("---\npriority: default\n---\nFAKE:work=50\n")
        t0 = time.time()
        os.rename(tmp, os.path.join(inbox, f"ks{i}.md"))
        first = sb.wait_for(lambda: sb.fake_events("start")[started:], timeout=10,
                            interval=0.005, what="Claude started")
        samples.append((first[0]["time"] - t0) * 1000)
        done = os.path.join(sb.project_dir, ".agent-queue", "done", f"ks{i}.md")
        sb.wait_for(lambda: os.path.exists(done), timeout=30, what=f"ks{i} done")
    return samples


def storm(sb, log, tasks):
    sb.call("PauseDispatch")
    for i in range(tasks):
        sb.add_task(f"storm{i:04d}", "FAKE:work=50")
    hammer = StatusHammer(sb)
    time.sleep(0.5)
    loop0 = loop_histogram(sb)
    ran0, waited0 = main_thread_sched_ns(sb.daemon.pid)
    t_release = time.time()
    sb.call("ResumeDispatch")
    time.sleep(0.5)
    sb.fake_account_limit(os.path.join(sb.home, ".claude-main"),
                          f"Claude AI usage limit reached|{int(time.time() + 3600)}")
    started = log.wait("SwapStarted", timeout=60)
    finished = log.wait("SwapFinished", timeout=60)
    end = max(finished["t"] + 0.5, t_release + 5)
    while time.time() < end:
        time.sleep(0.05)
    ran1, waited1 = main_thread_sched_ns(sb.daemon.pid)
    loop1 = loop_histogram(sb)
    hammer.finish()
    done_dir = os.path.join(sb.project_dir, ".agent-queue", "done")
    window = [lat for (t, lat) in hammer.samples if t_release <= t <= end]
    in_swap = [lat for (t, lat) in hammer.samples
               if started["t"] - 0.1 <= t <= finished["t"] + 0.1]
    dispatched = len({e["text"].split("]")[0][1:] for e in sb.fake_events("prompt")
                      if e.get("time", 0) >= t_release})
    return {
        **loop_window(loop0, loop1),
        "storm_tasks": tasks,
        "storm_window_s": end - t_release,
        "storm_dispatched": dispatched,
        "storm_done": len(glob.glob(os.path.join(done_dir, "storm*.md"))),
        "storm_status_calls": len(window),
        "storm_status_p50_ms": pct(window, 50),
        "storm_status_p99_ms": pct(window, 99),
        "storm_status_max_ms": max(window),
        "storm_main_ran_ms": (ran1 - ran0) / 1e6,
        "storm_main_waited_ms": (waited1 - waited0) / 1e6,
        "swap_status_calls": len(in_swap),
        "swap_status_p99_ms": pct(in_swap, 99) if in_swap else None,
        "release_to_swap_started_ms": (started["t"] - t_release) * 1000,
        "swap_duration_ms": (finished["t"] - started["t"]) * 1000,
    }


def measure(size, args):
    with Sandbox("benchsc") as sb:
        sb.start_bus()
        if args.nice_sessions:
            # The daemon starts the server (tmux.nice applies only then), with
            # the options the harness would have set.
            with open(os.path.join(sb.home, ".tmux.conf"), "w") as f:
                f.write("set-option -g exit-empty off\n"
                        "set-option -g default-size 160x50\n"
                        "set-option -g history-limit 5000\n"
                        "set-option -g remain-on-exit off\n")
            sb._tmux_started = True     # killed with the sandbox
        else:
            sb.start_tmux()
        sb.fake_work_ms = 50
        sb.write_config({"pool": {"autonomous": {"min": size, "max": size}},
                         "quota": {"interval": "1s", "pool_threshold": 1,
                                   "reactivate_cooldown": "1s"},
                         "watcher": {"interval": "1s"},
                         "lifecycle": {"interval": "15s"},
                         "janitor": {"interval": "5m"},
                         "http": {"listen": f"127.0.0.1:{free_port()}"},
                         "tmux": {"nice": args.nice_sessions}})
        log = SignalLog(sb)
        sb.start_daemon()
        pid = sb.daemon.pid
        sb.wait_for(lambda: len(sessions_in(sb, "idle")) == size, timeout=60 + 4 * size,
                    interval=0.5, what=f"{size} idle sessions")
        tmux_pid = int(sb.tmux("display-message", "-p", "#{pid}").stdout.strip())
        r = {"sessions": size, "nice_sessions": args.nice_sessions,
             "tmux_server_nice": os.getpriority(os.PRIO_PROCESS, tmux_pid)
                                 - os.getpriority(os.PRIO_PROCESS, pid)}
        expected = min(19, os.getpriority(os.PRIO_PROCESS, pid) + args.nice_sessions) \
            - os.getpriority(os.PRIO_PROCESS, pid)
        if args.nice_sessions and r["tmux_server_nice"] != expected:
            raise SystemExit(f"bench-scale: the tmux server runs {r['tmux_server_nice']} steps "
                             f"below the daemon, not {expected} (tmux.nice {args.nice_sessions})")

        # Polled: the daemon captures a pool session while it works (quota
        # and watcher, each every second), not while it is idle. So every
        # session gets a long task, and the daemon is measured while nothing
        # but those polls happens. No client calls meanwhile.
        sb.call("PauseDispatch")
        for i in range(size):
            sb.add_task(f"long{i:03d}", "FAKE:work=3600000 long work")
        sb.call("ResumeDispatch")
        sb.wait_for(lambda: len(sessions_in(sb, "working")) == size, timeout=60 + 4 * size,
                    interval=0.5, what=f"{size} working sessions")
        time.sleep(3)   # past the dispatch work
        d0, t0, w0 = cpu_ticks(pid), cpu_ticks(tmux_pid), time.monotonic()
        n0, m0 = cpu_ns(pid), cpu_ns(tmux_pid)
        time.sleep(args.idle_s)
        d1, t1, w1 = cpu_ticks(pid), cpu_ticks(tmux_pid), time.monotonic()
        n1, m1 = cpu_ns(pid), cpu_ns(tmux_pid)
        polled = len(sessions_in(sb, "working"))
        wall = w1 - w0
        # The larger of the two clocks: ticks count threads that exited,
        # schedstat has the resolution.
        daemon_s = max((d1 - d0) / TICK, (n1 - n0) / 1e9)
        r["idle_s"] = wall
        r["polled_sessions"] = polled
        r["idle_cpu_ticks"] = d1 - d0
        r["idle_cpu_pct"] = daemon_s / wall * 100
        r["tmux_idle_cpu_pct"] = max((t1 - t0) / TICK, (m1 - m0) / 1e9) / wall * 100
        # Two captures per working session and second: quota and watcher.
        r["cpu_us_per_session_poll"] = daemon_s / (wall * size * 2) * 1e6
        status = proc_status(pid)
        r.update(rss_kib=status["VmRSS"], hwm_kib=status["VmHWM"],
                 rss_anon_kib=status.get("RssAnon"), rss_file_kib=status.get("RssFile"),
                 pss_kib=pss_kib(pid))
        if polled != size:
            raise AssertionError(f"only {polled} of {size} sessions still working after the "
                                 "idle measurement")
        # Back to idle sessions for what follows.
        for name in sessions_in(sb, "working"):
            sb.fake_control(name, "done")
        sb.wait_for(lambda: len(sessions_in(sb, "idle")) == size, timeout=60 + 2 * size,
                    interval=0.5, what=f"{size} idle sessions again")

        bus = dbus.bus.BusConnection(sb.bus_address)
        method = bus.get_object("org.claudefailover", "/org/claudefailover/Manager") \
                    .get_dbus_method("GetStatus", "org.claudefailover.Manager")
        assert len(method()["Sessions"]) >= size
        bus.close()
        out = os.path.join(sb.root, "getstatus-rest.txt")
        sb.run([GETSTATUS, sb.bus_address, out, "--calls", str(args.calls)], check=True)
        calls = [lat for (_, lat) in read_calls(out)]
        r.update(status_calls=len(calls), status_p50_ms=pct(calls, 50),
                 status_p99_ms=pct(calls, 99))

        keys = first_keystrokes(sb, args.keystrokes, size)
        r.update(keystrokes=len(keys), keystroke_p50_ms=statistics.median(keys),
                 keystroke_max_ms=max(keys))

        if args.storm_tasks > 0:
            r.update(storm(sb, log, args.storm_tasks))
        r["hwm_after_kib"] = proc_status(pid)["VmHWM"]
        return r


def storm_verdict(r, assert_loop=True):
    """(failure, note) for the storm's GetStatus p99; either may be None.
    Without ASSERT_LOOP a main-loop iteration over 5 ms of CPU is a note."""
    n, p99 = r["sessions"], r.get("storm_status_p99_ms")
    if p99 is None:
        return None, None
    loop = None
    if r.get("storm_loop_over_5ms", 0) > 0:
        loop = (f"{n} sessions: {r['storm_loop_over_5ms']} main-loop iterations used over "
                f"5 ms of CPU during the storm (the longest at most "
                f"{r['storm_loop_longest_le_ms']:g} ms)")
        if assert_loop:
            return loop, None
    if p99 < BUDGET_STATUS_P99_MS:
        return None, (loop + " (reported, not asserted: --no-assert-loop)") if loop else None
    if loop:
        return (f"{n} sessions: GetStatus p99 {p99:.2f} ms during the storm >= 5 ms; " + loop), None
    ran, waited = r.get("storm_main_ran_ms", 0), r.get("storm_main_waited_ms", 0)
    if waited * 2 >= ran:
        return None, (f"{n} sessions: GetStatus p99 {p99:.2f} ms during the storm, with the "
                      f"main thread starved (waited {waited:.0f} ms for a CPU, ran {ran:.0f} "
                      f"ms) and no iteration over 5 ms of CPU: the wait is the machine's")
    return (f"{n} sessions: GetStatus p99 {p99:.2f} ms during the storm >= 5 ms (main "
            f"thread waited {waited:.0f} ms for a CPU, ran {ran:.0f} ms)"), None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="5,10,25,50")
    ap.add_argument("--idle-s", type=float, default=60)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--keystrokes", type=int, default=10)
    ap.add_argument("--storm-tasks", type=int, default=200)
    ap.add_argument("--nice-sessions", type=int, default=0)
    ap.add_argument("--assert", dest="check", action="store_true")
    ap.add_argument("--assert-footprint", action="store_true")
    ap.add_argument("--assert-rss", action="store_true")
    # The storm's GetStatus p99 alone is judged; a main-loop iteration over
    # 5 ms of CPU is printed (bench-scale-storm50: one such iteration in
    # some 24 000 at 50 sessions, while the p99 stays under budget).
    ap.add_argument("--no-assert-loop", action="store_true")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    for program in (STAMP, GETSTATUS):
        if not os.access(program, os.X_OK):
            print(f"bench-scale: {program} is not built", file=sys.stderr)
            return 1
    sizes = [int(x) for x in args.sizes.split(",")]

    def latency_misses(r):
        return (r.get("storm_status_p99_ms", 0) >= BUDGET_STATUS_P99_MS
                or r["keystroke_p50_ms"] >= BUDGET_KEYSTROKE_MS)

    results = []
    for size in sizes:
        r = measure(size, args)
        if latency_misses(r):
            # One noisy run (another process on a 2-core machine) is not a
            # verdict: measure this size again and judge the second run.
            print(f"bench-scale: {size} sessions over a latency budget (GetStatus p99 "
                  f"{r.get('storm_status_p99_ms', 0):.2f} ms in the storm, first keystroke p50 "
                  f"{r['keystroke_p50_ms']:.1f} ms): measuring again", flush=True)
            first = r
            r = measure(size, args)
            r["first_attempt"] = first
        results.append(r)
        print(f"bench-scale: {size} sessions measured", flush=True)

    print()
    print("| sessions | VmRSS KiB | VmHWM KiB (after storm) | idle CPU % | tmux idle CPU % | "
          "CPU µs/session poll | GetStatus p99 idle ms | GetStatus p99 storm+swap ms | "
          "storm: main thread ran / waited for a CPU ms | storm: loop iterations, > 1 ms / > 5 ms "
          "CPU, longest ≤ ms | first keystroke p50 ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['sessions']} | {r['rss_kib']} | {r['hwm_after_kib']} | "
              f"{r['idle_cpu_pct']:.2f} | {r['tmux_idle_cpu_pct']:.2f} | "
              f"{r['cpu_us_per_session_poll']:.0f} | {r['status_p99_ms']:.2f} | "
              f"{r.get('storm_status_p99_ms', float('nan')):.2f} | "
              f"{r.get('storm_main_ran_ms', float('nan')):.0f} / "
              f"{r.get('storm_main_waited_ms', float('nan')):.0f} | "
              f"{r.get('storm_loop_iterations', '-')}, {r.get('storm_loop_over_1ms', '-')} / "
              f"{r.get('storm_loop_over_5ms', '-')}, {r.get('storm_loop_longest_le_ms', float('nan')):g} | "
              f"{r['keystroke_p50_ms']:.1f} |")

    failures, footprint, failures_rss, starved = [], [], [], []
    for r in results:
        n = r["sessions"]
        if r["rss_kib"] >= BUDGET_RSS_KIB:
            (footprint if args.assert_rss else failures_rss).append(
                f"{n} sessions: VmRSS {r['rss_kib']} KiB >= {BUDGET_RSS_KIB} KiB")
        if r["idle_cpu_pct"] >= BUDGET_CPU_PCT:
            footprint.append(f"{n} sessions: idle CPU {r['idle_cpu_pct']:.2f} % >= 1 %")
        failure, note = storm_verdict(r, assert_loop=not args.no_assert_loop)
        if failure is not None:
            failures.append(failure)
        if note is not None:
            starved.append(note)
        if r["keystroke_p50_ms"] >= BUDGET_KEYSTROKE_MS:
            failures.append(f"{n} sessions: first keystroke p50 {r['keystroke_p50_ms']:.1f} ms "
                            f">= 100 ms")
    for f in failures:
        print(("FAIL: " if args.check else "over budget: ") + f)
    for f in footprint:
        print(("FAIL: " if args.assert_footprint else "over budget: ") + f)
    for f in failures_rss:
        print("over budget (not asserted without --assert-rss): " + f)
    for f in starved:
        print(("over budget: " if "--no-assert-loop" in f else "over budget (not the daemon's): ") + f)
    if not failures and not footprint and not failures_rss and not starved:
        print("PASS: every budget met at every size")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"sizes": results,
                       "failures": failures + footprint + failures_rss + starved}, f,
                      indent=1)
    return 1 if (failures and args.check) or (footprint and args.assert_footprint) else 0


if __name__ == "__main__":
    sys.exit(main())
