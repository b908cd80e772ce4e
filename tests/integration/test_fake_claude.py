#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""tests/fake-claude in a private tmux server: screen, keys, hooks, directives,
control files, exit and resume."""

import json
import os
import re
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

harness.require_programs("tmux")

# As Claude Code 2.1.332 draws them (tests/fixtures/panes/claude-2.1.332-*.txt).
SPINNER_RE = re.compile(r"^[·✢✳✶✻✽] \S+… \(\d+s · ↓ [\d.]+k? tokens\)$", re.M)
FINISHED_RE = re.compile(r"^✻ [A-Z]\S+ for \d+s · done \d{1,2}:\d\d [AP]M$", re.M)
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "panes")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
STATUS_BYPASS = "⏵⏵ bypass permissions on (shift+tab to cycle)"
STATUS_BUSY = STATUS_BYPASS + " · esc to interrupt"


def real_capture(what):
    with open(os.path.join(FIXTURES, f"claude-2.1.332-{what}.txt"), encoding="utf-8") as f:
        return f.read()


def shape(screen):
    """The screen's layout: each line's role, blank lines kept, trailing blanks dropped,
    so a fake screen compares with a capture of the real CLI whatever the words."""
    out = []
    for line in screen.rstrip("\n").splitlines():
        s = line.rstrip()
        if not s:
            out.append("blank")
        elif set(s) == {"─"}:
            out.append("rule")
        elif SPINNER_RE.match(s):
            out.append("spinner")
        elif FINISHED_RE.match(s):
            out.append("finished")
        elif s.startswith("❯\u00a0") or s == "❯":
            out.append("box")
        elif s.startswith("❯ "):
            out.append("prompt")
        elif s.startswith("  ⎿ \u00a0"):
            out.append("result")
        elif s.startswith("● "):
            out.append("message")
        elif s.startswith("  ⏵⏵ "):
            out.append("mode" + (" busy" if "· esc to interrupt" in s else ""))
        else:
            out.append("other")
    while out and out[-1] == "blank":
        out.pop()
    return out


# The CLI's own chrome (not transcript text): compared word for word, times normalised.
CHROME_RE = re.compile(r"^(  ⚠ |    Continuing |  What do you want|  ❯ \d\. |    \d\. |"
                       r"  Enter to confirm|❯\u00a0\S|● Usage limit reached|"
                       r"● Automatic continue|❯ /rate-limit-options|.*You've used \d+%)")


def chrome(screen):
    out = []
    for line in screen.splitlines():
        if CHROME_RE.match(line):
            line = re.sub(r"(?:[A-Z][a-z]{2} \d{1,2}, )?\d{1,2}(?::\d\d)?[ap]m", "TIME", line)
            out.append(re.sub(r" {2,}", "  ", line.rstrip()))
    return out


def without_statusline(screen):
    """A real capture without the line our statusLine command printed (the fake has none)."""
    return "\n".join(line for line in screen.splitlines() if "statusline: mock" not in line)


def input_area(screen):
    """The last four non-blank lines: rule, prompt, rule, status."""
    lines = [line for line in screen.splitlines() if line.strip()]
    return lines[-4:]


class FakeClaudeTest(unittest.TestCase):
    def setUp(self):
        self.sb = harness.Sandbox("fake")
        self.addCleanup(self.sb.close)
        self.sb.fake_work_ms = 700
        self.sb.start_tmux()
        self.config_dir = os.path.join(self.sb.home, ".claude-main")
        os.makedirs(self.config_dir)
        self.hook_out = os.path.join(self.sb.root, "hooks.jsonl")

    def _callTestMethod(self, method):
        try:
            super()._callTestMethod(method)
        except BaseException:
            self.sb.dump_logs()
            raise

    # --- helpers -------------------------------------------------------------

    def install_hooks(self, events=("SessionStart", "UserPromptSubmit", "Stop",
                                    "StopFailure", "SessionEnd"), extra=None):
        # Each hook appends {"event", "pane", "stdin"} as one JSON line.
        script = os.path.join(self.sb.root, "hook.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n"
                    "input=$(cat)\n"
                    f"/usr/bin/python3 -c 'import json,sys; print(json.dumps({{\"event\": sys.argv[1], "
                    f"\"pane\": sys.argv[2], \"stdin\": json.loads(sys.argv[3])}}))' "
                    f"\"$1\" \"$TMUX_PANE\" \"$input\" >> {self.hook_out}\n")
        os.chmod(script, 0o755)
        hooks = {e: [{"hooks": [{"type": "command", "command": f"{script} {e}"}]}]
                 for e in events}
        hooks.update(extra or {})
        with open(os.path.join(self.config_dir, "settings.json"), "w") as f:
            json.dump({"model": "sonnet", "hooks": hooks}, f)

    def hook_calls(self, event=None):
        try:
            with open(self.hook_out) as f:
                calls = [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []
        return [c for c in calls if event is None or c["event"] == event]

    def start(self, name="s1", *args, **kw):
        kw.setdefault("config_dir", self.config_dir)
        pane = self.sb.start_fake(name, "--dangerously-skip-permissions", *args, **kw)
        self.wait_screen(name, lambda s: "❯" in s and STATUS_BYPASS in s, "prompt drawn")
        return pane

    def wait_screen(self, name, predicate, what, timeout=10):
        return self.sb.wait_for(lambda: predicate(self.sb.capture(name)) and self.sb.capture(name),
                                timeout=timeout, what=f"{what} in pane {name}")

    def wait_event(self, event, timeout=10, **match):
        return self.sb.wait_for(lambda: self.sb.fake_events(event, **match), timeout=timeout,
                                what=f"fake-claude event {event} {match}")

    def wait_hook(self, event, count=1, timeout=10):
        return self.sb.wait_for(lambda: len(self.hook_calls(event)) >= count
                                and self.hook_calls(event), timeout=timeout,
                                what=f"{count} {event} hook call(s)")

    def start_in_shell(self, name, *args):
        """fake-claude under sh, which prints EXIT=<status> and stays; tmux's
        own pane_dead_status is racy when a pane dies fast."""
        script = " ".join([self.sb.fake_claude_path, "--dangerously-skip-permissions", *args])
        self.sb.new_session(name, ["sh", "-c", script + "; echo EXIT=$?; sleep 60"],
                            cwd=self.sb.home, env={"CLAUDE_CONFIG_DIR": self.config_dir})
        self.wait_screen(name, lambda s: "❯" in s and STATUS_BYPASS in s, "prompt drawn")

    def exit_status(self, name):
        m = re.search(r"^EXIT=(\d+)$", self.sb.capture(name), re.M)
        return int(m.group(1)) if m else None

    # --- tests ---------------------------------------------------------------

    def test_start_logs_argv_environment_and_session(self):
        os.makedirs(self.sb.project_dir)
        pane = self.start("s1", "--model", "opus", cwd=self.sb.project_dir)
        start = self.wait_event("start")[0]
        self.assertEqual(start["argv"], ["--dangerously-skip-permissions", "--model", "opus"])
        self.assertEqual(start["cwd"], self.sb.project_dir)
        self.assertEqual(start["CLAUDE_CONFIG_DIR"], self.config_dir)
        self.assertEqual(start["TMUX_PANE"], pane)
        self.assertEqual(start["model"], "opus")
        self.assertEqual(start["permission_mode"], "bypassPermissions")
        self.assertIsNone(start["resume"])
        self.assertEqual(str(uuid.UUID(start["session_id"])), start["session_id"])
        self.assertIsInstance(start["pid"], int)

    def test_idle_screen_has_claude_code_input_area(self):
        self.start("s1", width=100, height=40)
        screen = self.sb.capture("s1")
        self.assertIn("Claude Code v2.1.332", screen)
        rule, prompt, rule2, status = input_area(screen)
        self.assertEqual(rule, "─" * 100)
        self.assertEqual(rule2, "─" * 100)
        self.assertEqual(prompt.rstrip(), "❯")
        self.assertEqual(status.strip(), STATUS_BYPASS)
        # A tall pane keeps blank rows below the input area, like Claude Code.
        self.assertEqual(screen.splitlines()[-1].strip(), STATUS_BYPASS)
        self.assertLess(len(screen.splitlines()), 40)
        self.assertIsNone(SPINNER_RE.search(screen))

    def test_default_mode_status_line_without_bypass_flag(self):
        self.sb.start_fake("s1", config_dir=self.config_dir)
        screen = self.wait_screen("s1", lambda s: "❯" in s, "prompt")
        self.assertEqual(input_area(screen)[3].strip(), "? for shortcuts")
        self.sb.tmux("send-keys", "-t", "=s1:", "BTab")
        self.wait_screen("s1", lambda s: "accept edits on" in s, "mode cycled by shift+tab")

    def test_typed_prompt_shows_spinner_then_reply(self):
        self.start("s1")
        self.sb.send_text("s1", "Fix the login redirect FAKE:work=2500")
        busy = self.wait_screen("s1", lambda s: SPINNER_RE.search(s), "spinner")
        # The prompt box stays on screen while working, spinner above it.
        area = input_area(busy)
        self.assertEqual(area[1].rstrip(), "❯")
        lines = [line for line in busy.splitlines() if line.strip()]
        self.assertRegex(lines[-5], SPINNER_RE)
        self.assertIn("❯ Fix the login redirect FAKE:work=2500", busy)
        self.assertEqual(input_area(busy)[3].strip(), STATUS_BUSY)
        prompt = self.wait_event("prompt")[0]
        self.assertEqual(prompt["text"], "Fix the login redirect FAKE:work=2500")
        self.assertEqual(prompt["directives"], {"work_ms": 2500})
        # The spinner animates (glyph, seconds or tokens change).
        first = SPINNER_RE.search(busy).group(0)
        self.wait_screen("s1", lambda s: SPINNER_RE.search(s) and
                         SPINNER_RE.search(s).group(0) != first, "spinner update", timeout=3)
        done = self.wait_screen("s1", lambda s: "● Done: Fix the login redirect FAKE:work=2500" in s,
                                "reply")
        self.assertIsNone(SPINNER_RE.search(done))
        self.assertRegex(done, FINISHED_RE)
        self.assertEqual(input_area(done)[1].rstrip(), "❯")
        self.assertEqual(input_area(done)[3].strip(), STATUS_BYPASS)
        self.wait_event("reply", text="Done: Fix the login redirect FAKE:work=2500")

    def test_bracketed_paste_needs_separate_enter(self):
        self.start("s1")
        # Four lines, three newlines: 2.1.332 counts the newlines ("+3 lines").
        body = "[task-1] first line\nsecond line\nthird line\nfourth FAKE:work=300"
        self.sb.paste("s1", body, enter=False)
        screen = self.wait_screen("s1", lambda s: "[Pasted text #1 +3 lines]" in s, "paste placeholder")
        self.assertIn("❯\u00a0[Pasted text #1 +3 lines]", screen)
        self.assertEqual(input_area(screen)[3].strip(), "paste again to expand")
        self.assertEqual(self.sb.fake_events("prompt"), [])

        # An Enter that arrives together with the paste is swallowed.
        self.sb.tmux("send-keys", "-t", "=s1:", "C-u")
        subprocess.run(["tmux", "-S", self.sb.tmux_socket, "load-buffer", "-b", "p2", "-"],
                       input=body.encode(), check=True)
        self.sb.tmux("paste-buffer", "-p", "-d", "-b", "p2", "-t", "=s1:", ";",
                     "send-keys", "-t", "=s1:", "Enter")
        self.wait_screen("s1", lambda s: "[Pasted text #2 +3 lines]" in s, "second paste")
        time.sleep(0.5)
        self.assertEqual(self.sb.fake_events("prompt"), [])

        # A separate Enter submits the whole pasted text.
        self.sb.tmux("send-keys", "-t", "=s1:", "Enter")
        prompt = self.wait_event("prompt")[0]
        self.assertEqual(prompt["text"], body)
        self.wait_screen("s1", lambda s: "● Done: [task-1] first line second line third" in s,
                         "reply to paste")

    def test_single_line_paste_is_inline(self):
        self.start("s1")
        self.sb.paste("s1", "just one line", enter=True)
        self.wait_event("prompt", text="just one line")

    def test_short_multiline_paste_is_inline_and_long_line_folded(self):
        self.start("s1")
        # Three lines (two newlines) are typed into the box, as the real CLI does.
        self.sb.paste("s1", "alpha\nbeta\ngamma", enter=False)
        screen = self.wait_screen("s1", lambda s: "  gamma" in s, "inline paste")
        self.assertIn("❯\u00a0alpha\n  beta\n  gamma", screen)
        self.assertNotIn("[Pasted text", screen)
        self.sb.tmux("send-keys", "-t", "=s1:", "Enter")
        self.wait_event("prompt", text="alpha\nbeta\ngamma")
        self.sb.paste("s1", "x" * 900, enter=False)
        self.wait_screen("s1", lambda s: "❯\u00a0[Pasted text #1]" in s, "long line folded")

    def test_hooks_receive_claude_code_json(self):
        self.install_hooks()
        pane = self.start("s1", cwd=self.sb.home)
        start = self.wait_hook("SessionStart")[0]
        session = self.wait_event("start")[0]["session_id"]
        self.assertEqual(start["pane"], pane)
        stdin = start["stdin"]
        self.assertEqual(stdin["hook_event_name"], "SessionStart")
        self.assertEqual(stdin["source"], "startup")
        self.assertEqual(stdin["session_id"], session)
        self.assertEqual(stdin["cwd"], self.sb.home)
        self.assertTrue(stdin["transcript_path"].startswith(
            os.path.join(self.config_dir, "projects") + "/"))
        self.assertTrue(stdin["transcript_path"].endswith(f"/{session}.jsonl"))

        self.sb.send_text("s1", "say hello")
        submit = self.wait_hook("UserPromptSubmit")[0]["stdin"]
        self.assertEqual(submit["prompt"], "say hello")
        self.assertEqual(submit["session_id"], session)
        stop = self.wait_hook("Stop")[0]
        self.assertEqual(stop["pane"], pane)
        self.assertEqual(stop["stdin"]["hook_event_name"], "Stop")
        self.assertEqual(stop["stdin"]["session_id"], session)
        # The transcript the hooks point at exists (conversations are resumable).
        self.assertTrue(os.path.exists(stop["stdin"]["transcript_path"]))
        hooks = self.wait_event("hook", name="Stop")
        self.assertEqual(hooks[0]["exit_code"], 0)
        self.assertEqual(self.hook_calls("StopFailure"), [])

    def test_screens_have_the_layout_of_the_real_cli(self):
        """Each screen of the fake, drawn at 200 columns, has the layout (line roles, blank
        lines) and the chrome (menus, auto-continue, placeholders, warnings) of the capture
        of the real CLI 2.1.332 it imitates."""
        cases = [
            ("ready", None, lambda s: STATUS_BYPASS in s),
            ("finished", "Do a slow task FAKE:work=200", lambda s: FINISHED_RE.search(s)),
            ("limit-five-hour", "Refactor the parser FAKE:work=100 FAKE:limit=You've hit "
             "your 5-hour limit · resets 4:02pm (UTC)", lambda s: "Continuing auto" in s),
            ("limit-weekly-menu", "Write the release notes FAKE:work=100 FAKE:limit=You've "
             "hit your weekly limit · resets Dec 9, 2:32pm (UTC)",
             lambda s: "Enter to confirm" in s),
            ("server-500", "Fix the flaky test FAKE:work=100 FAKE:5xx",
             lambda s: "Resend your message" in s),
            ("throttle-429", "Fix the flaky test FAKE:work=100 FAKE:throttle",
             lambda s: "Resend your message" in s),
            ("auth-failure", "Fix the flaky test FAKE:work=100 FAKE:auth",
             lambda s: "Once fixed" in s),
            ("warning-five-hour", "Summarise the changes FAKE:work=100 FAKE:warning",
             lambda s: FINISHED_RE.search(s)),
        ]
        for n, (what, prompt, ready) in enumerate(cases):
            with self.subTest(what=what):
                name = f"r{n}"
                self.start(name, width=200, height=50)
                if prompt:
                    self.sb.send_text(name, prompt)
                fake = self.wait_screen(name, ready, what)
                time.sleep(0.3)
                fake = self.sb.capture(name)
                real = without_statusline(real_capture(what))
                self.assertEqual(shape(fake), shape(real), fake)
                self.assertEqual(chrome(fake), chrome(real), fake)
                for line in fake.splitlines():
                    if "You've used" in line:
                        self.assertEqual(len(line.rstrip()), 198, "right-aligned like the CLI")

    def test_busy_screen_has_the_layout_of_the_real_cli(self):
        self.start("s1", width=200, height=50)
        self.sb.send_text("s1", "Do a slow task FAKE:work=3000")
        fake = self.wait_screen("s1", lambda s: SPINNER_RE.search(s), "spinner")
        real = without_statusline(real_capture("busy"))
        # From the spinner down (the real one had streamed an empty "●" line above it).
        tail = lambda s: s[s.index("spinner"):]  # noqa: E731
        self.assertEqual(tail(shape(fake)), tail(shape(real)))
        self.assertEqual(tail(shape(fake))[-1], "mode busy")

    def test_retrying_and_stalled_lines_of_the_real_cli(self):
        self.install_hooks(events=("StopFailure",))
        for n, (prompt, what, line) in enumerate((
                ("Fix FAKE:work=2500 FAKE:retrying", "retrying",
                 r"^✻ API error · retrying in \d+s · attempt 1/10$"),
                ("Fix FAKE:hang FAKE:stall", "stalled",
                 r"^✻ Waiting for API response · will retry in 4m 15s · check your network$"))):
            with self.subTest(what=what):
                name = f"s{n}"
                self.start(name, width=200, height=50)
                self.sb.send_text(name, prompt)
                fake = self.wait_screen(name, lambda s: re.search(line, s, re.M), what)
                real = without_statusline(real_capture(what))
                self.assertRegex(real, re.compile(line, re.M))
                # Busy like the real one: the line above the box, esc to interrupt below it.
                self.assertEqual(shape(fake)[-6:], shape(real)[-6:])
                self.assertEqual(input_area(fake)[3].strip(), STATUS_BUSY)
        self.assertEqual(self.wait_hook("StopFailure")[0]["stdin"]["error"], "server_error")

    def test_auto_continue_cancelled_with_escape(self):
        self.start("s1", width=200, height=50)
        self.sb.send_text("s1", "go FAKE:work=100 FAKE:limit=You've hit your 5-hour limit · "
                          "resets 4:02pm (UTC)")
        self.wait_screen("s1", lambda s: "Continuing automatically at 4:02pm · Esc to cancel"
                         in s, "auto-continue armed")
        self.sb.tmux("send-keys", "-t", "=s1:", "Escape")
        screen = self.wait_screen("s1", lambda s: "● Automatic continue cancelled" in s,
                                  "cancelled")
        self.assertNotIn("Continuing automatically", screen)
        self.assertTrue(input_area(screen)[3].endswith("automatic continue cancelled"))
        self.wait_event("auto_continue", state="cancelled")

    def test_no_resume_hint_without_a_prompt(self):
        self.start_in_shell("s1")
        self.sb.send_text("s1", "/exit")
        self.sb.wait_for(lambda: self.exit_status("s1") == 0, what="exit status 0")
        self.assertNotIn("Resume this session with:", self.sb.capture("s1"))

    def test_resume_hint_drops_session_and_resume_options(self):
        session = str(uuid.uuid4())
        self.start_in_shell("s1", "--session-id", session, "--permission-mode",
                            "bypassPermissions", "--model", "opus")
        self.sb.send_text("s1", "hello FAKE:work=100")
        self.wait_event("reply")
        self.sb.send_text("s1", "/exit")
        screen = self.wait_screen("s1", lambda s: "EXIT=0" in s, "exit")
        self.assertIn("claude --dangerously-skip-permissions --permission-mode "
                      f"bypassPermissions --model opus --resume {session}\nEXIT=0", screen)

    def test_hook_matcher_selects_session_start_source(self):
        self.install_hooks(events=("Stop",), extra={
            "SessionStart": [{"matcher": "resume", "hooks": [
                {"type": "command", "command": f"echo resume >> {self.hook_out}.m"}]},
                {"matcher": "startup|clear", "hooks": [
                    {"type": "command", "command": f"echo startup >> {self.hook_out}.m"}]}]})
        self.start("s1")
        self.wait_event("hook", name="SessionStart")
        with open(self.hook_out + ".m") as f:
            self.assertEqual(f.read().split(), ["startup"])

    def test_slow_hook_times_out_without_freezing_the_screen(self):
        with open(os.path.join(self.config_dir, "settings.json"), "w") as f:
            json.dump({"hooks": {"UserPromptSubmit": [{"hooks": [
                {"type": "command", "command": "sleep 30"}]}]}}, f)
        self.start("s1", env={"FAKE_CLAUDE_HOOK_TIMEOUT_MS": "600"})
        self.sb.send_text("s1", "slow hook FAKE:work=3000")
        busy = self.wait_screen("s1", lambda s: SPINNER_RE.search(s), "spinner")
        first = SPINNER_RE.search(busy).group(0)
        self.wait_screen("s1", lambda s: SPINNER_RE.search(s) and
                         SPINNER_RE.search(s).group(0) != first,
                         "spinner moving while the hook runs", timeout=2)
        hook = self.wait_event("hook", name="UserPromptSubmit")[0]
        self.assertTrue(hook["timed_out"])
        self.assertIsNone(hook["exit_code"])
        self.assertLess(hook["time"] - self.sb.fake_events("prompt")[0]["time"], 2.0)

    def test_exit_prints_resume_command(self):
        self.install_hooks(events=("SessionEnd",))
        self.start_in_shell("s1", "--model", "sonnet")
        session = self.wait_event("start")[0]["session_id"]
        self.sb.send_text("s1", "hello FAKE:work=100")
        self.wait_event("reply")
        self.sb.send_text("s1", "/exit")
        screen = self.wait_screen("s1", lambda s: "--resume" in s, "resume line")
        # The launch options again, as 2.1.332 prints them.
        self.assertIn("Resume this session with:\nclaude --dangerously-skip-permissions "
                      f"--model sonnet --resume {session}\n", screen)
        # The last frame stays above it: the box still showing /exit, and its popup.
        above = screen.split("Resume this session with:")[0].rstrip().splitlines()
        self.assertEqual(above[-4].rstrip(), "❯\u00a0/exit")
        self.assertTrue(above[-2].startswith("  ❯ /exit "), above[-2])
        self.sb.wait_for(lambda: self.exit_status("s1") == 0, what="exit status 0")
        self.assertEqual(self.wait_event("exit")[0]["reason"], "slash-exit")
        self.assertEqual(self.wait_hook("SessionEnd")[0]["stdin"]["reason"], "prompt_input_exit")

    def test_terminal_restored_after_exit(self):
        script = (f"{self.sb.fake_claude_path} --dangerously-skip-permissions; "
                  "echo EXIT=$?; stty -a; sleep 60")
        self.sb.new_session("s1", ["sh", "-c", script], cwd=self.sb.home,
                            env={"CLAUDE_CONFIG_DIR": self.config_dir})
        self.wait_screen("s1", lambda s: "❯" in s, "prompt")
        self.sb.send_text("s1", "/exit")
        screen = self.wait_screen("s1", lambda s: "EXIT=0" in s, "shell after exit")
        self.assertRegex(screen, r"(^|\s)icanon(\s|$)")
        self.assertRegex(screen, r"(^|\s)echo(\s|$)")
        self.assertNotIn("❯", screen.split("EXIT=0")[1])

    def test_clear_starts_new_session(self):
        self.install_hooks(events=("SessionStart", "SessionEnd"))
        self.start("s1")
        first = self.wait_event("start")[0]["session_id"]
        self.wait_hook("SessionStart")
        self.sb.send_text("s1", "/clear")
        clear = self.wait_event("clear")[0]
        self.assertEqual(clear["old_session_id"], first)
        self.assertNotEqual(clear["session_id"], first)
        starts = self.wait_hook("SessionStart", count=2)
        self.assertEqual(starts[1]["stdin"]["source"], "clear")
        self.assertEqual(starts[1]["stdin"]["session_id"], clear["session_id"])
        self.assertEqual(self.wait_hook("SessionEnd")[0]["stdin"]["reason"], "clear")
        self.sb.send_text("s1", "after clear")
        self.assertEqual(self.wait_event("prompt")[0]["session_id"], clear["session_id"])

    def test_resume_continues_the_conversation(self):
        self.install_hooks(events=("SessionStart",))
        self.start("s1")
        self.sb.send_text("s1", "remember the number 42 FAKE:work=100")
        self.wait_event("reply")
        session = self.wait_event("start")[0]["session_id"]
        self.sb.send_text("s1", "/exit")
        self.wait_event("exit")

        self.start("s2", "--resume", session)
        starts = self.sb.wait_for(lambda: len(self.sb.fake_events("start")) == 2
                                  and self.sb.fake_events("start"), what="second start")
        self.assertEqual(starts[1]["resume"], session)
        self.assertEqual(starts[1]["session_id"], session)
        self.assertTrue(starts[1]["transcript_found"])
        self.wait_screen("s2", lambda s: "❯ remember the number 42" in s, "replayed conversation")
        calls = self.wait_hook("SessionStart", count=2)
        self.assertEqual(calls[1]["stdin"]["source"], "resume")
        self.assertEqual(calls[1]["stdin"]["session_id"], session)

    def test_strict_resume_of_unknown_conversation_fails(self):
        missing = str(uuid.uuid4())
        env = self.sb.env(CLAUDE_CONFIG_DIR=self.config_dir, FAKE_CLAUDE_STRICT_RESUME="1")
        r = subprocess.run([self.sb.fake_claude_path, "--resume", missing], env=env,
                           capture_output=True, text=True, timeout=30, cwd=self.sb.home,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"No conversation found with session ID: {missing}", r.stderr)

    def test_limit_directive(self):
        self.install_hooks(events=("Stop", "StopFailure"))
        self.start("s1")
        self.sb.send_text("s1", "work then FAKE:limit")
        screen = self.wait_screen(
            "s1", lambda s: "You've hit your limit · resets 11:30pm (Europe/Berlin)" in s,
            "default limit text")
        self.assertIsNone(SPINNER_RE.search(screen))
        # A reset within 24 h: the CLI arms its own auto-continue, box and footer stay.
        self.assertIn("● Usage limit reached · set to continue automatically at 11:30pm", screen)
        area = [line for line in screen.splitlines() if line.strip()][-6:]
        self.assertEqual(area[1].rstrip(), "❯")
        self.assertEqual(area[3].strip(), "⚠ Usage limit reached · limit resets 11:30pm")
        self.assertEqual(area[4].strip(), "Continuing automatically at 11:30pm · Esc to cancel")
        self.assertEqual(area[5].strip(), STATUS_BYPASS)
        failure = self.wait_hook("StopFailure")[0]["stdin"]
        self.assertEqual(failure["error"], "rate_limit")
        self.assertEqual(failure["last_assistant_message"],
                         "You've hit your limit · resets 11:30pm (Europe/Berlin)")
        self.assertEqual(failure["hook_event_name"], "StopFailure")
        self.assertEqual(self.hook_calls("Stop"), [])
        self.assertEqual(self.sb.fake_events("reply"), [])

        # Still limited: the next prompt fails at once.
        self.sb.send_text("s1", "another one")
        self.wait_hook("StopFailure", count=2)
        self.assertEqual(self.sb.fake_events("reply"), [])

    def test_limit_directive_with_text_and_env_default(self):
        self.start("s1", env={"FAKE_CLAUDE_LIMIT_TEXT": "Weekly limit reached · resets 10am (Asia/Seoul)"})
        self.sb.send_text("s1", "x FAKE:limit=5-hour limit reached ∙ resets 9pm")
        self.wait_screen("s1", lambda s: "⎿ \u00a05-hour limit reached ∙ resets 9pm" in s, "custom limit")
        self.assertEqual(self.wait_event("limit")[0]["text"], "5-hour limit reached ∙ resets 9pm")
        self.sb.fake_control("s1", "clear")
        self.wait_event("control", command="clear")
        self.sb.send_text("s1", "y FAKE:limit")
        self.wait_screen("s1", lambda s: "⎿ \u00a0Weekly limit reached · resets 10am (Asia/Seoul)" in s,
                         "limit text from FAKE_CLAUDE_LIMIT_TEXT")

    def test_limit_menu_replaces_the_input_area_until_answered(self):
        self.install_hooks(events=("StopFailure",))
        self.start("s1")
        self.sb.send_text("s1", "go FAKE:limit-menu=5-hour limit reached · resets 2pm "
                          "(Pacific/Auckland) · /upgrade to keep using Claude Code")
        screen = self.wait_screen("s1", lambda s: "❯ 1. Stop and wait for limit to reset" in s,
                                  "limit menu")
        self.assertIn("⎿ \u00a05-hour limit reached · resets 2pm (Pacific/Auckland)", screen)
        self.assertIn("❯ /rate-limit-options", screen)
        self.assertIn("Enter to confirm · Esc to cancel", screen)
        self.assertNotIn(STATUS_BYPASS, screen)
        self.assertEqual(self.wait_hook("StopFailure")[0]["stdin"]["error"], "rate_limit")
        # Typed text goes nowhere while the menu is open; Enter picks the entry.
        self.sb.send_text("s1", "/exit", enter=False)
        self.sb.tmux("send-keys", "-t", "=s1:", "Down")
        self.wait_screen("s1", lambda s: "❯ 2. Wait here, then continue automatically at 2pm"
                         in s, "second entry selected")
        self.sb.tmux("send-keys", "-t", "=s1:", "Down")
        self.wait_screen("s1", lambda s: "❯ 3. Upgrade your plan" in s, "third entry selected")
        self.sb.tmux("send-keys", "-t", "=s1:", "1", "Enter")
        self.assertEqual(self.wait_event("menu")[0]["choice"], 1)
        screen = self.wait_screen("s1", lambda s: STATUS_BYPASS in s, "input area back")
        self.assertEqual(input_area(screen)[1].rstrip(), "❯")
        self.assertEqual(self.sb.fake_events("exit"), [])

    def test_server_error_directive(self):
        self.install_hooks(events=("Stop", "StopFailure"))
        self.start("s1")
        self.sb.send_text("s1", "boom FAKE:5xx")
        screen = self.wait_screen(
            "s1", lambda s: "● API Error: 500 Internal server error. This is a server-side "
            "issue, usually temporary" in s, "API error text")
        self.assertEqual(input_area(screen)[1], "❯\u00a0Resend your message to try again")
        self.assertEqual(self.wait_hook("StopFailure")[0]["stdin"]["error"], "server_error")
        # Not limited afterwards.
        self.sb.send_text("s1", "retry FAKE:work=100")
        self.wait_event("reply")
        self.wait_hook("Stop")

    def test_control_file_limit_hits_running_session(self):
        self.install_hooks(events=("StopFailure",))
        pane = self.start("ccl-auto-0")
        self.sb.send_text("ccl-auto-0", "long task FAKE:hang")
        self.wait_screen("ccl-auto-0", lambda s: SPINNER_RE.search(s), "spinner")
        text = "Claude usage limit reached. Your limit will reset at 9am (America/Chicago)."
        self.sb.fake_control("ccl-auto-0", f"limit {text}")
        screen = self.wait_screen("ccl-auto-0", lambda s: text in s, "limit from control file")
        self.assertIsNone(SPINNER_RE.search(screen))
        self.assertEqual(self.wait_hook("StopFailure")[0]["stdin"]["error"], "rate_limit")
        self.assertFalse(os.path.exists(os.path.join(self.sb.fake_control_dir, "ccl-auto-0")))
        limit = self.wait_event("limit")[0]
        self.assertTrue(limit["during_work"])

        # By pane id: print, clear, then work normally again.
        self.sb.fake_control(pane, "print Approaching usage limit · resets at 3pm", "clear")
        self.wait_screen("ccl-auto-0", lambda s: "Approaching usage limit · resets at 3pm" in s,
                         "printed line")
        self.sb.send_text("ccl-auto-0", "after clear FAKE:work=100")
        self.wait_event("reply")

    def test_control_file_5xx_and_done(self):
        self.install_hooks(events=("Stop", "StopFailure"))
        self.start("s1")
        self.sb.send_text("s1", "first FAKE:hang")
        self.wait_screen("s1", lambda s: SPINNER_RE.search(s), "spinner")
        self.sb.fake_control("s1", "5xx")
        self.assertEqual(self.wait_hook("StopFailure")[0]["stdin"]["error"], "server_error")
        self.sb.send_text("s1", "second FAKE:hang")
        self.wait_event("prompt", text="second FAKE:hang")
        self.sb.fake_control("s1", "done")
        self.wait_hook("Stop")
        self.wait_screen("s1", lambda s: "● Done: second FAKE:hang" in s, "reply after done")

    def test_account_limit_file_applies_to_all_sessions_of_the_account(self):
        backup = os.path.join(self.sb.home, ".claude-backup")
        os.makedirs(backup)
        self.start("a1")
        self.start("b1", config_dir=backup)
        self.sb.fake_account_limit(self.config_dir, "You've hit your session limit · resets 8pm (America/New_York)")
        self.sb.send_text("a1", "on main")
        self.wait_screen("a1", lambda s: "You've hit your session limit" in s, "account limit")
        self.sb.send_text("b1", "on backup FAKE:work=100")
        self.wait_screen("b1", lambda s: "● Done: on backup" in s, "backup unaffected")
        self.sb.fake_account_limit(self.config_dir, False)
        self.sb.fake_control("a1", "clear")
        self.wait_event("control", command="clear")
        self.sb.send_text("a1", "main again FAKE:work=100")
        self.wait_screen("a1", lambda s: "● Done: main again" in s, "limit lifted")

    def test_escape_interrupts_hang(self):
        self.install_hooks(events=("Stop",))
        self.start("s1")
        self.sb.send_text("s1", "forever FAKE:hang")
        self.wait_screen("s1", lambda s: SPINNER_RE.search(s), "spinner")
        self.sb.tmux("send-keys", "-t", "=s1:", "Escape")
        screen = self.wait_screen("s1", lambda s: "Interrupted" in s, "interrupt")
        self.assertIsNone(SPINNER_RE.search(screen))
        self.wait_event("interrupt")
        self.assertEqual(self.hook_calls("Stop"), [])

    def test_crash_directive_exits_1(self):
        self.start_in_shell("s1")
        self.sb.send_text("s1", "FAKE:crash")
        self.sb.wait_for(lambda: self.exit_status("s1") == 1, what="exit status 1")
        self.wait_event("crash")

    def test_message_sent_while_busy_is_queued(self):
        self.start("s1")
        self.sb.send_text("s1", "first FAKE:work=1500")
        self.wait_screen("s1", lambda s: SPINNER_RE.search(s), "spinner")
        self.sb.send_text("s1", "second FAKE:work=100")
        self.wait_event("queued", text="second FAKE:work=100")
        replies = self.sb.wait_for(lambda: len(self.sb.fake_events("reply")) == 2
                                   and self.sb.fake_events("reply"), what="both replies")
        self.assertEqual([r["text"] for r in replies],
                         ["Done: first FAKE:work=1500", "Done: second FAKE:work=100"])

    def test_garbage_input_does_not_break_it(self):
        self.start("s1")
        # Invalid UTF-8, control bytes, unknown and truncated escape sequences,
        # a paste that never ends until much later, wide characters.
        for hexbytes in ("ff fe 80 c3", "01 02 07 0b 0c", "1b 5b 39 39 39 7e", "1b 4f",
                         "1b 5b 31 3b 35 44", "1b 1b 1b", "e6 97 a5 e6 9c ac"):
            self.sb.tmux("send-keys", "-t", "=s1:", "-H", *hexbytes.split())
        self.sb.tmux("send-keys", "-t", "=s1:", "C-u")
        self.sb.send_text("s1", "漢字 and émoji 🎉 " + "x" * 400 + " FAKE:work=100")
        prompt = self.wait_event("prompt")[0]
        self.assertTrue(prompt["text"].startswith("漢字 and émoji 🎉 "))
        screen = self.wait_screen("s1", lambda s: "● Done: 漢字 and émoji" in s, "reply")
        self.assertEqual(input_area(screen)[1].rstrip(), "❯")
        self.sb.tmux("resize-window", "-t", "=s1:", "-x", "70", "-y", "20")
        self.wait_screen("s1", lambda s: input_area(s)[0] == "─" * 70, "redraw at new width")

    def test_command_line_modes(self):
        fake = self.sb.fake_claude_path
        env = self.sb.env(CLAUDE_CONFIG_DIR=self.config_dir)
        r = subprocess.run([fake, "--version"], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^\d+\.\d+\.\d+ \(Claude Code\)$")
        r = subprocess.run([fake, "--bogus"], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown option '--bogus'", r.stderr)
        r = subprocess.run([fake, "-p", "summarise FAKE:work=10"], capture_output=True,
                           text=True, env=env, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout.strip(), "Done: summarise FAKE:work=10")
        r = subprocess.run([fake, "-p", "x FAKE:work=10 FAKE:limit"], capture_output=True,
                           text=True, env=env, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1)
        self.assertIn("You've hit your limit", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
