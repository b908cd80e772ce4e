#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""claude-failoverctl doctor against a sandbox daemon: exit 0 on a fully
prepared sandbox, and each of a missing account home, a home without hooks,
an untrusted project, a broken shared link, a dangling ~/.claude and an
unreachable daemon is found (exit 1, that check failing, a fix given),
without ever printing a credential."""

import json
import os
import shutil
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SandboxTestCase  # noqa: E402

SECRET = "sk-ant-oat01-main-DOCTORSECRET"
ENTRIES = ["session-env", "file-history", "projects"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f)


def build_config_value(name):
    """A #define of the build's cf-build-config.h."""
    with open(os.path.join(os.environ.get("CF_BUILD_DIR", "build"), "cf-build-config.h")) as f:
        for line in f:
            if line.startswith(f"#define {name} "):
                return json.loads(line.split(" ", 2)[2])
    raise AssertionError(f"{name} not in cf-build-config.h")


class DoctorTest(SandboxTestCase):
    def setUp(self):
        super().setUp()
        sb = self.sb
        self.port = free_port()
        sb.write_config({"http": {"listen": f"127.0.0.1:{self.port}"},
                         "pool": {"autonomous": {"min": 1, "max": 1}}})
        self.homes = {a["name"]: a["home"] for a in sb.config["accounts"]}
        self.shared = sb.config["shared_state"]["root"]
        for name, home in self.homes.items():
            write_json(os.path.join(home, ".credentials.json"),
                       {"claudeAiOauth": {"accessToken": SECRET.replace("main", name),
                                          "refreshToken": "r", "expiresAt": 1}})
            write_json(os.path.join(home, ".claude.json"),
                       {"hasCompletedOnboarding": True,
                        "projects": {sb.project_dir: {"hasTrustDialogAccepted": True}}})
            write_json(os.path.join(home, "settings.json"),
                       {"skipDangerousModePermissionPrompt": True,
                        "statusLine": {"type": "command",
                                       "command": "claude-failoverctl statusline"}})
            sb.ctl("install-hooks", home, check=True)
            for entry in ENTRIES:
                os.makedirs(os.path.join(self.shared, entry), exist_ok=True)
                link = os.path.join(home, entry)
                if not os.path.lexists(link):
                    os.symlink(os.path.join(self.shared, entry), link)
        # The installed polkit and D-Bus files, under --root.
        self.root = os.path.join(sb.root, "sysroot")
        data = os.path.join(sb.build_dir, "data")
        for define, name in (("CF_POLKIT_ACTIONS_DIR", "org.claudefailover.policy"),
                             ("CF_DBUS_SYSTEM_CONF_DIR", "org.claudefailover.conf"),
                             ("CF_DBUS_SYSTEM_SERVICES_DIR", "org.claudefailover.service")):
            target = self.root + build_config_value(define)
            os.makedirs(target, exist_ok=True)
            shutil.copy(os.path.join(data, name), target)
        sb.start_daemon()
        sb.wait_for(lambda: any(s[2] == "idle" for s in sb.get_property("Sessions")),
                    timeout=30, what="an idle pool session")

    def doctor(self, expect_status):
        r = self.sb.ctl("doctor", "--json", "--config", self.sb.config_path,
                        "--root", self.root, timeout=60)
        self.assertNotIn(SECRET, r.stdout + r.stderr)
        human = self.sb.ctl("doctor", "--config", self.sb.config_path, "--root", self.root,
                            timeout=60)
        self.assertNotIn(SECRET, human.stdout + human.stderr)
        self.assertEqual(human.returncode, r.returncode)
        report = json.loads(r.stdout)
        self.assertEqual(r.returncode, expect_status, human.stdout)
        self.assertEqual(report["healthy"], expect_status == 0)
        return report, human.stdout

    def failing(self, report):
        return {(c["check"], c["account"]) for c in report["checks"] if c["status"] == "fail"}

    def assert_only_failure(self, report, check, account=None):
        self.assertEqual(self.failing(report), {(check, account)}, json.dumps(report, indent=1))
        failed = next(c for c in report["checks"] if c["check"] == check
                      and c["account"] == account and c["status"] == "fail")
        self.assertTrue(failed["fix"], failed)
        return failed

    def test_prepared_sandbox_is_healthy(self):
        report, human = self.doctor(0)
        checks = {(c["check"], c["account"]): c["status"] for c in report["checks"]}
        for check in ("daemon", "config", "claude", "claude-link", "tmux", "installed-files",
                      "http", "disk"):
            self.assertIn(checks.get((check, None)), ("ok", "warn"), (check, human))
        for account in self.homes:
            for check in ("account-home", "account-login", "account-onboarding",
                          "account-bypass", "account-trust", "account-hooks",
                          "account-statusline", "account-links"):
                self.assertEqual(checks.get((check, account)), "ok", (check, account, human))
        self.assertIn("Healthy", human)

    def test_missing_account_home(self):
        shutil.rmtree(self.homes["backup"])
        report, human = self.doctor(1)
        failed = self.assert_only_failure(report, "account-home", "backup")
        self.assertIn(self.homes["backup"], failed["message"])

    def test_home_without_hooks(self):
        settings = os.path.join(self.homes["main"], "settings.json")
        with open(settings) as f:
            value = json.load(f)
        del value["hooks"]["StopFailure"]
        write_json(settings, value)
        report, human = self.doctor(1)
        failed = self.assert_only_failure(report, "account-hooks", "main")
        self.assertIn("StopFailure", failed["message"])
        self.assertIn(f"install-hooks {self.homes['main']}", failed["fix"])

    def test_untrusted_project(self):
        other = os.path.join(self.sb.projects_dir, "other")
        os.makedirs(os.path.join(other, ".agent-queue", "inbox"))
        report, human = self.doctor(1)
        self.assertEqual(self.failing(report), {("account-trust", "main"),
                                                ("account-trust", "backup")})
        self.assertIn(other, human)

    def test_broken_shared_link(self):
        link = os.path.join(self.homes["main"], "projects")
        os.unlink(link)
        os.symlink(os.path.join(self.sb.root, "elsewhere"), link)
        report, human = self.doctor(1)
        failed = self.assert_only_failure(report, "account-links", "main")
        self.assertIn(link, failed["message"])

    def test_dangling_claude_link(self):
        link = self.sb.config["claude_link"]
        os.unlink(link)
        os.symlink(os.path.join(self.sb.home, ".claude-gone"), link)
        report, human = self.doctor(1)
        failed = self.assert_only_failure(report, "claude-link")
        self.assertIn("dangling", failed["message"])

    def test_unreachable_daemon(self):
        self.sb.stop_daemon()
        report, human = self.doctor(1)
        # Without the daemon, its tmux sessions and HTTP API are gone too.
        self.assertIn(("daemon", None), self.failing(report))
        self.assertIn(("http", None), self.failing(report))
        self.assertIn("claude-failoverd does not answer", human)


if __name__ == "__main__":
    unittest.main(verbosity=2)
