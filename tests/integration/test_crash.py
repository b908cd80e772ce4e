#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""kill -9 of claude-failoverd at random moments of a 50-task run, restarted
each time: no task lost or duplicated on disk, none run by two Claude
processes at once, attempt counts never going down, all done at the end.

CF_CRASH_KILLS (default 20) sets how many kills."""

import json
import os
import random
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Sandbox, require_programs, task_places  # noqa: E402

def attempts_of(project, ids):
    out = {}
    for tid in ids:
        try:
            with open(os.path.join(project, ".agent-queue", "meta", f"{tid}.json")) as f:
                out[tid] = json.load(f).get("attempts", 0)
        except (FileNotFoundError, ValueError):
            out[tid] = 0
    return out


def overlapping_runs(events):
    """Pairs of Claude processes that worked on the same task at the same
    time. A process works on a task from its prompt until its reply, exit,
    crash or the end of the log (a killed pane)."""
    by_pid = {}
    by_conversation = {}
    for e in events:
        by_pid.setdefault(e["pid"], []).append(e)
    # A resumed conversation's prompt ("Your session was moved to another
    # account …") goes on with the task first prompted in that conversation.
    for e in sorted(events, key=lambda e: e["time"]):
        if e["event"] == "prompt" and e["text"].startswith("["):
            by_conversation[e.get("session_id")] = e["text"].split("]")[0][1:]
    runs = {}
    end_of_log = max((e["time"] for e in events), default=0)
    for pid, evs in by_pid.items():
        start = task = None
        for e in evs:
            if e["event"] == "prompt":
                start = e["time"]
                task = (e["text"].split("]")[0][1:] if e["text"].startswith("[")
                        else by_conversation.get(e.get("session_id"), e["text"][:40]))
            elif e["event"] in ("reply", "exit", "crash", "limit", "server_error") and task:
                runs.setdefault(task, []).append((start, e["time"], pid))
                task = None
        if task:
            runs.setdefault(task, []).append((start, end_of_log, pid))
    bad = []
    for task, spans in runs.items():
        spans.sort()
        for (s1, e1, p1), (s2, e2, p2) in zip(spans, spans[1:]):
            if s2 < e1 - 0.05 and p1 != p2:
                bad.append((task, p1, p2))
    return bad


class CrashTest(unittest.TestCase):
    def test_kill9_during_a_50_task_run(self):
        require_programs("dbus-daemon", "tmux")
        kills = int(os.environ.get("CF_CRASH_KILLS", "20"))
        rng = random.Random(int(os.environ.get("CF_CRASH_SEED", "4242")))
        with Sandbox("crash") as sb:
            try:
                sb.start_bus()
                sb.start_tmux()
                sb.fake_work_ms = 300
                sb.write_config({"pool": {"autonomous": {"min": 4, "max": 4}},
                                 "dispatcher": {"max_dispatch_per_task": 100,
                                                "cooldown_schedule": [0]},
                                 "watcher": {"interval": "100ms"},
                                 "janitor": {"interval": "500ms"}})
                ids = [f"c{i:02d}" for i in range(50)]
                for tid in ids:
                    sb.add_task(tid, f"crash test {tid} FAKE:work={rng.randint(100, 600)}")
                seen_attempts = {tid: 0 for tid in ids}

                def check(when):
                    where = task_places(sb.project_dir, ids)
                    for tid, places in where.items():
                        self.assertEqual(len(places), 1, f"{when}: {tid} in {places}")
                    attempts = attempts_of(sb.project_dir, ids)
                    for tid in ids:
                        self.assertGreaterEqual(attempts[tid], seen_attempts[tid],
                                                f"{when}: attempts of {tid} went down")
                        seen_attempts[tid] = attempts[tid]
                    with open(sb.config["state_file"]) as f:
                        json.load(f)
                    return where

                for k in range(kills):
                    sb.start_daemon()
                    time.sleep(rng.uniform(0.2, 1.5))
                    sb.daemon.send_signal(signal.SIGKILL)
                    sb.daemon.wait(timeout=10)
                    check(f"after kill {k + 1}")
                sb.start_daemon()
                sb.wait_for(lambda: all(p == ["done"] for p in check("final").values()),
                            timeout=180, interval=0.5,
                            what="all 50 tasks in done/ after the kills")
                self.assertEqual(sb.stop_daemon(), 0)
                check("end")
                self.assertEqual(overlapping_runs(sb.fake_log()), [])
                prompts = {e["text"].split("]")[0][1:] for e in sb.fake_events("prompt")}
                self.assertEqual(prompts, set(ids))
                print(f"{kills} kills; attempts per task: max {max(seen_attempts.values())}, "
                      f"total {sum(seen_attempts.values())}", file=sys.stderr)
            except BaseException:
                sb.dump_logs(60)
                raise


if __name__ == "__main__":
    unittest.main(verbosity=2)
