#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Hostile files on the daemon's paths, with real tmux, fake-claude and a
private system-bus-like dbus-daemon.

- Task files of every bad kind in an inbox (those test_pipeline.py's
  test_bad_task_files_fail_good_ones_run does not already put there): a
  device node, a directory and a socket named x.md, symlinks to /etc/shadow
  and to a root-only secret, a hard link to that secret, exactly 1 MiB + 1
  bytes, NUL bytes, unterminated frontmatter, duplicate keys, "billion
  laughs" YAML aliases. Each goes to failed/ with a reason; the secret never
  reaches a session; good tasks next to them (CRLF frontmatter, a 64 KiB
  body: 1 MiB would take too long to type into the fake) run.
- A queue directory (.agent-queue itself, inbox, active, done, failed, meta)
  that is a symlink is refused: nothing is moved, written or deleted where
  it points, and the log says why. An inbox swapped for a symlink while the
  daemon runs is refused the same way, and a real inbox put back works.
- runtime_dir / done_signal_dir: a symlink or another user's directory
  stops the daemon with a one-line error; a group/world-accessible one is
  made 0700.
- Done signals that are FIFOs, symlinks, huge or another user's files do
  not complete a task; nobody cannot create one (the directory is 0700 and
  the service user's), nor report a hook event over D-Bus.

Needs root (mknod, runuser, chown): skips elsewhere, runs in CI.
"""

import glob
import os
import socket
import stat
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUS_NAME, INTERFACE, OBJECT_PATH, SandboxTestCase, require,  # noqa: E402
                     user_exists)

SECRET = "TOPSECRET-7f3a9c"
NOBODY = "nobody"


def queue_dir(project, place):
    return os.path.join(project, ".agent-queue", place)


def task_ids(project, place):
    return sorted(os.path.basename(p)[:-3]
                  for p in glob.glob(os.path.join(queue_dir(project, place), "*.md")))


def listing(top):
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[os.path.relpath(path, top)] = (stat.S_IFMT(st.st_mode), st.st_size,
                                               st.st_mtime_ns)
    return out


class HostileFilesTest(SandboxTestCase):
    PROGRAMS = ("dbus-daemon", "tmux", "gdbus", "runuser")

    def setUp(self):
        require(os.getuid() == 0, "needs root (mknod, chown, runuser)")
        require(user_exists(NOBODY), "no user 'nobody'")
        super().setUp()

    def start(self, overrides=None, **kw):
        sb = self.sb
        config = {"pool": {"autonomous": {"min": 1, "max": 1}}}
        config.update(overrides or {})
        sb.write_config(config, **kw)
        sb.start_daemon()

    def wait_done(self, project, ids, timeout=60):
        self.sb.wait_for(lambda: set(ids) <= set(task_ids(project, "done")), timeout=timeout,
                         what=f"{ids} in done/")

    def secret_file(self):
        path = os.path.join(self.sb.root, "secret.txt")
        with open(path, "w") as f:
            f.write(f"---\ntitle: {SECRET}\n---\n{SECRET}\n")
        os.chmod(path, 0o600)
        return path

    def assert_secret_unseen(self):
        with open(self.sb.fake_log_path, errors="replace") as f:
            self.assertNotIn(SECRET, f.read())
        for session in self.sb.sessions():
            self.assertNotIn(SECRET, self.sb.capture(f"={session}:", history=True))

    # --- task files ---------------------------------------------------------------

    def test_bad_task_files_of_every_kind(self):
        sb = self.sb
        self.start()
        inbox = queue_dir(sb.project_dir, "inbox")
        secret = self.secret_file()

        def write(name, data):
            with open(os.path.join(inbox, name), "wb") as f:
                f.write(data)

        os.mknod(os.path.join(inbox, "device.md"), 0o644 | stat.S_IFCHR, os.makedev(1, 3))
        os.mkdir(os.path.join(inbox, "directory.md"))
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(os.path.join(inbox, "socket.md"))
        self.addCleanup(sock.close)
        os.symlink("/etc/shadow", os.path.join(inbox, "shadow.md"))
        os.symlink(secret, os.path.join(inbox, "secret-link.md"))
        os.link(secret, os.path.join(inbox, "hardlink.md"))
        write("over-limit.md", b"x" * (1024 * 1024 + 1))
        write("nul-bytes.md", b"---\ntitle: a\x00b\n---\nbody\x00\n")
        write("invalid-utf8.md", b"---\ntitle: \xff\xfe\n---\nbody\n")
        write("unterminated.md", b"---\ntitle: never closed\npriority: high\nbody\n")
        write("duplicate-keys.md", b"---\ntitle: one\ntitle: two\n---\nbody\n")
        laughs = ["a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
        for i in range(1, 10):
            prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
            laughs.append(f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},"
                          f"*{prev},*{prev},*{prev}]")
        write("billion-laughs.md", ("---\n" + "\n".join(laughs) + "\ntitle: *j\n---\nlol\n")
              .encode())
        # Good ones still run, next to all that.
        write("crlf.md", b"---\r\ntitle: Windows line ends\r\npriority: high\r\n---\r\n"
                         b"FAKE:work=100\r\n")
        sb.add_task("good", "FAKE:work=100")
        write("big-good.md", b"FAKE:work=100\n" + b"# padding\n" * 6500)

        bad = ["billion-laughs", "device", "directory", "duplicate-keys", "hardlink",
               "invalid-utf8", "nul-bytes", "over-limit", "secret-link", "shadow", "socket",
               "unterminated"]
        self.wait_done(sb.project_dir, ["crlf", "good", "big-good"], timeout=90)
        failed = queue_dir(sb.project_dir, "failed")
        sb.wait_for(lambda: set(bad) <= {n[:-3] for n in os.listdir(failed) if n.endswith(".md")},
                    timeout=30, what="every bad file in failed/")
        for name in bad:
            with open(os.path.join(failed, f"{name}.reason.txt")) as f:
                reason = f.read()
            self.assertTrue(reason.strip(), name)
            self.assertNotIn(SECRET, reason, name)
        # Moved as they were: the links still point where they pointed.
        self.assertEqual(os.readlink(os.path.join(failed, "shadow.md")), "/etc/shadow")
        self.assertTrue(stat.S_ISCHR(os.lstat(os.path.join(failed, "device.md")).st_mode))
        with open(secret) as f:
            self.assertIn(SECRET, f.read())
        self.assertEqual(os.listdir(inbox), [])
        self.assert_secret_unseen()
        self.assertIsNone(sb.daemon.poll())
        self.assertIn("ActiveAccount", sb.call("GetStatus")[0])

    # --- symlinked queue directories ----------------------------------------------

    def test_symlinked_queue_dirs_are_refused(self):
        sb = self.sb
        outside = os.path.join(sb.root, "outside")
        os.makedirs(outside)
        with open(os.path.join(outside, "victim.md"), "w") as f:
            f.write("FAKE:work=100\n")
        # A whole queue elsewhere, for .agent-queue itself to point to.
        outside_queue = os.path.join(sb.root, "outside-queue")
        for sub in ("inbox", "active", "done", "failed", "meta"):
            os.makedirs(os.path.join(outside_queue, sub))
        with open(os.path.join(outside_queue, "inbox", "victim.md"), "w") as f:
            f.write("FAKE:work=100\n")
        # One project per attack, next to a normal one.
        attacks = {}
        for place in ("inbox", "active", "done", "failed", "meta", "."):
            name = "attack-" + ("queue" if place == "." else place)
            project = os.path.join(sb.projects_dir, name)
            for sub in ("inbox", "active", "done", "failed", "meta"):
                os.makedirs(queue_dir(project, sub))
            target = (os.path.join(project, ".agent-queue") if place == "."
                      else queue_dir(project, place))
            os.rename(target, target + ".real")
            os.symlink(outside_queue if place == "." else outside, target)
            if place not in ("inbox", "."):
                sb.add_task("mine", "FAKE:work=100", project=project)
            attacks[name] = project
        before = listing(outside), listing(outside_queue)
        self.start()
        sb.add_task("normal", "FAKE:work=100")
        self.wait_done(sb.project_dir, ["normal"], timeout=40)
        time.sleep(2)  # a few janitor and dispatcher passes
        self.assertEqual((listing(outside), listing(outside_queue)), before)
        self.assertEqual(len(sb.fake_events("prompt")), 1)  # "normal" only
        log = sb.daemon_log()
        for name, project in attacks.items():
            self.assertIn(project, log)
        self.assertIn("is a symbolic link; the queue's directories must be real directories", log)
        for line in log.splitlines():
            if "not usable" in line:
                self.assertNotIn("\n", line)
        for status in sb.call("ListTasks")[0]:
            self.assertNotIn(status[0], attacks.values())
        self.assertIsNone(sb.daemon.poll())

    def test_inbox_swapped_for_a_symlink_while_running(self):
        sb = self.sb
        outside = os.path.join(sb.root, "outside")
        os.makedirs(outside)
        with open(os.path.join(outside, "victim.md"), "w") as f:
            f.write("FAKE:work=100\n")
        self.start()
        sb.add_task("first", "FAKE:work=100")
        self.wait_done(sb.project_dir, ["first"], timeout=40)
        inbox = queue_dir(sb.project_dir, "inbox")
        os.rename(inbox, inbox + ".real")
        os.symlink(outside, inbox)
        before = listing(outside)
        sb.call("PauseDispatch")
        sb.call("ResumeDispatch")  # a dispatch pass now
        time.sleep(3)
        self.assertEqual(listing(outside), before)
        self.assertEqual(task_ids(sb.project_dir, "done"), ["first"])
        self.assertEqual(task_ids(sb.project_dir, "active"), [])
        self.assertEqual(len(sb.fake_events("prompt")), 1)  # "first" only
        # A real inbox again: the project works again.
        os.unlink(inbox)
        os.rename(inbox + ".real", inbox)
        sb.add_task("second", "FAKE:work=100")
        self.wait_done(sb.project_dir, ["first", "second"], timeout=60)
        self.assertEqual(listing(outside), before)

    # --- runtime and done-signal directories ----------------------------------------

    def test_runtime_dir_symlink_or_foreign_is_refused(self):
        sb = self.sb
        real = os.path.join(sb.root, "run-real")
        os.makedirs(real, mode=0o700)
        cases = []
        link = os.path.join(sb.root, "run-link")
        os.symlink(real, link)
        cases.append(({"runtime_dir": link, "watcher": {"done_signal_dir": link}},
                      "is not a directory"))
        foreign = os.path.join(sb.root, "run-foreign")
        os.makedirs(foreign, mode=0o700)
        os.chown(foreign, 65534, 65534)
        cases.append(({"runtime_dir": foreign, "watcher": {"done_signal_dir": foreign}},
                      "belongs to another user"))
        signal_link = os.path.join(sb.root, "signals-link")
        os.symlink(real, signal_link)
        cases.append(({"watcher": {"done_signal_dir": signal_link}}, "is not a directory"))
        for overrides, message in cases:
            sb.write_config(overrides)
            proc = sb.start_daemon(wait=False)
            try:
                proc.wait(timeout=20)
            except Exception:
                sb.stop_daemon()
                self.fail(f"the daemon ran with {overrides}")
            self.assertNotEqual(proc.returncode, 0, overrides)
            self.assertIn(message, sb.daemon_log(), overrides)
            self.assertFalse(sb.name_has_owner())
        self.assertEqual(os.listdir(real), [])

    def test_open_runtime_dir_is_made_private(self):
        sb = self.sb
        os.chmod(sb.runtime_dir, 0o777)
        self.start()
        self.assertEqual(stat.S_IMODE(os.stat(sb.runtime_dir).st_mode), 0o700)

    def test_signal_files_that_are_not_ours_do_not_complete(self):
        sb = self.sb
        self.start()
        sb.add_task("hanging", "FAKE:hang")
        sb.wait_for(lambda: task_ids(sb.project_dir, "active") == ["hanging"], timeout=30,
                    what="task active")
        session = sb.wait_for(lambda: next((s[0] for s in sb.get_property("Sessions")
                                            if s[4] == "hanging"), None),
                              timeout=10, what="the session of the task")
        path = os.path.join(sb.runtime_dir, f"agent-done-{session}")

        # nobody cannot even create one: the directory is the service user's, 0700.
        st = os.stat(sb.runtime_dir)
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (os.getuid(), 0o700))
        r = sb.run(["touch", path], user=NOBODY)
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.lexists(path))
        # ...nor report the Stop hook of that session's pane over D-Bus.
        pane = sb.tmux("display-message", "-p", "-t", f"={session}:", "#{pane_id}").stdout.strip()
        r = sb.gdbus("call", "--dest", BUS_NAME, "--object-path", OBJECT_PATH, "--method",
                     f"{INTERFACE}.ReportHookEvent", "Stop", pane,
                     '{"session_id":"x","hook_event_name":"Stop"}', user=NOBODY, check=False)
        self.assertIn("org.freedesktop.DBus.Error.AccessDenied", r.stderr)
        r = sb.ctl("hook", "Stop", input='{"hook_event_name":"Stop"}', user=NOBODY,
                   env=sb.env(TMUX_PANE=pane))
        time.sleep(1)
        self.assertEqual(task_ids(sb.project_dir, "active"), ["hanging"])

        # Planted by root on the service user's behalf: still not ours in kind.
        os.mkfifo(path)
        time.sleep(1.5)
        self.assertEqual(task_ids(sb.project_dir, "active"), ["hanging"])
        if os.path.lexists(path):
            os.unlink(path)
        with open(path, "wb") as f:  # huge, and another user's
            f.truncate(64 * 1024 * 1024)
        os.chown(path, 65534, 65534)
        time.sleep(1.5)
        self.assertEqual(task_ids(sb.project_dir, "active"), ["hanging"])
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink(os.path.join(sb.root, "nowhere"), path)
        time.sleep(1.5)
        self.assertEqual(task_ids(sb.project_dir, "active"), ["hanging"])
        self.assertIn("Ignoring done-signal", sb.daemon_log())
        if os.path.lexists(path):
            os.unlink(path)
        # The real thing completes it.
        with open(path, "w") as f:
            f.write("done\n")
        self.wait_done(sb.project_dir, ["hanging"], timeout=30)
        self.assertIsNone(sb.daemon.poll())


if __name__ == "__main__":
    unittest.main(verbosity=2)
