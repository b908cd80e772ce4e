# SPDX-License-Identifier: MIT
"""claude-failoverctl attach: a real tmux client on the sandbox's private
tmux server, run inside a pane of a second tmux server so its screen can be
captured; read-only unless --write; exact session names; one-line errors for
an unknown session, no server, and a socket the caller may not use."""

import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SandboxTestCase, require, user_exists  # noqa: E402


class AttachTest(SandboxTestCase):
    PROGRAMS = ("tmux",)

    def setUp(self):
        super().setUp()
        self.outer_socket = os.path.join(self.sb.root, "outer.sock")
        self.addCleanup(self._kill_outer)
        # The watched session: prints a marker, then echoes what it is typed.
        self.sb.new_session("ccl-auto-1", ["sh", "-c", "echo ATTACH-MARKER-1; exec cat"])
        self.sb.new_session("ccl-auto-11", ["sh", "-c", "echo WRONG-SESSION-11; exec cat"])
        self.sb.wait_for(lambda: "ATTACH-MARKER-1" in self.sb.capture("ccl-auto-1"),
                         what="marker in ccl-auto-1")

    def _outer(self, *args, check=True):
        r = subprocess.run(["tmux", "-S", self.outer_socket, *args], capture_output=True,
                           text=True, env=self.sb.env(), timeout=30)
        if check and r.returncode != 0:
            raise AssertionError(f"outer tmux {' '.join(args)}: {r.stderr}")
        return r

    def _kill_outer(self):
        if os.path.exists(self.outer_socket):
            self._outer("kill-server", check=False)

    def _attach_in_outer(self, *ctl_args):
        """Runs `claude-failoverctl attach CTL_ARGS` in a pane of the outer
        server (a terminal); returns the outer pane id."""
        self._outer("-f", "/dev/null", "start-server", ";",
                    "set-option", "-g", "exit-empty", "off", ";",
                    "set-option", "-g", "remain-on-exit", "on", ";",
                    "new-session", "-d", "-s", "outer", "-x", "120", "-y", "30",
                    self.sb.ctl_path, "attach", *ctl_args)
        return "=outer:"

    def _outer_screen(self):
        return self._outer("capture-pane", "-p", "-t", "=outer:").stdout

    def test_read_only_attach_shows_the_pane_and_ignores_keys(self):
        self._attach_in_outer("ccl-auto-1", "--socket", self.sb.tmux_socket)
        screen = self.sb.wait_for(
            lambda: (lambda s: s if "ATTACH-MARKER-1" in s else None)(self._outer_screen()),
            what="the attached client shows ccl-auto-1")
        self.assertNotIn("WRONG-SESSION-11", screen)
        clients = self.sb.tmux("list-clients", "-F", "#{client_readonly} #{session_name}").stdout
        self.assertIn("1 ccl-auto-1", clients)
        self._outer("send-keys", "-t", "=outer:", "-l", "typed-while-read-only")
        self._outer("send-keys", "-t", "=outer:", "Enter")
        time.sleep(0.5)
        self.assertNotIn("typed-while-read-only", self.sb.capture("ccl-auto-1"))

    def test_write_attach_types_into_the_session(self):
        self._attach_in_outer("ccl-auto-1", "--write", "--socket", self.sb.tmux_socket)
        self.sb.wait_for(lambda: "ATTACH-MARKER-1" in self._outer_screen(),
                         what="the attached client shows ccl-auto-1")
        clients = self.sb.tmux("list-clients", "-F", "#{client_readonly} #{session_name}").stdout
        self.assertIn("0 ccl-auto-1", clients)
        self._outer("send-keys", "-t", "=outer:", "-l", "typed-with-write")
        self._outer("send-keys", "-t", "=outer:", "Enter")
        self.sb.wait_for(lambda: "typed-with-write" in self.sb.capture("ccl-auto-1"),
                         what="keys typed with --write reach the session")

    def test_socket_from_the_configuration(self):
        config = self.sb.write_config()
        self._attach_in_outer("ccl-auto-1", "--config", config)
        self.sb.wait_for(lambda: "ATTACH-MARKER-1" in self._outer_screen(),
                         what="attach found the socket in tmux.socket")

    def test_unknown_session_is_one_line_error(self):
        # tmux would resolve "ccl-auto-" to ccl-auto-1 / -11 by prefix.
        for name in ("ccl-auto-", "nope"):
            r = self.sb.ctl("attach", name, "--socket", self.sb.tmux_socket)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stdout, "")
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn(f"no session '{name}'", lines[0])

    def test_no_server_and_bad_config(self):
        missing = os.path.join(self.sb.root, "none.sock")
        r = self.sb.ctl("attach", "ccl-auto-1", "--socket", missing)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("no tmux server at " + missing, r.stderr)

        r = self.sb.ctl("attach", "ccl-auto-1", "--config", os.path.join(self.sb.root, "x.yaml"))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("--socket", r.stderr)

        r = self.sb.ctl("attach", "bad:name", "--socket", self.sb.tmux_socket)
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_no_terminal(self):
        r = self.sb.ctl("attach", "ccl-auto-1", "--socket", self.sb.tmux_socket)
        self.assertEqual(r.returncode, 1)
        self.assertIn("needs a terminal", r.stderr)

    def test_socket_the_caller_cannot_use(self):
        require(os.geteuid() == 0, "runs a client as nobody: needs root")
        require(user_exists("nobody"), "no user nobody")
        mode = os.stat(self.sb.tmux_socket).st_mode & 0o777
        self.assertEqual(mode & 0o006, 0, f"tmux socket mode {mode:o}")
        r = self.sb.ctl("attach", "ccl-auto-1", "--socket", self.sb.tmux_socket, user="nobody")
        self.assertEqual(r.returncode, 1, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("permission denied", lines[0])
        self.assertIn("run as 'root'", lines[0])


    def test_default_server_of_the_daemons_user(self):
        """tmux.socket empty, no daemon on the bus: the server is the default
        one of runtime_dir's owner (the service user), here nobody."""
        require(os.geteuid() == 0, "runs a tmux server as nobody: needs root")
        require(user_exists("nobody"), "no user nobody")
        import pwd
        sb = self.sb
        uid = pwd.getpwnam("nobody").pw_uid
        runtime = os.path.join(sb.root, "nobody-run")
        os.mkdir(runtime, 0o700)
        os.chown(runtime, uid, -1)
        config = sb.write_config({"runtime_dir": runtime, "tmux": {"socket": ""}},
                                 filename="nobody.yaml")
        name = f"cf-attach-{os.getpid()}"
        env = sb.env(HOME="/nonexistent", TMUX_TMPDIR=None)
        r = sb.run(["tmux", "-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "100",
                    "-y", "20", "sh", "-c", "echo NOBODY-MARKER; exec cat"],
                   user="nobody", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Only our session: another user of nobody's default server keeps theirs.
        self.addCleanup(sb.run, ["tmux", "kill-session", "-t", f"={name}"], user="nobody",
                        env=env)
        self._attach_in_outer(name, "--config", config)
        self.sb.wait_for(lambda: "NOBODY-MARKER" in self._outer_screen(),
                         what="attach found nobody's default tmux server")
        r = sb.ctl("attach", "no-such-session", "--config", config)
        self.assertIn(f"/tmp/tmux-{uid}/default", r.stderr)

if __name__ == "__main__":
    unittest.main(verbosity=2)
