#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""claude-failoverctl against the real daemon on a private bus: golden
transcripts (human and --json output, exit statuses, error lines) for every
command and every error path — daemon absent, no bus, unknown
project/task/session/account, usage errors, bad --file, access denied —
plus the allow-interactive-authorization flag, colour on a terminal only,
`monitor` across daemon restarts and SIGINT, and the bash completion.

Golden files live in tests/fixtures/ctl/; times, task-id stamps, the
sandbox path and bus names are normalised (keeping column widths) so they
do not depend on when or where the test runs. CF_UPDATE_GOLDEN=1 rewrites
them; review the diff."""

import difflib
import getpass
import json
import os
import pty
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUS_NAME, INTERFACE, OBJECT_PATH, Sandbox, require_programs, user_exists, has_failed  # noqa: E402

FIXTURES = os.environ.get("CF_FIXTURES") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                         "..", "fixtures")
GOLDEN_DIR = os.path.join(FIXTURES, "ctl")
UPDATE = os.environ.get("CF_UPDATE_GOLDEN") == "1"

COMMANDS = ["status", "sessions", "tasks", "monitor", "submit", "requeue", "cancel", "switch",
            "clear-partial-swap", "accounts", "pause", "resume", "reload", "recycle"]

# Every command that talks to the daemon, with valid arguments.
BUS_COMMANDS = [
    ["status"], ["sessions"], ["tasks"], ["submit", "demo", "--title", "Fix it"],
    ["requeue", "demo", "some-task"], ["cancel", "demo", "some-task"], ["switch"],
    ["switch", "backup"], ["clear-partial-swap"], ["pause"], ["resume"], ["reload"],
    ["recycle", "ccl-auto-0"], ["accounts", "enable", "main"],
]

TASK_ID_RE = re.compile(r"\b\d{8}-\d{6}-([a-z0-9-]+?)-[0-9a-f]{4}\b")
RELATIVE = r"(?:now|\d+[smd] ago|\d+h\d\dm ago|in \d+[smd]|in \d+h\d\dm)"


def ctl_env(sb, **extra):
    # Untranslated messages, no colour preference from the caller, UTC dates.
    base = {"LANGUAGE": "", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "NO_COLOR": None,
            "TZ": "UTC", "TERM": "xterm"}
    base.update(extra)
    return sb.env(**base)


def normalise(sb, text, times=True):
    """TEXT with what changes from run to run replaced, widths kept where
    they line up columns (TIMES: relative times too)."""
    root = sb.root
    text = text.replace(root, root[:-8] + "XXXXXXXX")
    text = TASK_ID_RE.sub(lambda m: f"YYYYMMDD-HHMMSS-{m.group(1)}-XXXX", text)
    text = re.sub(r"\b1\d{15}\b", "<usec>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", "<iso-time>", text)
    text = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  ", "<time>             ", text, flags=re.M)
    if times:
        text = re.sub(r"\(" + RELATIVE + r"\)", "(<relative>)", text)
        text = re.sub(RELATIVE + r"$", "<relative>", text, flags=re.M)
    text = re.sub(r":1\.\d+\b", ":1.N", text)
    text = re.sub(r'("version" : |Version: +)"?\d+\.\d+\.\d+"?', r"\1<version>", text)
    return text


class Transcript:
    """Commands, exit statuses, stdout ("| ") and stderr ("! "), normalised,
    compared at the end with tests/fixtures/ctl/NAME.txt."""

    def __init__(self, test, sb, name):
        self.test = test
        self.sb = sb
        self.name = name
        self.lines = []

    def note(self, text):
        self.lines.append(f"# {text}")

    def run(self, *args, expect=0, input=None, env=None, user=None, shown_args=None):
        sb = self.sb
        r = sb.ctl(*args, input=input, env=env or ctl_env(sb), user=user)
        shown = " ".join(shlex.quote(a) for a in (shown_args or args))
        if input is not None:
            shown += " < input"
        shown = re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", shown)
        prompt = f"$ (as {user}) " if user is not None else "$ "
        self.lines.append(normalise(sb, f"{prompt}claude-failoverctl {shown}".rstrip(), times=False))
        self.lines.append(f"[exit {r.returncode}]")
        for stream, mark in ((r.stdout, "|"), (r.stderr, "!")):
            for line in normalise(sb, stream).splitlines():
                self.lines.append(f"{mark} {line}" if line else mark)
        self.test.assertEqual(r.returncode, expect,
                              f"claude-failoverctl {shown}: exit {r.returncode}\n"
                              f"stdout: {r.stdout}\nstderr: {r.stderr}")
        if expect != 0:
            self.test.assertEqual(len(r.stderr.splitlines()), 1, f"one error line: {r.stderr!r}")
        return r

    def check(self):
        text = "\n".join(self.lines) + "\n"
        path = os.path.join(GOLDEN_DIR, self.name + ".txt")
        if UPDATE:
            os.makedirs(GOLDEN_DIR, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            return
        with open(path, encoding="utf-8") as f:
            expected = f.read()
        if text != expected:
            diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                                f"{path} (golden)", "actual"))
            self.test.fail(f"transcript differs from {path} "
                           f"(CF_UPDATE_GOLDEN=1 rewrites it):\n{diff}")


def task_file(project, place, task_id):
    return os.path.join(project, ".agent-queue", place, f"{task_id}.md")


def queued_ids(project, place):
    d = os.path.join(project, ".agent-queue", place)
    return sorted(n[:-3] for n in os.listdir(d) if n.endswith(".md"))


def bus_monitor(sb):
    """busctl monitor of the private bus (root may monitor); returns the
    process and the path of its JSON lines."""
    path = os.path.join(sb.root, "busctl-monitor.jsonl")
    proc = sb.spawn(["busctl", f"--address={sb.bus_address}", "monitor", "--json=short"],
                    log_path=path)
    time.sleep(0.5)
    return proc, path


def method_calls(path, member):
    calls = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    m = json.loads(line)
                except ValueError:
                    continue
                if m.get("type") == "method_call" and m.get("member") == member:
                    calls.append(m)
    return calls


def run_with_tty(argv, env, stdin_tty=False, stdout_tty=False, timeout=30):
    """Run ARGV with standard input and/or output on a pseudo-terminal;
    returns (exit status, output bytes)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(argv, env=env,
                                stdin=slave if stdin_tty else subprocess.DEVNULL,
                                stdout=slave if stdout_tty else subprocess.PIPE,
                                stderr=subprocess.STDOUT if not stdout_tty else slave)
    finally:
        os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        if stdout_tty:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.2)
                if ready:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out += chunk
                elif proc.poll() is not None:
                    break
        else:
            out = proc.communicate(timeout=timeout)[0]
        return proc.wait(timeout=timeout), out
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def daemon_has(sb, member):
    """The running daemon exports MEMBER on the Manager interface."""
    r = sb.gdbus("introspect", "--dest", BUS_NAME, "--object-path", OBJECT_PATH, "--xml",
                 check=False)
    return re.search(r'name="%s"' % re.escape(member), r.stdout) is not None


class CtlTestCase(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        require_programs("dbus-daemon", "tmux", "busctl", "gdbus")
        self.sb = Sandbox(self.id().rsplit(".", 1)[-1])
        self.addCleanup(self._close)

    def _close(self):
        if has_failed(self):
            self.sb.dump_logs(60)
        self.sb.close()

    def start_daemon(self, overrides=None, idle=1, **kw):
        sb = self.sb
        sb.start_bus()
        sb.start_tmux()
        config = {"pool": {"autonomous": {"min": idle, "max": max(idle, 1)}}}
        config.update(overrides or {})
        sb.write_config(config, **kw)
        sb.start_daemon()
        sb.wait_for(lambda: sum(1 for s in sb.get_property("Sessions")
                                if s[1] == "pool" and s[2] == "idle") >= idle,
                    timeout=20, what=f"{idle} idle pool sessions")


class CtlOfflineTest(CtlTestCase):
    """What needs no daemon: help, usage errors, daemon absent, no bus."""

    def test_help(self):
        sb = self.sb
        t = Transcript(self, sb, "help")
        t.run("--help")
        for command in COMMANDS:
            t.run(command, "--help")
        # -h, and --help after other arguments, work too; nothing is called.
        t.run("submit", "demo", "--title", "x", "-h")
        t.check()
        r = sb.ctl("--version", env=ctl_env(sb))
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^claude-failoverctl \d+\.\d+\.\d+\n\Z")

    def test_usage_errors(self):
        sb = self.sb
        t = Transcript(self, sb, "usage-errors")
        t.run(expect=2)
        t.run("--bogus", expect=2)
        t.run("frobnicate", expect=2)
        t.run("status", "extra", expect=2)
        t.run("sessions", "--bogus", expect=2)
        t.run("tasks", "demo", "other", expect=2)
        t.run("tasks", "--state", "running", expect=2)
        t.run("tasks", "--state", expect=2)
        t.run("submit", expect=2)
        t.run("submit", "demo", expect=2)
        t.run("submit", "demo", "--title", "   ", expect=2)
        t.run("submit", "demo", "--title", "x", "--priority", "urgent", expect=2)
        t.run("submit", "demo", "--title", "x", "--preferred-ai", "hal", expect=2)
        t.run("submit", "demo", "--title", "x", "--model", "no spaces", expect=2)
        t.run("submit", "demo", "--title", "x", "--tag", "", expect=2)
        t.run("submit", "demo", "other", "--title", "x", expect=2)
        t.run("requeue", "demo", expect=2)
        t.run("requeue", "demo", "../../etc/passwd", expect=2)
        t.run("cancel", expect=2)
        t.run("cancel", "demo", "a", "b", expect=2)
        t.run("switch", "main", "backup", expect=2)
        t.run("recycle", expect=2)
        t.run("pause", "now", expect=2)
        t.run("resume", "--force", expect=2)
        t.run("reload", "x", expect=2)
        t.run("clear-partial-swap", "x", expect=2)
        t.run("monitor", "x", expect=2)
        t.check()

    def test_daemon_absent(self):
        sb = self.sb
        sb.start_bus()
        t = Transcript(self, sb, "daemon-absent")
        for args in BUS_COMMANDS:
            t.run(*args, expect=1)
            t.run("--json", *args, expect=1)
        t.check()

    def test_no_system_bus(self):
        sb = self.sb
        t = Transcript(self, sb, "no-bus")
        env = ctl_env(sb, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={sb.root}/no-such-bus")
        for args in (["status"], ["tasks"], ["pause"], ["monitor"]):
            t.run(*args, expect=1, env=env)
        t.check()


class CtlDaemonTest(CtlTestCase):
    """Every command against the running daemon."""

    def test_task_commands(self):
        sb = self.sb
        project = sb.project_dir
        other = os.path.join(sb.projects_dir, "other")
        for sub in ("inbox", "active", "done", "failed"):
            os.makedirs(os.path.join(other, ".agent-queue", sub))
        self.start_daemon()
        t = Transcript(self, sb, "tasks")
        t.note("paused, so that the tasks stay where they are put")
        t.run("pause")
        t.run("tasks")
        t.run("--json", "tasks")

        t.note("submit with every option, the body from a file and from stdin")
        body_path = os.path.join(sb.root, "body.md")
        with open(body_path, "w", encoding="utf-8") as f:
            f.write("Make the login page redirect to /home.\nSecond line: ünïcödé.\n")
        r1 = t.run("submit", "demo", "--title", "Fix the login redirect", "--priority", "critical",
                   "--file", body_path, "--model", "opus", "--tag", "web", "--tag", "auth",
                   "--preferred-ai", "claude-code", "--needs-claude-code")
        id1 = TASK_ID_RE.search(r1.stdout).group(0)
        r2 = t.run("--json", "submit", project, "--title", "Write the docs", "--file", "-",
                   "--allow-delegation", input="Document the API.\n")
        id2 = json.loads(r2.stdout)["task_id"]
        self.assertEqual(json.loads(r2.stdout)["project"], project)
        r3 = t.run("submit", "other", "--title", "Tidy up: the \"caches\"\tand\x1b[31m logs")
        id3 = TASK_ID_RE.search(r3.stdout).group(0)

        with open(task_file(project, "inbox", id1), encoding="utf-8") as f:
            text = f.read()
        for line in ('title: "Fix the login redirect"', "priority: critical", "model: opus",
                     'tags: ["web", "auth"]', "preferred_ai: claude-code",
                     "needs_claude_code: true"):
            self.assertIn(line + "\n", text)
        self.assertTrue(text.endswith("---\nMake the login page redirect to /home.\n"
                                      "Second line: ünïcödé.\n"), text)
        with open(task_file(project, "inbox", id2), encoding="utf-8") as f:
            text = f.read()
        self.assertIn("allow_delegation: true\n", text)
        self.assertIn("priority: default\n", text)
        self.assertTrue(text.endswith("---\nDocument the API.\n"), text)
        with open(task_file(other, "inbox", id3), encoding="utf-8") as f:
            text = f.read()
        # Without --file the title is the body.
        self.assertTrue(text.endswith("---\nTidy up: the \"caches\"\tand\x1b[31m logs\n"), text)

        t.note("listings")
        t.run("tasks")
        t.run("tasks", "demo")
        t.run("tasks", other, "--state", "inbox,active")
        t.run("tasks", "--state", "failed")
        t.run("tasks", "nosuch")
        r = t.run("--json", "tasks", "other")
        self.assertEqual([(x["project"], x["task_id"], x["state"]) for x in json.loads(r.stdout)],
                         [(other, id3, "inbox")])
        # Whatever the daemon lists, the terminal gets no control character.
        self.assertTrue(json.loads(r.stdout)[0]["title"].startswith("Tidy up: the \"caches\""))
        self.assertNotRegex(sb.ctl("tasks", env=ctl_env(sb)).stdout, r"[\x00-\x09\x0b-\x1f\x7f]")

        t.note("cancel, then requeue")
        t.run("cancel", "demo", id2)
        self.assertEqual(queued_ids(project, "failed"), [id2])
        t.run("--json", "requeue", "demo", id2)
        self.assertIn(id2, queued_ids(project, "inbox"))
        t.run("tasks", "--state", "inbox")

        t.note("errors the daemon reports")
        t.run("submit", "nosuch", "--title", "x", expect=1)
        t.run("submit", "/etc", "--title", "x", expect=1)
        t.run("cancel", "nosuch", id1, expect=1)
        t.run("cancel", "demo", "no-such-task", expect=1)
        t.run("requeue", "demo", "no-such-task", expect=1)
        t.run("requeue", "other", id1, expect=1)
        t.run("requeue", "demo", id1, expect=1)
        self.assertIn(id1, queued_ids(project, "inbox"))

        t.note("bodies that cannot be a task")
        bad = os.path.join(sb.root, "latin1.txt")
        with open(bad, "wb") as f:
            f.write("caf\xe9\n".encode("latin-1"))
        nul = os.path.join(sb.root, "nul.txt")
        with open(nul, "wb") as f:
            f.write(b"a\0b\n")
        big = os.path.join(sb.root, "big.txt")
        with open(big, "wb") as f:
            f.write(b"a" * (1024 * 1024 + 1))
        edge = os.path.join(sb.root, "edge.txt")
        with open(edge, "wb") as f:
            f.write(b"a" * (1024 * 1024))
        before = {p: queued_ids(p, "inbox") for p in (project, other)}
        t.run("submit", "demo", "--title", "x", "--file", os.path.join(sb.root, "missing.md"),
              expect=1)
        t.run("submit", "demo", "--title", "x", "--file", sb.root, expect=1)
        t.run("submit", "demo", "--title", "x", "--file", bad, expect=1)
        t.run("submit", "demo", "--title", "x", "--file", nul, expect=1)
        t.run("submit", "demo", "--title", "x", "--file", big, expect=1)
        t.run("submit", "demo", "--title", "x", "--file", "-", input="a\0b", expect=1)
        t.note("1 MiB of body fits the client's limit, not the daemon's with the frontmatter")
        t.run("submit", "demo", "--title", "x", "--file", edge, expect=1)
        self.assertEqual({p: queued_ids(p, "inbox") for p in (project, other)}, before)
        t.check()

    def test_sessions_and_status(self):
        sb = self.sb
        web = os.path.join(sb.projects_dir, "web")
        os.makedirs(web)
        sb.start_bus()
        sb.start_tmux()
        sb.new_session("ccl-1-web", command="sleep 1000")
        sb.write_config({"pool": {"autonomous": {"min": 2, "max": 2},
                                  "dedicated": [{"name": "ccl-1-web", "project": web},
                                                {"name": "ccl-2-api"}]}})
        sb.start_daemon()
        sb.wait_for(lambda: sum(1 for s in sb.get_property("Sessions")
                                if s[1] == "pool" and s[2] == "idle") >= 2,
                    timeout=20, what="2 idle pool sessions")
        t = Transcript(self, sb, "sessions-status")
        t.run("pause")
        t.run("sessions")
        t.run("--json", "sessions")
        t.run("status")
        t.run("status", "--json")
        t.check()
        # The JSON is the GetStatus snapshot.
        doc = json.loads(sb.ctl("--json", "status", env=ctl_env(sb)).stdout)
        self.assertEqual(doc["active_account"], sb.get_property("ActiveAccount"))
        self.assertEqual([a["name"] for a in doc["accounts"]],
                         [a[0] for a in sb.get_property("Accounts")])
        self.assertIs(doc["dispatch_paused"], True)
        self.assertEqual(sorted(s["name"] for s in doc["sessions"]),
                         sorted(s[0] for s in sb.get_property("Sessions")))

    def test_control_commands(self):
        sb = self.sb
        self.start_daemon()
        t = Transcript(self, sb, "control")
        t.run("pause")
        self.assertIs(sb.get_property("DispatchPaused"), True)
        t.run("pause")
        t.run("--json", "resume")
        self.assertIs(sb.get_property("DispatchPaused"), False)
        t.run("resume")

        t.note("recycle: a pool session gets a fresh Claude")
        pane = sb.tmux("display-message", "-p", "-t", "=ccl-auto-0:", "#{pane_pid}").stdout.strip()
        t.run("recycle", "ccl-auto-0")
        sb.wait_for(lambda: sb.tmux("display-message", "-p", "-t", "=ccl-auto-0:",
                                    "#{pane_pid}", check=False).stdout.strip() not in ("", pane)
                    and any(s[0] == "ccl-auto-0" and s[2] == "idle"
                            for s in sb.get_property("Sessions")),
                    timeout=20, what="ccl-auto-0 recreated and idle")
        t.run("recycle", "ccl-auto-9", expect=1)
        t.run("recycle", "", expect=1)
        t.check()

    def test_switch_and_clear_partial_swap(self):
        sb = self.sb
        self.start_daemon()
        link = sb.config["claude_link"]
        main_home, backup_home = (a["home"] for a in sb.config["accounts"])
        t = Transcript(self, sb, "switch")
        t.run("switch", "nosuch", expect=1)
        t.run("switch", "main", expect=1)
        t.run("clear-partial-swap", expect=1)
        self.assertEqual(sb.get_property("ActiveAccount"), "main")

        t.note("a switch that cannot make the shared links is rolled back")
        obstruction = os.path.join(backup_home, "projects")
        os.makedirs(obstruction)
        t.run("switch", "backup", expect=1)
        self.assertEqual(sb.get_property("ActiveAccount"), "main")
        os.rmdir(obstruction)

        t.note("a switch waits for SwapFinished")
        t.run("switch", "backup")
        self.assertEqual(sb.get_property("ActiveAccount"), "backup")
        self.assertEqual(os.readlink(link), backup_home)
        t.run("--json", "switch")
        self.assertEqual(sb.get_property("ActiveAccount"), "main")
        t.run("switch", "--no-wait", "backup")
        sb.wait_for(lambda: sb.get_property("ActiveAccount") == "backup"
                    and sb.get_property("SwapState") in ("normal", "fallback"),
                    timeout=20, what="the switch to backup over")
        t.run("switch", "main")

        t.note("~/.claude replaced by a directory: the switch and its rollback fail")
        os.unlink(link)
        os.makedirs(link)
        t.run("switch", "backup", expect=1)
        self.assertIs(sb.get_property("PartialSwap"), True)
        t.run("switch", expect=1)
        t.run("clear-partial-swap", expect=1)
        os.rmdir(link)
        os.symlink(main_home, link)
        t.run("clear-partial-swap")
        self.assertIs(sb.get_property("PartialSwap"), False)
        t.run("switch", "backup")
        self.assertEqual(os.readlink(link), backup_home)
        t.check()

    def test_reload(self):
        sb = self.sb
        self.start_daemon()
        if not daemon_has(sb, "Reload"):
            self.skipTest("the daemon does not export Reload yet (ARCHITECTURE 4.4)")
        t = Transcript(self, sb, "reload")
        t.run("reload")
        with open(sb.config_path, "a", encoding="utf-8") as f:
            f.write("no_such_key: 1\n")
        t.run("reload", expect=1)
        self.assertIsNone(sb.daemon.poll())
        t.check()


class CtlAuthorisationTest(CtlTestCase):
    def test_mutating_calls_allow_interactive_authorization_on_a_tty(self):
        sb = self.sb
        self.start_daemon()
        require_programs("busctl")
        _, path = bus_monitor(sb)
        env = ctl_env(sb)
        status, out = run_with_tty([sb.ctl_path, "pause"], env, stdin_tty=True)
        self.assertEqual(status, 0, out)
        status, out = run_with_tty([sb.ctl_path, "resume"], env, stdin_tty=False)
        self.assertEqual(status, 0, out)
        status, out = run_with_tty([sb.ctl_path, "status"], env, stdin_tty=True)
        self.assertEqual(status, 0, out)
        sb.wait_for(lambda: method_calls(path, "GetStatus"), timeout=5, what="GetStatus seen")
        (pause,) = method_calls(path, "PauseDispatch")
        (resume,) = method_calls(path, "ResumeDispatch")
        (get_status,) = method_calls(path, "GetStatus")
        self.assertEqual(pause["flags"] & 4, 4, "stdin a TTY: interactive authorisation allowed")
        self.assertEqual(resume["flags"] & 4, 0, "stdin not a TTY: no interactive authorisation")
        self.assertEqual(get_status["flags"] & 4, 0, "reads never ask for authorisation")

    def test_polkit_verdicts_in_plain_words(self):
        sb = self.sb
        if os.getuid() != 0 or not user_exists("nobody"):
            self.skipTest("needs root and the user nobody (runuser)")
        if subprocess.run(["/usr/bin/python3", "-c", "import dbusmock"],
                          capture_output=True).returncode != 0:
            self.skipTest("python3-dbusmock is not installed for /usr/bin/python3")
        from test_polkit import CONTROL, POLKIT_NAME, MockPolkitd
        sb.start_bus(mock_names=[POLKIT_NAME])
        sb.start_tmux()
        polkit = MockPolkitd(sb)
        sb.write_config({"pool": {"autonomous": {"min": 1, "max": 1}}})
        sb.start_daemon()
        sb.wait_for(lambda: any(s[2] == "idle" for s in sb.get_property("Sessions")),
                    timeout=20, what="an idle pool session")
        # Root passes without polkit.
        sb.call("PauseDispatch")
        tid = sb.call("SubmitTask", "sssa{sv}", "demo", "Keep me", "x", 0)[0]
        t = Transcript(self, sb, "access-denied")
        t.note("polkit allows nothing")
        polkit.set_allowed([])
        t.run("resume", user="nobody", expect=1)
        t.run("submit", "demo", "--title", "x", user="nobody", expect=1)
        t.run("cancel", "demo", tid, user="nobody", expect=1, shown_args=["cancel", "demo", "TASK"])
        t.run("recycle", "ccl-auto-0", user="nobody", expect=1)
        t.run("switch", "backup", user="nobody", expect=1)
        t.run("clear-partial-swap", user="nobody", expect=1)
        t.run("reload", user="nobody", expect=1)
        t.note("reads stay open")
        t.run("--json", "tasks", "--state", "failed", user="nobody")
        self.assertIs(sb.get_property("DispatchPaused"), True)
        self.assertEqual(sb.get_property("ActiveAccount"), "main")
        self.assertEqual(queued_ids(sb.project_dir, "inbox"), [tid])

        t.note("org.claudefailover.control allowed, manage-tasks still not")
        polkit.set_allowed([CONTROL])
        t.run("resume", user="nobody")
        self.assertIs(sb.get_property("DispatchPaused"), False)
        t.run("submit", "demo", "--title", "x", user="nobody", expect=1)

        t.note("polkit wants a password: from a pipe there is nobody to ask")
        polkit.replace_check("ret = (False, True, {})")
        polkit.mock("ClearCalls")
        t.run("pause", user="nobody", expect=1)
        # From a terminal the call allows interaction and polkit is asked with
        # AllowUserInteraction; here no agent can ask, so it is a no.
        status, out = run_with_tty(["runuser", "-u", "nobody", "--", sb.ctl_path, "pause"],
                                   ctl_env(sb), stdin_tty=True)
        self.assertEqual(status, 1, out)
        self.assertRegex(out.decode(), r"^claude-failoverctl: pause: not authorised.*"
                                       r"org\.claudefailover\.control.*\n\Z")
        self.assertEqual([c[3] for c in polkit.check_calls()], [0, 1])
        self.assertIs(sb.get_property("DispatchPaused"), False)

        t.note("polkitd gone")
        polkit.stop()
        t.run("pause", user="nobody", expect=1)
        t.check()


class CtlColourTest(CtlTestCase):
    def test_colour_only_on_a_terminal_and_without_no_color(self):
        sb = self.sb
        self.start_daemon()
        argv = [sb.ctl_path, "sessions"]
        status, out = run_with_tty(argv, ctl_env(sb), stdout_tty=True)
        self.assertEqual(status, 0, out)
        self.assertIn(b"\x1b[1mNAME", out)
        self.assertIn(b"\x1b[32midle\x1b[0m", out)
        for extra in ({"NO_COLOR": "1"}, {"TERM": "dumb"}):
            status, out = run_with_tty(argv, ctl_env(sb, **extra), stdout_tty=True)
            self.assertEqual(status, 0, out)
            self.assertNotIn(b"\x1b", out, extra)
            self.assertIn(b"ccl-auto-0", out)
        # NO_COLOR set but empty does not count (no-color.org).
        status, out = run_with_tty(argv, ctl_env(sb, NO_COLOR=""), stdout_tty=True)
        self.assertIn(b"\x1b[", out)
        r = sb.ctl("sessions", env=ctl_env(sb))
        self.assertNotIn("\x1b", r.stdout)
        # JSON never has colour.
        status, out = run_with_tty([sb.ctl_path, "--json", "sessions"], ctl_env(sb), stdout_tty=True)
        self.assertNotIn(b"\x1b", out)


class MonitorOutput:
    """A running `claude-failoverctl monitor`, its lines read as they come."""

    def __init__(self, sb, *args):
        self.sb = sb
        self.path = os.path.join(sb.root, f"monitor{len(args)}-{time.monotonic_ns()}.txt")
        with open(self.path, "w") as out:
            self.proc = subprocess.Popen([sb.ctl_path, *args, "monitor"], stdout=out,
                                         stderr=subprocess.PIPE, env=ctl_env(sb), text=True)
        sb._procs.append(self.proc)

    def lines(self):
        with open(self.path, encoding="utf-8") as f:
            return [l for l in f.read().split("\n")[:-1]]

    def wait_line(self, pattern, count=1, timeout=20):
        regex = re.compile(pattern)
        return self.sb.wait_for(lambda: len([l for l in self.lines() if regex.search(l)]) >= count,
                                timeout=timeout, what=f"monitor line /{pattern}/ x{count}: "
                                                      f"{self.lines()[-5:]}")

    def interrupt(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)
        status = self.proc.wait(timeout=10)
        return status, self.proc.stderr.read()


class CtlMonitorTest(CtlTestCase):
    def expect_line(self, proc, expected):
        line = proc.stdout.readline().strip()
        if line != expected:
            proc.kill()
            self.fail(f"expected {expected!r} from the emitter, got {line!r}: {proc.stderr.read()}")
    def test_monitor_follows_the_daemon_across_restarts(self):
        sb = self.sb
        sb.start_bus()
        sb.start_tmux()
        sb.write_config({"pool": {"autonomous": {"min": 1, "max": 1}},
                         "quota": {"interval": "300ms", "pool_threshold": 1}})
        main_home = sb.config["accounts"][0]["home"]
        human = MonitorOutput(sb)
        machine = MonitorOutput(sb, "--json")
        human.wait_line(r"Daemon +claude-failoverd is not running; waiting for it")
        machine.wait_line(r'"event":"Daemon","running":false')
        sb.start_daemon()
        human.wait_line(r"Daemon +claude-failoverd started \(:1\.\d+\)")
        sb.wait_for(lambda: any(s[2] == "idle" for s in sb.get_property("Sessions")), timeout=20,
                    what="an idle pool session")
        env = ctl_env(sb)
        self.assertEqual(sb.ctl("pause", env=env).returncode, 0)
        human.wait_line(r"PropertiesChanged  DispatchPaused=true")
        tid = json.loads(sb.ctl("--json", "submit", "demo", "--title", "Watched",
                                "--file", "-", input="FAKE:work=100", env=env).stdout)["task_id"]
        self.assertEqual(sb.ctl("resume", env=env).returncode, 0)
        human.wait_line(re.escape(f"TaskFinished       demo/{tid}: done (ccl-auto-0)"))
        sb.stop_daemon()
        human.wait_line(r"Daemon +claude-failoverd stopped; waiting for it to come back")
        sb.start_daemon()
        human.wait_line(r"Daemon +claude-failoverd started", count=2)

        # The real daemon's quota and switch signals.
        sb.wait_for(lambda: any(s[2] == "idle" for s in sb.get_property("Sessions")), timeout=20,
                    what="an idle pool session")
        long_task = json.loads(sb.ctl("--json", "submit", "demo", "--title", "Limited",
                                      "--file", "-", input="FAKE:work=4000", env=env).stdout)
        sb.wait_for(lambda: any(s[2] == "working" for s in sb.get_property("Sessions")),
                    timeout=20, what="a working session")
        reset = int(time.time() + 3600)
        sb.fake_account_limit(main_home, f"Claude AI usage limit reached|{reset}")
        human.wait_line(r"SwapFinished       main → backup succeeded", timeout=30)
        machine.wait_line(r'"event":"SwapFinished"')

        status, err = human.interrupt(signal.SIGINT)
        self.assertEqual((status, err), (0, ""))
        status, err = machine.interrupt(signal.SIGTERM)
        self.assertEqual((status, err), (0, ""))

        lines = human.lines()
        for line in lines:
            self.assertRegex(line, r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  [A-Za-z]+ +\S")
        normalised = [normalise(sb, l) for l in lines]
        kept = [l for l in normalised
                if re.search(r"  Daemon ", l) or re.search(r"  Task(Dispatched|Finished) .*watched", l)
                or re.search(r"  PropertiesChanged  DispatchPaused", l)]
        self.assertEqual(kept, [
            "<time>             Daemon             claude-failoverd is not running; waiting for it",
            "<time>             Daemon             claude-failoverd started (:1.N)",
            "<time>             PropertiesChanged  DispatchPaused=true",
            "<time>             PropertiesChanged  DispatchPaused=false",
            "<time>             TaskDispatched     demo/YYYYMMDD-HHMMSS-watched-XXXX → ccl-auto-0 "
            "(model sonnet, account main)",
            "<time>             TaskFinished       demo/YYYYMMDD-HHMMSS-watched-XXXX: done (ccl-auto-0)",
            "<time>             Daemon             claude-failoverd stopped; waiting for it to come back",
            "<time>             Daemon             claude-failoverd started (:1.N)",
        ])
        reset_text = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(reset))
        swap_lines = [l for l in normalised if re.search(r"  (QuotaExhausted|Swap\w+) ", l)]
        self.assertEqual(len(swap_lines), 3, swap_lines)
        self.assertEqual(swap_lines[0], "<time>             SwapStarted        main → backup: quota")
        self.assertRegex(swap_lines[1], "^<time>             QuotaExhausted     account main "
                         f"exhausted, resets {re.escape(reset_text)} \\(<relative>\\); sessions: "
                         f"ccl-auto-0; evidence: .*usage limit reached\\|{reset}$")
        self.assertEqual(swap_lines[2], "<time>             SwapFinished       main → backup "
                         "succeeded: switched from main to backup; tasks resumed in their "
                         "conversation: 1, tasks requeued: 0, dedicated sessions resumed: 0, "
                         "left at their shell: 0")
        self.assertIn("<time>             SessionChanged     ccl-auto-0 → working "
                      "(demo/YYYYMMDD-HHMMSS-watched-XXXX)", normalised)
        self.assertTrue(any(re.search(r"PropertiesChanged  .*ActiveAccount=backup", l)
                            for l in lines), lines)

        events = [json.loads(l) for l in machine.lines()]
        for e in events:
            self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")
        self.assertEqual([(e["running"], e["owner"] is not None) for e in events
                          if e["event"] == "Daemon"],
                         [(False, False), (True, True), (False, False), (True, True)])
        finished = [e for e in events if e["event"] == "TaskFinished" and e["task_id"] == tid]
        self.assertEqual([(e["project"], e["session"], e["outcome"]) for e in finished],
                         [(sb.project_dir, "ccl-auto-0", "done")])
        dispatched = [e for e in events if e["event"] == "TaskDispatched"]
        self.assertEqual([(e["project"], e["task_id"], e["session"], e["model"], e["account"])
                          for e in dispatched[:2]],
                         [(sb.project_dir, tid, "ccl-auto-0", "sonnet", "main"),
                          (sb.project_dir, long_task["task_id"], "ccl-auto-0", "sonnet", "main")])
        (quota,) = [e for e in events if e["event"] == "QuotaExhausted"]
        self.assertEqual((quota["account"], quota["sessions"], quota["reset_at"]),
                         ("main", ["ccl-auto-0"], reset * 1000000))
        self.assertIn("usage limit reached", quota["evidence"])
        swaps = [(e["event"], e["from"], e["to"], e.get("reason"), e.get("success"))
                 for e in events if e["event"] in ("SwapStarted", "SwapFinished")]
        self.assertEqual(swaps, [("SwapStarted", "main", "backup", "quota", None),
                                 ("SwapFinished", "main", "backup", None, True)])
        paused = [e["changed"]["DispatchPaused"] for e in events
                  if e["event"] == "PropertiesChanged" and "DispatchPaused" in e["changed"]]
        self.assertEqual(paused, [True, False])
        self.assertIn("backup", [e["changed"].get("ActiveAccount") for e in events
                                 if e["event"] == "PropertiesChanged"])

    def test_monitor_renders_every_contract_signal(self):
        """Every argument shape of the six signals and PropertiesChanged
        (unknown reset time, failed switch, invalidated properties, escape
        sequences in the evidence), from a stand-in that owns
        org.claudefailover, plus a forged signal from another connection
        that must not show."""
        sb = self.sb
        me = getpass.getuser()
        sb.start_bus(extra_owners=() if me == "root" else (me,))
        human = MonitorOutput(sb)
        machine = MonitorOutput(sb, "--json")
        human.wait_line(r"Daemon ")
        machine.wait_line(r'"event":"Daemon"')
        emitter = subprocess.Popen(["/usr/bin/python3", "-c", EMITTER], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=ctl_env(sb))
        sb._procs.append(emitter)
        self.expect_line(emitter, "owned")
        human.wait_line(r"Daemon +claude-failoverd started")
        machine.wait_line(r'"running":true')
        emitter.stdin.write("go\n")
        emitter.stdin.flush()
        self.expect_line(emitter, "sent")
        human.wait_line(r"SwapFinished .*FAILED")
        machine.wait_line(r'"success":false')
        emitter.stdin.close()
        emitter.wait(timeout=10)
        human.wait_line(r"Daemon +claude-failoverd stopped")
        machine.wait_line(r'"running":false', count=2)
        self.assertEqual(human.interrupt(), (0, ""))
        self.assertEqual(machine.interrupt(), (0, ""))

        t = Transcript(self, sb, "monitor-signals")
        t.note("claude-failoverctl monitor")
        t.lines += [normalise(sb, l) for l in human.lines()]
        t.note("claude-failoverctl --json monitor")
        t.lines += [normalise(sb, l) for l in machine.lines()]
        t.check()
        for line in machine.lines():
            json.loads(line)
        self.assertNotIn("forged", "\n".join(human.lines() + machine.lines()))
        self.assertNotIn("PendingTasks", "\n".join(human.lines() + machine.lines()))


# Owns org.claudefailover on the sandbox bus, says "owned", waits for "go",
# emits every signal of the contract, says "sent", exits at end of input.
EMITTER = r'''
import sys
from gi.repository import Gio, GLib
BUS, PATH, IFACE = "org.claudefailover", "/org/claudefailover/Manager", "org.claudefailover.Manager"
addr = Gio.dbus_address_get_for_bus_sync(Gio.BusType.SYSTEM, None)
flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
         Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
bus = Gio.DBusConnection.new_for_address_sync(addr, flags, None, None)
forger = Gio.DBusConnection.new_for_address_sync(addr, flags, None, None)
r = bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                  "RequestName", GLib.Variant("(su)", (BUS, 4)), None, 0, -1, None)
assert r.unpack()[0] == 1, r
print("owned", flush=True)
sys.stdin.readline()
P = "/tmp/projects/demo"
T = 1893456000 * 1000000   # 2030-01-01 00:00:00 UTC
def emit(conn, member, sig, *args, iface=IFACE):
    conn.emit_signal(None, PATH, iface, member, GLib.Variant(sig, args))
emit(forger, "SwapStarted", "(sss)", "forged", "forged", "forged")
emit(bus, "SessionChanged", "(ssss)", "ccl-auto-0", "working", P, "t-1")
emit(bus, "SessionChanged", "(ssss)", "ccl-auto-1", "idle", "", "")
emit(bus, "TaskDispatched", "(sssss)", P, "t-1", "ccl-auto-0", "opus", "main")
emit(bus, "TaskFinished", "(ssss)", P, "t-1", "ccl-auto-0", "failed")
emit(bus, "TaskFinished", "(ssss)", P, "t-2", "", "delegated-done")
emit(bus, "QuotaExhausted", "(sasts)", "main", ["ccl-auto-0", "ccl-auto-1"], T,
     "You've hit your limit \x1b[31m· resets 1am")
emit(bus, "QuotaExhausted", "(sasts)", "backup", [], 0, "")
emit(bus, "SwapStarted", "(sss)", "main", "backup", "2 pool sessions blocked")
props = {
    "ActiveAccount": GLib.Variant("s", "backup"),
    "SwapState": GLib.Variant("s", "switching"),
    "PendingTasks": GLib.Variant("u", 3),
    "Accounts": GLib.Variant("a(ssbt)", [("main", "/h/main", False, T), ("backup", "/h/b", True, 0),
                                         ("spare", "/h/s", False, 0)]),
    "LastSwap": GLib.Variant("(tss)", (T, "main", "backup")),
    "ReturnAt": GLib.Variant("t", T),
    "PartialSwap": GLib.Variant("b", True),
    "DispatchPaused": GLib.Variant("b", False),
}
bus.emit_signal(None, PATH, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                GLib.Variant("(sa{sv}as)", (IFACE, props, [])))
bus.emit_signal(None, PATH, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                GLib.Variant("(sa{sv}as)", (IFACE, {"PendingTasks": GLib.Variant("u", 4)}, [])))
bus.emit_signal(None, PATH, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                GLib.Variant("(sa{sv}as)", (IFACE, {"ReturnAt": GLib.Variant("t", 0)}, ["SwapState"])))
emit(bus, "SwapFinished", "(ssbs)", "main", "backup", True, "4 sessions resumed")
emit(bus, "SwapFinished", "(ssbs)", "backup", "main", False, "link ~/.claude: Permission denied")
bus.flush_sync(None)
forger.flush_sync(None)
print("sent", flush=True)
sys.stdin.read()
'''


class CtlManualTest(unittest.TestCase):
    PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                        "claude-failoverctl.1")

    def test_manual_page_names_every_command_and_option(self):
        sb = Sandbox("manual")
        self.addCleanup(sb.close)
        with open(self.PAGE, encoding="utf-8") as f:
            page = f.read().replace("\\-", "-")
        for command in COMMANDS + ["hook", "install-hooks", "explain-pane"]:
            self.assertTrue(re.search(r"^\.(B|BR|BI) .*(?<![-\w])%s(?![-\w])" % re.escape(command),
                                      page, re.M), f"{command} has no entry in {self.PAGE}")
        for command in COMMANDS:
            helped = sb.ctl(command, "--help", env=ctl_env(sb)).stdout
            for option in set(re.findall(r"^  (--[a-z-]+)", helped, re.M)) - {"--json"}:
                self.assertIn(option, page, f"{command} {option}")
        if shutil.which("groff"):
            r = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", self.PAGE],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual((r.returncode, r.stderr), (0, ""))


class CtlCompletionTest(CtlTestCase):
    SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data",
                          "completion", "claude-failoverctl")

    def complete(self, line, env=None):
        """COMPREPLY for the command line LINE (the cursor at its end)."""
        sb = self.sb
        words = []
        # Split as readline does: COMP_WORDBREAKS has "=".
        for word in shlex.split(line):
            head, eq, tail = word.partition("=")
            words += [head, eq, tail] if eq and head.startswith("--") else [word]
        words += [""] if line.endswith(" ") else []
        words[0] = sb.ctl_path
        script = (f"source {shlex.quote(self.SCRIPT)}\n"
                  f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
                  f"COMP_CWORD={len(words) - 1}\n"
                  "_claude_failoverctl\n"
                  "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
        r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                           text=True, env=env or ctl_env(sb), timeout=30, cwd=sb.root)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        return [w for w in r.stdout.split("\n") if w]

    def test_static_completion_without_daemon(self):
        sb = self.sb
        require_programs("bash")
        sb.start_bus()
        self.assertEqual(self.complete("claude-failoverctl s"),
                         ["status", "sessions", "submit", "switch", "statusline"])
        self.assertIn("clear-partial-swap", self.complete("claude-failoverctl "))
        self.assertEqual(self.complete("claude-failoverctl --j"), ["--json"])
        self.assertEqual(self.complete("claude-failoverctl --json re"),
                         ["requeue", "resume", "reload", "recycle"])
        self.assertEqual(self.complete("claude-failoverctl submit demo --priority "),
                         ["critical", "high", "default", "low"])
        self.assertEqual(self.complete("claude-failoverctl submit demo --priority=c"),
                         ["critical"])
        self.assertEqual(self.complete("claude-failoverctl submit demo --pre"), ["--preferred-ai"])
        self.assertEqual(self.complete("claude-failoverctl tasks --state inbox,d"),
                         ["inbox,done"])
        self.assertEqual(self.complete("claude-failoverctl hook Stop"), ["Stop", "StopFailure"])
        self.assertEqual(self.complete("claude-failoverctl submit demo --title "), [])
        self.assertEqual(self.complete("claude-failoverctl switch --n"), ["--no-wait"])
        # Names need the daemon: nothing, quickly, when it is not running.
        start = time.monotonic()
        self.assertEqual(self.complete("claude-failoverctl switch "), [])
        self.assertLess(time.monotonic() - start, 5)
        r = sb.ctl("__complete", "accounts", env=ctl_env(sb))
        self.assertEqual((r.returncode, r.stdout, r.stderr), (1, "", ""))
        r = sb.ctl("__complete", "bogus", env=ctl_env(sb))
        self.assertEqual(r.returncode, 2)

    def test_names_from_the_daemon(self):
        sb = self.sb
        require_programs("bash")
        self.start_daemon()
        sb.call("PauseDispatch")
        tid = sb.call("SubmitTask", "sssa{sv}", "demo", "Complete me", "x", 0)[0]
        self.assertEqual(self.complete("claude-failoverctl switch "), ["backup", "main"])
        self.assertEqual(self.complete("claude-failoverctl switch b"), ["backup"])
        self.assertEqual(self.complete("claude-failoverctl recycle "), ["ccl-auto-0"])
        self.assertEqual(self.complete("claude-failoverctl submit "), ["demo"])
        self.assertEqual(self.complete("claude-failoverctl tasks --state inbox d"), ["demo"])
        self.assertEqual(self.complete("claude-failoverctl cancel demo "), [tid])
        self.assertEqual(self.complete("claude-failoverctl --json requeue demo 2"), [tid])
        self.assertEqual(self.complete("claude-failoverctl cancel nosuch "), [])
        self.assertEqual(self.complete("claude-failoverctl cancel demo x "), [])

    def test_installed_where_bash_completion_looks(self):
        r = subprocess.run(["meson", "introspect", "--installed", os.environ.get("CF_BUILD_DIR") or
                            os.path.join(os.path.dirname(self.SCRIPT), "..", "..", "build")],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            self.skipTest(f"meson introspect failed: {r.stderr.strip()}")
        installed = json.loads(r.stdout)
        dests = [d for s, d in installed.items()
                 if os.path.realpath(s) == os.path.realpath(self.SCRIPT)]
        self.assertEqual(len(dests), 1, installed)
        self.assertTrue(dests[0].endswith("/bash-completion/completions/claude-failoverctl"),
                        dests[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
