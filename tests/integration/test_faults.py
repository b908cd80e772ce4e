#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Faults around the daemon, on real parts (private dbus-daemon and tmux
server, fake-claude, the real claude-failoverd):

- the tmux server killed (SIGKILL) while tasks run: the tasks in flight are
  requeued, none is lost or run twice at once, the pool is recreated and
  everything finishes;
- disk full: the state directory and a project's queue on small tmpfs
  mounts (a private mount namespace, root only) filled up while tasks run
  and finish: the daemon keeps running, loses no task, says "No space left
  on device" clearly, and catches up once space returns;
- a state file truncated, garbage, empty, of another version, or of the
  wrong shape: moved aside (each variant keeps its own copy), the daemon
  starts clean and says so;
- the D-Bus daemon restarted: claude-failoverd shuts down cleanly with a
  failure status (Restart=on-failure brings it back) and a restart on the
  new bus finds its state."""

import errno
import glob
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUS_NAME, INTERFACE, OBJECT_PATH, Sandbox, require,  # noqa: E402
                     require_programs, settled_task_places, has_failed)
from test_crash import overlapping_runs  # noqa: E402

IN_NAMESPACE = "CF_FAULTS_IN_MOUNT_NS"


def tasks_in_flight(events, pids=None, before=None):
    """{fake pid: task id} for the fakes that were prompted and had not yet
    replied, exited, crashed or hit a limit (before time BEFORE)."""
    flight = {}
    for e in events:
        if (pids is not None and e.get("pid") not in pids) or \
                (before is not None and e["time"] >= before):
            continue
        if e["event"] == "prompt":
            flight[e["pid"]] = e["text"].split("]")[0][1:]
        elif e["event"] in ("reply", "exit", "crash", "limit"):
            flight.pop(e["pid"], None)
    return flight


def pool_sessions(sb, state=None):
    return [s for s in sb.get_property("Sessions")
            if s[1] == "pool" and (state is None or s[2] == state)]


class FaultTest(unittest.TestCase):
    def setUp(self):
        require_programs("dbus-daemon", "tmux", "busctl")
        self.sb = Sandbox(self.id().rsplit(".", 1)[-1])
        self.addCleanup(self._close)

    def _close(self):
        if has_failed(self):
            self.sb.dump_logs(80)
        self.sb.close()

    def assert_each_in_one_place(self, ids, when):
        where = settled_task_places(self.sb.project_dir, ids)
        for tid, places in where.items():
            self.assertEqual(len(places), 1, f"{when}: {tid} is in {places}")
        return where

    def wait_all_done(self, ids, timeout):
        self.sb.wait_for(lambda: all(p == ["done"] for p in
                                     self.assert_each_in_one_place(ids, "draining").values()),
                         timeout=timeout, interval=0.3, what=f"all {len(ids)} tasks done")

    # ------------------------------------------------------------------

    def test_tmux_server_killed_mid_dispatch(self):
        sb = self.sb
        sb.start_bus()
        sb.start_tmux()
        sb.write_config({"pool": {"autonomous": {"min": 3, "max": 3}},
                         "watcher": {"interval": "100ms"}, "janitor": {"interval": "500ms"},
                         "dispatcher": {"cooldown_schedule": [0]}})
        sb.start_daemon()
        sb.wait_for(lambda: len(pool_sessions(sb, "idle")) == 3, timeout=30, what="3 idle")
        ids = [f"t{i:02d}" for i in range(12)]
        for tid in ids:
            sb.add_task(tid, f"tmux fault {tid} FAKE:work=1500")
        # Kill while a fake is between its prompt and its reply: a session
        # the daemon calls "working" may not have been typed into yet, or
        # may have just replied.
        sb.wait_for(lambda: len(tasks_in_flight(sb.fake_log())) >= 2, timeout=20,
                    what="two fakes mid-task")
        server_pid = int(sb.tmux("display-message", "-p", "#{pid}").stdout.strip())
        running = {e["pid"] for e in sb.fake_events("start")}
        # Taken before the kill: the fakes log their exit ("eof") as soon as
        # the server is gone, possibly before this process runs again.
        killed_at = time.time()
        os.kill(server_pid, signal.SIGKILL)
        # The fakes die with their ptys.
        sb.wait_for(lambda: not any(_alive(p) for p in running), timeout=10,
                    what="the fakes gone with the server")
        self.assertIsNone(sb.daemon.poll(), "the daemon died with the tmux server")
        self.assert_each_in_one_place(ids, "right after the kill")
        # The daemon starts the server again, recreates its pool, requeues
        # the tasks in flight and finishes everything.
        sb.wait_for(lambda: len(pool_sessions(sb)) == 3 and
                    set(sb.sessions()) >= {"ccl-auto-0", "ccl-auto-1", "ccl-auto-2"},
                    timeout=40, what="the pool recreated")
        self.wait_all_done(ids, 120)
        self.assertIsNone(sb.daemon.poll())
        new_pid = int(sb.tmux("display-message", "-p", "#{pid}").stdout.strip())
        self.assertNotEqual(new_pid, server_pid)
        # Runs cut by the kill end at the kill, not at the end of the log.
        events = sb.fake_log()
        events += [{"pid": p, "event": "exit", "time": killed_at} for p in running]
        events.sort(key=lambda e: e["time"])
        self.assertEqual(overlapping_runs(events), [])
        prompts = [e["text"].split("]")[0][1:] for e in sb.fake_events("prompt")]
        self.assertEqual(set(prompts), set(ids))
        # The tasks cut by the kill (prompted, no reply yet) ran again.
        cut = tasks_in_flight(events, running, killed_at)
        self.assertTrue(cut, "no task was running when tmux was killed")
        for tid in cut.values():
            self.assertGreaterEqual(prompts.count(tid), 2, f"{tid} was not run again")
        self.assertEqual(sb.stop_daemon(), 0)

    # ------------------------------------------------------------------

    def test_disk_full_while_writing_state_and_moving_tasks(self):
        require(os.geteuid() == 0, "needs root for tmpfs mounts in a private mount namespace")
        require_programs("unshare", "mount")
        if os.environ.get(IN_NAMESPACE) != "1":
            # Run this one test again in a private mount namespace: the
            # mounts vanish with it, whatever happens.
            r = subprocess.run(["unshare", "--mount", "--propagation", "private",
                                sys.executable, os.path.abspath(__file__), "-v",
                                f"FaultTest.{self._testMethodName}"],
                               env=dict(os.environ, **{IN_NAMESPACE: "1"}),
                               capture_output=True, text=True, timeout=400)
            sys.stderr.write(r.stdout + r.stderr)
            if r.returncode == 77:
                self.skipTest("skipped inside the namespace")
            self.assertEqual(r.returncode, 0, "the test failed in its mount namespace")
            return
        sb = self.sb
        queue = os.path.join(sb.project_dir, ".agent-queue")
        os.makedirs(queue)
        for path in (sb.state_dir, queue):
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "cftest", path],
                               capture_output=True, text=True)
            require(r.returncode == 0, f"cannot mount a tmpfs: {r.stderr.strip()}")
        sb.start_bus()
        sb.start_tmux()
        sb.write_config({"pool": {"autonomous": {"min": 2, "max": 2}},
                         "watcher": {"interval": "100ms"}, "janitor": {"interval": "500ms"},
                         "dispatcher": {"cooldown_schedule": [0]}})
        sb.start_daemon()
        sb.wait_for(lambda: len(pool_sessions(sb, "idle")) == 2, timeout=30, what="2 idle")
        ids = [f"d{i:02d}" for i in range(8)]
        for tid in ids:
            sb.add_task(tid, f"disk full {tid} FAKE:work=1500")
        sb.wait_for(lambda: len(pool_sessions(sb, "working")) == 2, timeout=20,
                    what="2 working sessions")
        state_file = sb.config["state_file"]
        # A state file written before the disk fills (launches are quick enough now
        # to beat the first debounced write): the one that must stay whole.
        sb.wait_for(lambda: os.path.exists(state_file), timeout=15, what="the first state write")
        fillers = [_fill(sb.state_dir), _fill(queue)]
        # Something for the state file to say while it cannot be written.
        sb.busctl("call", BUS_NAME, OBJECT_PATH, INTERFACE, "PauseDispatch")
        sb.busctl("call", BUS_NAME, OBJECT_PATH, INTERFACE, "ResumeDispatch")
        # The two tasks running finish while the disk is full, and the
        # others try to start.
        sb.wait_for(lambda: len(sb.fake_events("reply")) >= 2, timeout=20,
                    what="replies while the disk is full")
        time.sleep(3)
        self.assertIsNone(sb.daemon.poll(), "the daemon died on a full disk")
        self.assert_each_in_one_place(ids, "disk full")
        log = sb.daemon_log()
        self.assertIn("No space left on device", log)
        self.assertIn(f"Cannot write state file {state_file}", log)
        full_errors = [line for line in log.splitlines() if "No space left" in line]
        print("errors logged while the disk was full:\n  " + "\n  ".join(full_errors[:8]),
              file=sys.stderr)
        # D-Bus still answers.
        self.assertIn(sb.get_property("ActiveAccount"), ("main",))
        with open(state_file) as f:
            self.assertIn("version", json.load(f))
        # A restart on the full disk: the last write fails (said, not
        # fatal), the old state file stays whole, the daemon starts again.
        self.assertEqual(sb.stop_daemon(), 0)
        self.assertIn("Cannot write the state file at exit", sb.daemon_log())
        with open(state_file) as f:
            self.assertIn("version", json.load(f))
        sb.start_daemon()
        sb.wait_for(lambda: len(pool_sessions(sb)) == 2, timeout=20, what="the pool adopted")
        time.sleep(1)
        self.assertIsNone(sb.daemon.poll(), "the daemon died on a full disk after a restart")
        self.assert_each_in_one_place(ids, "disk full, after a restart")
        for filler in fillers:
            os.unlink(filler)
        self.wait_all_done(ids, 120)
        sb.wait_for(lambda: "written again" in sb.daemon_log(), timeout=20,
                    what="the state file written again")
        with open(state_file) as f:
            self.assertIn("version", json.load(f))
        self.assertEqual(overlapping_runs(sb.fake_log()), [])
        prompted = {e["text"].split("]")[0][1:] for e in sb.fake_events("prompt")}
        self.assertEqual(prompted, set(ids))
        self.assertEqual(sb.stop_daemon(), 0)
        for path in (sb.state_dir, queue):
            subprocess.run(["umount", "-l", path], check=False)

    # ------------------------------------------------------------------

    def test_stale_limit_line_does_not_switch(self):
        """A limit line whose reset time has passed (left on screen after
        the reset) is no limit: found when a kill-test run paused dispatch
        for five hours on such a line."""
        sb = self.sb
        sb.start_bus()
        sb.start_tmux()
        sb.write_config({"pool": {"autonomous": {"min": 1, "max": 1}},
                         "quota": {"interval": "200ms", "pool_threshold": 1}})
        sb.start_daemon()
        sb.add_task("s0", "FAKE:work=30000 long work")
        session = sb.wait_for(lambda: pool_sessions(sb, "working"), timeout=20,
                              what="working")[0][0]
        past = int(time.time()) - 60
        sb.fake_control(session, f"print Claude AI usage limit reached|{past}")
        sb.wait_for(lambda: str(past) in sb.capture(session), what="the old limit on screen")
        time.sleep(2)                       # ten polls
        self.assertEqual(sb.get_property("ActiveAccount"), "main")
        self.assertEqual(sb.get_property("SwapState"), "normal")
        self.assertIn(str(past), sb.capture(session))
        self.assertFalse(sb.get_property("DispatchPaused"))
        accounts = {a[0]: a for a in sb.get_property("Accounts")}
        self.assertTrue(accounts["main"][2], accounts)
        self.assertEqual(accounts["main"][3], 0)
        self.assertNotIn("is exhausted", sb.daemon_log())

    def test_bad_state_files_are_moved_aside(self):
        sb = self.sb
        sb.start_bus()
        sb.write_config({"pool": {"autonomous": {"min": 0, "max": 0}}})
        state_file = sb.config["state_file"]
        sb.start_daemon()
        sb.busctl("call", BUS_NAME, OBJECT_PATH, INTERFACE, "SwitchAccount", "s", "backup")
        sb.wait_for(lambda: sb.get_property("ActiveAccount") == "backup", timeout=20,
                    what="switched to backup")
        self.assertEqual(sb.stop_daemon(), 0)
        with open(state_file, "rb") as f:
            good = f.read()
        self.assertIn(b'"backup"', good)
        variants = {
            "truncated": good[:len(good) // 2],
            "garbage": bytes(range(256)) * 4,
            "empty": b"",
            "future version": json.dumps(dict(json.loads(good), version=999)).encode(),
            "no version": json.dumps({k: v for k, v in json.loads(good).items()
                                      if k != "version"}).encode(),
            "not an object": b"[1, 2, 3]\n",
            "wrong types": json.dumps(dict(json.loads(good), sessions="many")).encode(),
            "nul in the middle": good[:10] + b"\0" + good[11:],
        }
        for name, content in variants.items():
            with self.subTest(variant=name):
                before = set(os.listdir(sb.state_dir))
                with open(state_file, "wb") as f:
                    f.write(content)
                log_size = len(sb.daemon_log())
                sb.start_daemon()
                try:
                    aside = [n for n in set(os.listdir(sb.state_dir)) - before
                             if ".corrupt-" in n]
                    self.assertEqual(len(aside), 1, f"{name}: {sorted(os.listdir(sb.state_dir))}")
                    with open(os.path.join(sb.state_dir, aside[0]), "rb") as f:
                        self.assertEqual(f.read(), content, name)
                    log = sb.daemon_log()[log_size:]
                    self.assertIn("corrupt", log)
                    self.assertIn(aside[0], log)
                    # Clean start: nothing remembered of the switch; the
                    # active account is the one claude_link points to.
                    self.assertEqual(sb.get_property("LastSwap")[0], 0)
                    self.assertEqual(sb.get_property("ActiveAccount"), "backup")
                    self.assertIn(sb.get_property("SwapState"), ("normal", "fallback"))
                    self.assertFalse(sb.get_property("PartialSwap"))
                finally:
                    self.assertEqual(sb.stop_daemon(), 0)
                with open(state_file) as f:
                    self.assertIsInstance(json.load(f)["version"], int)
        # Every variant kept its own copy.
        self.assertEqual(len(glob.glob(state_file + ".corrupt-*")), len(variants))

    # ------------------------------------------------------------------

    def test_dbus_daemon_restarted(self):
        sb = self.sb
        sb.start_bus()
        sb.start_tmux()
        sb.write_config({"pool": {"autonomous": {"min": 2, "max": 2}},
                         "watcher": {"interval": "100ms"}})
        sb.start_daemon()
        sb.wait_for(lambda: len(pool_sessions(sb, "idle")) == 2, timeout=30, what="2 idle")
        for tid in ("b0", "b1"):
            sb.add_task(tid, "bus test FAKE:work=200")
        self.wait_all_done(["b0", "b1"], 30)
        sb.busctl("call", BUS_NAME, OBJECT_PATH, INTERFACE, "SwitchAccount", "s", "backup")
        sb.wait_for(lambda: sb.get_property("ActiveAccount") == "backup" and
                    sb.get_property("SwapState") == "fallback", timeout=30, what="on backup")
        last_swap = sb.get_property("LastSwap")
        panes = set(sb.tmux("list-panes", "-a", "-F", "#{pane_pid}").stdout.split())
        # A long task in flight while the bus goes away.
        sb.add_task("b2", "bus test FAKE:work=4000")
        sb.wait_for(lambda: pool_sessions(sb, "working"), timeout=20, what="b2 working")
        panes = set(sb.tmux("list-panes", "-a", "-F", "#{pane_pid}").stdout.split())

        Sandbox._kill_group(sb._bus_proc)
        t0 = time.monotonic()
        status = sb.daemon.wait(timeout=15)
        took = time.monotonic() - t0
        log = sb.daemon_log()
        # Not a crash: a failure status after a clean shutdown, so that
        # Restart=on-failure restarts it once the bus is back.
        self.assertEqual(status, 1, log[-2000:])
        self.assertIn("the system bus connection was closed", log)
        self.assertLess(took, 10)
        with open(sb.config["state_file"]) as f:
            state = json.load(f)
        self.assertEqual(state["active_account"], "backup")
        # The sessions live on in tmux.
        self.assertEqual(set(sb.tmux("list-panes", "-a", "-F", "#{pane_pid}").stdout.split()),
                         panes)

        if os.path.exists(sb.bus_socket):
            os.unlink(sb.bus_socket)
        sb.start_bus()
        sb.start_daemon()
        self.assertEqual(sb.get_property("ActiveAccount"), "backup")
        self.assertEqual(sb.get_property("SwapState"), "fallback")
        self.assertEqual(sb.get_property("LastSwap"), last_swap)
        self.wait_all_done(["b0", "b1", "b2"], 40)
        self.assertEqual(set(sb.tmux("list-panes", "-a", "-F", "#{pane_pid}").stdout.split()),
                         panes, "the pool was recreated instead of adopted")
        self.assertEqual(len([e for e in sb.fake_events("prompt")
                              if e["text"].startswith("[b2]")]), 1)
        self.assertEqual(sb.stop_daemon(), 0)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _fill(directory):
    """Fill the filesystem of DIRECTORY; returns the filler's path."""
    path = os.path.join(directory, "filler")
    chunk = b"\0" * 4096
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
    return path


if __name__ == "__main__":
    unittest.main(verbosity=2)
