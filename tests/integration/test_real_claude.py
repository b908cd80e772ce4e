#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The real Claude Code CLI in the pool (the pinned release, ../../claude-code-version),
against tests/mock_anthropic.py: the daemon launches it, pastes tasks into it, reads its
hooks, switches accounts on its usage limits and resumes its conversations.

Nothing here runs tests/fake-claude: every session is the real CLI. Skips (exit 77) when the
CLI is not installed, except under CI=true, where only an unreachable npm registry skips.
"""

import json
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import SandboxTestCase, task_places  # noqa: E402
from realclaude import (make_account_home, remove_late_writes, require_real_claude,  # noqa: E402
                        start_mock)
from signal_log import SignalLog  # noqa: E402

CLAUDE = require_real_claude()
RESUME_PROMPT_START = "Your session was moved to another account"


class RealClaudeTest(SandboxTestCase):
    LOG_LINES = 80

    def setUp(self):
        # As root the CLI refuses --dangerously-skip-permissions without it; the tmux
        # server the sandbox starts (and so every pane) inherits it.
        if os.geteuid() == 0:
            os.environ["IS_SANDBOX"] = "1"
        # A killed Claude otherwise writes telemetry and .claude.json backups into the
        # sandbox after it is gone, leaving it behind in /tmp.
        os.environ["DISABLE_TELEMETRY"] = "1"
        super().setUp()
        # The claude-failoverctl the daemon installs into the account homes' hooks and
        # statusline (prepare_accounts): the one just built.
        os.environ["CF_CTL_PATH"] = self.sb.ctl_path
        self.mock = start_mock(lifetime=900, log_path=os.path.join(self.sb.root, "mock.jsonl"))
        self.addCleanup(self.mock.stop)
        self.addCleanup(self._dump_mock)

    def _close_sandbox(self):
        root = self.sb.root
        super()._close_sandbox()
        remove_late_writes(root)

    def _dump_mock(self):
        if not any(t is self for t, _ in list(self._outcome.result.failures) +
                   list(self._outcome.result.errors)):
            return
        print("--- mock requests ---", file=sys.stderr)
        for r in self.mock.requests()[-30:]:
            print(json.dumps({k: r[k] for k in ("account", "path", "status", "mode", "title",
                                                "text")}), file=sys.stderr)
        for name in self.sb.sessions():
            print(f"--- pane {name} ---\n{self.sb.capture(name)}", file=sys.stderr)

    # --- set-up ------------------------------------------------------------------

    def home_of(self, account):
        return os.path.join(self.sb.home, f".claude-{account}")

    def start(self, overrides=None, accounts=("main", "backup"), trusted=True, dedicated=()):
        sb = self.sb
        config = {
            "tmux": {"claude_command": CLAUDE},
            "accounts": [{"name": a, "home": self.home_of(a)} for a in accounts],
            "pool": {"autonomous": {"min": 2, "max": 2}, "dedicated": list(dedicated)},
            "dispatcher": {"prompt_timeout": "20s", "cooldown_schedule": [0, 1, 1],
                           "max_dispatch_per_task": 3},
            "quota": {"interval": "500ms", "pool_threshold": 1, "reactivate_cooldown": "1s"},
            "watcher": {"interval": "300ms"},
        }
        if overrides:
            for key, value in overrides.items():
                if isinstance(value, dict) and isinstance(config.get(key), dict):
                    config[key] = {**config[key], **value}
                else:
                    config[key] = value
        sb.write_config(config)
        for account in accounts:
            # Only what an operator does (log in: credentials) and the mock's address;
            # unless TRUSTED, onboarding, trust, the bypass warning and the hooks are left
            # to the daemon's preparation (prepare_accounts).
            make_account_home(self.home_of(account), account, self.mock.url,
                              prepared=trusted, trusted=[sb.projects_dir] if trusted else ())
            if trusted:
                sb.ctl("install-hooks", self.home_of(account), check=True)
        self.signals = SignalLog(sb)
        sb.start_daemon()
        sb.wait_for(lambda: len([s for s in sb.get_property("Sessions") if s[2] == "idle"]) >= 2,
                    timeout=20, what="two idle pool sessions")

    def wait_places(self, ids, place, timeout=60, project=None):
        project = project or self.sb.project_dir
        return self.sb.wait_for(
            lambda: all(task_places(project, ids).get(i) == [place] for i in ids),
            timeout=timeout, what=f"tasks {ids} in {place}/")

    def turns_with(self, text, account=None):
        return [r for r in self.mock.turns(account) if text in r["text"]]

    # --- scenarios ---------------------------------------------------------------

    def test_tasks_dispatched_into_sessions_each_once(self):
        sb = self.sb
        self.start()
        ids = [f"t{i}" for i in range(4)]
        for i in ids:
            sb.add_task(i, f"Say hello for task {i}-{uuid.uuid4().hex[:6]}.")
        self.wait_places(ids, "done", timeout=90)
        # Each task's text reached the API exactly once, on the active account.
        for i in ids:
            turns = self.turns_with(f"for task {i}-")
            self.assertEqual(len(turns), 1, f"{i}: {turns}")
            self.assertEqual(turns[0]["account"], "main")
        # The signal comes after the file's move.
        sb.wait_for(lambda: sorted(e["args"][1] for e in self.signals.events("TaskFinished")
                                   if e["args"][3] == "done") == ids,
                    timeout=10, what="a TaskFinished done for each task")
        self.assertEqual(len(self.signals.events("TaskFinished")), len(ids))
        sessions = {e["args"][2] for e in self.signals.events("TaskDispatched")}
        self.assertEqual(len(sessions), 2, "both pool sessions took tasks")
        # No dialog, no typed command line: the pane is Claude itself.
        for name in sessions:
            out = sb.tmux("display-message", "-p", "-t", f"={name}:",
                          "#{pane_current_command}|#{pane_start_command}").stdout
            self.assertIn("--session-id", out)

    def test_never_trusted_project_launches_without_any_dialog(self):
        sb = self.sb
        # Empty account homes but for the login: the daemon prepares them.
        self.start(trusted=False)
        for account in ("main", "backup"):
            with open(os.path.join(self.home_of(account), ".claude.json")) as f:
                prepared = json.load(f)
            self.assertTrue(prepared["hasCompletedOnboarding"])
            with open(os.path.join(self.home_of(account), "settings.json")) as f:
                settings = json.load(f)
            self.assertTrue(settings["skipDangerousModePermissionPrompt"])
            self.assertIn("Stop", settings["hooks"])
            self.assertEqual(settings["env"]["ANTHROPIC_BASE_URL"], self.mock.url)
        # A project created after start-up, never seen by any account.
        project = os.path.join(sb.projects_dir, "brand-new")
        for sub in ("inbox", "active", "done", "failed"):
            os.makedirs(os.path.join(project, ".agent-queue", sub))
        sb.add_task("fresh", "Say FRESHPROJECT.", project=project)
        self.wait_places(["fresh"], "done", timeout=90, project=project)
        self.assertTrue(self.turns_with("FRESHPROJECT", "main"))
        with open(os.path.join(self.home_of("main"), ".claude.json")) as f:
            trusted = json.load(f)["projects"]
        self.assertTrue(any(os.path.realpath(p) == os.path.realpath(project) or
                            os.path.realpath(project).startswith(os.path.realpath(p) + "/")
                            for p, v in trusted.items() if v.get("hasTrustDialogAccepted")))
        self.assertNotIn("dialog", sb.daemon_log().lower().replace("dialogs", ""))

    def _limit_then_resume(self, claim, reset):
        sb = self.sb
        self.start()
        # The first turn on main is refused; the backup answers.
        marker = uuid.uuid4().hex[:8]
        # Only the task's turn: a limit already there at start-up would refuse Claude's
        # start-up probe too, and the statusline's 100 % would switch before the task runs.
        self.mock.set_behavior("main", "limit", claim=claim, reset=reset, times=1, match=marker)
        sb.add_task("job", f"Write the word {marker} please.")
        started = self.signals.wait("SwapStarted", timeout=60)
        self.assertEqual(started["args"][:3], ["main", "backup", "quota"])
        # The session on the limit was blocked (never done, never idle) before the switch.
        blocked = [e for e in self.signals.events("SessionChanged") if e["args"][1] == "blocked"]
        self.assertTrue(blocked and blocked[0]["t"] <= started["t"] and
                        blocked[0]["args"][3] == "job", self.signals.events("SessionChanged"))
        self.wait_places(["job"], "done", timeout=90)
        # The task's own conversation went on on the backup: the resumed turn carries the
        # original prompt as an earlier turn, then the prompt to go on.
        first = self.turns_with(marker, "main")
        self.assertTrue(first and first[0]["status"] == 429, first)
        resumed = [r for r in self.mock.turns("backup")
                   if any(marker in t for t in r["user_texts"])]
        self.assertTrue(resumed, self.mock.turns("backup"))
        self.assertIn(RESUME_PROMPT_START, resumed[0]["text"])
        # Not started over: every backup turn with the task's text goes on from it.
        for r in self.turns_with(marker, "backup"):
            self.assertIn(RESUME_PROMPT_START, r["text"])
        # The limit redrawn with the resumed conversation is not the backup's.
        self.assertEqual(self.signals.count("SwapStarted"), 1)
        self.assertNotIn("Every account is exhausted", sb.daemon_log())
        self.assertEqual(sb.get_property("DispatchPaused"), False)
        # The signal comes after the file's move.
        self.signals.wait("TaskFinished", lambda a: a[1] == "job", timeout=10)
        finished = [e["args"] for e in self.signals.events("TaskFinished") if e["args"][1] == "job"]
        self.assertEqual([a[3] for a in finished], ["done"])
        self.assertIn("resumes in conversation", sb.daemon_log())
        self.assertEqual(sb.get_property("ActiveAccount"), "backup")
        # The decision read the CLI's transcript as well as its hook.
        self.assertRegex(sb.daemon_log(), r"StopFailure error=rate_limit → usage-limit \(sources: "
                                          r"hook,transcript(,pane)?; conflicting: none; ")
        return started

    def test_five_hour_limit_switches_and_resumes_the_conversation(self):
        self._limit_then_resume("five_hour", int(time.time()) + 2 * 3600)

    def test_weekly_limit_with_the_menu_switches_and_resumes(self):
        # A reset more than 24 h away: Claude shows its modal "What do you want to do?" menu.
        self._limit_then_resume("seven_day", int(time.time()) + 3 * 86400)

    def test_throttle_and_server_error_never_switch(self):
        sb = self.sb
        self.start()
        for task, mode, status in (("throttled", "throttle429", 429), ("errored", "error500", 500)):
            self.mock.set_behavior("main", mode, times=1)
            marker = f"{task.upper()}-{uuid.uuid4().hex[:6]}"
            sb.add_task(task, f"Answer with the word {marker}.")
            self.wait_places([task], "done", timeout=90)
            # The failed turn sent the task back (it was not done on the spot); it ran again.
            statuses = [r["status"] for r in self.turns_with(marker, "main")]
            self.assertEqual(statuses, [status, 200], f"{task}: {statuses}")
            self.assertFalse(self.turns_with(marker, "backup"))
        self.assertEqual(self.signals.events("SwapStarted"), [])
        self.assertEqual(sb.get_property("ActiveAccount"), "main")
        sb.wait_for(lambda: self.signals.count("TaskFinished") >= 4, timeout=10,
                    what="four TaskFinished")
        finished = [(e["args"][1], e["args"][3]) for e in self.signals.events("TaskFinished")]
        self.assertEqual(finished, [("throttled", "requeued"), ("throttled", "done"),
                                    ("errored", "requeued"), ("errored", "done")])
        self.assertIn("a 429 that is not a usage limit", sb.daemon_log())
        # Each decision read the CLI's transcript (its error line comes after the hook).
        self.assertRegex(sb.daemon_log(), r"StopFailure error=rate_limit → throttle \(sources: "
                                          r"hook,transcript(,pane)?; conflicting: none; ")
        self.assertRegex(sb.daemon_log(), r"StopFailure error=server_error → server-error \(sources: "
                                          r"hook,transcript(,pane)?; conflicting: none; ")

    def test_throttle_on_both_pool_sessions_never_switches(self):
        # Both sessions' turns get the server's 429 (not a usage limit) at once; Claude
        # gives up at once (CLAUDE_CODE_MAX_RETRIES=0), the tasks go back to the queue and
        # finish once the throttle is over. Two throttled turns here, not 60 s of them:
        # with retries off each throttled turn costs an attempt, and the point is the
        # verdict (throttle, no switch), not the length of the window.
        sb = self.sb
        self.start({"dispatcher": {"max_dispatch_per_task": 3}})
        self.mock.set_behavior("main", "throttle429", times=2)
        markers = {t: f"{t.upper()}-{uuid.uuid4().hex[:6]}" for t in ("left", "right")}
        for task, marker in markers.items():
            sb.add_task(task, f"Answer with the word {marker}.")
        self.wait_places(list(markers), "done", timeout=120)
        for task, marker in markers.items():
            statuses = [r["status"] for r in self.turns_with(marker, "main")]
            self.assertEqual(statuses, [429, 200], f"{task}: {statuses}")
            self.assertFalse(self.turns_with(marker, "backup"))
        self.assertEqual(len({e["args"][2] for e in self.signals.events("TaskDispatched")}), 2)
        self.assertEqual(self.signals.events("SwapStarted"), [])
        self.assertEqual(sb.get_property("ActiveAccount"), "main")
        self.assertNotIn("blocked", [e["args"][1] for e in self.signals.events("SessionChanged")])
        self.assertEqual(sb.daemon_log().count("a 429 that is not a usage limit"), 2)

    def test_auth_failure_switches_with_reason_auth_until_enabled(self):
        sb = self.sb
        self.start()
        self.mock.set_behavior("main", "auth401")
        sb.add_task("login", "Answer with the word AUTHFAIL.")
        started = self.signals.wait("SwapStarted", timeout=60)
        self.assertEqual(started["args"], ["main", "backup", "auth"])
        self.wait_places(["login"], "done", timeout=90)
        # (Claude tries a refused token twice before it gives up.)
        self.assertEqual({r["status"] for r in self.turns_with("AUTHFAIL", "main")}, {401})
        self.assertEqual([r["status"] for r in self.turns_with("AUTHFAIL", "backup")], [200])
        usage = {u[0]: u[5] for u in sb.get_property("Usage")}
        self.assertEqual(usage, {"main": "authentication_failed", "backup": ""})
        # Never switched to until enabled again.
        r = sb.call("SwitchAccount", "s", "main", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("is unusable (authentication_failed)", r.stderr)
        self.mock.set_behavior("main", "ok")
        sb.ctl("accounts", "enable", "main", check=True)
        self.assertEqual({u[0]: u[5] for u in sb.get_property("Usage")}["main"], "")
        sb.call("SwitchAccount", "s", "main")
        finished = self.signals.wait("SwapFinished", lambda a: a[1] == "main", timeout=60)
        self.assertTrue(finished["args"][2], finished)

    def test_needs_input_requeues_after_the_timeout(self):
        # The daemon runs Claude with --dangerously-skip-permissions: the real CLI asks no
        # permission question in a pool session. Its Notification hook of type
        # permission_prompt is sent by hand, into a session whose turn is still streaming.
        sb = self.sb
        self.start({"dispatcher": {"needs_input_timeout": "2s"}})
        self.mock.set_behavior("main", "slow", delay=20, chunks=20, times=1)
        sb.add_task("ask", "Answer with the word ASKME.")
        session = sb.wait_for(lambda: [s[0] for s in sb.get_property("Sessions")
                                       if s[4] == "ask" and s[2] == "working"],
                              timeout=30, what="the task working")[0]
        self.mock.wait_for(lambda reqs: any("ASKME" in r["text"] for r in reqs), 30)
        pane = sb.tmux("display-message", "-p", "-t", f"={session}:", "#{pane_id}").stdout.strip()
        r = sb.ctl("hook", "Notification", input=json.dumps(
            {"hook_event_name": "Notification", "notification_type": "permission_prompt",
             "message": "Claude needs your permission to use Bash"}),
            env=sb.env(TMUX_PANE=pane, CF_HOOK_DEBUG="1"))
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        signal = self.signals.wait("SessionNeedsInput", timeout=10)
        self.assertEqual([signal["args"][0], signal["args"][2]], [session, "ask"])
        self.assertIn("permission_prompt", signal["args"][3])
        requeued = self.signals.wait("TaskFinished", lambda a: a[1] == "ask", timeout=15)
        self.assertEqual(requeued["args"][3], "requeued")
        self.assertGreaterEqual(requeued["t"] - signal["t"], 2.0 - 0.2)
        self.wait_places(["ask"], "done", timeout=90)
        with open(os.path.join(sb.project_dir, ".agent-queue", "meta", "ask.json")) as f:
            self.assertEqual(json.load(f)["attempts"], 2)
        # The signal comes after the file's move.
        self.signals.wait("TaskFinished", lambda a: a[3] == "done", timeout=10)
        finished = [(e["args"][1], e["args"][3]) for e in self.signals.events("TaskFinished")]
        self.assertEqual(finished, [("ask", "requeued"), ("ask", "done")])

    def test_dedicated_session_resumed_across_a_switch(self):
        sb = self.sb
        project = os.path.join(sb.projects_dir, "mine")
        os.makedirs(project, exist_ok=True)
        self.start(dedicated=[{"name": "ccl-1-mine", "project": project}])
        # The operator's own Claude, on the active account, with a conversation.
        conversation = str(uuid.uuid4())
        sb.new_session("ccl-1-mine", [CLAUDE, "--dangerously-skip-permissions", "--session-id",
                                       conversation], cwd=project,
                       env={"CLAUDE_CONFIG_DIR": self.home_of("main")})
        sb.wait_for(lambda: "❯" in sb.capture("ccl-1-mine"), timeout=20, what="operator prompt")
        time.sleep(0.5)
        sb.paste("ccl-1-mine", "Remember the word OPERATOR-TURN.", enter=True)
        self.mock.wait_for(lambda reqs: any("OPERATOR-TURN" in r["text"] for r in reqs), 30)
        sb.wait_for(lambda: conversation in json.dumps(sb.get_property("Sessions")) or
                    self._state_uuid("ccl-1-mine") == conversation, timeout=20,
                    what="the dedicated session's conversation id from its SessionStart hook")
        sb.call("SwitchAccount", "s", "backup")
        self.signals.wait("SwapFinished", timeout=60)
        # Claude runs again there, on the backup, in the same conversation.
        sb.wait_for(lambda: "❯" in sb.capture("ccl-1-mine"), timeout=30, what="resumed prompt")
        sb.paste("ccl-1-mine", "And now the word AFTER-SWITCH.", enter=True)
        reqs = self.mock.wait_for(
            lambda reqs: any("AFTER-SWITCH" in r["text"] and r["account"] == "backup"
                             for r in reqs), 30)
        self.assertIsNotNone(reqs, "the dedicated session's next turn reached the backup")
        turn = [r for r in reqs if "AFTER-SWITCH" in r["text"]][0]
        self.assertTrue(any("OPERATOR-TURN" in t for t in turn["user_texts"]),
                        "the conversation went on (its earlier turn was sent again)")
        self.assertEqual(task_places(sb.project_dir, []), {})

    def usage(self, account):
        return {row[0]: row[1:] for row in self.sb.get_property("Usage")}.get(account)

    def test_usage_over_switch_at_switches_without_interrupting_work(self):
        """Issue 17: Claude's statusline reports 96 % of main's 5-hour window (the mock's
        allowed_warning headers) → Usage shows it → a proactive switch (reason usage) that
        lets the working session finish its task on main; the next task runs on backup."""
        sb = self.sb
        self.start({"quota": {"switch_at": 95, "switch_back_below": 80, "warn_at": 85,
                              "reactivate_cooldown": "1h"}})
        # Task A keeps a session busy on main (a slow answer); task B's answer carries
        # the warning headers.
        self.mock.set_behavior("main", "slow", delay=12, times=1)
        sb.add_task("a-long", "Take a while, LONGTASK.")
        self.mock.wait_for(lambda reqs: any("LONGTASK" in r["text"] and not r["title"] and
                                            r["path"] == "/v1/messages" for r in reqs), 60)
        self.mock.set_behavior("main", "warning", claim="five_hour", utilization=96)
        sb.add_task("b-warn", "Quick one, WARNTASK.")
        sb.wait_for(lambda: (self.usage("main") or [-1])[0] >= 96, timeout=60,
                    what="Usage: main's five-hour window at 96 %")
        started = self.signals.wait("SwapStarted", timeout=30)
        self.assertEqual(started["args"], ["main", "backup", "usage"])
        self.wait_places(["a-long", "b-warn"], "done", timeout=90)
        # The long task was not interrupted: it ran once, on main, never resumed or restarted.
        self.assertEqual([r["account"] for r in self.turns_with("LONGTASK")], ["main"])
        self.assertNotIn("a-long resumes", sb.daemon_log())
        # The signal comes after the file's move.
        self.signals.wait("TaskFinished", lambda a: a[1] == "a-long", timeout=10)
        self.assertEqual([f[3] for f in (e["args"] for e in self.signals.events("TaskFinished"))
                          if f[1] == "a-long"], ["done"])
        sb.add_task("c-next", "Next one, NEXTTASK.")
        self.wait_places(["c-next"], "done", timeout=60)
        self.assertEqual([r["account"] for r in self.turns_with("NEXTTASK")], ["backup"])

    def test_every_account_out_waits_and_resumes_at_the_earliest_reset(self):
        """Issue 17: both accounts hit their wall → dispatch waits (DispatchPaused), keeps the
        queue, and resumes by itself at the earliest reset + return_margin; sessions start at
        least lifecycle.start_stagger apart."""
        sb = self.sb
        # Claude prints a reset to the minute ("resets 2:41pm"): a whole minute, far
        # enough ahead for the whole story to happen before it.
        reset = (int(time.time()) + 30 + 59) // 60 * 60
        self.start({"quota": {"return_margin": "1s", "reactivate_cooldown": "1s"},
                    "lifecycle": {"interval": "300ms", "start_stagger": "1s"}})
        self.mock.set_behavior("main", "limit", claim="five_hour", reset=reset, times=1,
                               match="WAITTASK0")
        self.mock.set_behavior("backup", "limit", claim="five_hour", reset=reset + 3600)
        sb.add_task("w0", "First, WAITTASK0.")
        self.signals.wait("SwapStarted", timeout=60)
        sb.wait_for(lambda: sb.get_property("DispatchPaused"), timeout=60, what="dispatch paused")
        self.assertEqual(sb.get_property("DispatchPausedReason"), "accounts-exhausted")
        resumes = sb.get_property("DispatchResumesAt")
        self.assertGreaterEqual(resumes, reset * 1_000_000)
        self.assertLessEqual(resumes, (reset + 60) * 1_000_000)
        status = sb.ctl("status")
        self.assertIn("every account is exhausted", status.stdout)
        self.assertIn("Resumes at:", status.stdout)
        for i in (1, 2):
            sb.add_task(f"w{i}", f"Then, WAITTASK{i}.")
        time.sleep(2)
        places = task_places(sb.project_dir, ["w1", "w2"])
        self.assertEqual((places.get("w1"), places.get("w2")), (["inbox"], ["inbox"]))
        # Main's reset comes first: back to main, and the queue drains in order.
        self.wait_places(["w0", "w1", "w2"], "done", timeout=200)
        self.assertGreaterEqual(time.time(), reset)
        dispatched = [e for e in self.signals.events("TaskDispatched")
                      if e["args"][1] in ("w1", "w2")]
        self.assertEqual([e["args"][4] for e in dispatched], ["main", "main"])
        gap = abs(dispatched[1]["t"] - dispatched[0]["t"])
        self.assertGreaterEqual(gap, 0.9, "sessions start at least start_stagger apart")

    def _state_uuid(self, name):
        try:
            with open(self.sb.config["state_file"]) as f:
                state = json.load(f)
        except (OSError, ValueError):
            return None
        for s in state.get("sessions", []):
            if s.get("name") == name:
                return s.get("resume_uuid")
        return None

    def test_resume_that_fails_starts_the_task_over(self):
        sb = self.sb
        # The operator forgot "projects" among the shared entries: each account keeps its
        # own conversations, and the backup cannot find the one to resume.
        self.start({"shared_state": {"root": os.path.join(sb.home, ".claude-shared"),
                                     "entries": ["session-env", "file-history"]}})
        self.mock.set_behavior("main", "limit", claim="five_hour",
                               reset=int(time.time()) + 7200, times=1, match="LOSTCONV")
        sb.add_task("lost", "Say the word LOSTCONV.")
        self.signals.wait("SwapStarted", timeout=60)
        self.wait_places(["lost"], "done", timeout=90)
        log = sb.daemon_log()
        self.assertIn("cannot be resumed on account backup", log)
        self.assertIn("is " + self.home_of("backup") + "/projects linked", log)
        # Started over with the task's own text, on the backup, without the prompt to go
        # on; the attempt not counted; finished once.
        restarted = self.turns_with("LOSTCONV", "backup")
        self.assertTrue(restarted)
        self.assertNotIn(RESUME_PROMPT_START, restarted[-1]["text"])
        with open(os.path.join(sb.project_dir, ".agent-queue", "meta", "lost.json")) as f:
            self.assertEqual(json.load(f)["attempts"], 1)
        sb.wait_for(lambda: self.signals.count("TaskFinished") >= 1, timeout=10,
                    what="TaskFinished")
        finished = [(e["args"][1], e["args"][3]) for e in self.signals.events("TaskFinished")]
        self.assertEqual(finished, [("lost", "done")])


if __name__ == "__main__":
    unittest.main(verbosity=2)
