#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""claude-failoverd --check-config: exit 0 for good files, 1 with exactly one
"FILE:LINE:COL: ..." line on stderr for bad ones (ARCHITECTURE.md 4.1, 4.6)."""

import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

BUILD_DIR = os.environ.get("CF_BUILD_DIR", "")
SOURCE_DIR = os.environ.get("CF_SOURCE_DIR", "")
FIXTURES = os.environ.get("CF_FIXTURES", os.path.join(SOURCE_DIR, "tests", "fixtures"))
DAEMON = os.path.join(BUILD_DIR, "src", "daemon", "claude-failoverd")
CONFIGS = os.path.join(FIXTURES, "configs")
EXAMPLE = os.path.join(SOURCE_DIR, "data", "config.example.yaml")

# fixture -> the exact message after "<path>:"
BAD_FIXTURES = {
    "bad-unknown-key.yaml": "6:5: pool.autonomous.prefx: unknown key, did you mean 'prefix'?",
    "bad-min-max.yaml": "6:5: pool.autonomous.min: must not exceed max (10)",
    "bad-pool-max.yaml": "6:5: pool.autonomous.max: must be at most 200 (each session is a "
                         "Claude Code process)",
    "bad-syntax.yaml": "4:5: invalid YAML: did not find expected ',' or '}' "
                       "(while parsing a flow mapping started at line 3, column 5)",
    "bad-duration.yaml": "5:3: quota.interval: '30 seconds' is not a duration "
                         "(e.g. 500ms, 30s, 5m, 1h30m)",
    "bad-missing-accounts.yaml": "2:1: accounts: required key is missing",
    "bad-empty.yaml": "1:1: accounts: required key is missing (the file is empty)",
    "bad-dedicated-collision.yaml": "7:7: pool.dedicated[1].name: 'ccl-auto-3' is also an "
                                    "autonomous pool session name ('ccl-auto-' 0 to 9)",
    "bad-utf8.yaml": "3:15: invalid UTF-8",
    "bad-relative-home.yaml": "4:5: accounts[0].home: 'claude-main' is not an absolute path "
                              "(start it with / or ~/)",
    "bad-type.yaml": "5:3: projects.extra: must be a list, not a single value",
    "bad-duplicate-account.yaml": "4:6: accounts[1].name: account 'main' is defined twice",
    "bad-legacy-and-new.yaml": "7:3: dispatcher.projects_dir: cannot be combined with "
                               "projects.dir (its new name); keep only projects.dir",
}

POSITION = re.compile(r"^(?P<file>.+):(?P<line>[1-9][0-9]*):(?P<column>[1-9][0-9]*): \S")


class CheckConfigTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.home = tempfile.TemporaryDirectory(prefix="cf-check-config-")
        cls.env = dict(os.environ)
        cls.env["HOME"] = cls.home.name
        # Messages are compared in English.
        cls.env["LC_ALL"] = "C.UTF-8"
        cls.env.pop("LANGUAGE", None)

    @classmethod
    def tearDownClass(cls):
        cls.home.cleanup()

    def check(self, path):
        return subprocess.run([DAEMON, "--config", path, "--check-config"],
                              env=self.env, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=30)

    def test_example_is_valid(self):
        result = self.check(EXAMPLE)
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors="replace"))
        self.assertEqual(result.stderr, b"")

    def test_minimal_is_valid(self):
        result = self.check(os.path.join(CONFIGS, "valid-minimal.yaml"))
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors="replace"))
        self.assertEqual(result.stderr, b"")

    def test_deprecated_key_warns(self):
        path = os.path.join(CONFIGS, "valid-legacy-projects-dir.yaml")
        result = self.check(path)
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors="replace"))
        self.assertEqual(result.stderr.decode(),
                         f"{path}:6:3: dispatcher.projects_dir is deprecated, use projects.dir\n")

    def test_bad_fixtures(self):
        for name, message in BAD_FIXTURES.items():
            with self.subTest(fixture=name):
                path = os.path.join(CONFIGS, name)
                result = self.check(path)
                stderr = result.stderr.decode(errors="replace")
                self.assertEqual(result.returncode, 1, stderr)
                lines = stderr.splitlines()
                self.assertEqual(len(lines), 1, stderr)
                self.assertTrue(stderr.endswith("\n"), stderr)
                match = POSITION.match(lines[0])
                self.assertIsNotNone(match, lines[0])
                self.assertEqual(match.group("file"), path)
                self.assertEqual(lines[0], f"{path}:{message}")

    def test_home_comes_from_environment(self):
        # The claude_link default is $HOME/.claude; an account there must be refused.
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("accounts:\n  - {name: main, home: ~/.claude}\n")
            path = f.name
        try:
            result = self.check(path)
            stderr = result.stderr.decode(errors="replace")
            self.assertEqual(result.returncode, 1, stderr)
            self.assertEqual(stderr,
                             f"{path}:2:18: accounts[0].home: must differ from claude_link "
                             f"({self.home.name}/.claude), which the daemon replaces with a "
                             f"symlink\n")
        finally:
            os.unlink(path)

    def test_missing_file(self):
        path = os.path.join(self.home.name, "does-not-exist.yaml")
        result = self.check(path)
        stderr = result.stderr.decode(errors="replace")
        self.assertEqual(result.returncode, 1, stderr)
        self.assertEqual(len(stderr.splitlines()), 1, stderr)
        self.assertTrue(stderr.startswith(f"{path}: "), stderr)

    def test_fifo_is_refused_at_once(self):
        # A FIFO nobody writes to used to hang --check-config in open(2).
        path = os.path.join(self.home.name, "fifo.yaml")
        os.mkfifo(path, 0o600)
        try:
            start = time.monotonic()
            result = self.check(path)
            elapsed = time.monotonic() - start
            stderr = result.stderr.decode(errors="replace")
            self.assertEqual(result.returncode, 1, stderr)
            self.assertEqual(stderr, f"{path}: not a regular file (a FIFO, socket or device); "
                                     f"the configuration must be a regular file\n")
            self.assertLess(elapsed, 5, "refusing a FIFO must not wait for a writer")
        finally:
            os.unlink(path)


if __name__ == "__main__":
    if not BUILD_DIR or not SOURCE_DIR:
        print("CF_BUILD_DIR and CF_SOURCE_DIR must be set (run through meson test)", file=sys.stderr)
        sys.exit(2)
    if not os.access(DAEMON, os.X_OK):
        print(f"{DAEMON} is not built", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)
