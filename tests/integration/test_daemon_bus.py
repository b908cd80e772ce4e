#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""claude-failoverd on a private system bus with a private tmux server:
introspection equals the canonical XML, live properties, GetStatus, the pool
lifecycle, tmux server death, exact session names, sd_notify, reload,
clean exit, a corrupt state file, a taken bus name."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUS_NAME, INTERFACE, OBJECT_PATH, SandboxTestCase  # noqa: E402

PROPERTIES = ["Version", "ActiveAccount", "Accounts", "SwapState", "PartialSwap", "LastSwap",
              "ReturnAt", "DispatchPaused", "Sessions", "PendingTasks", "TasksDispatched",
              "TasksCompleted", "TasksFailed", "TasksDelegated", "Usage",
              "ClaudeVersion", "DispatchPausedReason", "DispatchResumesAt"]


def interface_members(xml_text):
    """Methods, properties and signals of the Manager interface, normalised."""
    root = ET.fromstring(xml_text)
    iface = next(i for i in root.iter("interface") if i.get("name") == INTERFACE)
    members = set()
    for m in iface.findall("method"):
        args = tuple((a.get("name"), a.get("type"), a.get("direction", "in"))
                     for a in m.findall("arg"))
        members.add(("method", m.get("name"), args))
    for s in iface.findall("signal"):
        args = tuple((a.get("name"), a.get("type")) for a in s.findall("arg"))
        members.add(("signal", s.get("name"), args))
    for p in iface.findall("property"):
        emits = {a.get("name"): a.get("value") for a in p.findall("annotation")}.get(
            "org.freedesktop.DBus.Property.EmitsChangedSignal", "true")
        members.add(("property", p.get("name"), p.get("type"), p.get("access"), emits))
    return members


def idle_pool(sb, n):
    return sum(1 for s in sb.get_property("Sessions")
               if s[1] == "pool" and s[2] == "idle") >= n


class DaemonBusTest(SandboxTestCase):

    def test_introspection_matches_canonical_xml(self):
        sb = self.sb
        sb.write_config()
        sb.start_daemon()
        live = sb.gdbus("introspect", "--dest", BUS_NAME, "--object-path", OBJECT_PATH,
                        "--xml").stdout
        with open(os.path.join(sb.source_dir, "data", "dbus",
                               "org.claudefailover.Manager.xml")) as f:
            canonical = f.read()
        self.assertEqual(interface_members(live), interface_members(canonical))
        # busctl shows the same interface (the README's way of looking at it).
        out = sb.busctl("introspect", BUS_NAME, OBJECT_PATH, INTERFACE).stdout
        for name in PROPERTIES + ["GetStatus", "SessionChanged"]:
            self.assertIn(name, out)

    def test_live_properties_and_get_status(self):
        sb = self.sb
        sb.write_config()
        sb.start_daemon()
        version = sb.run([sb.daemon_path, "--version"]).stdout.split()[-1]
        self.assertEqual(sb.get_property("Version"), version)
        self.assertEqual(sb.get_property("ActiveAccount"), "main")
        accounts = sb.get_property("Accounts")
        self.assertEqual([a[0] for a in accounts], ["main", "backup"])
        self.assertEqual(accounts[0][1], os.path.join(sb.home, ".claude-main"))
        self.assertEqual([a[2] for a in accounts], [True, True])
        self.assertEqual(sb.get_property("SwapState"), "normal")
        self.assertIs(sb.get_property("PartialSwap"), False)
        self.assertEqual(sb.get_property("LastSwap"), [0, "", ""])
        self.assertEqual(sb.get_property("ReturnAt"), 0)
        self.assertIs(sb.get_property("DispatchPaused"), False)
        self.assertEqual(sb.get_property("TasksDispatched"), 0)

        sb.wait_for(lambda: idle_pool(sb, 2), timeout=15, what="2 idle pool sessions")
        # The Claude version is probed in the background (`claude --version`):
        # compared once it is known, or the two reads may straddle the probe.
        sb.wait_for(lambda: sb.get_property("ClaudeVersion"), timeout=15, what="ClaudeVersion")
        status = sb.call("GetStatus")[0]
        self.assertEqual(sorted(status), sorted(PROPERTIES))
        for name in PROPERTIES:
            if name != "Sessions":  # "since" can move between two reads
                self.assertEqual(status[name]["data"], sb.get_property(name), name)
        names = sorted(s[0] for s in status["Sessions"]["data"])
        self.assertEqual(names, ["ccl-auto-0", "ccl-auto-1"])
        for s in status["Sessions"]["data"]:
            self.assertEqual(s[1:3], ["pool", "idle"])
            self.assertGreater(s[6], (time.time() - 60) * 1e6)

        # GetStatus reuses its snapshot until the state changes: a change
        # shows in the very next call, from the same connection as the change.
        for paused in (True, False, True):
            sb.call("PauseDispatch" if paused else "ResumeDispatch")
            self.assertIs(sb.call("GetStatus")[0]["DispatchPaused"]["data"], paused)
        sb.call("ResumeDispatch")

        # Reads are open to any user.
        if os.getuid() == 0:
            r = sb.gdbus("call", "--dest", BUS_NAME, "--object-path", OBJECT_PATH, "--method",
                         f"{INTERFACE}.GetStatus", user="nobody", check=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("'ActiveAccount': <'main'>", r.stdout)
            r = sb.ctl("status", user="nobody")
            self.assertEqual(r.returncode, 0, r.stderr)

        # The CLI renders the same snapshot.
        r = sb.ctl("--json", "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["active_account"], "main")
        self.assertEqual(sorted(s["name"] for s in doc["sessions"]), names)
        human = sb.ctl("status")
        self.assertEqual(human.returncode, 0, human.stderr)
        self.assertIn("ccl-auto-0", human.stdout)

    def test_pool_recreated_when_tmux_server_dies(self):
        sb = self.sb
        sb.write_config()
        sb.start_daemon()
        sb.wait_for(lambda: idle_pool(sb, 2), timeout=15, what="initial pool")
        self.assertEqual(sorted(n for n in sb.sessions() if n.startswith("ccl-auto-")),
                         ["ccl-auto-0", "ccl-auto-1"])

        # Poll D-Bus continuously while the tmux server is gone.
        failures, calls, stop = [], [0], threading.Event()

        def hammer():
            while not stop.is_set():
                r = sb.call("GetStatus", check=False)
                calls[0] += 1
                if r.returncode != 0:
                    failures.append(r.stderr)
                time.sleep(0.02)

        t = threading.Thread(target=hammer)
        t.start()
        try:
            sb.tmux("kill-server")
            sb.wait_for(lambda: sorted(n for n in sb.sessions() if n.startswith("ccl-auto-"))
                        == ["ccl-auto-0", "ccl-auto-1"] and idle_pool(sb, 2),
                        timeout=20, what="pool recreated after the tmux server died")
            # A fast recovery must not leave the bus untested: a few more calls.
            done_at = calls[0]
            sb.wait_for(lambda: calls[0] >= done_at + 5, timeout=20, what="GetStatus calls")
        finally:
            stop.set()
            t.join()
        self.assertIsNone(sb.daemon.poll(), "daemon died with the tmux server")
        self.assertGreater(calls[0], 5)
        self.assertEqual(failures, [])

    def test_pool_session_killed_is_recreated_and_announced(self):
        sb = self.sb
        sb.write_config()
        sb.start_daemon()
        sb.wait_for(lambda: idle_pool(sb, 2), timeout=15, what="initial pool")
        monitor = subprocess.Popen(
            ["gdbus", "monitor", "--address", sb.bus_address, "--dest", BUS_NAME],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=sb.env())
        try:
            time.sleep(0.5)  # let the monitor subscribe
            sb.tmux("kill-session", "-t", "=ccl-auto-1")
            sb.wait_for(lambda: "ccl-auto-1" in sb.sessions() and idle_pool(sb, 2),
                        timeout=15, what="ccl-auto-1 recreated")
            time.sleep(0.5)
        finally:
            monitor.terminate()
            out = monitor.communicate(timeout=10)[0]
        self.assertIn("SessionChanged ('ccl-auto-1', 'dead'", out)
        self.assertIn("SessionChanged ('ccl-auto-1', 'idle'", out)
        self.assertIn("PropertiesChanged", out)
        self.assertIn("'Sessions'", out)

    def test_exact_names_never_prefix_matched(self):
        sb = self.sb
        # ccl-auto-11 belongs to someone else; the pool is ccl-auto-1 only.
        sb.new_session("ccl-auto-11", command="sleep 1000")
        sb.write_config({"pool": {"autonomous": {"start_index": 1, "min": 1, "max": 1}}})
        sb.start_daemon()
        sb.wait_for(lambda: "ccl-auto-1" in sb.sessions() and idle_pool(sb, 1),
                    timeout=15, what="ccl-auto-1 created although ccl-auto-11 exists")
        names = [s[0] for s in sb.get_property("Sessions")]
        self.assertEqual(names, ["ccl-auto-1"])
        pid = sb.tmux("display-message", "-p", "-t", "=ccl-auto-11:", "#{pane_pid}").stdout
        self.assertTrue(pid.strip().isdigit())
        sb.tmux("kill-session", "-t", "=ccl-auto-1")
        sb.wait_for(lambda: "ccl-auto-1" in sb.sessions() and idle_pool(sb, 1),
                    timeout=15, what="ccl-auto-1 recreated")
        # ccl-auto-11 untouched: same process, never adopted.
        self.assertEqual(sb.tmux("display-message", "-p", "-t", "=ccl-auto-11:",
                                 "#{pane_pid}").stdout, pid)
        self.assertNotIn("ccl-auto-11", [s[0] for s in sb.get_property("Sessions")])

    def test_dedicated_sessions_marked_not_created(self):
        sb = self.sb
        project = os.path.join(sb.home, "projects", "web")
        os.makedirs(project)
        sb.new_session("ccl-1-web", command="sleep 1000")
        sb.write_config({"pool": {"dedicated": [{"name": "ccl-1-web", "project": project},
                                                {"name": "ccl-2-api"}]}})
        sb.start_daemon()
        sb.wait_for(lambda: idle_pool(sb, 2), timeout=15, what="pool")
        sessions = {s[0]: s for s in sb.get_property("Sessions")}
        self.assertEqual(sessions["ccl-1-web"][1:3], ["dedicated", "idle"])
        self.assertEqual(sessions["ccl-2-api"][1:3], ["dedicated", "dead"])
        time.sleep(0.6)  # several lifecycle passes
        self.assertNotIn("ccl-2-api", sb.sessions(), "a dedicated session was created")

    def test_sd_notify_ready_status_watchdog_stopping(self):
        sb = self.sb
        sb.write_config()
        path = os.path.join(sb.root, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(0.2)
        self.addCleanup(sock.close)
        sb.start_daemon(env=sb.env(NOTIFY_SOCKET=path, WATCHDOG_USEC=300000))
        messages = []

        def received(text):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if any(text in m for m in messages):
                    return True
                try:
                    messages.append(sock.recv(4096).decode())
                except socket.timeout:
                    pass
            return False

        self.assertTrue(received("READY=1"), messages)
        self.assertTrue(received("STATUS="), messages)
        # With WATCHDOG_USEC=300ms sd-event pings every ~150ms: count what
        # arrives over one second.
        fresh, deadline = [], time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                fresh.append(sock.recv(4096).decode())
            except socket.timeout:
                pass
        messages.extend(fresh)
        pings = sum(m.count("WATCHDOG=1") for m in fresh)
        self.assertGreaterEqual(pings, 3, fresh)
        self.assertEqual(sb.stop_daemon(), 0)
        self.assertTrue(received("STOPPING=1"), messages)

    def test_sigterm_flushes_state_and_restart_keeps_it(self):
        sb = self.sb
        sb.write_config()
        sb.start_daemon()
        sb.wait_for(lambda: idle_pool(sb, 2), timeout=15, what="pool")
        self.assertEqual(sb.stop_daemon(), 0)
        state_file = sb.config["state_file"]
        with open(state_file) as f:
            state = json.load(f)
        self.assertEqual(state["version"], 1)
        self.assertEqual(state["active_account"], "main")
        self.assertEqual(sorted(s["name"] for s in state["sessions"]),
                         ["ccl-auto-0", "ccl-auto-1"])
        self.assertEqual(os.stat(state_file).st_mode & 0o777, 0o600)
        # Restart: the sessions still exist in tmux and are adopted, not recreated.
        pids = {n: sb.tmux("display-message", "-p", "-t", f"={n}:", "#{pane_pid}").stdout
                for n in ("ccl-auto-0", "ccl-auto-1")}
        sb.start_daemon()
        sb.wait_for(lambda: idle_pool(sb, 2), timeout=15, what="pool adopted")
        for n, pid in pids.items():
            self.assertEqual(sb.tmux("display-message", "-p", "-t", f"={n}:",
                                     "#{pane_pid}").stdout, pid)

    def test_corrupt_state_file_is_moved_aside(self):
        sb = self.sb
        sb.write_config()
        state_file = sb.config["state_file"]
        with open(state_file, "w") as f:
            f.write("{ not json")
        sb.start_daemon()
        aside = [n for n in os.listdir(os.path.dirname(state_file)) if ".corrupt-" in n]
        self.assertEqual(len(aside), 1)
        with open(os.path.join(os.path.dirname(state_file), aside[0])) as f:
            self.assertEqual(f.read(), "{ not json")
        self.assertIn("corrupt", sb.daemon_log())
        self.assertEqual(sb.get_property("ActiveAccount"), "main")

    def test_sighup_reload_applies_and_rejects_bad_config(self):
        sb = self.sb
        sb.write_config()
        sb.start_daemon()
        sb.wait_for(lambda: idle_pool(sb, 2), timeout=15, what="pool")
        sb.write_config({"pool": {"autonomous": {"min": 3}}})
        sb.daemon.send_signal(signal.SIGHUP)
        sb.wait_for(lambda: idle_pool(sb, 3), timeout=15, what="third session after reload")
        with open(sb.config_path, "w") as f:
            f.write("accounts: [\n")
        sb.daemon.send_signal(signal.SIGHUP)
        sb.wait_for(lambda: "Reload refused" in sb.daemon_log(), timeout=10,
                    what="refused reload logged")
        self.assertIsNone(sb.daemon.poll())
        self.assertEqual(sb.get_property("ActiveAccount"), "main")

    def test_second_instance_cannot_take_the_name(self):
        sb = self.sb
        sb.write_config()
        first = sb.start_daemon()
        second = subprocess.run([sb.daemon_path, "--config", sb.config_path],
                                capture_output=True, text=True, env=sb.env(), timeout=20)
        self.assertEqual(second.returncode, 1)
        self.assertIn(BUS_NAME, second.stderr)
        self.assertIsNone(first.poll())

    def test_bus_going_away_exits_cleanly(self):
        sb = self.sb
        sb.write_config()
        sb.start_daemon()
        sb._kill_group(sb._bus_proc)
        sb.daemon.wait(timeout=10)
        # Non-zero so that Restart=on-failure restarts it, but no crash, and
        # the state was flushed on the way out.
        self.assertEqual(sb.daemon.returncode, 1)
        self.assertIn("system bus connection was closed", sb.daemon_log())
        with open(sb.config["state_file"]) as f:
            self.assertEqual(json.load(f)["active_account"], "main")


if __name__ == "__main__":
    unittest.main(verbosity=2)
