#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Load test on real parts (private dbus-daemon, private tmux server,
tests/fake-claude, the real claude-failoverd), issue 8 part 3.

N pool sessions run fake Claude; T tasks queued in P projects are released
at once; when half of them are done the primary account hits its usage limit
(every fake on it shows the limit and fires StopFailure), so the daemon
switches to the backup. Checked at the end:

- every task is in done/ and nowhere else, none in inbox/active/failed;
- fake Claude's event log shows exactly one successful run per task (a
  prompt answered with a reply) and never two runs of one task at once;
  runs cut by the limit may be requeued, but succeed once;
- exactly one SwapStarted and one SwapFinished (success), main → backup;
- D-Bus GetStatus and HTTP /status answered throughout: sampled every
  ~100 ms from a separate process, each call within 1 s, none failed;
  p50/p99/max reported (the §7 target p99 < 5 ms is asserted in the long
  mode only, where the run is long enough for the figure to be stable).

Sizes: CI default 10 sessions, 1 000 tasks, 40 projects; CF_LONG=1 (run by
scripts/run-long) 50 sessions, 10 000 tasks, 200 projects. Overridable:

    test_load.py [--sessions N] [--tasks N] [--projects N] [--work-ms MS]
                 [--json-out FILE] [--timeout S]

(or CF_LOAD_SESSIONS / CF_LOAD_TASKS / CF_LOAD_PROJECTS / CF_LOAD_WORK_MS /
CF_LOAD_JSON). Prints a one-line summary; --json-out writes it as JSON for
the bench runner (sizes, wall time, throughput, latencies, switch count,
peak daemon RSS)."""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Sandbox, require, require_programs  # noqa: E402
from signal_log import SignalLog  # noqa: E402

LONG = os.environ.get("CF_LONG") == "1"
CALL_BOUND_S = 1.0          # every GetStatus and /status must answer within this
P99_TARGET_S = 0.005        # ARCHITECTURE.md §7

# The latency sampler, run as a separate process so the test's own file
# scanning never delays (and never flatters) a sample. One GetStatus and one
# GET /status every ~100 ms, one JSON line per call; stops on SIGTERM.
_SAMPLER = r"""
import http.client, json, signal, sys, time
import dbus
address, port, out_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
bus = dbus.bus.BusConnection(address)
proxy = bus.get_object("org.claudefailover", "/org/claudefailover/Manager")
get_status = proxy.get_dbus_method("GetStatus", "org.claudefailover.Manager")
# The control: a round trip to dbus-daemon itself (same process, same bus,
# same scheduling), so a slow sample can be told from a slow daemon.
ping = bus.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus").get_dbus_method(
    "GetId", "org.freedesktop.DBus")
out = open(out_path, "a", buffering=1)
def record(kind, t0, ok, err=None):
    out.write(json.dumps({"t": time.time(), "kind": kind, "s": time.perf_counter() - t0,
                          "ok": ok, "err": err}) + "\n")
while not stop:
    tick = time.monotonic()
    t0 = time.perf_counter()
    try:
        get_status(timeout=10)
        record("dbus", t0, True)
    except Exception as e:
        record("dbus", t0, False, repr(e)[:200])
    t0 = time.perf_counter()
    try:
        ping(timeout=10)
        record("bus", t0, True)
    except Exception as e:
        record("bus", t0, False, repr(e)[:200])
    t0 = time.perf_counter()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/status")
        r = c.getresponse()
        body = r.read()
        c.close()
        ok = r.status == 200 and body.startswith(b"{")
        record("http", t0, ok, None if ok else f"status {r.status}")
    except Exception as e:
        record("http", t0, False, repr(e)[:200])
    time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
"""

TASK_RE = re.compile(r"\[(L\d+)\] ")


def env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value else default


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int,
                    default=env_int("CF_LOAD_SESSIONS", 50 if LONG else 10))
    ap.add_argument("--tasks", type=int, default=env_int("CF_LOAD_TASKS", 10000 if LONG else 1000))
    ap.add_argument("--projects", type=int,
                    default=env_int("CF_LOAD_PROJECTS", 200 if LONG else 40))
    ap.add_argument("--work-ms", type=int, default=env_int("CF_LOAD_WORK_MS", 20),
                    help="how long fake Claude works on each task")
    ap.add_argument("--json-out", default=os.environ.get("CF_LOAD_JSON"))
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds allowed for all tasks (default: from the sizes)")
    ap.add_argument("--assert-p99", action="store_true",
                    default=os.environ.get("CF_LOAD_ASSERT_P99") == "1",
                    help="fail when the GetStatus p99 during the run misses the 5 ms target "
                    "(CF_LOAD_ASSERT_P99=1); off by default: on a shared 2-core machine the "
                    "figure measures the machine's run queue as much as the daemon")
    args = ap.parse_args(argv)
    if args.sessions < 2 or args.tasks < 2 or args.projects < 1 or args.projects > args.tasks:
        ap.error("need --sessions >= 2, --tasks >= 2 and 1 <= --projects <= --tasks")
    return args


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def proc_status(pid, key):
    """A kB field of /proc/PID/status (VmHWM, VmRSS) in bytes, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def cpu_seconds(pid):
    """User + system CPU time of PID so far (seconds), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def ids_in(projects, place):
    out = []
    for project in projects:
        try:
            names = os.listdir(os.path.join(project, ".agent-queue", place))
        except FileNotFoundError:
            continue
        out.extend(n[:-3] for n in names if n.endswith(".md"))
    return out


def explain_stuck(sb, projects, stuck):
    """Everything known about tasks that did not finish, to stderr: where the
    file is, its meta file, the session the daemon says holds it, the
    daemon's log lines and fake Claude's events that name it."""
    try:
        sessions = sb.get_property("Sessions")
    except Exception as e:  # noqa: BLE001 - a diagnosis must not hide the failure
        sessions = []
        print(f"load: Sessions unreadable: {e}", file=sys.stderr)
    try:
        with open(sb.daemon_log_path, encoding="utf-8", errors="replace") as f:
            daemon_lines = f.readlines()
    except OSError:
        daemon_lines = []
    events = sb.fake_log()
    for task in stuck:
        print(f"--- stuck task {task} ---", file=sys.stderr)
        for project in projects:
            for place in ("inbox", "active", "done", "failed"):
                if os.path.exists(os.path.join(project, ".agent-queue", place, f"{task}.md")):
                    print(f"file: {project}/.agent-queue/{place}/{task}.md", file=sys.stderr)
            meta = os.path.join(project, ".agent-queue", "meta", f"{task}.json")
            if os.path.exists(meta):
                with open(meta, encoding="utf-8", errors="replace") as f:
                    print(f"meta: {f.read().strip()}", file=sys.stderr)
        for s in sessions:
            if s[4] == task:
                print(f"session: {list(s)}", file=sys.stderr)
                for line in [x for x in daemon_lines if x.find(f"{s[0]}:") >= 0][-15:]:
                    print(f"daemon ({s[0]}): {line.rstrip()}", file=sys.stderr)
        word = re.compile(rf"\b{re.escape(task)}\b")
        for line in [x for x in daemon_lines if word.search(x)][-20:]:
            print(f"daemon: {line.rstrip()}", file=sys.stderr)
        pids = {e["pid"] for e in events if word.search(json.dumps(e))}
        for e in [e for e in events if e.get("pid") in pids][-20:]:
            print(f"fake: {json.dumps(e)[:300]}", file=sys.stderr)


def runs_by_task(events):
    """Each fake process (pid) runs at most one task per prompt; returns
    {task: [(start, end, outcome, pid)]} with outcome "reply" (success),
    "limit", "interrupt", "exit" or "open" (no end seen). A task cut by the
    limit goes on in its own conversation on the next account (--resume,
    a prompt without the task's tag): a prompt without a tag belongs to
    the task its conversation (session_id) last ran."""
    by_pid = {}
    for e in sorted(events, key=lambda e: e["time"]):
        by_pid.setdefault(e["pid"], []).append(e)
    task_of_conversation = {}
    for e in sorted(events, key=lambda e: e["time"]):
        m = TASK_RE.match(e.get("text", "")) if e["event"] == "prompt" else None
        if m and e.get("session_id"):
            task_of_conversation.setdefault(e["session_id"], m.group(1))
    runs = {}
    for pid, evs in by_pid.items():
        current = None
        for e in evs:
            kind = e["event"]
            if kind == "prompt":
                if current is not None:
                    runs.setdefault(current[0], []).append((current[1], e["time"], "superseded", pid))
                m = TASK_RE.match(e.get("text", ""))
                task = m.group(1) if m else task_of_conversation.get(e.get("session_id"))
                current = (task, e["time"]) if task else None
            elif current is not None and kind in ("reply", "limit", "interrupt", "exit", "crash",
                                                   "server_error"):
                runs.setdefault(current[0], []).append((current[1], e["time"], kind, pid))
                current = None
        if current is not None:
            runs.setdefault(current[0], []).append((current[1], float("inf"), "open", pid))
    return runs


def main(argv):
    args = parse_args(argv)
    # meson's timeout (or an operator's kill) sends SIGTERM: leave through
    # the Sandbox's cleanup so no daemon, tmux server or bus is left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("load: terminated by SIGTERM"))
    require_programs("dbus-daemon", "tmux", "busctl")
    try:
        import dbus  # noqa: F401  (for the sampler and the signal log)
    except ImportError:
        require(False, "dbus-python is not installed (run with /usr/bin/python3)")
    timeout = args.timeout or max(300.0, args.tasks * 0.6)
    failures = []

    with Sandbox("load") as sb:
        sb.fake_work_ms = args.work_ms
        sb.start_bus()
        sb.start_tmux(width=120, height=30)
        port = free_port()
        main_home = os.path.join(sb.home, ".claude-main")
        backup_home = os.path.join(sb.home, ".claude-backup")
        sb.write_config({
            "pool": {"autonomous": {"min": args.sessions, "max": args.sessions}},
            "dispatcher": {"prompt_timeout": "20s", "cooldown_schedule": [0, 0, 0]},
            "watcher": {"interval": "500ms"},
            "lifecycle": {"interval": "1s"},
            # The limit is seen within one poll; one switch only: main stays
            # exhausted for an hour and no second switch within the cooldown.
            "quota": {"interval": "500ms", "pool_threshold": 2, "reactivate_cooldown": "1h",
                      "return_margin": "5m"},
            "janitor": {"interval": "60s"},
            "http": {"listen": f"127.0.0.1:{port}"},
        })
        for account in sb.config["accounts"]:
            sb.ctl("install-hooks", account["home"], "--command", sb.ctl_path, check=True)
        projects = [os.path.join(sb.projects_dir, f"p{i:03d}") for i in range(args.projects)]
        for p in projects:
            for sub in ("inbox", "active", "done", "failed"):
                os.makedirs(os.path.join(p, ".agent-queue", sub), exist_ok=True)

        signals = SignalLog(sb)
        sb.start_daemon(timeout=30)
        daemon_pid = sb.daemon.pid
        sb.wait_for(lambda: sum(1 for s in sb.get_property("Sessions")
                                if s[1] == "pool" and s[2] == "idle") >= args.sessions,
                    timeout=60 + args.sessions, interval=0.5,
                    what=f"{args.sessions} idle pool sessions")

        # Queue every task while dispatch is paused, then release them at once.
        sb.call("PauseDispatch")
        t_queue = time.monotonic()
        task_ids = [f"L{i:05d}" for i in range(args.tasks)]
        for i, tid in enumerate(task_ids):
            sb.add_task(tid, f"Load task {i}. FAKE:work={args.work_ms}", project=projects[i % len(projects)])
        queue_s = time.monotonic() - t_queue
        sb.wait_for(lambda: sb.get_property("PendingTasks") == args.tasks, timeout=60, interval=0.2,
                    what=f"PendingTasks == {args.tasks}")

        lat_path = os.path.join(sb.root, "latency.jsonl")
        sampler = sb.spawn(["/usr/bin/python3", "-c", _SAMPLER, sb.bus_address, str(port), lat_path],
                           log_path=lat_path + ".err")
        sb.wait_for(lambda: os.path.exists(lat_path) and os.path.getsize(lat_path) > 0,
                    timeout=10, what="the latency sampler")

        cpu0 = cpu_seconds(daemon_pid) or 0.0
        load0 = os.getloadavg()[0]
        # A quiet window first: the full queue, dispatch paused.
        time.sleep(3.0)
        t_resume = time.time()
        t0 = time.monotonic()
        sb.call("ResumeDispatch")
        limit_at = None
        reset = int(time.time() + 3600)
        last_progress, last_done, stall_limit = t0, 0, 120
        peak_rss = 0
        done = 0
        while True:
            done = len(ids_in(projects, "done"))
            now = time.monotonic()
            peak_rss = max(peak_rss, proc_status(daemon_pid, "VmRSS") or 0)
            if done != last_done:
                last_done, last_progress = done, now
            if limit_at is None and done >= args.tasks // 2:
                # The primary account hits its limit in the middle of the run:
                # every fake on it (working or prompted later) shows the limit
                # and fires StopFailure rate_limit.
                limit_at = now
                sb.fake_account_limit(main_home, f"Claude AI usage limit reached|{reset}")
                print(f"load: limit on 'main' at {done}/{args.tasks} done, "
                      f"{now - t0:.1f} s", flush=True)
            if done >= args.tasks:
                break
            if sb.daemon.poll() is not None:
                failures.append(f"the daemon exited with {sb.daemon.returncode}")
                break
            if now - t0 > timeout or now - last_progress > stall_limit:
                failures.append(f"only {done}/{args.tasks} tasks done after {now - t0:.0f} s "
                                f"(no progress for {now - last_progress:.0f} s)")
                break
            time.sleep(0.25)
        wall = time.monotonic() - t0
        daemon_cpu = (cpu_seconds(daemon_pid) or cpu0) - cpu0
        load1 = os.getloadavg()[0]
        # Let the last completions settle (active → done is the last move; the
        # session's /exit follows) before reading every log.
        time.sleep(1.0)
        sampler.send_signal(signal.SIGTERM)
        try:
            sampler.wait(timeout=15)
        except subprocess.TimeoutExpired:
            failures.append("the latency sampler did not stop")
        hwm = proc_status(daemon_pid, "VmHWM")

        # --- the queue: every task in done/, nowhere else ---------------------
        places = {place: ids_in(projects, place) for place in ("inbox", "active", "done", "failed")}
        done_ids = places["done"]
        missing = sorted(set(task_ids) - set(done_ids))
        if len(done_ids) != len(set(done_ids)):
            failures.append("a task id appears twice in done/")
        if missing:
            failures.append(f"{len(missing)} tasks not in done/: {missing[:10]}")
        for place in ("inbox", "active", "failed"):
            if places[place]:
                failures.append(f"{len(places[place])} tasks left in {place}/: {sorted(places[place])[:10]}")
        if missing:
            explain_stuck(sb, projects, sorted(missing)[:5])

        # --- fake Claude: one successful run per task, never two at once ------
        runs = runs_by_task(sb.fake_log())
        unknown = sorted(set(runs) - set(task_ids))
        if unknown:
            failures.append(f"fake Claude ran unknown tasks: {unknown[:10]}")
        success = {t: [r for r in rs if r[2] == "reply"] for t, rs in runs.items()}
        never = [t for t in task_ids if not success.get(t)]
        twice = {t: len(s) for t, s in success.items() if len(s) > 1}
        if never:
            failures.append(f"{len(never)} tasks never answered by fake Claude: {never[:10]}")
        if twice:
            failures.append(f"{len(twice)} tasks answered more than once: {dict(list(twice.items())[:10])}")
        overlaps = []
        for t, rs in runs.items():
            rs = sorted(rs)
            for a, b in zip(rs, rs[1:]):
                if b[0] < a[1]:
                    overlaps.append((t, a, b))
        if overlaps:
            failures.append(f"{len(overlaps)} tasks ran in two sessions at once: {overlaps[:3]}")
        interrupted = sum(1 for rs in runs.values() for r in rs if r[2] != "reply")
        reruns = sum(1 for rs in runs.values() if len(rs) > 1)

        # --- the switch: exactly once, main → backup ---------------------------
        started = signals.events("SwapStarted")
        finished = signals.events("SwapFinished")
        requeued = signals.count("TaskFinished", lambda a: a[3] == "requeued")
        if [e["args"][:2] for e in started] != [["main", "backup"]]:
            failures.append(f"expected one SwapStarted main → backup, got "
                            f"{[e['args'] for e in started]}")
        if [e["args"][:3] for e in finished] != [["main", "backup", True]]:
            failures.append(f"expected one successful SwapFinished, got "
                            f"{[e['args'] for e in finished]}")
        if limit_at is None:
            failures.append("the limit was never set")
        dispatched = {}
        for e in signals.events("TaskDispatched"):
            dispatched[e["args"][4]] = dispatched.get(e["args"][4], 0) + 1
        # In the middle: work ran on both accounts, the backup's after the switch.
        if not dispatched.get("main") or not dispatched.get("backup"):
            failures.append(f"dispatches per account {dispatched}: the switch was not mid-run")
        link = os.readlink(sb.config["claude_link"])
        if link != backup_home:
            failures.append(f"~/.claude points to {link}, not the backup")

        # --- D-Bus and HTTP answered throughout ---------------------------------
        samples = []
        with open(lat_path, encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n"):
                    samples.append(json.loads(line))
        lat = {}
        for kind in ("dbus", "http", "bus"):
            idle = [s["s"] for s in samples if s["kind"] == kind and s["ok"] and s["t"] < t_resume]
            ks = [s for s in samples if s["kind"] == kind and s["t"] >= t_resume]
            bad = [s for s in ks if not s["ok"]]
            slow = [s for s in ks if s["ok"] and s["s"] > CALL_BOUND_S]
            values = [s["s"] for s in ks if s["ok"]]
            lat[kind] = {"calls": len(ks), "failed": len(bad),
                         "p50_ms": round(pct(values, 50) * 1000, 3),
                         "p99_ms": round(pct(values, 99) * 1000, 3),
                         "max_ms": round(max(values) * 1000, 3) if values else None,
                         "paused_p50_ms": round(pct(idle, 50) * 1000, 3),
                         "paused_max_ms": round(max(idle) * 1000, 3) if idle else None}
            if bad:
                failures.append(f"{len(bad)} {kind} status calls failed: {bad[:3]}")
            if slow:
                failures.append(f"{len(slow)} {kind} status calls took over {CALL_BOUND_S} s: "
                                f"max {max(s['s'] for s in slow):.2f} s")
            # At least one sample per second of the run: the sampler never stalled.
            if len(ks) < wall * 0.9:
                failures.append(f"only {len(ks)} {kind} samples in {wall:.0f} s")
        if args.assert_p99 and lat["dbus"]["calls"] and lat["dbus"]["p99_ms"] >= P99_TARGET_S * 1000:
            failures.append(f"GetStatus p99 {lat['dbus']['p99_ms']} ms >= {P99_TARGET_S * 1000:.0f} ms")

        summary = {
            "test": "load",
            "long": LONG,
            "sessions": args.sessions, "tasks": args.tasks, "projects": args.projects,
            "work_ms": args.work_ms,
            "queue_s": round(queue_s, 2),
            "wall_s": round(wall, 2),
            "tasks_per_s": round(done / wall, 2) if wall > 0 else None,
            "limit_at_s": round(limit_at - t0, 2) if limit_at else None,
            "swap_started": len(started), "swap_finished": len(finished),
            "swap_s": round(finished[0]["t"] - started[0]["t"], 3) if started and finished else None,
            "requeued": requeued, "dispatched_by_account": dispatched, "interrupted_runs": interrupted, "tasks_rerun": reruns,
            "getstatus": lat["dbus"], "http_status": lat["http"], "bus_getid": lat["bus"],
            "daemon_peak_rss_kib": (hwm or peak_rss) // 1024,
            # The daemon's share of the run: CPU seconds it used while the
            # tasks ran, and the machine's load average before and after.
            "daemon_cpu_s": round(daemon_cpu, 2),
            "daemon_cpu_pct": round(100 * daemon_cpu / wall, 1) if wall > 0 else None,
            "loadavg_start_end": [round(load0, 2), round(load1, 2)],
            "failures": failures,
        }
        print(f"load: {args.tasks} tasks / {args.projects} projects / {args.sessions} sessions "
              f"in {wall:.1f} s ({summary['tasks_per_s']} tasks/s), switches {len(started)}, "
              f"requeued {requeued}, GetStatus p50/p99/max "
              f"{lat['dbus']['p50_ms']}/{lat['dbus']['p99_ms']}/{lat['dbus']['max_ms']} ms, "
              f"/status p50/p99/max {lat['http']['p50_ms']}/{lat['http']['p99_ms']}/"
              f"{lat['http']['max_ms']} ms (bus GetId control {lat['bus']['p50_ms']}/{lat['bus']['p99_ms']}/"
              f"{lat['bus']['max_ms']} ms), peak RSS {summary['daemon_peak_rss_kib']} KiB, "
              f"daemon CPU {summary['daemon_cpu_pct']} % of one core",
              flush=True)
        print("load-json: " + json.dumps(summary), flush=True)
        if args.json_out:
            with open(args.json_out, "w", encoding="utf-8") as f:
                json.dump(summary, f, indent=2)
                f.write("\n")
        if failures:
            for line in failures:
                print(f"FAIL: {line}", file=sys.stderr, flush=True)
            sb.dump_logs(60)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
