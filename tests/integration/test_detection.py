#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Issue 16 on real parts with tests/fake-claude (private dbus-daemon, tmux,
the real claude-failoverd): a session that needs a person (needs-input,
SessionNeedsInput, a notification, the task requeued after
dispatcher.needs_input_timeout), a session on a usage limit under the pool
threshold (blocked, never done, working again when Claude goes on by
itself), and an account that is unusable, not exhausted (switch with reason
auth, Usage problem persisted, SwitchAccount refused until EnableAccount).
The same scenarios with the real Claude Code CLI are in test_real_claude.py."""

import glob
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUS_NAME, SandboxTestCase  # noqa: E402
from signal_log import SignalLog  # noqa: E402
from test_notify import FakeApi, TOKEN, CHAT  # noqa: E402

INTERVAL = 0.3                   # quota.interval and watcher.interval (seconds)


def queue(project, place):
    return sorted(os.path.basename(p)[:-3]
                  for p in glob.glob(os.path.join(project, ".agent-queue", place, "*.md")))


def meta(project, task):
    with open(os.path.join(project, ".agent-queue", "meta", f"{task}.json"), encoding="utf-8") as f:
        return json.load(f)


def merge(base, over):
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class DetectionTest(SandboxTestCase):
    LOG_LINES = 150

    def setUp(self):
        super().setUp()
        self.telegram = FakeApi()
        self.addCleanup(self.telegram.close)

    def start(self, overrides=None, pool=1, hook_command=None, bare_stop_failure=False):
        sb = self.sb
        base = {"pool": {"autonomous": {"min": pool, "max": pool}},
                "watcher": {"interval": f"{int(INTERVAL * 1000)}ms"},
                "quota": {"interval": f"{int(INTERVAL * 1000)}ms", "reactivate_cooldown": "1s",
                          "return_margin": "1s", "pool_threshold": 2, "dedicated_threshold": 1},
                "dispatcher": {"cooldown_schedule": [0], "max_dispatch_per_task": 3},
                "notifications": {"telegram_url": self.telegram.url}}
        sb.write_config(merge(base, overrides or {}))
        if bare_stop_failure:
            # StopFailure hooks without last_assistant_message (tests/fake-claude).
            os.makedirs(sb.fake_control_dir, exist_ok=True)
            open(os.path.join(sb.fake_control_dir, "bare-stop-failure"), "w").close()
        for account in sb.config["accounts"]:
            r = sb.ctl("install-hooks", account["home"], "--command", hook_command or sb.ctl_path)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.signals = SignalLog(sb)
        sb.start_daemon(env=sb.env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_CHAT_ID=CHAT,
                                   G_MESSAGES_DEBUG=os.environ.get("CF_DEBUG_DAEMON")))
        sb.wait_for(lambda: len(self.sessions("idle")) >= pool, timeout=30,
                    what=f"{pool} idle pool sessions")

    def sessions(self, state=None):
        return [s for s in self.sb.get_property("Sessions")
                if s[1] == "pool" and (state is None or s[2] == state)]

    def session_of(self, task):
        return self.sb.wait_for(lambda: [s for s in self.sessions() if s[4] == task],
                                timeout=20, what=f"a session on {task}")[0]

    def pane_of(self, session):
        return self.sb.tmux("display-message", "-p", "-t", f"={session}:",
                            "#{pane_id}").stdout.strip()

    def hook(self, event, session, payload):
        r = self.sb.ctl("hook", event, input=json.dumps(payload),
                        env=self.sb.env(TMUX_PANE=self.pane_of(session), CF_HOOK_DEBUG="1"))
        self.assertEqual((r.returncode, r.stderr), (0, ""))

    def hold_hook(self, event, script):
        """A hook command that runs SCRIPT (sh) first for EVENT, then the real
        claude-failoverctl; named like it, so install-hooks knows it as ours."""
        hold = os.path.join(self.sb.root, "hold")
        os.makedirs(hold, exist_ok=True)
        wrapper = os.path.join(hold, "claude-failoverctl")
        with open(wrapper, "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\n"
                    f'if [ "$2" = {event} ]; then {script}; fi\n'
                    f'exec {self.sb.ctl_path} "$@"\n')
        os.chmod(wrapper, 0o755)
        return wrapper

    def gdbus(self, method, *args):
        return self.sb.gdbus("call", "--dest", BUS_NAME, "--object-path",
                             "/org/claudefailover/Manager", "--method",
                             f"org.claudefailover.Manager.{method}", *args, check=False)

    def usage_problem(self, account):
        return {u[0]: u[5] for u in self.sb.get_property("Usage")}[account]

    def telegram_texts(self):
        return [json.loads(r["body"]).get("text", "") for r in self.telegram.recorded()]

    # ------------------------------------------------------------------

    def test_needs_input_from_a_notification_requeues_after_the_timeout(self):
        sb = self.sb
        # The second attempt waits 2 s: the reason can be read in between.
        self.start({"dispatcher": {"needs_input_timeout": "2s", "cooldown_schedule": [0, 2]}})
        sb.add_task("ask", "FAKE:hang Needs a permission")
        session = self.session_of("ask")[0]
        sb.wait_for(lambda: self.session_of("ask")[2] == "working", timeout=20, what="working")
        asked = time.time()
        self.hook("Notification", session,
                  {"hook_event_name": "Notification", "notification_type": "permission_prompt",
                   "message": "Claude needs your permission to use Bash"})

        signal = self.signals.wait("SessionNeedsInput", timeout=10)
        self.assertEqual(signal["args"][0], session)
        self.assertEqual(os.path.realpath(signal["args"][1]), os.path.realpath(sb.project_dir))
        self.assertEqual(signal["args"][2], "ask")
        self.assertEqual(signal["args"][3],
                         "permission_prompt: Claude needs your permission to use Bash")
        self.assertEqual(self.session_of("ask")[2], "needs-input")
        sb.wait_for(lambda: [t for t in self.telegram_texts() if session in t and "ask" in t],
                    timeout=15, what="the needs-input notification")

        # Still waiting (the busy pane does not count as an answer) …
        time.sleep(1.0)
        self.assertEqual(self.session_of("ask")[2], "needs-input")
        # … until the timeout: requeued with the reason, attempt counted.
        finished = self.signals.wait("TaskFinished", lambda a: a[1] == "ask", timeout=15)
        self.assertEqual(finished["args"][3], "requeued")
        self.assertGreaterEqual(finished["t"] - asked, 2.0 - 0.1)
        self.assertEqual(self.signals.count("TaskFinished", lambda a: a[3] == "done"), 0)
        info = meta(sb.project_dir, "ask")
        self.assertEqual(info["attempts"], 1, info)
        self.assertTrue(info["history"][-1]["attempt_counted"], info)
        self.assertIn("task ask: requeued (nobody answered the session's question within "
                      "dispatcher.needs_input_timeout)", sb.daemon_log())
        # The session was replaced (never /exit typed into a dialog), and the
        # task went out again.
        sb.wait_for(lambda: len(sb.fake_events("prompt")) >= 2, timeout=30,
                    what="the second attempt")
        self.assertNotIn("/exit", [e.get("text") for e in sb.fake_events("prompt")])
        self.assertEqual(queue(sb.project_dir, "done"), [])

    def test_idle_prompt_notification_is_not_needs_input(self):
        sb = self.sb
        self.start()
        sb.add_task("quiet", "FAKE:hang nothing to ask")
        session = self.session_of("quiet")[0]
        sb.wait_for(lambda: self.session_of("quiet")[2] == "working", timeout=20, what="working")
        self.hook("Notification", session,
                  {"hook_event_name": "Notification", "notification_type": "idle_prompt",
                   "message": "Claude is waiting for your input"})
        time.sleep(3 * INTERVAL)
        self.assertEqual(self.session_of("quiet")[2], "working")
        self.assertEqual(self.signals.events("SessionNeedsInput"), [])

    def test_limit_under_the_threshold_is_blocked_then_working_then_done(self):
        sb = self.sb
        self.start(pool=2)
        sb.add_task("other", "FAKE:hang keeps the second session busy")
        sb.wait_for(lambda: len(self.sessions("working")) == 1, timeout=20, what="one working")
        sb.add_task("limited", "FAKE:limit=You've hit your 5-hour limit · resets 11:59pm (UTC)")
        session = self.session_of("limited")[0]
        sb.wait_for(lambda: self.session_of("limited")[2] == "blocked", timeout=20,
                    what="the limited session blocked")
        # One of two sessions: under quota.pool_threshold, no switch; and a
        # blocked pane (no spinner, prompt) is never done.
        time.sleep(5 * INTERVAL)
        self.assertEqual(self.session_of("limited")[2], "blocked")
        self.assertEqual(self.signals.events("SwapStarted"), [])
        self.assertEqual(self.signals.events("TaskFinished"), [])

        # Claude goes on by itself (its auto-continue submits a prompt).
        sb.fake_control(session, "clear")
        time.sleep(0.5)
        sb.send_text(f"={session}:", "continue FAKE:work=1500")
        self.signals.wait("SessionChanged",
                          lambda a: a[0] == session and a[1] == "working", timeout=15)
        finished = self.signals.wait("TaskFinished", lambda a: a[1] == "limited", timeout=30)
        self.assertEqual(finished["args"][3], "done")
        self.assertEqual(queue(sb.project_dir, "done"), ["limited"])
        self.assertEqual(self.signals.events("SwapStarted"), [])

    def test_authentication_failure_makes_the_account_unusable_until_enabled(self):
        sb = self.sb
        self.start(pool=2)
        self.assertEqual(self.usage_problem("main"), "")
        sb.add_task("login", "FAKE:auth")
        started = self.signals.wait("SwapStarted", timeout=20)
        self.assertEqual(started["args"], ["main", "backup", "auth"])
        self.assertEqual(self.signals.wait("SwapFinished", timeout=30)["args"][2], True)
        self.assertEqual(self.usage_problem("main"), "authentication_failed")
        self.assertEqual(sb.get_property("ActiveAccount"), "backup")
        sb.wait_for(lambda: [t for t in self.telegram_texts()
                             if "main" in t and "accounts enable main" in t],
                    timeout=15, what="the account-unusable notification")

        # Never switched to: neither by hand …
        r = self.gdbus("SwitchAccount", "main")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("org.claudefailover.Error.AccountUnusable", r.stderr)
        r = sb.ctl("switch", "main")
        self.assertEqual(r.returncode, 1)
        self.assertIn("accounts enable main", r.stderr)
        # … nor after a restart (persisted in the state file).
        sb.stop_daemon()
        with open(sb.config["state_file"], encoding="utf-8") as f:
            self.assertIn("authentication_failed", f.read())
        sb.start_daemon(env=sb.env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_CHAT_ID=CHAT))
        self.assertEqual(self.usage_problem("main"), "authentication_failed")

        r = sb.ctl("accounts", "enable", "main")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("main", r.stdout)
        self.assertEqual(self.usage_problem("main"), "")
        r = sb.ctl("accounts", "enable", "nosuch")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such account 'nosuch'", r.stderr)
        r = sb.ctl("accounts", "frobnicate", "main")
        self.assertEqual(r.returncode, 2)
        r = sb.ctl("switch", "main")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sb.get_property("ActiveAccount"), "main")

    # --- the transcript signal (issue 16 item 1) ----------------------------------

    def decision_lines(self, verdict):
        return [line for line in self.sb.daemon_log().splitlines()
                if "StopFailure error=rate_limit → " + verdict + " (" in line]

    def test_transcript_tells_a_bare_429_is_a_throttle(self):
        """StopFailure rate_limit with no message: alone, an older release's
        usage limit (a lone pool session would switch); the transcript's
        newest line says the server throttles: no switch, the failed turn
        goes back to the queue."""
        sb = self.sb
        self.start(pool=1, bare_stop_failure=True)
        sb.add_task("busy-server", "FAKE:throttle")
        finished = self.signals.wait("TaskFinished", lambda a: a[1] == "busy-server", timeout=30)
        self.assertEqual(finished["args"][3], "requeued")
        lines = sb.wait_for(lambda: self.decision_lines("throttle"), timeout=10,
                            what="the logged decision")
        self.assertRegex(lines[0], r"ccl-auto-\d+: StopFailure error=rate_limit → throttle \(sources: "
                                   r"hook,transcript(,pane)?; conflicting: none; reason: rate_limit\)")
        time.sleep(4 * INTERVAL)
        self.assertEqual(self.signals.events("SwapStarted"), [])
        self.assertEqual(sb.get_property("ActiveAccount"), "main")
        self.assertEqual(self.decision_lines("usage-limit"), [])

    def test_transcript_confirms_a_bare_429_is_a_usage_limit(self):
        sb = self.sb
        self.start(pool=1, bare_stop_failure=True)
        sb.add_task("spent", "FAKE:limit=You've hit your 5-hour limit · resets 11:59pm (UTC)")
        started = self.signals.wait("SwapStarted", timeout=30)
        self.assertEqual(started["args"], ["main", "backup", "quota"])
        lines = sb.wait_for(lambda: self.decision_lines("usage-limit"), timeout=10,
                            what="the logged decision")
        self.assertRegex(lines[0], r"StopFailure error=rate_limit → usage-limit \(sources: "
                                   r"hook,transcript(,pane)?; conflicting: none; reason: hit-five-hour-limit; "
                                   r"reset: \d{4}-\d\d-\d\dT23:59:00Z\)")

    def test_a_limit_hook_arriving_after_the_switch_is_history(self):
        """The pane showed the limit first and the switch resumed the task on the
        backup; the StopFailure hook of the Claude that hit it arrives only then
        (the real CLI 2.1.332's decision waits for its transcript line, and a
        pane poll can come first). It is history of the conversation, not a
        limit of the backup: one switch, dispatch not paused."""
        sb = self.sb
        # Survives the respawn that replaces the limited Claude (SIGHUP).
        wrapper = self.hold_hook("StopFailure", 'trap "" HUP; payload=$(cat); sleep 1; '
                                 f'printf %s "$payload" | exec {sb.ctl_path} "$@"')
        # The resumed turn still runs when the hook comes (panes take the
        # tmux server's environment).
        sb.tmux("set-environment", "-g", "FAKE_CLAUDE_WORK_MS", "4000")
        self.start({"quota": {"pool_threshold": 1}}, pool=1, hook_command=wrapper)
        sb.add_task("spent", "FAKE:limit=You've hit your 5-hour limit · resets 11:59pm (UTC)")
        started = self.signals.wait("SwapStarted", timeout=30)
        self.assertEqual(started["args"], ["main", "backup", "quota"])
        sb.wait_for(lambda: "StopFailure error=rate_limit → usage-limit" in sb.daemon_log(),
                    timeout=20, what="the held StopFailure hook decided")
        time.sleep(0.5)
        log = sb.daemon_log()
        self.assertLess(log.index("Switch main → backup (quota): starting"),
                        log.index("StopFailure error=rate_limit → usage-limit"))
        self.assertIn("history, not a limit of account backup", log)
        self.assertNotIn("Account backup is exhausted", log)
        self.assertNotIn("Every account is exhausted", log)
        self.assertEqual(self.signals.count("SwapStarted"), 1)
        self.assertFalse(sb.get_property("DispatchPaused"))

    def test_task_finished_on_screen_when_the_limit_hits_is_answered_once(self):
        """The race of the 1 000-task load test: a task whose turn has just
        finished when another session's limit starts a switch, its Stop hook
        still on its way. It is done, not resumed on the backup (answered
        twice) nor requeued (run twice). The Stop hook is held back 4 s by a
        wrapper; the watcher polls every 10 s, so only the switch's own look
        at the pane can see the finished turn."""
        sb = self.sb
        wrapper = self.hold_hook("Stop", "sleep 4")
        self.start({"watcher": {"interval": "10s"}, "quota": {"pool_threshold": 1}}, pool=2,
                   hook_command=wrapper)
        sb.add_task("long", "FAKE:hang the session that hits the limit")
        limited = self.session_of("long")[0]
        sb.wait_for(lambda: self.session_of("long")[2] == "working", timeout=20, what="working")
        sb.add_task("quick", "FAKE:work=200 finished just before the limit")
        quick = self.session_of("quick")[0]
        sb.wait_for(lambda: sb.fake_events("reply"), timeout=20, what="the quick task's reply")
        time.sleep(1.2)
        self.assertEqual(self.session_of("quick")[2], "working")   # its Stop is held back
        conversation = [e["session_id"] for e in sb.fake_events("prompt")
                        if e["text"].startswith("[quick]")][0]
        sb.fake_control(limited, "limit You've hit your 5-hour limit · resets 11:59pm (UTC)")
        self.signals.wait("SwapStarted", lambda a: a[:2] == ["main", "backup"], timeout=20)
        self.signals.wait("SwapFinished", timeout=30)
        sb.wait_for(lambda: queue(sb.project_dir, "done") == ["quick"], timeout=20,
                    what="quick done")
        self.assertIn(f"{quick}: its task had finished on screen: done, not resumed",
                      sb.daemon_log())
        time.sleep(4.5)                  # the held Stop hook arrives, and changes nothing
        self.assertEqual(sb.fake_events("start", resume=conversation), [])
        self.assertEqual(len([e for e in sb.fake_events("prompt")
                              if e["text"].startswith("[quick]")]), 1)
        finished = [e["args"] for e in self.signals.events("TaskFinished") if e["args"][1] == "quick"]
        self.assertEqual([a[3] for a in finished], ["done"])
        self.assertEqual(queue(sb.project_dir, "inbox"), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
