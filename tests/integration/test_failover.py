#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Usage limits and account failover on real parts (private dbus-daemon,
private tmux server, tests/fake-claude, the real claude-failoverd): detection
from the pane and from the StopFailure hook, the 5xx veto, confirmation and
cooldown, the switch itself (links, sessions, tasks), rollback and
PartialSwap, crashes at every step, total exhaustion, the return."""

import glob
import json
import os
import signal
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUS_NAME, SandboxTestCase  # noqa: E402
from signal_log import SignalLog  # noqa: E402

INTERVAL = 0.3                   # quota.interval in these tests (seconds)


def queue(project, place):
    return sorted(os.path.basename(p)[:-3]
                  for p in glob.glob(os.path.join(project, ".agent-queue", place, "*.md")))


def meta(project, task):
    with open(os.path.join(project, ".agent-queue", "meta", f"{task}.json"), encoding="utf-8") as f:
        return json.load(f)


def epoch_limit(seconds_from_now):
    """A limit line whose reset time is exact to the second."""
    reset = int(time.time() + seconds_from_now)
    return f"Claude AI usage limit reached|{reset}", reset


class FailoverTest(SandboxTestCase):
    LOG_LINES = 120

    def setUp(self):
        super().setUp()
        self.main_home = os.path.join(self.sb.home, ".claude-main")
        self.backup_home = os.path.join(self.sb.home, ".claude-backup")
        self.link = os.path.join(self.sb.home, ".claude")

    def start(self, overrides=None, hooks=False, env=None, pool=2, hook_command=None, **kw):
        sb = self.sb
        base = {"pool": {"autonomous": {"min": pool, "max": pool}},
                "quota": {"interval": f"{int(INTERVAL * 1000)}ms", "reactivate_cooldown": "1s",
                          "return_margin": "1s", "pool_threshold": 2, "dedicated_threshold": 1}}
        sb.write_config(_merge(base, overrides or {}), **kw)
        if hooks:
            for account in sb.config["accounts"]:
                r = sb.ctl("install-hooks", account["home"], "--command",
                           hook_command or sb.ctl_path)
                self.assertEqual(r.returncode, 0, r.stderr)
        if not hasattr(self, "signals"):
            self.signals = SignalLog(sb)
        sb.start_daemon(env=env)
        self.wait_pool_idle(pool)

    def wait_pool_idle(self, n):
        self.sb.wait_for(lambda: sum(1 for s in self.sb.get_property("Sessions")
                                     if s[1] == "pool" and s[2] == "idle") >= n,
                         timeout=30, what=f"{n} idle pool sessions")

    def sessions(self, state=None, kind="pool"):
        return [s for s in self.sb.get_property("Sessions")
                if s[1] == kind and (state is None or s[2] == state)]

    def link_target(self):
        return os.readlink(self.link)

    def gdbus(self, method, *args, user=None):
        return self.sb.gdbus("call", "--dest", BUS_NAME, "--object-path",
                             "/org/claudefailover/Manager", "--method",
                             f"org.claudefailover.Manager.{method}", *args, check=False, user=user)

    def wait_settled(self, timeout=30):
        return self.sb.wait_for(lambda: self.sb.get_property("SwapState") in ("normal", "fallback"),
                                timeout=timeout, what="no switch in progress")

    # ------------------------------------------------------------------

    def test_pane_limit_switches_resumes_and_returns(self):
        sb = self.sb
        project = sb.project_dir
        conversation = str(uuid.uuid4())
        sb.write_config()
        # The operator's dedicated session: Claude on main, with an earlier
        # "claude --resume" line in its history (no hooks in this test).
        sb.start_fake("ccl-1-web", "--dangerously-skip-permissions", cwd=project,
                      config_dir=self.main_home)
        sb.fake_control("ccl-1-web", f"print claude --resume {conversation}")
        self.start({"pool": {"dedicated": [{"name": "ccl-1-web", "project": project}]}})
        for i in range(2):
            sb.add_task(f"t{i}", "FAKE:work=2500 limited work")
        sb.wait_for(lambda: len(self.sessions("working")) == 2, timeout=20, what="2 working sessions")

        text, reset = epoch_limit(6)
        before = time.time()
        sb.fake_account_limit(self.main_home, text)
        started = self.signals.wait("SwapStarted", lambda a: a[:2] == ["main", "backup"], timeout=20)
        detection = started["t"] - before
        print(f"limit on screen → SwapStarted: {detection * 1000:.0f} ms "
              f"(quota.interval {INTERVAL * 1000:.0f} ms)")
        self.assertEqual(started["args"][2], "quota")
        # Written at once, seen by the fake within its ~120 ms tick, then
        # confirmed at the next poll: within two polls (plus the fake's tick).
        self.assertLess(detection, 2 * INTERVAL + 0.4)
        quota = self.signals.wait("QuotaExhausted")
        self.assertEqual(quota["args"][0], "main")
        self.assertEqual(sorted(quota["args"][1]), ["ccl-auto-0", "ccl-auto-1"])
        self.assertEqual(quota["args"][2], reset * 1_000_000)

        finished = self.signals.wait("SwapFinished", timeout=30)
        self.assertEqual(finished["args"][:3], ["main", "backup", True], finished)
        # A limited pane is blocked, not done: nothing finished before the switch.
        self.assertEqual([e for e in self.signals.events("TaskFinished")
                          if e["t"] < started["t"] and e["args"][3] == "done"], [])
        self.assertEqual(self.link_target(), self.backup_home)
        self.assertEqual(sb.get_property("ActiveAccount"), "backup")
        self.assertEqual(sb.get_property("SwapState"), "fallback")
        when, frm, to = sb.get_property("LastSwap")
        self.assertEqual((frm, to), ("main", "backup"))
        self.assertEqual(sb.get_property("ReturnAt"), (reset + 1) * 1_000_000)
        accounts = {a[0]: a for a in sb.get_property("Accounts")}
        self.assertFalse(accounts["main"][2])
        self.assertEqual(accounts["main"][3], reset * 1_000_000)
        self.assertTrue(accounts["backup"][2])

        # The dedicated session resumed its conversation on the backup.
        resumed = sb.wait_for(lambda: sb.fake_events("start", resume=conversation), timeout=15,
                              what="the dedicated session resumed")
        self.assertEqual(resumed[-1]["CLAUDE_CONFIG_DIR"], self.backup_home)
        self.assertIn("--dangerously-skip-permissions", resumed[-1]["argv"])
        # Main recovers; the tasks in flight go on in their own conversations on the
        # backup and finish there, never requeued, their attempt not counted.
        sb.fake_account_limit(self.main_home, False)
        sb.wait_for(lambda: queue(project, "done") == ["t0", "t1"], timeout=40, what="both tasks done")
        for task in ("t0", "t1"):
            self.assertEqual(meta(project, task)["attempts"], 1, meta(project, task))
        requeued = [a for a in (e["args"] for e in self.signals.events("TaskFinished"))
                    if a[3] == "requeued"]
        self.assertEqual(requeued, [])
        main_conversations = {e["session_id"] for e in sb.fake_events("start")
                              if e["CLAUDE_CONFIG_DIR"] == self.main_home and e["resume"] is None
                              and e["cwd"] == project}
        backup_resumes = [e for e in sb.fake_events("start")
                          if e["CLAUDE_CONFIG_DIR"] == self.backup_home and
                          e["resume"] in main_conversations]
        self.assertEqual(len(backup_resumes), 2, sb.fake_events("start"))
        for e in backup_resumes:
            self.assertEqual(e["cwd"], project)

        # Main shows available again once its reset time has passed.
        sb.wait_for(lambda: {a[0]: a for a in sb.get_property("Accounts")}["main"][2], timeout=20,
                    what="main available after its reset")
        self.assertGreaterEqual(time.time(), reset - 0.5)
        # The return at reset + margin, after checking main again.
        back = self.signals.wait("SwapStarted", lambda a: a[:2] == ["backup", "main"], timeout=30)
        self.assertEqual(back["args"][2], "return")
        self.assertGreaterEqual(back["t"], reset + 1 - 0.5)
        self.signals.wait("SwapFinished", lambda a: a[:3] == ["backup", "main", True], timeout=30)
        self.assertEqual(self.link_target(), self.main_home)
        self.assertEqual(sb.get_property("SwapState"), "normal")
        self.assertEqual(sb.get_property("ReturnAt"), 0)
        self.assertEqual(self.signals.count("SwapStarted"), 2)

    def test_stop_failure_hook_switches_within_250ms(self):
        sb = self.sb
        # A pane poll every 10 s: only the hook can be this fast.
        self.start({"quota": {"interval": "10s"}}, hooks=True, pool=1)
        sb.add_task("h0", "FAKE:work=20000 long work")
        working = sb.wait_for(lambda: self.sessions("working"), timeout=20, what="a working session")
        session = working[0][0]
        sb.fake_control(session, "limit You've hit your limit · resets 11:30pm (Europe/Berlin)")
        started = self.signals.wait("SwapStarted", timeout=10)
        limit_event = sb.wait_for(lambda: sb.fake_events("limit"), what="the fake's limit")[-1]
        hook = sb.wait_for(lambda: [e for e in sb.fake_events("hook") if e["name"] == "StopFailure"],
                           what="the StopFailure hook")[-1]
        latency = started["t"] - limit_event["time"]
        print(f"StopFailure hook → SwapStarted: {latency * 1000:.0f} ms "
              f"(hook ran in {hook.get('duration_ms', '?')} ms)")
        self.assertEqual(started["args"], ["main", "backup", "quota"])
        self.assertLess(latency, 0.25)
        self.assertIn("hook-stop-failure", sb.daemon_log())
        self.signals.wait("SwapFinished", lambda a: a[2] is True, timeout=30)
        self.assertEqual(self.link_target(), self.backup_home)

    def test_switch_during_a_launch_step_never_completes_it_on_the_old_account(self):
        """A launch whose tmux step is in flight when a switch begins ends at
        that step's reply, not with a success on the old account. The switch
        skips launching sessions (they end by themselves); a launch that
        completed anyway stayed working on the exhausted account after the
        switch, and its task stayed in active/ for good (load test, 3 of
        10 000). Made deterministic by stopping the tmux server from the
        SessionStart hook: the launch waits for Claude's prompt, and the ready
        check sent while tmux is stopped is in flight until the switch has
        finished."""
        sb = self.sb
        stall_dir = os.path.join(sb.root, "stall")
        os.makedirs(stall_dir)
        armed = os.path.join(stall_dir, "armed")
        stopped = os.path.join(stall_dir, "stopped")
        # Named claude-failoverctl so that install-hooks knows it as ours.
        wrapper = os.path.join(stall_dir, "claude-failoverctl")
        with open(wrapper, "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\n"
                    f'if [ "$2" = SessionStart ] && [ -e {armed} ]; then\n'
                    f"  rm -f {armed}; kill -STOP $(cat {stall_dir}/tmux.pid); touch {stopped}\n"
                    "fi\n"
                    f'exec {sb.ctl_path} "$@"\n')
        os.chmod(wrapper, 0o755)
        self.start(pool=1, hooks=True, hook_command=wrapper)
        tmux_pid = int(sb.tmux("display-message", "-p", "#{pid}").stdout.strip())
        with open(os.path.join(stall_dir, "tmux.pid"), "w", encoding="utf-8") as f:
            f.write(f"{tmux_pid}\n")
        open(armed, "w").close()
        sb.add_task("s0", "FAKE:work=2000 work")
        try:
            sb.wait_for(lambda: os.path.exists(stopped), timeout=20, what="tmux stopped by the hook")
            # The hook reached the daemon (the fake logs it once it returned),
            # and the ready poll (every 50 ms) has sent its capture.
            sb.wait_for(lambda: [e for e in sb.fake_events("hook") if e["name"] == "SessionStart"],
                        what="the SessionStart hook")
            time.sleep(0.5)
            self.assertEqual(self.sessions()[0][2], "launching")
            r = self.gdbus("SwitchAccount", "backup")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.signals.wait("SwapFinished", lambda a: a[:3] == ["main", "backup", True], timeout=20)
        finally:
            os.kill(tmux_pid, signal.SIGCONT)
        sb.wait_for(lambda: queue(sb.project_dir, "done") == ["s0"], timeout=30, what="s0 done")
        # It ran to its end on the backup, its aborted attempt not counted.
        homes = {e["pid"]: e["CLAUDE_CONFIG_DIR"] for e in sb.fake_events("start")}
        replies = sb.fake_events("reply")
        self.assertEqual([homes[e["pid"]] for e in replies], [self.backup_home], replies)
        self.assertEqual(meta(sb.project_dir, "s0")["attempts"], 1, meta(sb.project_dir, "s0"))
        self.assertIn("launch of s0 failed: the account is being switched", sb.daemon_log())

    def test_server_error_never_switches(self):
        sb = self.sb
        self.start(pool=1, overrides={"quota": {"pool_threshold": 1}})
        sb.add_task("s0", "FAKE:work=30000 long work")
        session = sb.wait_for(lambda: self.sessions("working"), timeout=20, what="working")[0][0]
        text = ('API Error: 500 {"type":"error","error":{"type":"api_error","message":'
                '"Internal error while applying rate limit: usage limit reached"}}')
        sb.fake_control(session, f"print {text}")
        sb.wait_for(lambda: "rate limit" in sb.capture(session), what="the 5xx on screen")
        time.sleep(10 * INTERVAL + 0.5)          # ten polls
        self.assertIn("rate limit", sb.capture(session))
        self.assertEqual(self.signals.count("SwapStarted"), 0)
        self.assertEqual(self.signals.count("QuotaExhausted"), 0)
        self.assertEqual(sb.get_property("ActiveAccount"), "main")
        self.assertEqual(self.link_target(), self.main_home)
        # The task was not finished by a "stable pane" either.
        self.assertEqual(queue(sb.project_dir, "active"), ["s0"])

    def test_single_unconfirmed_match_does_not_switch(self):
        sb = self.sb
        self.start(pool=1, overrides={"quota": {"interval": "1s", "pool_threshold": 1}})
        sb.add_task("u0", "FAKE:work=30000 long work")
        session = sb.wait_for(lambda: self.sessions("working"), timeout=20, what="working")[0][0]
        # A limit line without reset time, visible for less than one poll.
        sb.fake_control(session, "print Claude usage limit reached.")
        sb.wait_for(lambda: "waiting for the next poll" in sb.daemon_log(), timeout=5,
                    what="the unconfirmed match logged")
        sb.fake_control(session, "print a", "print b", "print c", "print d")
        sb.wait_for(lambda: "suspicion cleared" in sb.daemon_log(), timeout=5,
                    what="the suspicion cleared")
        time.sleep(2.5)
        self.assertEqual(self.signals.count("SwapStarted"), 0)
        self.assertEqual(sb.get_property("ActiveAccount"), "main")

    def test_wall_clock_limit_past_its_reset_is_an_old_line(self):
        # "resets 3:05pm" still on screen at 3:06pm names 3:05pm tomorrow:
        # the first reading of that line holds, so it is old, not a new
        # limit for a day. Two blocked pool sessions switch
        # (pool_threshold 2): the old line must not be one of them.
        sb = self.sb
        self.start()
        for i in range(2):
            sb.add_task(f"w{i}", "FAKE:work=600000 long work")
        working = sb.wait_for(lambda: [s[0] for s in self.sessions("working")]
                              if len(self.sessions("working")) == 2 else None,
                              timeout=20, what="2 working sessions")
        # The next UTC minute, with time left for the daemon to read the line first.
        boundary = (int(time.time()) // 60 + 1) * 60
        if boundary - time.time() < 5:
            boundary += 60
        wall = time.strftime("%I:%M%p", time.gmtime(boundary)).lstrip("0").lower()
        sb.fake_control(working[0], f"limit 5-hour limit reached ∙ resets {wall} (UTC)")
        sb.wait_for(lambda: f"{working[0]}: usage limit on screen" in sb.daemon_log(),
                    timeout=5, what="the wall-clock limit read")
        time.sleep(max(0.0, boundary - time.time()) + 3 * INTERVAL)
        sb.wait_for(lambda: f"{working[0]}: the usage limit on screen is past its reset time"
                    in sb.daemon_log(), timeout=5, what="the old line recognised")
        self.assertIn(f"resets {wall}", sb.capture(working[0]))
        # A real limit in the other session: one blocked session of two.
        sb.fake_control(working[1], f"limit {epoch_limit(3600)[0]}")
        sb.wait_for(lambda: f"{working[1]}: usage limit on screen" in sb.daemon_log(),
                    timeout=5, what="the second limit read")
        time.sleep(5 * INTERVAL)
        self.assertEqual(self.signals.count("QuotaExhausted"), 0)
        self.assertEqual(self.signals.count("SwapStarted"), 0)
        self.assertEqual(sb.get_property("ActiveAccount"), "main")

    def test_unconfirmed_match_confirmed_by_second_poll(self):
        sb = self.sb
        self.start(pool=1, overrides={"quota": {"pool_threshold": 1}})
        sb.add_task("c0", "FAKE:work=30000 long work")
        session = sb.wait_for(lambda: self.sessions("working"), timeout=20, what="working")[0][0]
        sb.fake_control(session, "print Claude usage limit reached.")
        started = self.signals.wait("SwapStarted", timeout=10)
        self.assertEqual(started["args"], ["main", "backup", "quota"])
        self.assertIn("confirmed by a second poll", sb.daemon_log())
        self.signals.wait("SwapFinished", timeout=30)
        # Unknown reset: main is considered out for the 5-hour window.
        accounts = {a[0]: a for a in sb.get_property("Accounts")}
        self.assertGreater(accounts["main"][3], (time.time() + 4 * 3600) * 1_000_000)

    def test_cooldown_blocks_a_second_switch(self):
        sb = self.sb
        spare = os.path.join(sb.home, ".claude-spare")
        self.start(pool=1, overrides={
            "quota": {"pool_threshold": 1, "reactivate_cooldown": "1h"},
            "accounts": [{"name": "main", "home": self.main_home},
                         {"name": "backup", "home": self.backup_home},
                         {"name": "spare", "home": spare}]})
        sb.fake_account_limit(self.main_home, epoch_limit(3600)[0])
        sb.add_task("k0", "FAKE:work=30000 long")
        self.signals.wait("SwapFinished", lambda a: a[:3] == ["main", "backup", True], timeout=30)
        # The backup runs out right away: no new switch within the cooldown. (Its own
        # reset: the very line main showed, redrawn by the resumed conversation, is history.)
        sb.fake_account_limit(self.backup_home, epoch_limit(3700)[0])
        sb.wait_for(lambda: "within quota.reactivate_cooldown" in sb.daemon_log(), timeout=20,
                    what="the cooldown logged")
        time.sleep(1.5)
        self.assertEqual(self.signals.count("SwapStarted"), 1)
        self.assertEqual(sb.get_property("ActiveAccount"), "backup")
        self.assertEqual(self.link_target(), self.backup_home)

    def test_link_failure_rolls_back(self):
        sb = self.sb
        self.start(pool=1)
        # A real directory where backup's shared link must go (data: never replaced).
        obstruction = os.path.join(self.backup_home, "projects")
        os.makedirs(obstruction)
        with open(os.path.join(obstruction, "keep.jsonl"), "w") as f:
            f.write("{}\n")
        r = self.gdbus("SwitchAccount", "backup")
        self.assertEqual(r.returncode, 0, r.stderr)
        finished = self.signals.wait("SwapFinished", timeout=20)
        self.assertEqual(finished["args"][:3], ["main", "backup", False])
        self.assertIn("rolled back", finished["args"][3])
        self.assertIn(obstruction, finished["args"][3])
        self.assertEqual(sb.get_property("ActiveAccount"), "main")
        self.assertEqual(self.link_target(), self.main_home)
        self.assertEqual(sb.get_property("SwapState"), "normal")
        self.assertFalse(sb.get_property("PartialSwap"))
        self.assertTrue(os.path.exists(os.path.join(obstruction, "keep.jsonl")))

    def test_rollback_failure_sets_partial_swap_until_cleared(self):
        sb = self.sb
        self.start(pool=1)
        # The operator replaced ~/.claude with a real directory: the flip
        # fails, and so does putting the link back.
        os.unlink(self.link)
        os.makedirs(self.link)
        r = self.gdbus("SwitchAccount", "backup")
        self.assertEqual(r.returncode, 0, r.stderr)
        finished = self.signals.wait("SwapFinished", timeout=20)
        self.assertFalse(finished["args"][2])
        self.assertIn("ClearPartialSwap", finished["args"][3])
        self.assertTrue(sb.get_property("PartialSwap"))
        self.assertEqual(sb.get_property("ActiveAccount"), "main")
        r = self.gdbus("SwitchAccount", "")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("org.claudefailover.Error.PartialSwap", r.stderr)
        # Clearing before the fix is refused, with what to do.
        r = self.gdbus("ClearPartialSwap")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("none of the account homes", r.stderr)
        os.rmdir(self.link)
        os.symlink(self.main_home, self.link)
        r = self.gdbus("ClearPartialSwap")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(sb.get_property("PartialSwap"))
        r = self.gdbus("SwitchAccount", "backup")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.signals.wait("SwapFinished", lambda a: a[2] is True, timeout=20)
        self.assertEqual(self.link_target(), self.backup_home)

    def test_switch_account_arguments(self):
        sb = self.sb
        self.start(pool=1)
        for args, error in ((["nosuch"], "NoSuchAccount"), (["main"], "InvalidArgument")):
            r = self.gdbus("SwitchAccount", *args)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(f"org.claudefailover.Error.{error}", r.stderr)
        r = self.gdbus("ClearPartialSwap")
        self.assertIn("org.claudefailover.Error.InvalidArgument", r.stderr)
        # D-Bus keeps answering during a switch, and a second one is refused.
        r = self.gdbus("SwitchAccount", "")
        self.assertEqual(r.returncode, 0, r.stderr)
        r2 = self.gdbus("SwitchAccount", "main")
        self.assertTrue(r2.returncode == 0 or "SwapInProgress" in r2.stderr
                        or "InvalidArgument" in r2.stderr, r2.stderr)
        self.signals.wait("SwapFinished", lambda a: a[:3] == ["main", "backup", True], timeout=20)

    def test_crash_at_each_step(self):
        sb = self.sb
        sb.write_config()
        for step, finished in (("swap-saving", False), ("swap-switching", False),
                               ("swap-flipped", True), ("swap-resuming", True)):
            with self.subTest(step=step):
                if sb.daemon is not None and sb.daemon.poll() is None:
                    sb.stop_daemon()
                if os.path.islink(self.link):
                    os.unlink(self.link)
                os.symlink(self.main_home, self.link)
                state = os.path.join(sb.state_dir, "state.json")
                if os.path.exists(state):
                    os.unlink(state)
                self.start(pool=1, env=sb.env(CF_FAULT_CRASH_AT=step))
                task = f"x-{step}"
                sb.add_task(task, "FAKE:work=4000 crash test")
                sb.wait_for(lambda: self.sessions("working"), timeout=20, what="working")
                r = self.gdbus("SwitchAccount", "backup")
                sb.wait_for(lambda: sb.daemon.poll() is not None, timeout=15,
                            what=f"the daemon killed at {step}")
                self.assertEqual(sb.daemon.returncode, -signal.SIGKILL)
                self.assertIn(self.link_target(), (self.main_home, self.backup_home))
                sb.start_daemon()
                self.wait_settled()
                expected = self.backup_home if finished else self.main_home
                self.assertEqual(self.link_target(), expected)
                self.assertEqual(sb.get_property("ActiveAccount"),
                                 "backup" if finished else "main")
                self.assertFalse(sb.get_property("PartialSwap"))
                # Nothing lost: the task ends in done/.
                sb.wait_for(lambda: task in queue(sb.project_dir, "done"), timeout=40,
                            what=f"{task} done after the restart")
                places = [p for p in ("inbox", "active", "done", "failed")
                          if task in queue(sb.project_dir, p)]
                self.assertEqual(places, ["done"])

    def test_return_at_survives_restart(self):
        sb = self.sb
        self.start(pool=1, overrides={"quota": {"pool_threshold": 1}})
        text, reset = epoch_limit(3600)
        sb.fake_account_limit(self.main_home, text)
        sb.add_task("r0", "FAKE:work=30000 long")
        self.signals.wait("SwapFinished", lambda a: a[2] is True, timeout=30)
        return_at = sb.get_property("ReturnAt")
        self.assertEqual(return_at, (reset + 1) * 1_000_000)
        sb.stop_daemon(signal.SIGKILL)
        sb.start_daemon()
        self.wait_settled()
        self.assertEqual(sb.get_property("ReturnAt"), return_at)
        self.assertEqual(sb.get_property("SwapState"), "fallback")
        self.assertEqual(sb.get_property("ActiveAccount"), "backup")

    def test_all_accounts_exhausted_pauses_until_earliest_reset(self):
        sb = self.sb
        self.start(pool=1, overrides={"quota": {"pool_threshold": 1, "reactivate_cooldown": "0s"}})
        main_text, main_reset = epoch_limit(12)
        sb.fake_account_limit(self.main_home, main_text)
        sb.add_task("a0", "FAKE:work=30000 long")
        self.signals.wait("SwapFinished", lambda a: a[:3] == ["main", "backup", True], timeout=30)
        # Main's sessions are gone; it stays recorded as exhausted until its reset.
        sb.fake_account_limit(self.main_home, False)
        sb.fake_account_limit(self.backup_home, epoch_limit(3600)[0])
        sb.wait_for(lambda: sb.get_property("DispatchPaused"), timeout=20, what="dispatch paused")
        self.assertIn("Every account is exhausted", sb.daemon_log())
        # Sessions stay alive meanwhile; new tasks wait.
        self.assertTrue(self.sessions())
        sb.add_task("a1", "FAKE:work=100 quick")
        time.sleep(1)
        self.assertIn("a1", queue(sb.project_dir, "inbox"))
        # Main's reset comes first: dispatch resumes there.
        back = self.signals.wait("SwapStarted", lambda a: a[:2] == ["backup", "main"], timeout=30)
        self.assertIn(back["args"][2], ("quota", "return"))
        self.assertGreaterEqual(back["t"], main_reset - 0.5)
        sb.wait_for(lambda: not sb.get_property("DispatchPaused"), timeout=20, what="dispatch resumed")
        sb.fake_account_limit(self.backup_home, False)
        sb.wait_for(lambda: "a1" in queue(sb.project_dir, "done"), timeout=40, what="a1 done")

    def test_broken_layout_refuses_to_start(self):
        sb = self.sb
        sb.write_config()
        os.makedirs(os.path.join(self.main_home, "projects"))
        os.makedirs(os.path.join(sb.home, "elsewhere"))
        os.symlink(os.path.join(sb.home, "elsewhere"), os.path.join(self.backup_home, "file-history"))
        sb.start_daemon(wait=False)
        sb.daemon.wait(timeout=15)
        self.assertEqual(sb.daemon.returncode, 1)
        log = sb.daemon_log()
        # Every problem of every account, in one message.
        self.assertIn(os.path.join(self.main_home, "projects"), log)
        self.assertIn(os.path.join(self.backup_home, "file-history"), log)
        self.assertIn("[main]", log)
        self.assertIn("[backup]", log)


def _merge(base, over):
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


if __name__ == "__main__":
    unittest.main(verbosity=2)
