#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Honest session states (ARCHITECTURE.md 4.9): while tasks run through a
one-session pool and the session is recycled after each, no view — every
SessionChanged signal, and the Sessions property polled meanwhile — ever
shows a session "working" without a task, nor "idle" with one; a recycled
session says "launching". `status` says why dispatch is paused."""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SandboxTestCase  # noqa: E402
from signal_log import SignalLog  # noqa: E402


class SessionStatesTest(SandboxTestCase):
    def test_no_working_without_a_task(self):
        sb = self.sb
        signals = SignalLog(sb)
        sb.write_config({"pool": {"autonomous": {"min": 1, "max": 1}}})
        sb.start_daemon()
        sb.wait_for(lambda: any(s[2] == "idle" for s in sb.get_property("Sessions")),
                    timeout=30, what="an idle pool session")

        polled, stop = [], threading.Event()

        def poll():
            while not stop.is_set():
                try:
                    polled.extend(tuple(s[:5]) for s in sb.get_property("Sessions"))
                except Exception:  # noqa: BLE001 - the daemon may be busy; keep polling
                    pass
                time.sleep(0.02)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        for i in range(3):
            sb.add_task(f"t{i}", "FAKE:work=200")
        sb.wait_for(lambda: sb.get_property("TasksCompleted") == 3, timeout=60,
                    what="three tasks done")
        sb.wait_for(lambda: any(s[2] == "idle" for s in sb.get_property("Sessions")),
                    timeout=30, what="the session idle again")
        stop.set()
        poller.join(5)

        changes = [e["args"] for e in signals.events("SessionChanged")]
        self.assertTrue(changes)
        bad = [c for c in changes if (c[1] == "working" and c[3] == "")
               or (c[1] == "idle" and c[3] != "")]
        self.assertEqual(bad, [], "dishonest SessionChanged")
        bad = [s for s in polled if (s[2] == "working" and s[4] == "")
               or (s[2] == "idle" and s[4] != "")]
        self.assertEqual(bad, [], "dishonest Sessions")
        # After each task the session was recycled, and said so.
        self.assertIn(["ccl-auto-0", "launching", "", ""], changes)

    def test_status_says_why_dispatch_is_paused(self):
        sb = self.sb
        sb.write_config({"pool": {"autonomous": {"min": 1, "max": 1}}})
        sb.start_daemon()
        r = sb.ctl("status", check=True)
        self.assertRegex(r.stdout, r"Dispatch:\s+running\n")
        sb.ctl("pause", check=True)
        r = sb.ctl("status", check=True)
        self.assertRegex(r.stdout,
                         r"Dispatch:\s+paused by an operator \(claude-failoverctl resume\)\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
