#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""claude-failoverctl explain-pane: every pane fixture through the real
binary (JSON and text), standard input, option handling, exit statuses, and
live captures of tests/fake-claude in a private tmux server."""

import configparser
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CTL = os.path.join(harness.build_dir(), "src", "ctl", "claude-failoverctl")
FIXTURES = os.environ.get("CF_FIXTURES") or os.path.join(harness.source_dir(), "tests", "fixtures")
PANES = os.path.join(FIXTURES, "panes")
TRANSCRIPTS = os.path.join(FIXTURES, "transcripts")

REQUIRED_KEYS = {"prompt": bool, "busy": bool, "limit": bool, "pattern": (str, type(None)),
                 "reset_at": (str, type(None)), "server_error": bool,
                 "resume_uuid": (str, type(None)),
                 # ARCHITECTURE.md 4.9
                 "needs_input": bool, "throttle": bool, "auto_continue": (str, type(None)),
                 "dialog": (str, type(None)), "resume_failed": bool,
                 # extra keys of pattern table v2
                 "ready": bool, "exited": bool, "dialog_kind": (str, type(None)),
                 "dialog_fix": (str, type(None)), "throttle_pattern": (str, type(None))}
V2_BOOLEANS = ("ready", "exited", "needs_input", "throttle", "resume_failed")
DIALOG_KINDS = {"trust", "bypass-warning", "onboarding-failed", "api-key", "root-refused",
                "no-conversation", "permission", "limit-menu", "login", "unknown-menu"}
MAN_PAGE = os.path.join(harness.source_dir(), "docs", "claude-failoverctl.1")
ISO_WITH_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d\Z")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def run_ctl(*args, input=None, env_extra=None):
    env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", LANGUAGE="")
    env.update(env_extra or {})
    return subprocess.run([CTL, *args], input=input, capture_output=True, env=env, timeout=30)


def load_expectations():
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",),
                                       comment_prefixes=("#",), empty_lines_in_values=False)
    parser.optionxform = str
    with open(os.path.join(PANES, "expected.ini"), encoding="utf-8") as f:
        parser.read_file(f)
    defaults = parser["defaults"]
    cases = []
    for name in parser.sections():
        if name == "defaults":
            continue
        section = parser[name]
        case = {"name": name,
                "file": section.get("file") or name + ".txt",
                "now": section.get("now") or defaults["now"],
                "zone": section.get("zone") or defaults["zone"],
                "tail_lines": section.get("tail_lines") or defaults["tail_lines"]}
        for key in ("prompt", "busy", "limit", "limit_match", "server_error", "warning"):
            case[key] = section.getboolean(key)
        for key in ("pattern", "reset_at", "resume_uuid", "snippet_prefix"):
            case[key] = section.get(key) or None
        for key in V2_BOOLEANS:
            case[key] = (section if key in section else defaults).getboolean(key)
        for key in ("dialog_kind", "dialog_prefix", "auto_continue"):
            case[key] = (section.get(key) if key in section else defaults.get(key)) or None
        cases.append(case)
    return cases


def parse_one_object(test, stdout):
    text = stdout.decode("utf-8")
    test.assertTrue(text.endswith("\n"), text)
    test.assertEqual(text.count("\n"), 1, f"more than one line: {text!r}")
    obj = json.loads(text)
    test.assertIsInstance(obj, dict)
    return obj


class ExplainPaneTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(CTL, os.X_OK):
            raise AssertionError(f"{CTL} is not built")
        cls.cases = load_expectations()

    def explain_json(self, *args, input=None):
        r = run_ctl("--json", "explain-pane", *args, input=input)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(r.stderr, b"")
        return parse_one_object(self, r.stdout)

    def check_schema(self, obj):
        for key, types in REQUIRED_KEYS.items():
            self.assertIn(key, obj)
            self.assertIsInstance(obj[key], types, key)
        if obj["reset_at"] is not None:
            self.assertRegex(obj["reset_at"], ISO_WITH_OFFSET)
            parsed = datetime.datetime.fromisoformat(obj["reset_at"])
            self.assertEqual(int(parsed.timestamp()), obj["reset_at_unix"])
        if obj["resume_uuid"] is not None:
            self.assertRegex(obj["resume_uuid"], UUID_RE)
        if obj["snippet"] is not None:
            self.assertLessEqual(len(obj["snippet"].encode("utf-8")), 120)
        self.assertEqual(obj["limit"], obj["limit_match"] and not obj["server_error"])
        self.assertIsInstance(obj["patterns_version"], int)
        self.assertGreaterEqual(obj["patterns_version"], 2)
        self.assertIn(obj["auto_continue"], (None, "armed", "fired", "cancelled"))
        self.assertEqual(obj["dialog"] is None, obj["dialog_kind"] is None)
        self.assertEqual(obj["dialog_fix"] is None, obj["dialog_kind"] is None)
        if obj["dialog_kind"] is not None:
            self.assertIn(obj["dialog_kind"], DIALOG_KINDS)
            self.assertLessEqual(len(obj["dialog"].encode("utf-8")), 120)
        self.assertEqual(obj["needs_input"], obj["dialog_kind"] in ("permission", "limit-menu", "unknown-menu"))
        self.assertEqual(obj["resume_failed"], obj["dialog_kind"] == "no-conversation")
        self.assertEqual(obj["throttle"], obj["throttle_pattern"] is not None)
        if obj["ready"]:
            self.assertTrue(obj["prompt"] and not obj["busy"] and not obj["exited"])
            self.assertIsNone(obj["dialog"])
        if obj["exited"]:
            self.assertFalse(obj["prompt"] or obj["busy"])

    # --- the fixture table ---------------------------------------------------

    def test_fixtures_json(self):
        self.assertGreaterEqual(len(self.cases), 65)
        for case in self.cases:
            with self.subTest(case=case["name"]):
                obj = self.explain_json(os.path.join(PANES, case["file"]), "--now", case["now"],
                                        "--tz", case["zone"], "--tail-lines", case["tail_lines"])
                self.check_schema(obj)
                for key in ("prompt", "busy", "limit", "limit_match", "server_error", "warning",
                            "pattern", "reset_at", "resume_uuid", "dialog_kind", "auto_continue",
                            *V2_BOOLEANS):
                    self.assertEqual(obj[key], case[key], key)
                if case["dialog_prefix"]:
                    self.assertTrue(obj["dialog"].startswith(case["dialog_prefix"]), obj["dialog"])
                if case["snippet_prefix"]:
                    self.assertTrue(obj["snippet"].startswith(case["snippet_prefix"]), obj["snippet"])
                self.assertEqual(obj["zone"], case["zone"])
                self.assertEqual(obj["tail_lines"], int(case["tail_lines"]))

    def test_every_fixture_has_a_case(self):
        listed = {case["file"] for case in self.cases}
        on_disk = {name for name in os.listdir(PANES) if name.endswith(".txt")}
        self.assertEqual(on_disk - listed, set())

    def test_fixtures_text(self):
        for case in self.cases:
            with self.subTest(case=case["name"]):
                r = run_ctl("explain-pane", os.path.join(PANES, case["file"]), "--now", case["now"],
                            "--tz", case["zone"], "--tail-lines", case["tail_lines"])
                self.assertEqual(r.returncode, 0, r.stderr.decode())
                out = r.stdout.decode("utf-8")
                self.assertIn("Verdict:", out)
                self.assertIn("Prompt visible:", out)
                if case["pattern"]:
                    self.assertIn(case["pattern"], out)
                if case["reset_at"]:
                    self.assertIn(case["reset_at"], out)
                if case["resume_uuid"]:
                    self.assertIn(case["resume_uuid"], out)
                if case["limit"]:
                    self.assertIn("usage limit reached", out)
                elif case["limit_match"]:
                    self.assertIn("vetoed", out)
                elif case["resume_failed"]:
                    self.assertIn("no conversation", out)
                elif case["needs_input"]:
                    self.assertIn("waits for a person", out)
                elif case["dialog_kind"]:
                    self.assertIn("never type a task", out)
                elif case["exited"]:
                    self.assertIn("Claude has exited", out)
                elif case["ready"] and not (case["server_error"] or case["throttle"] or case["busy"]):
                    self.assertIn("ready for a task", out)
                for label in ("Ready:", "Exited:", "Dialog:", "Needs input:", "Throttle:",
                              "Auto-continue:", "Resume failed:"):
                    self.assertIn(label, out)
                if case["dialog_kind"]:
                    self.assertIn(case["dialog_kind"] + ": \"" + (case["dialog_prefix"] or ""), out)
                    self.assertIn("(fix: ", out)
                if case["auto_continue"]:
                    self.assertRegex(out, r"Auto-continue:\s+" + case["auto_continue"])

    def test_json_keys_documented(self):
        # Every key explain-pane prints is in claude-failoverctl(1).
        obj = self.explain_json(os.path.join(PANES, "idle-prompt.txt"), "--now", "2026-07-15T12:00:00Z")
        with open(MAN_PAGE, encoding="utf-8") as f:
            page = f.read().replace("\\-", "-")
        for key in obj:
            with self.subTest(key=key):
                self.assertRegex(page, r"\.BR? " + re.escape(key) + r"\b")

    # --- input and options ------------------------------------------------------

    def fixture_bytes(self, name):
        with open(os.path.join(PANES, name), "rb") as f:
            return f.read()

    def test_stdin(self):
        data = self.fixture_bytes("limit-hit-your-limit.txt")
        by_file = self.explain_json(os.path.join(PANES, "limit-hit-your-limit.txt"),
                                    "--now", "2026-07-15T12:00:00Z", "--tz", "UTC")
        by_dash = self.explain_json("-", "--now", "2026-07-15T12:00:00Z", "--tz", "UTC", input=data)
        by_default = self.explain_json("--now", "2026-07-15T12:00:00Z", "--tz", "UTC", input=data)
        self.assertEqual(by_file, by_dash)
        self.assertEqual(by_file, by_default)
        self.assertTrue(by_file["limit"])
        self.assertEqual(by_file["reset_at"], "2026-07-15T23:30:00+02:00")

        r = run_ctl("explain-pane", "--now", "2026-07-15T12:00:00Z", input=data)
        self.assertEqual(r.returncode, 0)
        self.assertIn("standard input", r.stdout.decode())

    def test_empty_stdin(self):
        obj = self.explain_json("--now", "2026-07-15T12:00:00Z", input=b"")
        self.check_schema(obj)
        self.assertFalse(obj["prompt"] or obj["busy"] or obj["limit"] or obj["server_error"])

    def test_json_option_after_command(self):
        path = os.path.join(PANES, "limit-weekly.txt")
        r = run_ctl("explain-pane", path, "--json", "--now", "2026-07-15T12:00:00Z")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(parse_one_object(self, r.stdout)["pattern"], "weekly-limit")

    def test_binary_garbage(self):
        data = bytes(range(256)) * 64 + b"\n\xff\xfe\x1b[31m\nYou've hit your limit \xc3 resets 9pm\x1b[0m\n\x00"
        obj = self.explain_json("--now", "2026-07-15T12:00:00Z", "--tz", "UTC", input=data)
        self.check_schema(obj)
        self.assertTrue(obj["limit"])
        self.assertEqual(obj["reset_at"], "2026-07-15T21:00:00+00:00")

    def test_now_forms(self):
        path = os.path.join(PANES, "limit-five-hour-bullet.txt")
        expected = "2026-07-15T21:00:00-06:00"
        for now in ("2026-07-15T12:00:00Z", "2026-07-15T14:00:00+02:00",
                    "2026-07-15T06:00:00", "@1784116800"):
            with self.subTest(now=now):
                obj = self.explain_json(path, "--now", now, "--tz", "America/Denver")
                self.assertEqual(obj["reset_at"], expected)

    def test_default_now_and_zone(self):
        # Without --now/--tz: the current time and the local zone (TZ=…).
        r = run_ctl("--json", "explain-pane", os.path.join(PANES, "limit-five-hour-bullet.txt"),
                    env_extra={"TZ": "Asia/Kolkata"})
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        obj = parse_one_object(self, r.stdout)
        self.assertTrue(obj["reset_at"].endswith("+05:30"), obj["reset_at"])
        delta = obj["reset_at_unix"] - time.time()
        self.assertGreater(delta, -120)
        self.assertLess(delta, 25 * 3600)

    def test_help(self):
        for args in (("explain-pane", "--help"), ("explain-pane", "-h")):
            r = run_ctl(*args)
            self.assertEqual(r.returncode, 0)
            out = r.stdout.decode()
            for word in ("explain-pane", "--now", "--tz", "--json", "--hook", "--transcript"):
                self.assertIn(word, out)

    # --- failures ------------------------------------------------------------------

    def assert_one_line_error(self, r, status, *fragments):
        self.assertEqual(r.returncode, status, r)
        self.assertEqual(r.stdout, b"")
        err = r.stderr.decode()
        self.assertEqual(err.count("\n"), 1, err)
        self.assertTrue(err.startswith("claude-failoverctl: "), err)
        for fragment in fragments:
            self.assertIn(fragment, err)

    def test_unreadable_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            missing = os.path.join(tmp, "x")
            r = run_ctl("--json", "explain-pane", missing)
            self.assert_one_line_error(r, 1, f"cannot read '{missing}': No such file or directory")
            r = run_ctl("explain-pane", tmp)
            self.assert_one_line_error(r, 1, f"cannot read '{tmp}'", "Is a directory")

    def test_usage_errors(self):
        path = os.path.join(PANES, "idle-prompt.txt")
        cases = [
            (("explain-pane", path, "--now", "yesterday"), "--now"),
            (("explain-pane", path, "--now", "2026-13-45T99:00:00Z"), "--now"),
            (("explain-pane", path, "--now"), "--now"),
            (("explain-pane", path, "--tz", "Mars/Olympus_Mons"), "Mars/Olympus_Mons"),
            (("explain-pane", path, "--bogus"), "--bogus"),
            (("explain-pane", path, path), "unexpected argument"),
            (("explain-pane", path, "--tail-lines", "0"), "--tail-lines"),
            (("explain-pane", path, "--tail-lines", "many"), "--tail-lines"),
            (("--json", "explain-pane", path, "--now", "bogus"), "--now"),
        ]
        for args, fragment in cases:
            with self.subTest(args=args):
                self.assert_one_line_error(run_ctl(*args), 2, fragment)

    # --- the fused verdict (--hook, --transcript) -------------------------------------

    def test_fused_three_inputs(self):
        now = "2026-12-06T13:20:00Z"
        ready = os.path.join(PANES, "claude-2.1.332-ready.txt")
        limit_pane = os.path.join(PANES, "claude-2.1.332-limit-five-hour.txt")
        limit = os.path.join(TRANSCRIPTS, "claude-2.1.332-limit-five-hour.jsonl")
        throttle = os.path.join(TRANSCRIPTS, "claude-2.1.332-throttle.jsonl")
        with tempfile.TemporaryDirectory() as tmp:
            bare = os.path.join(tmp, "hook.json")
            with open(bare, "w", encoding="utf-8") as f:
                json.dump({"hook_event_name": "StopFailure", "error": "rate_limit",
                           "session_id": "0b0e4a4e-7c1a-4b8e-9d3f-0a1b2c3d4e5f"}, f)
            partial = os.path.join(tmp, "partial.jsonl")
            with open(throttle, "rb") as f, open(partial, "wb") as g:
                g.write(f.read().rstrip(b"\n"))
            cases = [
                ((ready, "--hook", bare, "--transcript", limit), "usage-limit", "hook,transcript", "none",
                 "hit-five-hour-limit", 1796563522),
                ((ready, "--hook", bare, "--transcript", throttle), "throttle", "hook,transcript", "none",
                 "rate_limit", None),
                ((limit_pane, "--hook", bare), "usage-limit", "hook,pane", "none", "auto-continue-set",
                 None),
                ((ready, "--hook", bare), "throttle", "hook", "none", "rate_limit", None),
                # A last line still being written is not read, as in the daemon.
                ((ready, "--hook", bare, "--transcript", partial), "throttle", "hook", "none",
                 "rate_limit", None),
                ((ready, "--transcript", limit), "usage-limit", "transcript", "none",
                 "hit-five-hour-limit", 1796563522),
            ]
            for args, verdict, sources, conflicting, reason, reset in cases:
                with self.subTest(args=args):
                    obj = self.explain_json(*args, "--now", now, "--tz", "UTC")
                    fused = obj["fused"]
                    self.assertEqual(fused["verdict"], verdict)
                    self.assertEqual(fused["sources"], sources)
                    self.assertEqual(fused["conflicting"], conflicting)
                    self.assertEqual(fused["reason"], reason)
                    if reset is not None:
                        self.assertEqual(fused["reset_at_unix"], reset)
                    expected = f"{verdict} (sources: {sources}; conflicting: {conflicting}; reason: {reason}"
                    self.assertIn(expected, fused["decision"])
                    if "--hook" in args:
                        self.assertTrue(fused["decision"].startswith("StopFailure error=rate_limit → "))
                    r = run_ctl("explain-pane", *args, "--now", now, "--tz", "UTC")
                    self.assertEqual(r.returncode, 0, r.stderr.decode())
                    self.assertIn("Fused verdict: " + fused["decision"] + "\n", r.stdout.decode())
            r = run_ctl("explain-pane", ready, "--hook", bare, "--transcript", partial, "--now", now)
            self.assertIn("no main-conversation assistant line", r.stdout.decode())
            # Without --hook / --transcript the output is the pane's alone.
            self.assertNotIn("fused", self.explain_json(ready, "--now", now))
            # Every key of "fused" is in claude-failoverctl(1).
            with open(MAN_PAGE, encoding="utf-8") as f:
                page = f.read().replace("\\-", "-")
            obj = self.explain_json(ready, "--hook", bare, "--now", now)
            for key in ["fused", *obj["fused"]]:
                self.assertRegex(page, r"\.BR? " + re.escape(key) + r"\b", key)

    def test_fused_bad_inputs(self):
        ready = os.path.join(PANES, "claude-2.1.332-ready.txt")
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "hook.json")
            with open(bad, "w", encoding="utf-8") as f:
                f.write("[1, 2")
            missing = os.path.join(tmp, "none.jsonl")
            self.assert_one_line_error(run_ctl("explain-pane", ready, "--hook", bad), 1, "--hook", bad)
            empty = os.path.join(tmp, "empty.json")
            open(empty, "w").close()
            self.assert_one_line_error(run_ctl("explain-pane", ready, "--hook", empty), 1, "--hook", empty)
            self.assert_one_line_error(run_ctl("explain-pane", ready, "--hook", "/dev/null"), 1, "--hook")
            # An empty transcript is that signal missing, not an error.
            obj = self.explain_json(ready, "--transcript", empty, "--now", "2026-12-06T13:20:00Z")
            self.assertEqual(obj["fused"]["verdict"], "idle")
            self.assert_one_line_error(run_ctl("explain-pane", ready, "--transcript", missing), 1,
                                       f"cannot read '{missing}'")


@unittest.skipUnless(shutil.which("tmux"), "tmux is not installed")
class ExplainLiveFakeClaudeTest(unittest.TestCase):
    """What the daemon will see: captures of the fake Claude Code in tmux."""

    def setUp(self):
        self.sb = harness.Sandbox("explain")
        self.addCleanup(self.sb.close)
        self.sb.start_tmux()
        self.config_dir = os.path.join(self.sb.home, ".claude-main")
        os.makedirs(self.config_dir)

    def explain_capture(self):
        text = self.sb.capture("live")
        r = run_ctl("--json", "explain-pane", "--tz", "UTC", input=text.encode("utf-8"))
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        return parse_one_object(self, r.stdout)

    def wait_explained(self, predicate, what):
        return self.sb.wait_for(lambda: (lambda o: o if predicate(o) else None)(self.explain_capture()),
                                timeout=15, what=what)

    def test_idle_busy_limit_veto_exit(self):
        # A shell stays in the pane after /exit, as in a pool session.
        self.sb.fake_work_ms = 60000
        self.sb.new_session("live", ["/bin/sh", "-c", '"$0" --dangerously-skip-permissions; exec sleep 600',
                                     self.sb.fake_claude_path],
                            cwd=self.sb.home, width=120, height=40,
                            env={"CLAUDE_CONFIG_DIR": self.config_dir, "FAKE_CLAUDE_WORK_MS": "60000"})
        idle = self.wait_explained(lambda o: o["prompt"] and not o["busy"], "idle prompt")
        self.assertTrue(idle["ready"])
        self.assertFalse(idle["exited"])

        self.sb.send_text("live", "hello")
        busy = self.wait_explained(lambda o: o["busy"], "busy spinner")
        self.assertTrue(busy["prompt"])
        self.assertFalse(busy["limit"])
        self.assertFalse(busy["ready"])

        self.sb.fake_control("live", "limit You've hit your session limit · resets 8pm (America/New_York)")
        limited = self.wait_explained(lambda o: o["limit"], "limit")
        # As the real CLI, the fake arms Claude's own auto-continue under the limit line:
        # the newest line decides the pattern, the zone in parentheses the reset.
        self.assertIn(limited["pattern"], ("hit-session-limit", "auto-continue-set"))
        self.assertEqual(limited["auto_continue"], "armed")
        self.assertTrue(limited["reset_at"].endswith("-04:00") or limited["reset_at"].endswith("-05:00"))
        self.assertFalse(limited["busy"])

        self.sb.fake_control("live", "5xx")
        vetoed = self.wait_explained(lambda o: o["server_error"], "5xx veto")
        self.assertTrue(vetoed["limit_match"])
        self.assertFalse(vetoed["limit"])

        self.sb.fake_control("live", "exit")
        exited = self.wait_explained(lambda o: o["resume_uuid"], "resume UUID after exit")
        self.assertRegex(exited["resume_uuid"], UUID_RE)
        # The last frame stays above the hint: not a prompt, not ready.
        self.assertTrue(exited["exited"])
        self.assertFalse(exited["prompt"] or exited["ready"] or exited["busy"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
