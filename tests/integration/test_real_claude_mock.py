#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The real Claude Code CLI (pinned in claude-code-version) against tests/mock_anthropic.py,
without the daemon: the foundation the real-CLI tier stands on. A task's text reaches the
mock once, per-account behaviour shows the screens CLAUDE-CODE.md describes (a usage limit
on one account, a server throttle on another, at the same time), hooks report them, and a
conversation resumed under another account through a shared `projects` link carries its
earlier turns to the mock. Skips (77) when the CLI is not installed; under CI=true that is a
failure unless npm cannot reach its registry."""

import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import realclaude  # noqa: E402
from harness import require_programs  # noqa: E402

require_programs("tmux")
CLAUDE = realclaude.require_real_claude()
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
FINISHED = r"^✻ \S+ for \d+s · done"


class RealClaudeMockTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cf-real-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.mock = realclaude.start_mock(lifetime=300)
        self.addCleanup(self.mock.stop)
        self.tm = realclaude.ClaudeTmux(self.dir)
        self.addCleanup(self.tm.close)
        self.project = os.path.join(self.dir, "proj")
        os.makedirs(self.project)
        self.hooks_log = os.path.join(self.dir, "hooks.jsonl")

    def home(self, account):
        record = (f"/usr/bin/python3 -c 'import sys,json; d=json.load(sys.stdin); "
                  f"d[\"account\"]=sys.argv[2]; open(sys.argv[1],\"a\").write(json.dumps(d)+\"\\n\")' "
                  f"{self.hooks_log} {account}")
        return realclaude.make_account_home(
            os.path.join(self.dir, f"home-{account}"), account, self.mock.url,
            trusted=[self.project],
            settings={"hooks": realclaude.hook_settings(record, ("StopFailure", "Stop"))})

    def hooks(self, event, account):
        try:
            with open(self.hooks_log, encoding="utf-8") as f:
                calls = [json.loads(line) for line in f]
        except FileNotFoundError:
            return []
        return [c for c in calls if c["hook_event_name"] == event and c["account"] == account]

    def wait_hook(self, event, account, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.hooks(event, account)
            if calls:
                return calls
            time.sleep(0.1)
        self.fail(f"no {event} hook for {account}")

    def test_task_text_reaches_the_mock_once(self):
        t = self.tm.launch(CLAUDE, self.home("main"), cwd=self.project)
        self.tm.wait_screen(t, self.tm.PROMPT_RE)
        self.tm.type(t, "Fix the login redirect")
        screen = self.tm.wait_screen(t, FINISHED)
        self.assertIn("● Mock reply to: Fix the login redirect", screen)
        turns = self.mock.turns("main")
        self.assertEqual([r["text"] for r in turns], ["Fix the login redirect"])
        # Whatever else the CLI asked for (hello, the quota probe, a title) was answered.
        self.assertEqual([r["path"] for r in self.mock.requests() if r["status"] != 200], [])
        self.assertEqual(self.wait_hook("Stop", "main")[0]["last_assistant_message"],
                         "Mock reply to: Fix the login redirect")

    def test_limit_and_throttle_on_two_accounts_at_once(self):
        reset = int(time.time()) + 2 * 3600
        self.mock.set_behavior("main", "limit", claim="five_hour", reset=reset)
        self.mock.set_behavior("backup", "throttle429")
        a = self.tm.launch(CLAUDE, self.home("main"), cwd=self.project)
        b = self.tm.launch(CLAUDE, self.home("backup"), cwd=self.project)
        self.tm.wait_screen(a, self.tm.PROMPT_RE)
        self.tm.wait_screen(b, self.tm.PROMPT_RE)
        self.tm.type(a, "Refactor the parser")
        self.tm.type(b, "Refactor the parser")
        limited = self.tm.wait_screen(a, r"Continuing automatically at")
        self.assertRegex(limited, r"⎿ .You've hit your 5-hour limit · resets \d{1,2}(?::\d\d)?[ap]m "
                                  r"\(UTC\)")
        throttled = self.tm.wait_screen(b, r"temporarily limiting requests")
        self.assertIn("API Error: Server is temporarily limiting requests (not your usage limit)",
                      throttled)
        self.assertNotIn("You've hit your", throttled)
        self.assertEqual(self.wait_hook("StopFailure", "main")[0]["error"], "rate_limit")
        self.assertEqual(self.wait_hook("StopFailure", "backup")[0]["error"], "rate_limit")
        # Switched back while the CLI runs: the next prompt is answered (the CLI sends the
        # failed prompt again with it).
        self.mock.set_behavior("backup", "ok")
        self.tm.type(b, "Try again")
        self.tm.wait_screen(b, FINISHED)
        self.assertTrue(self.mock.turns("backup")[-1]["text"].endswith("Try again"))
        self.assertEqual([r["status"] for r in self.mock.turns("main")], [429])

    def test_resume_under_another_account_carries_the_conversation(self):
        main, backup = self.home("main"), self.home("backup")
        t = self.tm.launch(CLAUDE, main, args=("--model", "sonnet",
                                               "--dangerously-skip-permissions"),
                           cwd=self.project, shell=True)
        self.tm.wait_screen(t, self.tm.PROMPT_RE)
        self.tm.type(t, "Remember the number 42")
        self.tm.wait_screen(t, FINISHED)
        self.tm.type(t, "/exit")
        screen = self.tm.wait_screen(t, r"^EXIT=0")
        m = re.search(r"^claude --model sonnet --dangerously-skip-permissions --resume "
                      rf"({UUID})$", screen, re.M)
        self.assertIsNotNone(m, screen)
        session = m.group(1)

        # Without the shared projects link the backup account cannot find it.
        t = self.tm.launch(CLAUDE, backup, args=("--dangerously-skip-permissions", "--resume",
                                                 session), cwd=self.project, shell=True)
        self.tm.wait_screen(t, rf"No conversation found with session ID: {session}")

        os.symlink(os.path.join(main, "projects"), os.path.join(backup, "projects"))
        t = self.tm.launch(CLAUDE, backup, args=("--dangerously-skip-permissions", "--resume",
                                                 session), cwd=self.project)
        self.tm.wait_screen(t, self.tm.PROMPT_RE)
        self.tm.type(t, "Go on where you stopped")
        self.tm.wait_screen(t, r"● Mock reply to: Go on where you stopped")
        turn = self.mock.turns("backup")[-1]
        self.assertEqual(turn["text"], "Go on where you stopped")
        self.assertIn("Remember the number 42", turn["user_texts"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
