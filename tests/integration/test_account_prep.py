#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""prepare_accounts (ARCHITECTURE.md 4.9): at start-up and on Reload the
daemon merges into each account home what Claude Code needs to start without
a person (onboarding done, projects trusted, bypass warning accepted, hooks
and statusline), keeping unknown keys, modes and credentials; and the
ClaudeVersion property. The real proof: the real Claude Code CLI, launched
with a prepared home in a project it never saw, reaches its ready prompt
without any dialog."""

import json
import os
import threading
import re
import socket
import stat
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import SandboxTestCase  # noqa: E402

EVENTS = ["Stop", "StopFailure", "SessionStart", "UserPromptSubmit", "Notification"]
DIALOGS = ["Quick safety check", "Accessing workspace", "Bypass Permissions mode",
           "Unable to connect to Anthropic services", "Detected a custom API key",
           "cannot be used with root"]


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write(path, text, mode):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)


def pinned_version():
    with open(os.path.join(harness.source_dir(), "claude-code-version"), encoding="utf-8") as f:
        return f.read().strip()


def real_claude():
    path = os.environ.get("CF_CLAUDE_BIN") or os.path.join(
        "/opt/cf-claude-code", pinned_version(), "node_modules", ".bin", "claude")
    return path if os.access(path, os.X_OK) else None


def start_mock():
    """tests/mock_anthropic.py started, or None where it is not in the tree yet."""
    sys.path.insert(0, os.path.join(harness.source_dir(), "tests"))
    try:
        import mock_anthropic
    except ImportError:
        return None
    mock = mock_anthropic.MockAnthropic(lifetime=300)
    mock.start()
    return mock


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AccountPrepTest(SandboxTestCase):
    def setUp(self):
        super().setUp()
        sb = self.sb
        self.main = os.path.join(sb.home, ".claude-main")
        self.backup = os.path.join(sb.home, ".claude-backup")
        self.web = os.path.join(sb.projects_dir, "web")
        self.extra = os.path.join(sb.root, "extra-project")
        self.dedicated = os.path.join(sb.root, "dedicated-project")
        for d in (self.web, self.extra, self.dedicated):
            os.makedirs(d)

    def config(self, **overrides):
        config = {
            "projects": {"dir": self.sb.projects_dir, "extra": [self.extra]},
            "pool": {"autonomous": {"min": 0, "max": 1},
                     "dedicated": [{"name": "ccl-ded", "project": self.dedicated}]},
        }
        config.update(overrides)
        return self.sb.write_config(config)

    def start(self, claude_command=None, **env):
        sb = self.sb
        if claude_command is not None:
            sb.config["tmux"]["claude_command"] = claude_command
            sb.write_config(sb.config)
        sb.start_daemon(env=sb.env(CF_CTL_PATH=sb.ctl_path, **env))

    def wait_prepared(self, count=2, timeout=15):
        self.sb.wait_for(lambda: self.sb.daemon_log().count("Account preparation: ") >= count,
                         timeout=timeout, what=f"{count} account preparation lines")

    def partial_backup(self):
        os.makedirs(self.backup, exist_ok=True)
        write(os.path.join(self.backup, ".claude.json"), json.dumps({
            "numStartups": 7, "userID": "abc",
            "projects": {"/elsewhere": {"allowedTools": ["Bash"]},
                         self.web: {"hasTrustDialogAccepted": False, "mcpServers": {}}},
        }, indent=2) + "\n", 0o640)
        write(os.path.join(self.backup, ".credentials.json"),
              '{"claudeAiOauth": {"accessToken": "sk-ant-oat01-backup-secret"}}', 0o600)
        write(os.path.join(self.backup, "settings.json"), json.dumps({
            "model": "opus", "env": {"DISABLE_AUTOUPDATER": "1"},
            "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [
                {"type": "command", "command": "/usr/local/bin/guard"}]}]},
            "statusLine": {"type": "command", "command": "my-statusline --short"},
        }, indent=2) + "\n", 0o644)

    def assert_prepared(self, home, trusted):
        sb = self.sb
        claude = read_json(os.path.join(home, ".claude.json"))
        self.assertIs(claude["hasCompletedOnboarding"], True)
        for d in trusted:
            self.assertIs(claude["projects"][d]["hasTrustDialogAccepted"], True, d)
        settings = read_json(os.path.join(home, "settings.json"))
        self.assertIs(settings["skipDangerousModePermissionPrompt"], True)
        for event in EVENTS:
            commands = [h["command"] for g in settings["hooks"][event] for h in g["hooks"]]
            self.assertEqual(commands, [f"{sb.ctl_path} hook {event}"], event)
        return claude, settings

    # --- the files --------------------------------------------------------------

    def test_homes_prepared_at_start_keeping_what_is_there(self):
        sb = self.sb
        self.config()
        self.partial_backup()
        credentials = os.path.join(self.backup, ".credentials.json")
        before = os.stat(credentials)
        with open(credentials, "rb") as f:
            secret = f.read()
        time.sleep(0.02)
        self.start()
        self.wait_prepared()
        projects = [sb.project_dir, self.web, self.extra, self.dedicated]

        # An empty home: new private files.
        _, settings = self.assert_prepared(self.main, projects)
        self.assertEqual(settings["statusLine"],
                         {"type": "command", "command": f"{sb.ctl_path} statusline"})
        for name in (".claude.json", "settings.json"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.main, name)).st_mode), 0o600)
        self.assertFalse(os.path.exists(os.path.join(self.main, ".credentials.json")))

        # A partial home: merged, unknown keys and modes kept.
        claude, settings = self.assert_prepared(self.backup, projects)
        self.assertEqual(claude["numStartups"], 7)
        self.assertEqual(claude["userID"], "abc")
        self.assertEqual(claude["projects"]["/elsewhere"], {"allowedTools": ["Bash"]})
        self.assertEqual(claude["projects"][self.web], {"hasTrustDialogAccepted": True,
                                                        "mcpServers": {}})
        self.assertEqual(settings["model"], "opus")
        self.assertEqual(settings["env"], {"DISABLE_AUTOUPDATER": "1"})
        self.assertEqual(settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"],
                         "/usr/local/bin/guard")
        self.assertEqual(settings["statusLine"]["command"],
                         f"{sb.ctl_path} statusline --then 'my-statusline --short'")
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.backup, ".claude.json")).st_mode),
                         0o640)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.backup, "settings.json")).st_mode),
                         0o644)
        # Credentials untouched, not even rewritten; no temporary file or lock left.
        after = os.stat(credentials)
        self.assertEqual((before.st_ino, before.st_mtime_ns), (after.st_ino, after.st_mtime_ns))
        with open(credentials, "rb") as f:
            self.assertEqual(f.read(), secret)
        for home in (self.main, self.backup):
            self.assertEqual([n for n in os.listdir(home) if ".tmp." in n or n.endswith(".lock")],
                             [])

        # The log says what changed, one line per account, without secrets.
        log = sb.daemon_log()
        self.assertRegex(log, r"account main: prepared .*\.claude-main: \.claude\.json: added "
                              r"onboarding, trust ")
        self.assertRegex(log, r"account backup: prepared .*settings\.json: added bypass-warning")
        self.assertNotIn("sk-ant-oat01", log)

        # A restart finds everything in place.
        sb.stop_daemon()
        mtime = os.stat(os.path.join(self.backup, ".claude.json")).st_mtime_ns
        open(sb.daemon_log_path, "w").close()
        self.start()
        self.wait_prepared()
        self.assertIn("account main: " + self.main + " already prepared", sb.daemon_log())
        self.assertEqual(os.stat(os.path.join(self.backup, ".claude.json")).st_mtime_ns, mtime)

    def test_reload_trusts_a_new_project(self):
        sb = self.sb
        self.config()
        self.start()
        self.wait_prepared()
        fresh = os.path.join(sb.projects_dir, "fresh")
        os.makedirs(fresh)
        sb.call("Reload")
        # Each account is prepared in turn: wait for both.
        for home in (self.main, self.backup):
            sb.wait_for(lambda: fresh in read_json(os.path.join(home, ".claude.json"))["projects"],
                        timeout=10, what=f"the new project trusted in {home} after Reload")
        self.assert_prepared(self.backup, [fresh])

    def test_waits_for_claude_codes_lock(self):
        # Claude Code holds <file>.lock (a directory) while it writes.
        sb = self.sb
        self.config()
        os.makedirs(self.main, exist_ok=True)
        write(os.path.join(self.main, ".claude.json"), '{"numStartups": 1}\n', 0o600)
        lock = os.path.join(self.main, ".claude.json.lock")
        os.mkdir(lock)
        # As Claude Code does while it holds the lock: keep it fresh (a lock older
        # than 10 s is a dead holder's, which the daemon takes over).
        holding = threading.Event()
        holding.set()

        def refresh():
            while holding.is_set():
                try:
                    os.utime(lock)
                except OSError:
                    return
                time.sleep(1)

        refresher = threading.Thread(target=refresh, daemon=True)
        refresher.start()
        self.addCleanup(holding.clear)
        self.start()
        self.wait_prepared(timeout=30)
        self.assertEqual(read_json(os.path.join(self.main, ".claude.json")), {"numStartups": 1})
        self.assertRegex(sb.daemon_log(), r"account main: prepared .*cannot change \.claude\.json: "
                                          r"Claude Code holds the lock")
        # The settings were still prepared, and the daemon runs on.
        self.assertIs(read_json(os.path.join(self.main, "settings.json"))
                      ["skipDangerousModePermissionPrompt"], True)
        self.assertTrue(os.path.isdir(lock))
        self.assertEqual(sb.get_property("ActiveAccount"), "main")

    def test_off(self):
        sb = self.sb
        self.config(prepare_accounts=False)
        self.start()
        sb.wait_for(lambda: sb.get_property("ClaudeVersion") != "", timeout=10,
                    what="ClaudeVersion")
        for name in (".claude.json", "settings.json"):
            self.assertFalse(os.path.exists(os.path.join(self.main, name)), name)
        self.assertNotIn("Account preparation", sb.daemon_log())

    def test_missing_home_is_reported(self):
        sb = self.sb
        self.config()
        os.rmdir(self.backup)
        self.start()
        self.wait_prepared()
        self.assertIn(f"account backup: cannot prepare {self.backup}: No such file or directory "
                      f"(log in once with CLAUDE_CONFIG_DIR={self.backup} claude)",
                      sb.daemon_log())
        self.assertFalse(os.path.exists(self.backup))

    def test_check_config_prepares_and_says_so(self):
        sb = self.sb
        self.config()
        r = sb.run([sb.daemon_path, "--config", sb.config_path, "--check-config"],
                   env=sb.env(CF_CTL_PATH=sb.ctl_path))
        self.assertEqual(r.returncode, 0, r)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 3, r.stdout)
        self.assertTrue(lines[1].startswith(f"account main: prepared {self.main}: .claude.json: "
                                            "added onboarding"), lines[1])
        self.assertTrue(lines[2].startswith("account backup: prepared"), lines[2])
        self.assert_prepared(self.main, [self.web])
        r = sb.run([sb.daemon_path, "--config", sb.config_path, "--check-config"],
                   env=sb.env(CF_CTL_PATH=sb.ctl_path))
        self.assertEqual(r.stdout.splitlines()[1:], [f"account main: {self.main} already prepared",
                                                     f"account backup: {self.backup} already "
                                                     "prepared"])
        # Without an installed claude-failoverctl, hooks are left out, and that is said.
        os.remove(os.path.join(self.main, "settings.json"))
        r = sb.run([sb.daemon_path, "--config", sb.config_path, "--check-config"],
                   env=sb.env(CF_CTL_PATH="/nonexistent/claude-failoverctl"))
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stderr, "")
        self.assertIn(f"account main: prepared {self.main}: settings.json: added bypass-warning; "
                      "hooks and statusline not installed: /nonexistent/claude-failoverctl is "
                      "not an executable file", r.stdout)
        settings = read_json(os.path.join(self.main, "settings.json"))
        self.assertEqual(settings, {"skipDangerousModePermissionPrompt": True})
        r = sb.run([sb.daemon_path, "--config", sb.config_path, "--check-config"],
                   env=sb.env(CF_CTL_PATH="/nonexistent/claude-failoverctl"))
        self.assertIn(f"account main: {self.main}: hooks and statusline not installed", r.stdout)

    # --- ClaudeVersion ------------------------------------------------------------

    def test_claude_version_of_the_fake(self):
        sb = self.sb
        self.config()
        self.start()
        sb.wait_for(lambda: sb.get_property("ClaudeVersion") != "", timeout=10,
                    what="ClaudeVersion")
        r = sb.run([sb.fake_claude_path, "--version"])
        self.assertEqual(sb.get_property("ClaudeVersion"), r.stdout.split()[0])
        status = sb.call("GetStatus")
        self.assertEqual(json.dumps(status).count("ClaudeVersion"), 1)
        self.assertNotIn("newer than", sb.daemon_log())

    def test_newer_claude_warns_and_reload_asks_again(self):
        sb = self.sb
        self.config()
        newer = os.path.join(sb.root, "claude-newer")
        write(newer, "#!/bin/sh\necho '99.0.1 (Claude Code)'\n", 0o755)
        self.start(claude_command=newer)
        sb.wait_for(lambda: sb.get_property("ClaudeVersion") == "99.0.1", timeout=10,
                    what="ClaudeVersion 99.0.1")
        self.assertRegex(sb.daemon_log(), r"Claude Code 99\.0\.1 \(.*claude-newer\) is newer than "
                                          + re.escape(pinned_version()))
        # Broken now: Reload asks again, says it is unknown, and tells the bus.
        monitor = os.path.join(sb.root, "monitor.jsonl")
        sb.spawn(["busctl", f"--address={sb.bus_address}", "monitor", "--json=short",
                  "--match", "type='signal',member='PropertiesChanged'"], log_path=monitor)
        time.sleep(0.5)
        write(newer, "#!/bin/sh\necho 'segfault' >&2; exit 3\n", 0o755)
        sb.call("Reload")
        sb.wait_for(lambda: sb.get_property("ClaudeVersion") == "", timeout=10,
                    what="ClaudeVersion unknown")
        self.assertIn("claude-newer --version printed no version", sb.daemon_log())

        def changed_versions():
            found = []
            with open(monitor, encoding="utf-8", errors="replace") as f:
                for line in f:
                    if line.startswith("{"):
                        changed = json.loads(line).get("payload", {}).get("data", [None, {}])[1]
                        if isinstance(changed, dict) and "ClaudeVersion" in changed:
                            found.append(changed["ClaudeVersion"]["data"])
            return found
        sb.wait_for(lambda: changed_versions() == [""], timeout=10,
                    what="PropertiesChanged ClaudeVersion ''")

    def test_claude_command_not_found(self):
        sb = self.sb
        self.config()
        self.start(claude_command="/nonexistent/claude")
        sb.wait_for(lambda: "Claude Code version unknown: cannot run /nonexistent/claude"
                    in sb.daemon_log(), timeout=10, what="the version warning")
        self.assertEqual(sb.get_property("ClaudeVersion"), "")

    # --- the real CLI -------------------------------------------------------------

    def require_real_claude(self):
        claude = real_claude()
        if claude is None:
            if os.environ.get("CI") == "true":
                self.fail("the real Claude Code CLI is not installed (scripts/setup)")
            self.skipTest("the real Claude Code CLI is not installed (scripts/setup)")
        return claude

    def test_real_claude_starts_without_any_dialog(self):
        sb = self.sb
        claude = self.require_real_claude()
        self.config()
        # A subscription account that never ran Claude: credentials and the
        # API's address, nothing else (the ready prompt comes before any request).
        unprepared = os.path.join(sb.root, "unprepared-home")
        # With the mock API a typed prompt must reach it; without, the ready
        # prompt (drawn before any request) is the proof.
        mock = start_mock()
        if mock is not None:
            self.addCleanup(mock.stop)
        api = mock.url if mock is not None else f"http://127.0.0.1:{closed_port()}"
        for home in (self.main, unprepared):
            os.makedirs(home, exist_ok=True)
            write(os.path.join(home, ".credentials.json"), json.dumps({"claudeAiOauth": {
                "accessToken": "sk-ant-oat01-main-" + "x" * 40, "refreshToken": "r",
                "expiresAt": int(time.time() + 86400) * 1000,
                "scopes": ["user:inference", "user:profile"], "subscriptionType": "max"}}), 0o600)
            write(os.path.join(home, "settings.json"), json.dumps({"env": {
                "ANTHROPIC_BASE_URL": api,
                "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_MAX_RETRIES": "0"}}), 0o600)
        self.start(claude_command=claude)
        self.wait_prepared()
        sb.wait_for(lambda: sb.get_property("ClaudeVersion") != "", timeout=30,
                    what="ClaudeVersion")
        self.assertEqual(sb.get_property("ClaudeVersion"), pinned_version())

        # The web project and a worktree under it were never opened by Claude.
        worktree = os.path.join(self.web, ".agent-queue", "worktrees", "t-1")
        os.makedirs(worktree)
        for name, cwd in (("real-web", self.web), ("real-wt", worktree)):
            env = {"CLAUDE_CONFIG_DIR": self.main}
            if os.geteuid() == 0:
                env["IS_SANDBOX"] = "1"
            sb.new_session(name, [claude, "--dangerously-skip-permissions"], cwd=cwd, env=env,
                           width=200)
            deadline = time.monotonic() + 30
            screen = ""
            while time.monotonic() < deadline:
                screen = sb.capture(name)
                for dialog in DIALOGS:
                    self.assertNotIn(dialog, screen, f"{name}: a first-run dialog:\n{screen}")
                if re.search(r"^❯", screen, re.M) and "bypass permissions on" in screen:
                    break
                time.sleep(0.2)
            else:
                self.fail(f"{name}: no ready prompt within 30 s:\n{screen}")
            self.assertIn(os.path.basename(cwd), screen)
            if mock is not None:
                word = f"pineapple-{name}"
                sb.tmux("send-keys", "-t", f"={name}:", "-l", f"Say the word {word}")
                time.sleep(0.3)
                sb.tmux("send-keys", "-t", f"={name}:", "Enter")
                self.assertIsNotNone(
                    mock.wait_for(lambda reqs: any(word in r["text"] for r in reqs
                                                   if r["path"] == "/v1/messages"
                                                   and not r["title"]), timeout=30),
                    f"{name}: the prompt never reached the API:\n{sb.capture(name)}")
            sb.tmux("kill-session", "-t", f"={name}")

        # The control: the same launch with a home the daemon did not prepare
        # stops at a first-run dialog (so the checks above can fail).
        env = {"CLAUDE_CONFIG_DIR": unprepared}
        if os.geteuid() == 0:
            env["IS_SANDBOX"] = "1"
        sb.tmux("set-option", "-g", "remain-on-exit", "on")
        sb.new_session("real-control", [claude, "--dangerously-skip-permissions"], cwd=self.web,
                       env=env, width=200)
        sb.wait_for(lambda: any(d in sb.capture("real-control") for d in DIALOGS), timeout=30,
                    what="a first-run dialog without preparation")


if __name__ == "__main__":
    unittest.main(verbosity=2)
