#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Local users against the queue and the configuration (issue 18, breaks 2,
3, 8 and 9), with real tmux, fake-claude and a private dbus-daemon.

- The configuration replaced by a FIFO: SIGHUP and Reload refuse it with a
  clear error, the main loop keeps answering, the old configuration stays.
- A project's queue lock (.agent-queue/.lock) held by another process:
  other projects dispatch, GetStatus answers fast, CancelTask on the locked
  project answers within its bound, and the project resumes on release.
  The lock file is 0600.
- A task file written in place with a long pause is dispatched whole, never
  sent to failed/ half written.
- A project directory owned by another user is refused (and served once
  projects.allow_foreign_owners is set).
"""

import errno
import fcntl
import glob
import json
import os
import re
import signal
import stat
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SandboxTestCase, require  # noqa: E402
from test_http import get_json  # noqa: E402
from test_notify import FakeApi, free_port  # noqa: E402


def queue_dir(project, place):
    return os.path.join(project, ".agent-queue", place)


def task_ids(project, place):
    return sorted(os.path.basename(p)[:-3]
                  for p in glob.glob(os.path.join(queue_dir(project, place), "*.md")))


def idle_pool(sb, n):
    return sum(1 for s in sb.get_property("Sessions")
               if s[1] == "pool" and s[2] == "idle") >= n


class HostileQueueTest(SandboxTestCase):

    def timed(self, func):
        start = time.monotonic()
        result = func()
        return result, time.monotonic() - start

    def test_fifo_configuration_is_refused_without_blocking(self):
        sb = self.sb
        sb.write_config({"pool": {"autonomous": {"min": 1, "max": 2}}})
        sb.start_daemon()
        sb.wait_for(lambda: idle_pool(sb, 1), timeout=20, what="pool")
        with open(sb.config_path) as f:
            good = f.read()
        os.unlink(sb.config_path)
        os.mkfifo(sb.config_path, 0o600)

        sb.daemon.send_signal(signal.SIGHUP)
        sb.wait_for(lambda: "Reload refused" in sb.daemon_log(), timeout=10,
                    what="refused reload logged")
        self.assertIn("not a regular file", sb.daemon_log())
        account, elapsed = self.timed(lambda: sb.get_property("ActiveAccount"))
        self.assertEqual(account, "main")
        self.assertLess(elapsed, 2)

        r, elapsed = self.timed(lambda: sb.call("Reload", check=False))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a regular file", r.stderr)
        self.assertLess(elapsed, 5)
        self.assertIsNone(sb.daemon.poll())

        # The old configuration kept running; a good file is taken again.
        os.unlink(sb.config_path)
        with open(sb.config_path, "w") as f:
            f.write(good.replace("min: 1", "min: 2"))
        sb.daemon.send_signal(signal.SIGHUP)
        sb.wait_for(lambda: idle_pool(sb, 2), timeout=20, what="second session after reload")

    def test_held_queue_lock_stalls_only_its_project(self):
        sb = self.sb
        sb.write_config({"pool": {"autonomous": {"min": 2, "max": 2}}})
        demo = sb.project_dir
        other = os.path.join(os.path.dirname(demo), "other")
        for place in ("inbox", "active", "done", "failed"):
            os.makedirs(queue_dir(other, place), exist_ok=True)
        lock_path = os.path.join(demo, ".agent-queue", ".lock")
        # A lock file from before it was private, held by another process.
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        os.chmod(lock_path, 0o644)
        self.addCleanup(os.close, fd)
        fcntl.flock(fd, fcntl.LOCK_EX)
        sb.add_task("held-1", "Held one.")
        sb.add_task("held-2", "Held two.")
        sb.start_daemon()
        sb.wait_for(lambda: idle_pool(sb, 2), timeout=20, what="pool")

        for n in range(3):
            sb.add_task(f"free-{n}", f"Free {n}.", project=other)
        deadline = time.monotonic() + 60
        while set(task_ids(other, "done")) != {"free-0", "free-1", "free-2"}:
            self.assertLess(time.monotonic(), deadline, "the other project was not served")
            _, elapsed = self.timed(lambda: sb.call("GetStatus"))
            self.assertLess(elapsed, 1.0, "GetStatus waited behind a held queue lock")
            time.sleep(0.2)
        self.assertEqual(task_ids(demo, "inbox"), ["held-1", "held-2"])
        self.assertEqual(task_ids(demo, "active"), [])
        self.assertEqual(stat.S_IMODE(os.stat(lock_path).st_mode), 0o600)
        lockout = ("the queue lock is held by another process; try again later: "
                   "the project's tasks wait")
        sb.wait_for(lambda: lockout in sb.daemon_log(), timeout=20, what="the lock-out logged")
        # Tried again after 5 s, still held: not logged again.
        time.sleep(7)
        self.assertEqual(sb.daemon_log().count(lockout), 1, "the lock-out is logged once")
        self.assertEqual(task_ids(demo, "inbox"), ["held-1", "held-2"])

        r, elapsed = self.timed(lambda: sb.call("CancelTask", "ss", "demo", "held-2",
                                                check=False))
        self.assertLess(elapsed, 5, "CancelTask waited behind a held queue lock")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("held by another process", r.stderr)
        self.assertEqual(task_ids(demo, "inbox"), ["held-1", "held-2"])
        self.assertIsNone(sb.daemon.poll())

        fcntl.flock(fd, fcntl.LOCK_UN)
        sb.wait_for(lambda: set(task_ids(demo, "done")) == {"held-1", "held-2"}, timeout=60,
                    what="the held project's tasks after the release")
        self.assertIn("is free again", sb.daemon_log())
    def test_finished_task_whose_move_fails_is_never_run_again(self):
        sb = self.sb
        demo = sb.project_dir
        # The operator's channels: Telegram (a loopback mock) and a webhook.
        telegram, hook = FakeApi(), FakeApi()
        self.addCleanup(telegram.close)
        self.addCleanup(hook.close)
        port = free_port()
        sb.write_config({"pool": {"autonomous": {"min": 1, "max": 1}},
                         "http": {"listen": f"127.0.0.1:{port}"},
                         "notifications": {"telegram_url": telegram.url,
                                           "resend_api_key_env": "",
                                           "webhooks": [{"kind": "generic",
                                                         "url": f"{hook.url}/hook",
                                                         "events": ["task-stuck"]}]}})
        # The first three writes of a finished task's meta file fail (ENOSPC).
        sb.start_daemon(env=sb.env(CF_FAULT_FAIL="taskq-finish-meta:3",
                                   TELEGRAM_BOT_TOKEN="123:fake", TELEGRAM_CHAT_ID="42"))
        sb.wait_for(lambda: idle_pool(sb, 1), timeout=20, what="pool")
        sb.add_task("once", "Do it once.")

        def health_reasons():
            return get_json(port, "/health")[1]["reasons"]

        back_in_inbox = False
        stuck_health = set()
        deadline = time.monotonic() + 90
        while "once" not in task_ids(demo, "done"):
            self.assertLess(time.monotonic(), deadline, "the finished task never reached done/")
            if sb.fake_events("prompt") and "once" in task_ids(demo, "inbox"):
                back_in_inbox = True
            if "once" in task_ids(demo, "active"):
                stuck_health.update(health_reasons())
            time.sleep(0.05)
        self.assertFalse(back_in_inbox, "a finished task went back to the inbox")
        # /health said so meanwhile, and no longer does.
        self.assertIn("finished-task-stuck", stuck_health)
        sb.wait_for(lambda: "finished-task-stuck" not in health_reasons(), timeout=10,
                    what="/health without finished-task-stuck")
        log = sb.daemon_log()
        self.assertEqual(log.count("fault injection: failing at taskq-finish-meta"), 3, log)
        self.assertEqual(log.count("cannot leave active/"), 1, "the operator is told once")
        self.assertFalse(os.path.exists(os.path.join(demo, ".agent-queue", "meta",
                                                     "once.verdict")))
        time.sleep(2)
        prompts = [e for e in sb.fake_events("prompt") if e["text"].startswith("[once]")]
        self.assertEqual(len(prompts), 1, "the finished task ran again")
        self.assertEqual(task_ids(demo, "inbox") + task_ids(demo, "active"), [])

        # The operator was told once for the episode (not once per failed
        # retry), and told when it was over.
        sb.wait_for(lambda: len(hook.recorded()) >= 2 and len(telegram.recorded()) >= 2,
                    timeout=20, what="the task-stuck notifications")
        time.sleep(1)
        payloads = [json.loads(r["body"]) for r in hook.recorded()]
        self.assertEqual([(p["event"], p["kind"]) for p in payloads],
                         [("task-stuck", "task-stuck"), ("task-stuck", "task-unstuck")], payloads)
        stuck, unstuck = payloads
        self.assertEqual(stuck["title"], "A finished task cannot leave active/")
        self.assertEqual({k: stuck["fields"][k] for k in ("project", "task", "outcome")},
                         {"project": demo, "task": "once", "outcome": "done"})
        self.assertIn(os.strerror(errno.ENOSPC), stuck["fields"]["error"])
        self.assertIn("never run again", stuck["body"])
        self.assertIn("Free disk space", stuck["body"])
        self.assertEqual(unstuck["title"], "A finished task left active/")
        self.assertRegex(unstuck["body"], r"has left active/ after [1-9][0-9]* retr")
        texts = [json.loads(r["body"])["text"] for r in telegram.recorded()]
        self.assertEqual([t.split("\n", 1)[0] for t in texts],
                         ["<b>A finished task cannot leave active/</b>",
                          "<b>A finished task left active/</b>"], texts)
        self.assertIn("Task once (project ", texts[0])
    def test_task_written_in_place_with_a_pause_is_read_whole(self):
        sb = self.sb
        demo = sb.project_dir
        sb.write_config({"pool": {"autonomous": {"min": 1, "max": 1}}})
        sb.start_daemon()
        sb.wait_for(lambda: idle_pool(sb, 1), timeout=20, what="pool")
        path = os.path.join(queue_dir(demo, "inbox"), "slow.md")
        failed_seen = []

        def watch_failed():
            while not stop.is_set():
                if task_ids(demo, "failed"):
                    failed_seen.extend(task_ids(demo, "failed"))
                stop.wait(0.05)

        stop = threading.Event()
        watcher = threading.Thread(target=watch_failed)
        watcher.start()
        try:
            # Half the frontmatter, a 6 s pause with the file open, the rest.
            with open(path, "w") as f:
                f.write("---\ntitle: Slow writer\n")
                f.flush()
                time.sleep(6)
                self.assertEqual(sb.fake_events("prompt"), [], "dispatched half written")
                f.write("priority: high\n---\nThe body WHOLE-7c1e arrived.\n")
            sb.wait_for(lambda: "slow" in task_ids(demo, "done"), timeout=60, what="slow in done/")
        finally:
            stop.set()
            watcher.join()
        self.assertEqual(failed_seen, [], "a half-written task was sent to failed/")
        prompts = [e["text"] for e in sb.fake_events("prompt")]
        self.assertEqual(len(prompts), 1, prompts)
        self.assertIn("WHOLE-7c1e", prompts[0])
    def test_project_of_another_user_is_refused_by_default(self):
        require(os.getuid() == 0, "needs root (chown)")
        sb = self.sb
        sb.write_config({"pool": {"autonomous": {"min": 1, "max": 1}}})
        demo = sb.project_dir
        theirs = os.path.join(os.path.dirname(demo), "theirs")
        for place in ("inbox", "active", "done", "failed"):
            os.makedirs(queue_dir(theirs, place), exist_ok=True)
        os.chown(theirs, 65534, 65534)
        sb.add_task("planted", "Run what another user wrote.", project=theirs)
        sb.add_task("mine", "Mine.")
        sb.start_daemon()
        sb.wait_for(lambda: "mine" in task_ids(demo, "done"), timeout=60, what="mine in done/")
        sb.wait_for(lambda: f"{theirs}: owned by " in sb.daemon_log(), timeout=10,
                    what="the refusal logged")
        log = sb.daemon_log()
        self.assertRegex(log, re.escape(theirs) + r": owned by (\S+ \()?uid 65534\)?, neither "
                              r"the service user nor root")
        self.assertEqual(log.count(f"{theirs}: owned by "), 1, "logged once")
        self.assertEqual(task_ids(theirs, "inbox"), ["planted"])
        self.assertEqual([e for e in sb.fake_events("prompt") if "planted" in e["text"]], [])

        # The operator allows it: served after a reload.
        sb.write_config({"pool": {"autonomous": {"min": 1, "max": 1}},
                         "projects": {"allow_other_owners": True}})
        sb.daemon.send_signal(signal.SIGHUP)
        sb.wait_for(lambda: "planted" in task_ids(theirs, "done"), timeout=60,
                    what="the allowed project's task in done/")

if __name__ == "__main__":
    unittest.main(verbosity=2)
