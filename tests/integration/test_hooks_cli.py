#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""claude-failoverctl install-hooks and hook: settings.json merging (kept
keys, idempotence, refusals, path updates, ownership), and ReportHookEvent
calls received by a recording service on a private bus — no daemon, a slow
one, and tests/fake-claude running the installed hooks in tmux."""

import json
import os
import shlex
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CTL = os.path.join(harness.build_dir(), "src", "ctl", "claude-failoverctl")
EVENTS = ["Stop", "StopFailure", "SessionStart", "UserPromptSubmit", "Notification"]
# What install-hooks reports: the hook events, then the statusline.
INSTALLED = EVENTS + ["statusLine"]
UUID = "00893aaf-19fa-41d2-8238-13269b9b3ca0"

# Records every ReportHookEvent call as one JSON line before replying,
# DELAY seconds later, like a daemon that is alive but slow.
RECORDER = r'''
import json, os, sys, time
import dbus, dbus.bus, dbus.service, dbus.mainloop.glib
from gi.repository import GLib

log_path, delay = sys.argv[1], float(sys.argv[2])
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(os.environ["DBUS_SYSTEM_BUS_ADDRESS"])


class Manager(dbus.service.Object):
    @dbus.service.method("org.claudefailover.Manager", in_signature="sss", out_signature="",
                         async_callbacks=("reply", "error"))
    def ReportHookEvent(self, event, pane, payload, reply=None, error=None):
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"event": str(event), "pane": str(pane),
                                "payload": str(payload), "time": time.time()}) + "\n")
        if delay > 0:
            GLib.timeout_add(int(delay * 1000), answer, reply)
        else:
            reply()


def answer(reply):
    reply()
    return False


Manager(bus, "/org/claudefailover/Manager")
name = dbus.service.BusName("org.claudefailover", bus, do_not_queue=True)
GLib.MainLoop().run()
'''


def our_group(command):
    return {"hooks": [{"type": "command", "command": command, "timeout": 5}]}


def ordered(text):
    """JSON with objects as lists of pairs, so that comparisons see order."""
    return json.loads(text, object_pairs_hook=lambda pairs: pairs)


class InstallHooksTest(unittest.TestCase):
    def setUp(self):
        if not os.access(CTL, os.X_OK):
            raise AssertionError(f"{CTL} is not built")
        self.sb = harness.Sandbox("insthk")
        self.addCleanup(self.sb.close)
        self.account = os.path.join(self.sb.home, ".claude-main")
        os.makedirs(self.account)
        self.settings = os.path.join(self.account, "settings.json")

    def install(self, *args, home=None, json_output=False):
        argv = (["--json"] if json_output else []) + ["install-hooks", home or self.account, *args]
        r = self.sb.run([CTL, *argv], env=self.sb.env(LANGUAGE=""))
        return r

    def command(self, event, program=CTL):
        return f"{program} hook {event}"

    def write(self, text, mode=0o600):
        with open(self.settings, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(self.settings, mode)

    def read(self):
        with open(self.settings, encoding="utf-8") as f:
            return f.read()

    def assert_refused(self, r, *fragments):
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(r.stdout, "")
        self.assertTrue(r.stderr.startswith("claude-failoverctl: "), r.stderr)
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        for fragment in fragments:
            self.assertIn(fragment, r.stderr)

    # --- creating and merging ----------------------------------------------------

    def test_empty_home_gets_a_private_file(self):
        r = self.install()
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.stdout, f"{self.settings}: added {', '.join(INSTALLED)}\n")
        self.assertEqual(stat.S_IMODE(os.stat(self.settings).st_mode), 0o600)
        text = self.read()
        expected = {"hooks": {e: [our_group(self.command(e))] for e in EVENTS},
                    "statusLine": {"type": "command", "command": f"{CTL} statusline"}}
        self.assertEqual(json.loads(text), expected)
        # Written the way Claude Code writes it (JSON.stringify (…, null, 2)).
        self.assertEqual(text, json.dumps(expected, indent=2, ensure_ascii=False) + "\n")

    def test_json_output(self):
        r = self.install(json_output=True)
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(json.loads(r.stdout), {"path": self.settings, "added": INSTALLED,
                                                "updated": [], "unchanged": []})
        self.assertEqual(r.stdout.count("\n"), 1)
        r = self.install("--json")
        self.assertEqual(json.loads(r.stdout), {"path": self.settings, "added": [],
                                                "updated": [], "unchanged": INSTALLED})

    def test_keeps_every_other_key_and_hook(self):
        before = {
            "$schema": "https://json.schemastore.org/claude-code-settings.json",
            "model": "opus",
            "permissions": {"allow": ["Bash(ls:*)", "Read"], "deny": [],
                            "defaultMode": "bypassPermissions"},
            "env": {"FOO": "é ✓ \"quoted\" \\ tab\t", "EMPTY": ""},
            "hooks": {
                "PreToolUse": [{"matcher": "Bash", "hooks": [
                    {"type": "command", "command": "/usr/local/bin/guard --strict"}]}],
                "Stop": [{"matcher": "", "hooks": [
                    {"type": "command", "command": "notify-send 'Claude is done'", "timeout": 10},
                    {"type": "command", "command": "claude-failoverctl hook Stop --verbose"}]}],
                "SubagentStop": [{"hooks": [
                    {"type": "command", "command": "/opt/cf/bin/claude-failoverctl hook Stop"}]}],
                "Notification": [],
            },
            "statusLine": {"type": "command", "command": "~/.claude/statusline.sh", "padding": 0},
            "cleanupPeriodDays": 30,
            "big": 9007199254740993,
            "ratio": 0.1,
            "flags": [True, False, None, -1, 1.5e+25],
            "includeCoAuthoredBy": False,
        }
        original = json.dumps(before, indent=2, ensure_ascii=False) + "\n"
        self.write(original, mode=0o640)

        r = self.install()
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout, f"{self.settings}: added {', '.join(INSTALLED)}\n")
        self.assertEqual(stat.S_IMODE(os.stat(self.settings).st_mode), 0o640)

        expected = json.loads(original)
        # The operator's statusline keeps running, behind ours.
        expected["statusLine"]["command"] = f"{CTL} statusline --then '~/.claude/statusline.sh'"
        hooks = expected["hooks"]
        for event in EVENTS:
            hooks.setdefault(event, []).append(our_group(self.command(event)))
        text = self.read()
        # Same keys in the same order, other hooks untouched, ours appended,
        # and — since the original was in Claude Code's format — the same
        # bytes everywhere else.
        self.assertEqual(ordered(text), ordered(json.dumps(expected)))
        self.assertEqual(text, json.dumps(expected, indent=2, ensure_ascii=False) + "\n")

    def test_idempotent(self):
        self.assertEqual(self.install().returncode, 0)
        first = os.stat(self.settings)
        text = self.read()
        time.sleep(0.02)
        r = self.install()
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout, f"{self.settings}: already installed\n")
        second = os.stat(self.settings)
        self.assertEqual(self.read(), text)
        # Not even rewritten.
        self.assertEqual((first.st_ino, first.st_mtime_ns), (second.st_ino, second.st_mtime_ns))
        groups = json.loads(text)["hooks"]
        self.assertTrue(all(len(groups[e]) == 1 for e in EVENTS))

    def test_compact_file_is_kept_semantically(self):
        self.write('{"model":"sonnet","hooks":{"Stop":[{"hooks":[{"type":"command",'
                   '"command":"true"}]}]},"n":1e3}')
        r = self.install()
        self.assertEqual(r.returncode, 0, r)
        data = json.loads(self.read())
        self.assertEqual(list(data), ["model", "hooks", "n", "statusLine"])
        self.assertEqual(data["n"], 1000)
        self.assertEqual(data["hooks"]["Stop"][0], {"hooks": [{"type": "command", "command": "true"}]})
        self.assertFalse(self.read().endswith("\n"), "a file without a final newline keeps none")

    def test_blank_file_counts_as_empty(self):
        self.write("  \n", mode=0o644)
        r = self.install()
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(set(json.loads(self.read())["hooks"]), set(EVENTS))
        self.assertEqual(stat.S_IMODE(os.stat(self.settings).st_mode), 0o644)

    # --- refusals -------------------------------------------------------------------

    def test_refuses_broken_files_untouched(self):
        cases = [
            ('{"hooks": {', "the JSON ends too early at line 1, column 12"),
            ('{\n  "model": "opus",\n  "x": tru\n}\n', "unexpected character at line 3, column 8"),
            ('/* settings */ {"model": "opus"}', "unexpected character at line 1, column 1"),
            ("{'model': 'opus'}", "expected a quoted member name"),
            ('{"a": 1} {"b": 2}', "unexpected data after the JSON value"),
            ('{"a": 1,}', "expected a quoted member name"),
            ('["hooks"]', "the top level is not a JSON object"),
            ('"text"', "the top level is not a JSON object"),
            ('{"id": 123456789012345678901234}', "an integer too large to be kept exactly"),
            ('{"a": "\\ud800"}', "cannot parse"),
        ]
        for text, reason in cases:
            with self.subTest(text=text):
                self.write(text, mode=0o644)
                before = os.stat(self.settings)
                r = self.install()
                self.assert_refused(r, f"cannot parse {self.settings}", reason,
                                    "the file is unchanged")
                self.assertEqual(self.read(), text)
                after = os.stat(self.settings)
                self.assertEqual((before.st_ino, before.st_mtime_ns, stat.S_IMODE(after.st_mode)),
                                 (after.st_ino, after.st_mtime_ns, 0o644))

    def test_refuses_non_utf8(self):
        with open(self.settings, "wb") as f:
            f.write(b'{"model": "caf\xe9"}')
        r = self.install()
        self.assert_refused(r, "not UTF-8 text (at byte offset 14)")
        with open(self.settings, "rb") as f:
            self.assertEqual(f.read(), b'{"model": "caf\xe9"}')

    def test_refuses_hooks_that_are_not_an_object(self):
        for text, reason in [('{"hooks": []}', '"hooks" is not an object'),
                             ('{"hooks": null}', '"hooks" is not an object'),
                             ('{"hooks": "x"}', '"hooks" is not an object'),
                             ('{"hooks": {"Notification": {"hooks": []}}}',
                              '"hooks"."Notification" is not a list')]:
            with self.subTest(text=text):
                self.write(text)
                r = self.install()
                self.assert_refused(r, reason, "the file is unchanged")
                self.assertEqual(self.read(), text)

    def test_refuses_a_home_that_is_not_a_directory(self):
        missing = os.path.join(self.sb.root, "nope")
        r = self.install(home=missing)
        self.assert_refused(r, f"cannot use the account home {missing}: No such file or directory")
        self.assertFalse(os.path.exists(missing))
        plain = os.path.join(self.sb.root, "plain")
        open(plain, "w").close()
        r = self.install(home=plain)
        self.assert_refused(r, "is not a directory")
        os.mkdir(self.settings)
        r = self.install()
        self.assert_refused(r, "is not a regular file")

    def test_usage(self):
        for argv, fragment in [(["install-hooks"], "missing ACCOUNT_HOME"),
                               (["install-hooks", self.account, "extra"], "unexpected argument"),
                               (["install-hooks", self.account, "--command", "bin/ctl"],
                                "--command needs an absolute path"),
                               (["install-hooks", self.account, "--bogus"], "Unknown option")]:
            with self.subTest(argv=argv):
                r = self.sb.run([CTL, *argv])
                self.assertEqual(r.returncode, 2, r)
                self.assertEqual(r.stdout, "")
                self.assertTrue(r.stderr.startswith("claude-failoverctl: install-hooks: "), r.stderr)
                self.assertEqual(r.stderr.count("\n"), 1)
                self.assertIn(fragment, r.stderr)
        self.assertFalse(os.path.exists(self.settings))
        r = self.sb.run([CTL, "install-hooks", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("Usage: claude-failoverctl [--json] install-hooks ACCOUNT_HOME", r.stdout)

    # --- updating -------------------------------------------------------------------

    def test_updates_the_path_in_place(self):
        old = {"hooks": {
            "Stop": [{"matcher": "", "hooks": [
                {"type": "command", "command": "echo before"},
                {"type": "command", "command": "/opt/old/bin/claude-failoverctl hook Stop",
                 "timeout": 30},
                {"type": "command", "command": "echo after"}]}],
            "StopFailure": [{"matcher": "rate_limit|server_error", "hooks": [
                {"type": "command", "command": "'/opt/old dir/claude-failoverctl' hook StopFailure"}]}],
            "SessionStart": [{"hooks": [
                {"type": "command", "command": f"{CTL} hook SessionStart"}]}],
            "UserPromptSubmit": [{"hooks": [
                {"type": "command", "command": "claude-failoverctl hook UserPromptSubmit"}]}],
            "Notification": [{"hooks": [
                {"type": "command", "command": "/opt/old/bin/claude-failoverctl hook Stop"}]}],
        }}
        self.write(json.dumps(old, indent=2) + "\n")
        r = self.install(json_output=True)
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(json.loads(r.stdout), {
            "path": self.settings, "added": ["Notification", "statusLine"],
            "updated": ["Stop", "StopFailure", "UserPromptSubmit"],
            "unchanged": ["SessionStart"]})
        new = json.loads(self.read())
        stop = new["hooks"]["Stop"]
        self.assertEqual(len(stop), 1)
        self.assertEqual(stop[0]["hooks"], [
            {"type": "command", "command": "echo before"},
            {"type": "command", "command": self.command("Stop"), "timeout": 30},
            {"type": "command", "command": "echo after"}])
        self.assertEqual(new["hooks"]["StopFailure"], [{"matcher": "rate_limit|server_error",
                                                        "hooks": [{"type": "command",
                                                                   "command": self.command("StopFailure")}]}])
        self.assertEqual(new["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"],
                         self.command("UserPromptSubmit"))
        # "hook Stop" under Notification is someone else's business.
        self.assertEqual(new["hooks"]["Notification"], old["hooks"]["Notification"] +
                         [our_group(self.command("Notification"))])

        r = self.install()
        self.assertEqual(r.stdout, f"{self.settings}: already installed\n")

    def test_statusline_path_update_keeps_then(self):
        self.write(json.dumps({"statusLine": {
            "type": "command", "padding": 2,
            "command": "/opt/old/bin/claude-failoverctl statusline --then 'my-line --short'"}}))
        r = self.install(json_output=True)
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(json.loads(r.stdout)["updated"], ["statusLine"])
        status = json.loads(self.read())["statusLine"]
        self.assertEqual(status, {"type": "command", "padding": 2,
                                  "command": f"{CTL} statusline --then 'my-line --short'"})
        self.assertEqual(shlex.split(status["command"]),
                         [CTL, "statusline", "--then", "my-line --short"])
        r = self.install()
        self.assertEqual(r.stdout, f"{self.settings}: already installed\n")

    def test_statusline_of_another_shape_is_refused(self):
        for text in ['{"statusLine": "my-line"}', '{"statusLine": {"type": "command", "command": 3}}']:
            self.write(text)
            self.assert_refused(self.install(), "statusLine", "the file is unchanged")
            self.assertEqual(self.read(), text)

    def test_respects_claude_codes_lock(self):
        # Claude Code 2.1.332 writes settings.json under a proper-lockfile
        # directory lock, settings.json.lock; we take the same one.
        self.write('{"model": "opus"}\n')
        lock = self.settings + ".lock"
        os.mkdir(lock)
        started = time.monotonic()
        self.assert_refused(self.install(), "settings.json.lock")
        self.assertGreater(time.monotonic() - started, 4)
        self.assertEqual(self.read(), '{"model": "opus"}\n')
        self.assertTrue(os.path.isdir(lock), "someone else's lock is left alone")
        # A lock its holder stopped refreshing 10 s ago is stale, as for Claude Code.
        old = time.time() - 30
        os.utime(lock, (old, old))
        r = self.install()
        self.assertEqual(r.returncode, 0, r)
        self.assertFalse(os.path.exists(lock))
        self.assertEqual(json.loads(self.read())["model"], "opus")
        self.assertEqual([n for n in os.listdir(self.account) if ".tmp." in n], [])

    def test_command_override_is_quoted_for_the_shell(self):
        program = "/opt/claude failover/bin/claude-failoverctl"
        r = self.install("--command", program)
        self.assertEqual(r.returncode, 0, r)
        command = json.loads(self.read())["hooks"]["Stop"][0]["hooks"][0]["command"]
        self.assertEqual(command, "'/opt/claude failover/bin/claude-failoverctl' hook Stop")
        self.assertEqual(shlex.split(command), [program, "hook", "Stop"])
        r = self.install("--command", program)
        self.assertEqual(r.stdout, f"{self.settings}: already installed\n")
        # Renamed programs are recognised by their exact path.
        r = self.install("--command", "/usr/libexec/cf-ctl")
        self.assertIn("updated", r.stdout)
        r = self.install("--command", "/usr/libexec/cf-ctl")
        self.assertEqual(r.stdout, f"{self.settings}: already installed\n")
        self.assertTrue(all(len(g) == 1 for g in json.loads(self.read())["hooks"].values()))

    # --- links and owners ---------------------------------------------------------------

    def test_symbolic_link_is_followed_and_kept(self):
        dotfiles = os.path.join(self.sb.home, "dotfiles")
        os.makedirs(dotfiles)
        target = os.path.join(dotfiles, "claude-settings.json")
        with open(target, "w") as f:
            f.write('{"model": "opus"}\n')
        os.symlink("../dotfiles/claude-settings.json", self.settings)
        r = self.install()
        self.assertEqual(r.returncode, 0, r)
        self.assertTrue(os.path.islink(self.settings))
        self.assertIn(f"{target}: added", r.stdout)
        with open(target) as f:
            self.assertEqual(set(json.load(f)["hooks"]), set(EVENTS))
        os.unlink(self.settings)
        os.symlink("nowhere.json", self.settings)
        self.assert_refused(self.install(), "cannot follow the symbolic link")

    def test_root_writes_as_the_owner_of_the_home(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        nobody = 65534
        os.chown(self.account, nobody, nobody)
        r = self.install()
        self.assertEqual(r.returncode, 0, r)
        st = os.stat(self.settings)
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)), (nobody, nobody, 0o600))

        # A link planted by the user to a file only root may write is not
        # followed with root's rights.
        secret = os.path.join(self.sb.root, "root-only.json")
        with open(secret, "w") as f:
            f.write('{"root": true}\n')
        os.chmod(secret, 0o600)
        os.unlink(self.settings)
        os.symlink(secret, self.settings)
        r = self.install()
        self.assert_refused(r)
        with open(secret) as f:
            self.assertEqual(f.read(), '{"root": true}\n')


class HookCommandTest(unittest.TestCase):
    def setUp(self):
        if not os.access(CTL, os.X_OK):
            raise AssertionError(f"{CTL} is not built")
        harness.require_programs("dbus-daemon", "busctl")
        self.sb = harness.Sandbox("hookcmd")
        self.addCleanup(self.sb.close)
        self.sb.start_bus()
        self.calls_path = os.path.join(self.sb.root, "calls.jsonl")

    def _callTestMethod(self, method):
        try:
            super()._callTestMethod(method)
        except BaseException:
            self.sb.dump_logs()
            raise

    def start_recorder(self, delay=0.0):
        script = os.path.join(self.sb.root, "recorder.py")
        with open(script, "w") as f:
            f.write(RECORDER)
        proc = self.sb.spawn(["/usr/bin/python3", script, self.calls_path, str(delay)],
                             log_path=os.path.join(self.sb.root, "recorder.log"))
        self.sb.wait_for(lambda: self.sb.name_has_owner() or proc.poll() is not None,
                         what="the recording service to own org.claudefailover")
        if proc.poll() is not None:
            with open(os.path.join(self.sb.root, "recorder.log")) as f:
                raise AssertionError("recorder exited:\n" + f.read())
        return proc

    def calls(self):
        try:
            with open(self.calls_path, encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        except FileNotFoundError:
            return []

    def hook(self, event, stdin_bytes=b"", pane=None, **env):
        environment = self.sb.env(TMUX_PANE=pane, **env)
        start = time.monotonic()
        r = subprocess.run([CTL, "hook", event], input=stdin_bytes, capture_output=True,
                           env=environment, timeout=10)
        return r, time.monotonic() - start

    def assert_silent_success(self, r):
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout, b"")
        self.assertEqual(r.stderr, b"")

    # --- no daemon ------------------------------------------------------------------

    def test_no_daemon_with_stdin_left_open(self):
        start = time.monotonic()
        proc = subprocess.Popen([CTL, "hook", "Stop"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.sb.env(TMUX_PANE="%3"))
        try:
            proc.stdin.write(b'{"session_id": "' + UUID.encode() + b'"')
            proc.stdin.flush()
            code = proc.wait(timeout=5)
            elapsed = time.monotonic() - start
            self.assertEqual(code, 0)
            self.assertLess(elapsed, 2.0)
            self.assertGreaterEqual(elapsed, 0.9, "stdin is waited for for about 1 s")
            self.assertEqual(proc.stdout.read(), b"")
            self.assertEqual(proc.stderr.read(), b"")
        finally:
            proc.stdin.close()
            proc.stdout.close()
            proc.stderr.close()

    def test_no_daemon_is_fast_and_quiet(self):
        r, elapsed = self.hook("StopFailure", b'{"error": "rate_limit"}', pane="%1")
        self.assert_silent_success(r)
        self.assertLess(elapsed, 1.0)

        r, _ = self.hook("StopFailure", b"{}", CF_HOOK_DEBUG="1")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout, b"")
        lines = r.stderr.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"^claude-failoverctl: hook StopFailure: not reported to "
                                   r"claude-failoverd: .*org\.claudefailover.*"
                                   r"\(org\.freedesktop\.DBus\.Error\.(ServiceUnknown|NameHasNoOwner)\)$")

    def test_no_bus_at_all(self):
        missing = f"unix:path={self.sb.root}/no-such-bus"
        r, elapsed = self.hook("Stop", b"{}", DBUS_SYSTEM_BUS_ADDRESS=missing)
        self.assert_silent_success(r)
        self.assertLess(elapsed, 1.0)
        r, _ = self.hook("Stop", b"{}", DBUS_SYSTEM_BUS_ADDRESS=missing, CF_HOOK_DEBUG="1")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(len(r.stderr.decode().splitlines()), 1)

    def test_stopped_bus_does_not_hold_the_hook(self):
        # A dbus-daemon that accepts connections but never answers: the
        # handshake wait is bounded too.
        bus_pid = self.sb._bus_proc.pid
        os.kill(bus_pid, 19)  # SIGSTOP
        try:
            r, elapsed = self.hook("Stop", b"{}")
        finally:
            os.kill(bus_pid, 18)  # SIGCONT
        self.assert_silent_success(r)
        self.assertLess(elapsed, 2.3)

    # --- with a receiver --------------------------------------------------------------

    def test_reports_event_pane_and_payload_exactly(self):
        self.start_recorder()
        payload = json.dumps({
            "session_id": UUID, "transcript_path": f"/home/c/.claude-main/projects/-x/{UUID}.jsonl",
            "cwd": "/home/c/projects/web", "permission_mode": "bypassPermissions",
            "hook_event_name": "StopFailure", "error": "rate_limit",
            "error_details": "429 · résumé ✓"}, ensure_ascii=False)
        r, elapsed = self.hook("StopFailure", payload.encode(), pane="%12")
        self.assert_silent_success(r)
        self.assertLess(elapsed, 1.0)
        calls = self.calls()
        self.assertEqual([(c["event"], c["pane"], c["payload"]) for c in calls],
                         [("StopFailure", "%12", payload)])

    def test_what_is_sent_for_odd_input(self):
        self.start_recorder()
        largest = b'{"prompt": "' + b"x" * (65536 - 14) + b'"}'
        self.assertEqual(len(largest), 65536)
        cases = [
            ("no pane", b'{"a": 1}', None, '{"a": 1}', ""),
            ("empty pane", b'{"a": 1}', "", '{"a": 1}', ""),
            ("invalid JSON is passed on", b"not json {", "%1", "not json {", "%1"),
            ("empty input", b"", "%1", "{}", "%1"),
            ("not UTF-8", b'{"cwd": "/caf\xe9"}', "%1", "{}", "%1"),
            ("NUL byte", b'{"a": "\x00"}', "%1", "{}", "%1"),
            ("64 KiB exactly", largest, "%1", largest.decode(), "%1"),
            ("over 64 KiB", largest + b" ", "%1", "{}", "%1"),
            ("1 MiB", b"[" + b"1," * 500000 + b"1]", "%1", "{}", "%1"),
        ]
        for name, data, pane, expected_payload, expected_pane in cases:
            with self.subTest(name):
                before = len(self.calls())
                r, elapsed = self.hook("UserPromptSubmit", data, pane=pane)
                self.assert_silent_success(r)
                self.assertLess(elapsed, 1.5)
                calls = self.calls()[before:]
                self.assertEqual(len(calls), 1)
                self.assertEqual(calls[0]["event"], "UserPromptSubmit")
                self.assertEqual(calls[0]["pane"], expected_pane)
                self.assertEqual(calls[0]["payload"], expected_payload)

    def test_slow_receiver(self):
        self.start_recorder(delay=5)
        r, elapsed = self.hook("Stop", b'{"hook_event_name": "Stop"}', pane="%4")
        self.assert_silent_success(r)
        self.assertLess(elapsed, 2.5)
        self.assertGreater(elapsed, 1.0, "the call waited for the reply before giving up")
        self.assertEqual([(c["event"], c["pane"]) for c in self.calls()], [("Stop", "%4")])

        # Slow receiver and a stdin nobody closes: both budgets together.
        start = time.monotonic()
        proc = subprocess.Popen([CTL, "hook", "Stop"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.sb.env(TMUX_PANE="%4"))
        try:
            self.assertEqual(proc.wait(timeout=5), 0)
            self.assertLess(time.monotonic() - start, 2.5)
            self.assertEqual(proc.stdout.read(), b"")
        finally:
            proc.stdin.close()
            proc.stdout.close()
            proc.stderr.close()

    def test_usage_errors(self):
        for argv, fragment in [([], "missing EVENT"),
                               (["Stop now"], "invalid EVENT 'Stop now'"),
                               (["Stop", "extra"], "unexpected argument 'extra'"),
                               (["--bogus"], "unknown option '--bogus'")]:
            with self.subTest(argv=argv):
                r = self.sb.run([CTL, "hook", *argv], input="")
                self.assertEqual(r.returncode, 2)
                self.assertEqual(r.stdout, "")
                self.assertTrue(r.stderr.startswith("claude-failoverctl: hook: "), r.stderr)
                self.assertIn(fragment, r.stderr)
                self.assertEqual(r.stderr.count("\n"), 1)
        r = self.sb.run([CTL, "hook", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("Usage: claude-failoverctl hook EVENT", r.stdout)

    # --- end to end ----------------------------------------------------------------------

    def test_fake_claude_runs_the_installed_hooks(self):
        harness.require_programs("tmux")
        self.start_recorder()
        self.sb.fake_work_ms = 300
        self.sb.start_tmux()   # after the bus: sessions inherit DBUS_SYSTEM_BUS_ADDRESS
        account = os.path.join(self.sb.home, ".claude-main")
        os.makedirs(account)
        r = self.sb.run([CTL, "install-hooks", account])
        self.assertEqual(r.returncode, 0, r)

        pane = self.sb.start_fake("e2e", "--dangerously-skip-permissions", config_dir=account)
        start = self.sb.wait_for(lambda: [c for c in self.calls() if c["event"] == "SessionStart"],
                                 what="SessionStart from the fake's hook")[0]
        session = self.sb.wait_for(lambda: self.sb.fake_events("start"), what="fake start")[0]
        session_id = session["session_id"]
        self.assertEqual(start["pane"], pane)
        start_payload = json.loads(start["payload"])
        self.assertEqual(start_payload["hook_event_name"], "SessionStart")
        self.assertEqual(start_payload["source"], "startup")
        self.assertEqual(start_payload["session_id"], session_id)

        self.sb.wait_for(lambda: "❯" in self.sb.capture("e2e"), what="prompt")
        self.sb.send_text("e2e", "fix the login redirect")
        stop = self.sb.wait_for(lambda: [c for c in self.calls() if c["event"] == "Stop"],
                                timeout=15, what="Stop from the fake's hook")[0]
        events = [c["event"] for c in self.calls()]
        self.assertEqual(events, ["SessionStart", "UserPromptSubmit", "Stop"])
        for call in self.calls():
            self.assertEqual(call["pane"], pane)
            self.assertEqual(json.loads(call["payload"])["session_id"], session_id)
        submit = next(c for c in self.calls() if c["event"] == "UserPromptSubmit")
        self.assertEqual(json.loads(submit["payload"])["prompt"], "fix the login redirect")
        self.assertEqual(json.loads(stop["payload"])["hook_event_name"], "Stop")
        # Nothing on the hook's output, which Claude Code may show.
        for hook in self.sb.fake_events("hook"):
            self.assertEqual((hook["exit_code"], hook["timed_out"], hook["output"]), (0, False, ""))


if __name__ == "__main__":
    unittest.main(verbosity=2)
