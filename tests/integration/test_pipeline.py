#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The task pipeline end to end on real parts (private dbus-daemon, private
tmux server, tests/fake-claude, the real claude-failoverd): inbox → dispatch
→ completion → done/, each completion signal, hostile names, bad files."""

import glob
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUS_NAME, SandboxTestCase  # noqa: E402


def queue_dir(project, place):
    return os.path.join(project, ".agent-queue", place)


def task_ids(project, place):
    return sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(queue_dir(project, place), "*.md")))


class Monitor:
    """gdbus monitor of the daemon's signals, parsed on demand."""

    def __init__(self, sb):
        self.path = os.path.join(sb.root, "monitor.log")
        self.proc = sb.spawn(["gdbus", "monitor", "--address", sb.bus_address, "--dest", BUS_NAME],
                             log_path=self.path)
        time.sleep(0.3)

    def signals(self, name):
        with open(self.path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        out = []
        for m in re.finditer(r"\.%s \((.*)\)\n" % name, text):
            out.append(re.findall(r"'((?:[^'\\]|\\.)*)'", m.group(1)))
        return out


def gdbus_call(sb, method, *args, user=None):
    """gdbus call: its errors name the D-Bus error (busctl's do not)."""
    return sb.gdbus("call", "--dest", BUS_NAME, "--object-path", "/org/claudefailover/Manager",
                    "--method", f"org.claudefailover.Manager.{method}", *args, check=False,
                    user=user)


class PipelineTest(SandboxTestCase):
    LOG_LINES = 80

    def start(self, overrides=None, hooks=False, **kw):
        sb = self.sb
        sb.write_config(overrides or {}, **kw)
        if hooks:
            for account in sb.config["accounts"]:
                r = sb.ctl("install-hooks", account["home"], "--command", sb.ctl_path)
                self.assertEqual(r.returncode, 0, r.stderr)
        self.monitor = Monitor(sb)
        sb.start_daemon()
        n = sb.config["pool"]["autonomous"]["min"]
        sb.wait_for(lambda: sum(1 for s in sb.get_property("Sessions")
                                if s[1] == "pool" and s[2] == "idle") >= n,
                    timeout=20, what=f"{n} idle pool sessions")

    def wait_done(self, project, ids, timeout=60):
        self.sb.wait_for(lambda: set(ids) <= set(task_ids(project, "done")), timeout=timeout,
                         what=f"tasks {sorted(ids)} in done/ (done: {task_ids(project, 'done')})")

    # --------------------------------------------------------------------

    def test_twenty_tasks_three_projects_four_sessions(self):
        sb = self.sb
        projects = [os.path.join(sb.projects_dir, p) for p in ("alpha", "beta", "gamma")]
        for p in projects:
            for sub in ("inbox", "active", "done", "failed"):
                os.makedirs(queue_dir(p, sub), exist_ok=True)
        self.start({"pool": {"autonomous": {"min": 4, "max": 4}}}, hooks=True)
        priorities = ["critical", "high", "default", "low"]
        expected_model = {"critical": "opus", "high": "sonnet", "default": "sonnet", "low": "sonnet"}
        tasks = {}
        for i in range(20):
            project = projects[i % 3]
            prio = priorities[i % 4]
            tid = f"t{i:02d}"
            sb.add_task(tid, f"Task number {i}. FAKE:work=300", project=project, priority=prio,
                        title=f"Task {i}")
            tasks[tid] = (project, prio)
        for project in projects:
            self.wait_done(project, [t for t, (p, _) in tasks.items() if p == project], timeout=120)
        for project in projects:
            self.assertEqual(task_ids(project, "inbox"), [])
            self.assertEqual(task_ids(project, "active"), [])
            self.assertEqual(task_ids(project, "failed"), [])
        # The fake saw each task exactly once, one task per launch, with the
        # model of its priority and the active account's config dir.
        prompts = sb.fake_events("prompt")
        starts = {e["pid"]: e for e in sb.fake_events("start")}
        seen = {}
        for e in prompts:
            m = re.match(r"\[(t\d\d)\] ", e["text"])
            self.assertIsNotNone(m, e["text"])
            seen.setdefault(m.group(1), []).append(e["pid"])
        self.assertEqual(sorted(seen), sorted(tasks))
        for tid, pids in seen.items():
            self.assertEqual(len(pids), 1, f"{tid} dispatched {len(pids)} times")
            start = starts[pids[0]]
            self.assertEqual(start["model"], expected_model[tasks[tid][1]], tid)
            self.assertEqual(start["CLAUDE_CONFIG_DIR"], os.path.join(sb.home, ".claude-main"))
            self.assertEqual(start["cwd"], tasks[tid][0])
        per_pid = {}
        for e in prompts:
            per_pid[e["pid"]] = per_pid.get(e["pid"], 0) + 1
        self.assertEqual(set(per_pid.values()), {1}, "a Claude process got more than one task")
        self.assertEqual(sb.get_property("TasksDispatched"), 20)
        self.assertEqual(sb.get_property("TasksCompleted"), 20)
        finished = self.monitor.signals("TaskFinished")
        self.assertEqual(sorted(f[1] for f in finished if f[3] == "done"), sorted(tasks))

    def test_critical_task_jumps_the_queue(self):
        sb = self.sb
        self.start({"pool": {"autonomous": {"min": 1, "max": 1}}})
        sb.call("PauseDispatch")
        for i in range(4):
            sb.add_task(f"d{i}", f"default {i} FAKE:work=100")
            time.sleep(0.02)
        sb.add_task("urgent", "critical FAKE:work=100", priority="critical")
        time.sleep(0.5)
        self.assertEqual(self.monitor.signals("TaskDispatched"), [])
        sb.call("ResumeDispatch")
        self.wait_done(sb.project_dir, ["urgent", "d0", "d1", "d2", "d3"], timeout=60)
        order = [s[1] for s in self.monitor.signals("TaskDispatched")]
        self.assertEqual(order[0], "urgent")
        self.assertEqual(order[1:], ["d0", "d1", "d2", "d3"])

    def test_free_sessions_spread_over_projects(self):
        # alpha's four tasks are the oldest, but a project is served from
        # the moment a session takes its task: four free sessions at once
        # go to alpha, beta, gamma, then alpha again, not all to alpha.
        sb = self.sb
        projects = {name: os.path.join(sb.projects_dir, name) for name in ("alpha", "beta", "gamma")}
        for p in projects.values():
            os.makedirs(queue_dir(p, "inbox"), exist_ok=True)
        self.start({"pool": {"autonomous": {"min": 4, "max": 4}}})
        sb.call("PauseDispatch")
        for i in range(4):
            sb.add_task(f"a{i}", "FAKE:work=3000 alpha", project=projects["alpha"])
            time.sleep(0.02)
        for name in ("beta", "gamma"):
            sb.add_task(f"{name[0]}0", f"FAKE:work=3000 {name}", project=projects[name])
            time.sleep(0.02)
        time.sleep(0.5)
        sb.call("ResumeDispatch")
        sb.wait_for(lambda: len(self.monitor.signals("TaskDispatched")) >= 4, timeout=30,
                    what="four tasks dispatched")
        first = sorted(s[1] for s in self.monitor.signals("TaskDispatched")[:4])
        self.assertEqual(first, ["a0", "a1", "b0", "g0"])

    def test_completion_by_stop_hook(self):
        sb = self.sb
        # Pane polling every 60 s: only the hook can be this fast.
        self.start({"pool": {"autonomous": {"min": 1, "max": 1}},
                    "watcher": {"interval": "60s"}}, hooks=True)
        sb.add_task("hooked", "FAKE:work=200")
        self.wait_done(sb.project_dir, ["hooked"], timeout=20)
        self.assertIn("task hooked: done (Stop hook)", sb.daemon_log())

    def test_completion_by_signal_file(self):
        sb = self.sb
        self.start({"pool": {"autonomous": {"min": 1, "max": 1}}})
        sb.add_task("signalled", "FAKE:hang")
        sb.wait_for(lambda: task_ids(sb.project_dir, "active") == ["signalled"], timeout=20,
                    what="task active")
        sb.wait_for(lambda: self.monitor.signals("TaskDispatched"), timeout=20, what="dispatched")
        session = self.monitor.signals("TaskDispatched")[0][2]
        # Busy with a live spinner: not done, however long we wait.
        time.sleep(1.5)
        self.assertEqual(task_ids(sb.project_dir, "active"), ["signalled"])
        # A symlink planted there is refused...
        path = os.path.join(sb.runtime_dir, f"agent-done-{session}")
        os.symlink("/etc/passwd", path)
        time.sleep(1.0)
        self.assertEqual(task_ids(sb.project_dir, "active"), ["signalled"])
        self.assertIn("Ignoring done-signal", sb.daemon_log())
        if os.path.lexists(path):   # the janitor removes planted symlinks too
            os.unlink(path)
        # ...a real file completes the task, and is removed.
        with open(path, "w") as f:
            f.write("done\n")
        self.wait_done(sb.project_dir, ["signalled"], timeout=20)
        self.assertIn("task signalled: done (done-signal file)", sb.daemon_log())
        sb.wait_for(lambda: not os.path.exists(path), timeout=5, what="signal file removed")

    def test_completion_by_pane_stability(self):
        sb = self.sb
        self.start({"pool": {"autonomous": {"min": 1, "max": 1}}})
        sb.add_task("quiet", "FAKE:work=1500")
        self.wait_done(sb.project_dir, ["quiet"], timeout=30)
        self.assertIn("task quiet: done (pane idle over two polls)", sb.daemon_log())
        # The reply was there before the task was declared done: not early.
        reply = sb.fake_events("reply")[0]["time"]
        prompt = sb.fake_events("prompt")[0]["time"]
        self.assertGreaterEqual(reply - prompt, 1.4)

    def test_idle_timeout(self):
        sb = self.sb
        self.start({"pool": {"autonomous": {"min": 1, "max": 1}},
                    "dispatcher": {"idle_timeout": "2s", "max_dispatch_per_task": 1}})
        sb.add_task("stuck", "FAKE:hang")
        sb.wait_for(lambda: task_ids(sb.project_dir, "failed") == ["stuck"], timeout=30,
                    what="timed-out task in failed/ after its only attempt")
        # The signal comes after the move (seen late under ASan: issue 15).
        sb.wait_for(lambda: [s[3] for s in self.monitor.signals("TaskFinished")
                             if s[1] == "stuck"], timeout=10, what="TaskFinished for stuck")
        time.sleep(0.3)
        outcomes = [s[3] for s in self.monitor.signals("TaskFinished") if s[1] == "stuck"]
        self.assertEqual(outcomes, ["failed"])
        self.assertIn("dispatcher.idle_timeout reached", sb.daemon_log())

    def test_multiline_body_arrives_whole(self):
        sb = self.sb
        self.start({"pool": {"autonomous": {"min": 1, "max": 1}}})
        body = ("First line with 'quotes' and \"double\" and $(not run)\n"
                "\tindented line ✓ unicode\n\nlast line after a blank FAKE:work=100")
        sb.add_task("multi", body, title="Multi")
        self.wait_done(sb.project_dir, ["multi"], timeout=30)
        text = sb.fake_events("prompt")[0]["text"]
        self.assertIn(body, text)
        self.assertTrue(text.startswith("[multi] "))

    def test_hostile_project_directory_name(self):
        sb = self.sb
        marker = "/tmp/pwned"
        if os.path.exists(marker):
            os.unlink(marker)
        # The name holds a '/': the project lives two levels down, so it is
        # configured explicitly (projects.dir only lists direct children).
        name = "it's $(touch /tmp/pwned) a; test"
        project = os.path.join(sb.home, "odd", name)
        for sub in ("inbox", "active", "done", "failed"):
            os.makedirs(queue_dir(project, sub))
        self.start({"pool": {"autonomous": {"min": 1, "max": 1}},
                    "projects": {"extra": [project]}})
        sb.add_task("safe", "FAKE:work=100", project=project)
        self.wait_done(project, ["safe"], timeout=30)
        self.assertFalse(os.path.exists(marker), "a project path was run by the shell")
        self.assertEqual(sb.fake_events("start")[0]["cwd"], project)

    def test_prefix_names_never_confused(self):
        sb = self.sb
        # Pool w-1 .. w-10 exists; w-1 is killed and must never be resolved to w-10.
        self.start({"pool": {"autonomous": {"prefix": "w-", "start_index": 1, "min": 10, "max": 10}}})
        w10_pane = sb.tmux("display-message", "-p", "-t", "=w-10:", "#{pane_id}").stdout.strip()
        sb.call("PauseDispatch")
        sb.tmux("kill-session", "-t", "=w-1")
        for i in range(3):
            sb.add_task(f"p{i}", "FAKE:work=100")
        sb.call("ResumeDispatch")
        self.wait_done(sb.project_dir, ["p0", "p1", "p2"], timeout=40)
        # Nothing w-1 was given went to w-10: every launch ran in the pane its
        # session owns, and w-10's history shows only its own tasks.
        for e in sb.fake_events("start"):
            owner = sb.tmux("display-message", "-p", "-t", e["TMUX_PANE"], "#{session_name}",
                            check=False).stdout.strip()
            if e["TMUX_PANE"] == w10_pane:
                self.assertEqual(owner, "w-10")
        dispatched = {s[1]: s[2] for s in self.monitor.signals("TaskDispatched")}
        for tid, session in dispatched.items():
            pids = [e["pid"] for e in sb.fake_events("prompt") if e["text"].startswith(f"[{tid}]")]
            panes = {e["TMUX_PANE"] for e in sb.fake_events("start") if e["pid"] in pids}
            self.assertEqual(len(panes), 1)
            pane_owner = sb.tmux("display-message", "-p", "-t", panes.pop(), "#{session_name}",
                                 check=False).stdout.strip()
            if pane_owner:
                self.assertEqual(pane_owner, session)

    def test_dedicated_sessions_untouched(self):
        sb = self.sb
        project = os.path.join(sb.projects_dir, "web")
        for sub in ("inbox", "active", "done", "failed"):
            os.makedirs(queue_dir(project, sub))
        sb.write_config()
        sb.start_fake("ccl-1-web", "--dangerously-skip-permissions", cwd=project,
                      config_dir=os.path.join(sb.home, ".claude-main"))
        self.start({"pool": {"autonomous": {"min": 1, "max": 1},
                             "dedicated": [{"name": "ccl-1-web", "project": project}]}})
        for i in range(3):
            sb.add_task(f"w{i}", "FAKE:work=100", project=project)
        self.wait_done(project, ["w0", "w1", "w2"], timeout=40)
        dedicated_pane = sb.tmux("display-message", "-p", "-t", "=ccl-1-web:", "#{pane_id}").stdout.strip()
        self.assertEqual([e for e in sb.fake_events("prompt") if e["TMUX_PANE"] == dedicated_pane], [])
        self.assertEqual([e for e in sb.fake_events("exit") if e["TMUX_PANE"] == dedicated_pane], [])
        self.assertIn("ccl-1-web", sb.sessions())
        self.assertNotIn("ccl-1-web", [s[2] for s in self.monitor.signals("TaskDispatched")])

    def test_bad_task_files_fail_good_ones_run(self):
        sb = self.sb
        self.start({"pool": {"autonomous": {"min": 2, "max": 2}}})
        inbox = queue_dir(sb.project_dir, "inbox")
        with open(os.path.join(inbox, "broken-yaml.md"), "w") as f:
            f.write("---\ntitle: [unclosed\n---\nbody\n")
        with open(os.path.join(inbox, "bad-priority.md"), "w") as f:
            f.write("---\npriority: urgent\n---\nbody\n")
        with open(os.path.join(inbox, "latin1.md"), "wb") as f:
            f.write(b"caf\xe9 au lait\n")
        with open(os.path.join(inbox, "huge.md"), "w") as f:
            f.write("x" * (1024 * 1024 + 10))
        os.symlink("/etc/hostname", os.path.join(inbox, "link.md"))
        os.mkfifo(os.path.join(inbox, "fifo.md"))
        for i in range(3):
            sb.add_task(f"good{i}", "FAKE:work=100")
        self.wait_done(sb.project_dir, ["good0", "good1", "good2"], timeout=40)
        bad = ["bad-priority", "broken-yaml", "fifo", "huge", "latin1", "link"]
        sb.wait_for(lambda: set(bad) <= set(os.path.basename(p)[:-3] for p in
                                           glob.glob(os.path.join(queue_dir(sb.project_dir, "failed"), "*.md"))),
                    timeout=20, what="bad files in failed/")
        for name in bad:
            with open(os.path.join(queue_dir(sb.project_dir, "failed"), f"{name}.reason.txt")) as f:
                self.assertTrue(f.read().strip(), name)
        self.assertEqual(os.readlink(os.path.join(queue_dir(sb.project_dir, "failed"), "link.md")),
                         "/etc/hostname")
        self.assertIsNone(sb.daemon.poll())

    def test_submit_list_cancel_requeue_over_dbus(self):
        sb = self.sb
        self.start({"pool": {"autonomous": {"min": 1, "max": 1}}})
        sb.call("PauseDispatch")
        self.assertIs(sb.get_property("DispatchPaused"), True)
        tid = sb.call("SubmitTask", "sssa{sv}", "demo", "Fix the login", "Body FAKE:work=100", 2,
                      "priority", "s", "critical", "tags", "as", 2, "web", "auth")[0]
        self.assertTrue(tid.endswith(tuple("0123456789abcdef")), tid)
        with open(os.path.join(queue_dir(sb.project_dir, "inbox"), f"{tid}.md")) as f:
            text = f.read()
        self.assertIn("priority: critical", text)
        tasks = sb.call("ListTasks")[0]
        self.assertIn([sb.project_dir, tid, "inbox", "", "Fix the login"], [t[:5] for t in tasks])
        other = sb.call("SubmitTask", "sssa{sv}", sb.project_dir, "Other", "x", 0)[0]
        sb.call("CancelTask", "ss", "demo", other)
        self.assertEqual(task_ids(sb.project_dir, "failed"), [other])
        sb.call("RequeueTask", "ss", "demo", other)
        self.assertIn(other, task_ids(sb.project_dir, "inbox"))
        # Errors name the problem.
        r = gdbus_call(sb, "SubmitTask", "nope", "t", "b", "{}")
        self.assertIn("org.claudefailover.Error.NoSuchProject", r.stderr)
        r = gdbus_call(sb, "CancelTask", "demo", "no-such-task")
        self.assertIn("org.claudefailover.Error.NoSuchTask", r.stderr)
        r = gdbus_call(sb, "CancelTask", "demo", "../etc")
        self.assertIn("org.claudefailover.Error.InvalidArgument", r.stderr)
        r = gdbus_call(sb, "SubmitTask", "demo", "t", "b", "{'priority': <'urgent'>}")
        self.assertIn("org.claudefailover.Error.InvalidArgument", r.stderr)
        self.assertIn("critical, high, default or low", r.stderr)
        r = gdbus_call(sb, "SubmitTask", "demo", "t", "b", "{'colour': <'red'>}")
        self.assertIn("unknown option 'colour'", r.stderr)
        r = gdbus_call(sb, "RecycleSession", "nope")
        self.assertIn("org.claudefailover.Error.NoSuchSession", r.stderr)
        # Unprivileged callers are refused before anything changes.
        if subprocess.run(["id", "nobody"], capture_output=True).returncode == 0 and os.getuid() == 0:
            r = gdbus_call(sb, "ResumeDispatch", user="nobody")
            self.assertIn("org.freedesktop.DBus.Error.AccessDenied", r.stderr)
            self.assertIn("polkit is not running", r.stderr)   # no polkitd on this bus
            self.assertIs(sb.get_property("DispatchPaused"), True)
            r = gdbus_call(sb, "ReportHookEvent", "Stop", "%1", "{}", user="nobody")
            self.assertIn("org.freedesktop.DBus.Error.AccessDenied", r.stderr)
            self.assertIn("Only root or uid", r.stderr)
            # Reads stay open to everyone.
            r = gdbus_call(sb, "GetStatus", user="nobody")
            self.assertEqual(r.returncode, 0, r.stderr)
        sb.call("ResumeDispatch")
        self.wait_done(sb.project_dir, [tid, other], timeout=30)

    def test_requeued_task_dispatched_when_its_cooldown_ends(self):
        """A task waiting for its attempt's cooldown goes out when the cooldown
        ends (a timer), not at the next unrelated inbox event."""
        sb = self.sb
        cooldown = 3
        self.start({"pool": {"autonomous": {"min": 1, "max": 1}},
                    "dispatcher": {"cooldown_schedule": [0, cooldown]}})
        sb.add_task("retry", "FAKE:work=20000")
        sb.wait_for(lambda: self.monitor.signals("TaskDispatched"), timeout=20, what="dispatched")
        session = self.monitor.signals("TaskDispatched")[0][2]
        sb.tmux("kill-session", "-t", f"={session}")
        sb.wait_for(lambda: any(f[1] == "retry" and f[3] == "requeued"
                                for f in self.monitor.signals("TaskFinished")),
                    timeout=20, what="TaskFinished requeued")
        requeued_at = time.monotonic()
        # Nothing else happens in any inbox meanwhile.
        sb.wait_for(lambda: len(self.monitor.signals("TaskDispatched")) == 2, timeout=cooldown + 10,
                    what="the second dispatch")
        waited = time.monotonic() - requeued_at
        print(f"requeued → dispatched again: {waited:.2f} s (cooldown {cooldown} s)")
        self.assertGreaterEqual(waited, cooldown - 0.5)
        self.assertLess(waited, cooldown + 2.5)

    def test_session_dying_while_working_requeues(self):
        sb = self.sb
        self.start({"pool": {"autonomous": {"min": 1, "max": 1}},
                    "dispatcher": {"cooldown_schedule": [0]}})
        sb.add_task("fragile", "FAKE:work=3000")
        sb.wait_for(lambda: self.monitor.signals("TaskDispatched"), timeout=20, what="dispatched")
        session = self.monitor.signals("TaskDispatched")[0][2]
        sb.tmux("kill-session", "-t", f"={session}")
        sb.wait_for(lambda: ["demo", "fragile"] and
                    any(f[1] == "fragile" and f[3] == "requeued"
                        for f in self.monitor.signals("TaskFinished")),
                    timeout=20, what="TaskFinished requeued")
        self.wait_done(sb.project_dir, ["fragile"], timeout=40)
        with open(os.path.join(sb.project_dir, ".agent-queue", "meta", "fragile.json")) as f:
            self.assertEqual(json.load(f)["attempts"], 2)
        self.assertEqual(len(self.monitor.signals("TaskDispatched")), 2)
        sb.stop_daemon()
        with open(sb.config["state_file"]) as f:
            state = json.load(f)
        failed = [s for s in state["sessions"] if s["name"] == session][0]
        self.assertGreater(failed["last_fail"], 0)

    def test_claude_exiting_at_once_fails_the_launch_without_waiting(self):
        sb = self.sb
        # A "claude" that exits at once: the dead pane says so, no prompt_timeout wait.
        self.start({"pool": {"autonomous": {"min": 1, "max": 1}},
                    "tmux": {"claude_command": "/bin/false"},
                    "dispatcher": {"prompt_timeout": "30s", "max_dispatch_per_task": 1,
                                   "cooldown_schedule": [0]}})
        started = time.monotonic()
        sb.add_task("gone", "never runs")
        sb.wait_for(lambda: task_ids(sb.project_dir, "failed") == ["gone"], timeout=20,
                    what="task in failed/ after the launch failed")
        self.assertLess(time.monotonic() - started, 15)
        with open(os.path.join(queue_dir(sb.project_dir, "failed"), "gone.reason.txt")) as f:
            self.assertIn("Claude exited before showing its prompt", f.read())

    def test_blank_dead_pane_fails_the_launch_without_waiting(self):
        sb = self.sb
        # A "claude" that lets go of its terminal before drawing anything:
        # tmux marks the pane dead with a blank screen and no exit status, so
        # no "Pane is dead" line ever shows (CI saw /bin/false do this under
        # load). The launch asks tmux instead of waiting prompt_timeout.
        self.start({"pool": {"autonomous": {"min": 1, "max": 1}},
                    "tmux": {"claude_command":
                             "/bin/sh -c 'trap \"\" HUP; exec sleep 60 </dev/null >/dev/null 2>&1' sh"},
                    "dispatcher": {"prompt_timeout": "30s", "max_dispatch_per_task": 1,
                                   "cooldown_schedule": [0]}})
        started = time.monotonic()
        sb.add_task("mute", "never runs")
        sb.wait_for(lambda: task_ids(sb.project_dir, "failed") == ["mute"], timeout=20,
                    what="task in failed/ after the pane died blank")
        self.assertLess(time.monotonic() - started, 15)
        with open(os.path.join(queue_dir(sb.project_dir, "failed"), "mute.reason.txt")) as f:
            self.assertIn("its pane is dead", f.read())

    def test_launch_failure_counts_attempts_then_fails(self):
        sb = self.sb
        # A "claude" that runs but never shows its prompt.
        self.start({"pool": {"autonomous": {"min": 1, "max": 1}},
                    "tmux": {"claude_command": "/bin/sh -c 'exec sleep 60' sh"},
                    "dispatcher": {"prompt_timeout": "1s", "max_dispatch_per_task": 2,
                                   "cooldown_schedule": [0]}})
        sb.add_task("doomed", "never runs")
        sb.wait_for(lambda: task_ids(sb.project_dir, "failed") == ["doomed"], timeout=40,
                    what="task in failed/ after 2 launch failures")
        with open(os.path.join(queue_dir(sb.project_dir, "failed"), "doomed.reason.txt")) as f:
            reason = f.read()
        self.assertIn("not ready within 1000 ms", reason)
        self.assertIn("2 attempts", reason)
        # The signal comes after the move, through the monitor's own connection.
        sb.wait_for(lambda: len([f for f in self.monitor.signals("TaskFinished")
                                 if f[1] == "doomed"]) >= 2, timeout=10,
                    what="two TaskFinished signals for the task")
        outcomes = [f[3] for f in self.monitor.signals("TaskFinished") if f[1] == "doomed"]
        self.assertEqual(outcomes, ["requeued", "failed"])
        self.assertIsNone(sb.daemon.poll())
        # The pool comes back after each failed launch.
        sb.wait_for(lambda: any(s[2] == "idle" for s in sb.get_property("Sessions")),
                    timeout=20, what="pool session idle again")


if __name__ == "__main__":
    unittest.main(verbosity=2)
