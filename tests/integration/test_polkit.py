#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""polkit guards every mutating method of org.claudefailover.Manager
(ARCHITECTURE.md 4.5), on a private system-bus-like dbus-daemon:

- MockPolkitTest: python3-dbusmock's polkitd template. An unprivileged caller
  (nobody) is denied each method with AccessDenied until its action is
  allowed (SwitchAccount and ClearPartialSwap included), and nothing changes
  on a denial; reads stay open; the subject is
  the caller's bus name and AllowUserInteraction follows the caller's flag;
  a challenge without interaction allowed is InteractiveAuthorizationRequired;
  polkitd absent or failing denies with a clear message; root and the
  daemon's own user pass without polkit; ReportHookEvent never asks polkit.
- RealPolkitdTest: the real /usr/lib/polkit-1/polkitd reading the BUILT
  policy (bind-mounted over /usr/share/polkit-1/actions in a private mount
  namespace), the daemon running as the configured service user, not root:
  the owner annotation is what lets polkitd answer the daemon at all.

Needs root (runuser, mount namespaces): skips elsewhere, runs in CI.
"""

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUS_NAME, INTERFACE, OBJECT_PATH, Sandbox, build_dir, sanitized,  # noqa: E402
                     require, require_programs, user_exists, has_failed)

POLKIT_NAME = "org.freedesktop.PolicyKit1"
AUTHORITY_PATH = "/org/freedesktop/PolicyKit1/Authority"
AUTHORITY_IFACE = "org.freedesktop.PolicyKit1.Authority"
MOCK_IFACE = "org.freedesktop.DBus.Mock"
POLKITD = "/usr/lib/polkit-1/polkitd"

MANAGE_TASKS = "org.claudefailover.manage-tasks"
CONTROL = "org.claudefailover.control"
SWITCH_ACCOUNT = "org.claudefailover.switch-account"
ACTIONS = [MANAGE_TASKS, CONTROL, SWITCH_ACCOUNT]

ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
INTERACTIVE_REQUIRED = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"

CALLER = "nobody"
NS_MARKER = "CF_TEST_POLKIT_MOUNT_NS"


# Sends N SubmitTask calls with 1 MB bodies, interactive authorization
# allowed, on one connection at once; prints {"errors": {name: count}, "pending": unanswered after the
# errors stopped coming, "sample": one error text}.
FLOOD_SCRIPT = r"""
import json, sys, time
from gi.repository import Gio, GLib
flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
         | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
bus = Gio.DBusConnection.new_for_address_sync(sys.argv[1], flags, None, None)
n = int(sys.argv[2])
errors, sample, answered = {}, [], [0]
body = "x" * (1024 * 1024 - 4096)
loop = GLib.MainLoop()
last = [time.monotonic()]
def done(connection, result, user_data):
    try:
        connection.call_finish(result)
    except GLib.Error as e:
        name = Gio.DBusError.get_remote_error(e) or e.message
        errors[name] = errors.get(name, 0) + 1
        sample.append(e.message)
    answered[0] += 1
    last[0] = time.monotonic()
for i in range(n):
    bus.call("org.claudefailover", "/org/claudefailover/Manager", "org.claudefailover.Manager",
             "SubmitTask", GLib.Variant("(sssa{sv})", ("demo", f"flood {i}", body, {})), None,
             Gio.DBusCallFlags.ALLOW_INTERACTIVE_AUTHORIZATION, 300000, None, done, None)
start = time.monotonic()
def check():
    now = time.monotonic()
    if (answered[0] > 0 and now - last[0] > 5) or now - start > 100:
        loop.quit()
        return False
    return True
GLib.timeout_add(200, check)
loop.run()
print(json.dumps({"errors": errors, "pending": n - answered[0],
                  "sample": next((s for s in sample if "pending" in s), sample[0] if sample else "")}))
"""


def rss_anon_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon")


def gvariant_strv(items):
    return "@as [" + ", ".join(repr(i) for i in items) + "]"


def gdbus_call(sb, method, *args, user=None, interactive=False, check=False):
    """gdbus call on the Manager; its errors name the D-Bus error."""
    argv = ["--dest", BUS_NAME, "--object-path", OBJECT_PATH, "--method", f"{INTERFACE}.{method}"]
    if interactive:
        argv.append("--interactive")
    return sb.gdbus("call", *argv, *args, user=user, check=check)


def queue_ids(sb, place):
    d = os.path.join(sb.project_dir, ".agent-queue", place)
    return sorted(n[:-3] for n in os.listdir(d) if n.endswith(".md"))


def pane_id(sb, session):
    r = sb.tmux("display-message", "-p", "-t", f"={session}:", "#{pane_id}", check=False)
    return r.stdout.strip() if r.returncode == 0 else None


def idle_pool(sb, n):
    return sum(1 for s in sb.get_property("Sessions")
               if s[1] == "pool" and s[2] == "idle") >= n


class MockPolkitd:
    """python3-dbusmock's polkitd template, owned by root on the sandbox bus."""

    def __init__(self, sb):
        self.sb = sb
        self.proc = sb.spawn(["/usr/bin/python3", "-m", "dbusmock", "--system", "--template",
                              "polkitd"], log_path=os.path.join(sb.root, "polkitd-mock.log"))
        sb.wait_for(lambda: sb.name_has_owner(POLKIT_NAME) or self.proc.poll() is not None,
                    timeout=15, what="the mock polkitd on the bus")
        if self.proc.poll() is not None:
            raise AssertionError("dbusmock exited:\n" + open(
                os.path.join(sb.root, "polkitd-mock.log")).read())

    def mock(self, method, *args):
        return self.sb.gdbus("call", "--dest", POLKIT_NAME, "--object-path", AUTHORITY_PATH,
                             "--method", f"{MOCK_IFACE}.{method}", *args).stdout

    def set_allowed(self, actions):
        self.mock("SetAllowed", gvariant_strv(actions))

    def replace_check(self, code, out_sig="(bba{ss})"):
        """CheckAuthorization runs CODE (dbusmock AddMethod: args, ret) and is logged."""
        self.mock("AddMethod", AUTHORITY_IFACE, "CheckAuthorization", "(sa{sv})sa{ss}us",
                  out_sig, code)

    def check_calls(self):
        """Arguments of every logged CheckAuthorization (after replace_check),
        as plain Python values."""
        import dbus  # Debian's dbus-python, there with dbusmock
        bus = dbus.bus.BusConnection(self.sb.bus_address)
        try:
            calls = bus.get_object(POLKIT_NAME, AUTHORITY_PATH).GetMethodCalls(
                "CheckAuthorization", dbus_interface=MOCK_IFACE)
            return [plain(args) for _, args in calls]
        finally:
            bus.close()

    def stop(self):
        self.sb._kill_group(self.proc)
        self.sb.wait_for(lambda: not self.sb.name_has_owner(POLKIT_NAME), timeout=10,
                         what="the mock polkitd gone")


def require_dbusmock():
    r = subprocess.run(["/usr/bin/python3", "-c", "import dbusmock"], capture_output=True)
    require(r.returncode == 0, "python3-dbusmock is not installed for /usr/bin/python3")


class MockPolkitTest(unittest.TestCase):
    def setUp(self):
        self.sb = Sandbox(self.id().rsplit(".", 1)[-1])
        self.addCleanup(self._close)
        self.sb.start_bus(mock_names=[POLKIT_NAME])
        self.sb.start_tmux()

    def _close(self):
        if has_failed(self):
            self.sb.dump_logs()
        self.sb.close()

    def start(self, polkit=True, **config):
        sb = self.sb
        self.polkit = MockPolkitd(sb) if polkit else None
        sb.write_config(deep({"pool": {"autonomous": {"min": 1, "max": 1}}}, config))
        sb.start_daemon()
        sb.wait_for(lambda: idle_pool(sb, 1), timeout=20, what="an idle pool session")

    def assert_denied(self, r, name=ACCESS_DENIED, text=None):
        self.assertNotEqual(r.returncode, 0, f"allowed: {r.stdout}")
        self.assertIn(name, r.stderr)
        if text is not None:
            self.assertIn(text, r.stderr)

    def assert_allowed(self, r):
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_each_method_denied_until_its_action_is_allowed(self):
        sb = self.sb
        self.start()
        session = "ccl-auto-0"
        pane_before = pane_id(sb, session)
        submitted = []

        def task_args():
            return ["'demo'", f"'{submitted[0]}'"]

        def submit_took_effect():
            if len(queue_ids(sb, "inbox")) == 1 and not submitted:
                submitted.extend(queue_ids(sb, "inbox"))
            return len(submitted) == 1

        spare = os.path.join(sb.home, ".claude-spare")
        # method, its gdbus arguments, action, unchanged() after a denial, changed() once allowed.
        # Dispatch stays paused until the end, so tasks stay where the calls put them.
        cases = [
            ("PauseDispatch", lambda: [], CONTROL,
             lambda: sb.get_property("DispatchPaused") is False,
             lambda: sb.get_property("DispatchPaused") is True),
            ("SubmitTask", lambda: ["'demo'", "'From nobody'", "'body'", "@a{sv} {}"],
             MANAGE_TASKS,
             lambda: queue_ids(sb, "inbox") == [],
             submit_took_effect),
            ("CancelTask", task_args, MANAGE_TASKS,
             lambda: queue_ids(sb, "inbox") == submitted and queue_ids(sb, "failed") == [],
             lambda: queue_ids(sb, "failed") == submitted),
            ("RequeueTask", task_args, MANAGE_TASKS,
             lambda: queue_ids(sb, "failed") == submitted,
             lambda: queue_ids(sb, "inbox") == submitted and queue_ids(sb, "failed") == []),
            ("RecycleSession", lambda: [f"'{session}'"], CONTROL,
             lambda: pane_id(sb, session) == pane_before,
             lambda: pane_id(sb, session) not in (None, pane_before)),
            ("Reload", lambda: [], CONTROL,
             lambda: len(sb.get_property("Accounts")) == 2,
             lambda: len(sb.get_property("Accounts")) == 3),
            ("ResumeDispatch", lambda: [], CONTROL,
             lambda: sb.get_property("DispatchPaused") is True,
             lambda: sb.get_property("DispatchPaused") is False),
        ]
        for method, args, action, unchanged, changed in cases:
            with self.subTest(method=method):
                if method == "Reload":
                    os.makedirs(spare, exist_ok=True)
                    sb.write_config(deep(sb.config, {"accounts": sb.config["accounts"] + [
                        {"name": "spare", "home": spare}]}))
                self.assert_guarded(method, args(), action, unchanged, changed)

    def assert_guarded(self, method, args, action, unchanged, changed):
        """METHOD (ARGS) from CALLER: denied while ACTION is not allowed, with
        unchanged() still true afterwards; allowed, then changed(), once it is."""
        sb = self.sb
        self.polkit.set_allowed([])
        r = gdbus_call(sb, method, *args, user=CALLER)
        self.assert_denied(r, text=f"Not authorized to call {method} (polkit action {action})")
        # Allowing every other action does not allow this one.
        self.polkit.set_allowed([a for a in ACTIONS if a != action])
        self.assert_denied(gdbus_call(sb, method, *args, user=CALLER))
        time.sleep(0.3)   # anything a denied call could have started has happened
        self.assertTrue(unchanged(), f"{method} changed the state although denied")
        self.polkit.set_allowed([action])
        self.assert_allowed(gdbus_call(sb, method, *args, user=CALLER))
        sb.wait_for(changed, timeout=20, what=f"{method} taking effect")

    def test_switch_account_and_clear_partial_swap(self):
        sb = self.sb
        self.start()
        main_home = os.path.join(sb.home, ".claude-main")
        link = os.path.join(sb.home, ".claude")
        # A partial swap, as in test_failover: ~/.claude replaced by a real
        # directory makes the switch and its rollback fail (root, no polkit).
        os.unlink(link)
        os.makedirs(link)
        self.assert_allowed(gdbus_call(sb, "SwitchAccount", "'backup'"))
        sb.wait_for(lambda: sb.get_property("PartialSwap") is True, timeout=20,
                    what="PartialSwap")
        os.rmdir(link)
        os.symlink(main_home, link)
        self.assert_guarded("ClearPartialSwap", [], SWITCH_ACCOUNT,
                            lambda: sb.get_property("PartialSwap") is True,
                            lambda: sb.get_property("PartialSwap") is False)
        self.assert_guarded("SwitchAccount", ["'backup'"], SWITCH_ACCOUNT,
                            lambda: (sb.get_property("ActiveAccount") == "main"
                                     and sb.get_property("SwapState") == "normal"),
                            lambda: sb.get_property("ActiveAccount") == "backup")
        self.assertEqual(os.readlink(link), os.path.join(sb.home, ".claude-backup"))

    def test_reads_are_open_to_everyone(self):
        sb = self.sb
        self.start()
        self.polkit.set_allowed([])
        for method in ("GetStatus", "ListTasks"):
            self.assert_allowed(gdbus_call(sb, method, user=CALLER))
        r = sb.busctl("--json=short", "get-property", BUS_NAME, OBJECT_PATH, INTERFACE,
                      "DispatchPaused", user=CALLER)
        self.assertIs(json.loads(r.stdout)["data"], False)
        r = sb.gdbus("call", "--dest", BUS_NAME, "--object-path", OBJECT_PATH, "--method",
                     "org.freedesktop.DBus.Properties.GetAll", INTERFACE, user=CALLER, check=False)
        self.assert_allowed(r)
        self.assertIn("'ActiveAccount': <'main'>", r.stdout)
        r = sb.gdbus("introspect", "--dest", BUS_NAME, "--object-path", OBJECT_PATH,
                     user=CALLER, check=False)
        self.assert_allowed(r)
        self.assertIn("Reload", r.stdout)
        self.assertEqual(sb.ctl("status", user=CALLER).returncode, 0)

    def test_subject_and_interaction_flag(self):
        sb = self.sb
        self.start()
        self.polkit.replace_check("ret = (False, False, {})")
        self.assert_denied(gdbus_call(sb, "PauseDispatch", user=CALLER))
        self.assert_denied(gdbus_call(sb, "PauseDispatch", user=CALLER, interactive=True))
        calls = self.polkit.check_calls()
        self.assertEqual(len(calls), 2, calls)
        daemon_name = json.loads(sb.busctl(
            "--json=short", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
            "org.freedesktop.DBus", "GetNameOwner", "s", BUS_NAME).stdout)["data"][0]
        names = set()
        for (subject_kind, subject), action, details, flags, cancel in calls:
            self.assertEqual(subject_kind, "system-bus-name")
            self.assertEqual(list(subject), ["name"])
            self.assertRegex(subject["name"], r"^:\d+\.\d+$")
            self.assertNotEqual(subject["name"], daemon_name)
            names.add(subject["name"])
            self.assertEqual(action, CONTROL)
            self.assertEqual(details, {})
            self.assertEqual(cancel, "")
        self.assertEqual(len(names), 2)   # each gdbus call is its own connection
        self.assertEqual([c[3] for c in calls], [0, 1])   # AllowUserInteraction iff the flag
        self.assertIs(sb.get_property("DispatchPaused"), False)

    def test_challenge_needs_interactive_authorization(self):
        sb = self.sb
        self.start()
        self.polkit.replace_check("ret = (False, True, {})")
        r = gdbus_call(sb, "PauseDispatch", user=CALLER)
        self.assert_denied(r, INTERACTIVE_REQUIRED, "Authentication is required to call PauseDispatch")
        # With interaction allowed, a challenge polkit could not put to anyone is a no.
        r = gdbus_call(sb, "PauseDispatch", user=CALLER, interactive=True)
        self.assert_denied(r, ACCESS_DENIED, "no polkit authentication agent could ask for it")
        self.polkit.replace_check("ret = (False, False, {'polkit.dismissed': 'true'})")
        r = gdbus_call(sb, "PauseDispatch", user=CALLER, interactive=True)
        self.assert_denied(r, ACCESS_DENIED, "dismissed")
        self.assertIs(sb.get_property("DispatchPaused"), False)

    def test_polkitd_failing_or_absent_denies(self):
        sb = self.sb
        self.start()
        self.polkit.replace_check(
            "raise dbus.exceptions.DBusException('the authority is on fire', "
            "name='org.freedesktop.PolicyKit1.Error.Failed')")
        r = gdbus_call(sb, "PauseDispatch", user=CALLER)
        self.assert_denied(r, text="Cannot authorize PauseDispatch: polkit failed: the authority is on fire")
        self.polkit.replace_check("ret = 'not a verdict'", out_sig="s")
        self.assert_denied(gdbus_call(sb, "PauseDispatch", user=CALLER),
                           text="Cannot authorize PauseDispatch: polkit sent an unreadable answer")
        self.polkit.stop()
        r = gdbus_call(sb, "SubmitTask", "'demo'", "'t'", "'b'", "@a{sv} {}", user=CALLER)
        self.assert_denied(r, text="Cannot authorize SubmitTask: polkit is not running")
        self.assertEqual(queue_ids(sb, "inbox"), [])
        self.assertIs(sb.get_property("DispatchPaused"), False)
        uid = pwd.getpwnam(CALLER).pw_uid
        self.assertRegex(sb.daemon_log(), rf"Denied SubmitTask to :\d+\.\d+ \(uid {uid}\): "
                                          "Cannot authorize SubmitTask: polkit is not running")
        # Root passes without polkit.
        self.assert_allowed(gdbus_call(sb, "PauseDispatch"))
        self.assertIs(sb.get_property("DispatchPaused"), True)
        self.assertEqual(len(sb.call("SubmitTask", "sssa{sv}", "demo", "t", "b", 0)), 1)

    def test_arguments_are_checked_before_polkit(self):
        sb = self.sb
        self.start()
        self.polkit.replace_check("ret = (True, False, {})")
        r = gdbus_call(sb, "SubmitTask", "'nope'", "'t'", "'b'", "@a{sv} {}", user=CALLER)
        self.assert_denied(r, "org.claudefailover.Error.NoSuchProject")
        r = gdbus_call(sb, "CancelTask", "'demo'", "'../etc'", user=CALLER)
        self.assert_denied(r, "org.claudefailover.Error.InvalidArgument")
        r = gdbus_call(sb, "RecycleSession", "'nope'", user=CALLER)
        self.assert_denied(r, "org.claudefailover.Error.NoSuchSession")
        r = gdbus_call(sb, "SwitchAccount", "'nope'", user=CALLER)
        self.assert_denied(r, "org.claudefailover.Error.NoSuchAccount")
        r = gdbus_call(sb, "SubmitTask", "'demo'", "'t'", "'b'", "{'priority': <'urgent'>}",
                       user=CALLER)
        self.assert_denied(r, "org.claudefailover.Error.InvalidArgument")
        self.assertEqual(self.polkit.check_calls(), [])
        # A valid call reaches polkit, which allows it here.
        self.assert_allowed(gdbus_call(sb, "PauseDispatch", user=CALLER))
        self.assertEqual(len(self.polkit.check_calls()), 1)

    def test_daemon_stopping_with_checks_pending(self):
        sb = self.sb
        self.start()
        self.polkit.mock("SimulateHang", "true")
        callers = [subprocess.Popen(
            ["runuser", "-u", CALLER, "--", "gdbus", "call", "--address", sb.bus_address,
             "--dest", BUS_NAME, "--object-path", OBJECT_PATH,
             "--method", f"{INTERFACE}.{method}"], env=sb.env(), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for method in ("PauseDispatch", "Reload", "ResumeDispatch")]
        sb.wait_for(lambda: "true" in self.polkit.mock("HaveHangingCalls"), timeout=10,
                    what="checks held by polkitd")
        time.sleep(0.3)   # the other two, sent at the same moment, reached it too
        # Other callers are served meanwhile.
        self.assert_allowed(gdbus_call(sb, "GetStatus", user=CALLER))
        self.assertEqual(sb.stop_daemon(), 0)
        for caller in callers:
            out, err = caller.communicate(timeout=10)
            self.assertNotEqual(caller.returncode, 0, out)
            self.assertIn(f"{ACCESS_DENIED}: Not authorized to call", err)
            self.assertIn("claude-failoverd is shutting down", err)
        # The held checks are answered after the daemon is gone: nothing to see.
        self.polkit.mock("ReleaseHangingCalls")
        self.assertNotIn("AddressSanitizer", sb.daemon_log())

    def test_pending_checks_are_bounded(self):
        """Issue 18, break 5: 600 interactive SubmitTask calls with 1 MB bodies
        from one connection while polkitd hangs. Beyond a few pending checks
        the caller is refused at once, the daemon's memory stays bounded, and
        other callers are still served."""
        sb = self.sb
        self.start()
        other = next((u for u in ("daemon", "bin", "sys") if user_exists(u)), None)
        require(other is not None, "no second unprivileged user")
        self.polkit.mock("SimulateHang", "true")
        pid = sb.daemon.pid
        before = rss_anon_kib(pid)
        flood = subprocess.run(
            ["runuser", "-u", CALLER, "--", "/usr/bin/python3", "-c", FLOOD_SCRIPT,
             sb.bus_address, "600"], env=sb.env(), capture_output=True, text=True, timeout=120)
        self.assertEqual(flood.returncode, 0, flood.stderr)
        result = json.loads(flood.stdout)
        # Everything beyond the bound answered at once, with a clear error.
        self.assertGreaterEqual(result["errors"].get("org.freedesktop.DBus.Error.LimitsExceeded",
                                                     0), 500, result)
        self.assertLessEqual(result["pending"], 16, result)
        self.assertIn("authorizations pending; wait for them to finish", result["sample"])
        calls = self.polkit.check_calls()
        hanging = len(calls)
        self.assertLessEqual(hanging, 16, "checks that reached polkitd from one connection")
        self.assertGreater(hanging, 0)
        self.assertEqual({c[3] for c in calls}, {1}, "AllowUserInteraction on every check")
        grown = rss_anon_kib(pid) - before
        if sanitized():
            # ASan keeps freed memory in its quarantine: judged on the build that ships.
            print(f"RssAnon grew by {grown} KiB (sanitizer build: not judged)", file=sys.stderr)
        else:
            self.assertLess(grown, 48 * 1024, f"RssAnon grew by {grown} KiB")
        # Another user still gets their check to polkitd (it hangs too: it was
        # not refused), and root is served at once.
        second = subprocess.Popen(
            ["runuser", "-u", other, "--", "gdbus", "call", "--address", sb.bus_address,
             "--dest", BUS_NAME, "--object-path", OBJECT_PATH,
             "--method", f"{INTERFACE}.PauseDispatch"], env=sb.env(), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        sb.wait_for(lambda: len(self.polkit.check_calls()) == hanging + 1, timeout=10,
                    what="the second user's check at polkitd")
        self.assertIsNone(second.poll())
        self.assert_allowed(gdbus_call(sb, "PauseDispatch"))
        self.assert_allowed(gdbus_call(sb, "GetStatus", user=CALLER))
        self.polkit.mock("ReleaseHangingCalls")
        second.communicate(timeout=10)
        self.assertIsNone(sb.daemon.poll())

    def test_reload_method_is_sighup(self):
        sb = self.sb
        self.start()
        sb.write_config({"pool": {"autonomous": {"min": 2, "max": 2}}})
        self.assert_allowed(gdbus_call(sb, "Reload"))
        sb.wait_for(lambda: idle_pool(sb, 2), timeout=20, what="second session after Reload")
        with open(sb.config_path, "w") as f:
            f.write("accounts: [\n")
        r = gdbus_call(sb, "Reload")
        self.assert_denied(r, "org.freedesktop.DBus.Error.Failed", sb.config_path)
        self.assertIn("Reload over D-Bus refused, keeping the running configuration",
                      sb.daemon_log())
        self.assertIsNone(sb.daemon.poll())
        self.assertEqual(len(sb.get_property("Accounts")), 2)

    def test_report_hook_event_never_asks_polkit(self):
        sb = self.sb
        self.start()
        self.polkit.replace_check("ret = (True, False, {})")
        r = gdbus_call(sb, "ReportHookEvent", "'Stop'", "'%1'", "'{}'", user=CALLER)
        self.assert_denied(r, text="Only root or uid 0 may call ReportHookEvent")
        self.assertEqual(self.polkit.check_calls(), [])
        # Root may (the pane is not one of ours: accepted and dropped).
        self.assert_allowed(gdbus_call(sb, "ReportHookEvent", "'Stop'", "'%999'", "'{}'"))


RULES = """// Written by tests/integration/test_polkit.py
polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.claudefailover.") == 0 && subject.user == "%s")
        return polkit.Result.YES;
});
"""


def service_user():
    """The meson option service_user of the build under test."""
    with open(os.path.join(build_dir(), "cf-build-config.h")) as f:
        return re.search(r'#define SERVICE_USER "([^"]+)"', f.read()).group(1)


def free_id(path):
    used = set()
    with open(path) as f:
        for line in f:
            parts = line.split(":")
            if len(parts) > 2 and parts[2].isdigit():
                used.add(int(parts[2]))
    return next(i for i in range(999, 100, -1) if i not in used)


class RealPolkitdTest(unittest.TestCase):
    """The real polkitd on the sandbox bus, reading the built policy; the
    daemon runs as the build's service user (created for the test in this
    mount namespace when the system has no such user)."""

    RULES_USER = "daemon"   # an existing non-root user the test rules allow

    def setUp(self):
        # Skips this class only; what every test needs is checked in main.
        if os.environ.get(NS_MARKER) != "1":
            self.skipTest("needs a private mount namespace (unshare --mount failed here)")
        if not os.path.exists(POLKITD):
            self.skipTest(f"{POLKITD} is not installed (Debian package polkitd)")
        for program in ("mount", "umount"):
            if shutil.which(program) is None:
                self.skipTest(f"{program} is not installed")
        if not user_exists(self.RULES_USER):
            self.skipTest(f"no user {self.RULES_USER}")
        self.sb = Sandbox(self.id().rsplit(".", 1)[-1])
        self.addCleanup(self._close)
        self.user = service_user()
        self.policy = os.path.join(self.sb.data_dir, "org.claudefailover.policy")
        with open(self.policy) as f:
            self.assertIn(f"<annotate key=\"org.freedesktop.policykit.owner\">unix-user:"
                          f"{self.user}</annotate>", f.read())
        self.polkitd = None
        if not user_exists(self.user):
            self.add_user_in_namespace(self.user)
        self.assertFalse(self.user == "root" or pwd.getpwnam(self.user).pw_uid == 0,
                         "the service user must not be root for this test")
        rules = os.path.join(self.sb.root, "polkit-rules")
        os.makedirs(rules)
        with open(os.path.join(rules, "50-claude-failover-test.rules"), "w") as f:
            f.write(RULES % self.RULES_USER)
        empty = os.path.join(self.sb.root, "polkit-empty")
        os.makedirs(empty)
        self.bind(rules, "/etc/polkit-1/rules.d")
        self.bind(empty, "/usr/share/polkit-1/rules.d")

    def _close(self):
        if has_failed(self):
            self.sb.dump_logs()
            log = os.path.join(self.sb.root, "polkitd.log")
            if os.path.exists(log):
                print("--- polkitd log ---\n" + open(log).read()[-3000:], file=sys.stderr)
        self.sb.close()

    def bind(self, source, target):
        subprocess.run(["mount", "--bind", source, target], check=True)
        self.addCleanup(subprocess.run, ["umount", target], check=False)

    def add_user_in_namespace(self, name):
        """NAME as a system user in copies of /etc/passwd and /etc/group
        bind-mounted over the real ones: only this namespace sees it."""
        uid, gid = free_id("/etc/passwd"), free_id("/etc/group")
        for path, line in (("/etc/passwd", f"{name}:x:{uid}:{gid}:claude-failover test:"
                                           f"/nonexistent:/usr/sbin/nologin\n"),
                           ("/etc/group", f"{name}:x:{gid}:\n")):
            copy = os.path.join(self.sb.root, os.path.basename(path))
            shutil.copyfile(path, copy)
            with open(copy, "a") as f:
                f.write(line)
            os.chmod(copy, 0o644)
            self.bind(copy, path)

    def start_polkitd(self, actions_dir):
        """polkitd reading ACTIONS_DIR as /usr/share/polkit-1/actions."""
        self.stop_polkitd()
        log = os.path.join(self.sb.root, "polkitd.log")
        script = (f"mount --bind {actions_dir} /usr/share/polkit-1/actions && "
                  f"exec {POLKITD} --no-debug")
        # Its own mount namespace inside ours: each polkitd sees its own actions.
        self.polkitd = self.sb.spawn(["unshare", "--mount", "--propagation", "private",
                                      "sh", "-c", script], log_path=log)
        self.sb.wait_for(lambda: self.sb.name_has_owner(POLKIT_NAME) or
                         self.polkitd.poll() is not None, timeout=20, what="polkitd on the bus")
        if self.polkitd.poll() is not None:
            raise AssertionError(f"polkitd exited with {self.polkitd.returncode}:\n"
                                 + open(log).read())

    def stop_polkitd(self):
        if self.polkitd is not None:
            self.sb._kill_group(self.polkitd)
            self.sb.wait_for(lambda: not self.sb.name_has_owner(POLKIT_NAME), timeout=10,
                             what="polkitd gone")
            self.polkitd = None

    def actions_dir(self, name, text):
        d = os.path.join(self.sb.root, name)
        os.makedirs(d)
        with open(os.path.join(d, "org.claudefailover.policy"), "w") as f:
            f.write(text)
        return d

    def start_daemon_as_service_user(self):
        sb = self.sb
        entry = pwd.getpwnam(self.user)
        # Everything the daemon writes belongs to its user; its tmux server too.
        sb.tmux_socket = os.path.join(sb.runtime_dir, "tmux.sock")
        sb.write_config({"pool": {"autonomous": {"min": 1, "max": 1}},
                         "tmux": {"socket": sb.tmux_socket}})
        for top in (sb.home, sb.runtime_dir, sb.state_dir):
            for dirpath, dirnames, filenames in os.walk(top):
                for n in [dirpath] + [os.path.join(dirpath, x) for x in dirnames + filenames]:
                    os.lchown(n, entry.pw_uid, entry.pw_gid)
        sb.start_daemon(user=self.user, timeout=20)
        self.assertEqual(pwd.getpwuid(os.stat(f"/proc/{daemon_pid(sb)}").st_uid).pw_name,
                         self.user)

    def test_owner_annotation_lets_the_unprivileged_daemon_ask(self):
        sb = self.sb
        sb.start_bus(mock_names=[POLKIT_NAME])
        self.start_daemon_as_service_user()

        # Before polkitd: root and the daemon's own user pass without it,
        # anyone else is denied because nobody can vouch for them.
        self.assertEqual(gdbus_call(sb, "PauseDispatch", user=self.user).returncode, 0)
        self.assertEqual(gdbus_call(sb, "ResumeDispatch").returncode, 0)
        r = gdbus_call(sb, "PauseDispatch", user=CALLER)
        self.assertIn(ACCESS_DENIED, r.stderr)
        self.assertIn("polkit is not running", r.stderr)

        with open(self.policy) as f:
            built = f.read()
        self.start_polkitd(self.actions_dir("actions-built", built))

        # nobody: polkitd's verdict is auth_admin_keep, a password nobody can
        # be asked for (no authentication agent here) — denied either way.
        r = gdbus_call(sb, "PauseDispatch", user=CALLER)
        self.assertIn(f"{INTERACTIVE_REQUIRED}: Authentication is required to call "
                      f"PauseDispatch (polkit action {CONTROL})", r.stderr)
        r = gdbus_call(sb, "PauseDispatch", user=CALLER, interactive=True)
        self.assertIn(f"{ACCESS_DENIED}: Authentication is required to call PauseDispatch "
                      f"(polkit action {CONTROL}) and no polkit authentication agent", r.stderr)
        r = gdbus_call(sb, "SubmitTask", "'demo'", "'t'", "'b'", "@a{sv} {}", user=CALLER)
        self.assertIn(f"{INTERACTIVE_REQUIRED}: Authentication is required to call "
                      f"SubmitTask (polkit action {MANAGE_TASKS})", r.stderr)
        self.assertIs(sb.get_property("DispatchPaused"), False)
        self.assertEqual(queue_ids(sb, "inbox"), [])

        # A user the rules allow: polkitd answered the daemon's question yes.
        r = gdbus_call(sb, "PauseDispatch", user=self.RULES_USER)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIs(sb.get_property("DispatchPaused"), True)
        r = gdbus_call(sb, "SubmitTask", "'demo'", "'By rule'", "'b'", "@a{sv} {}",
                       user=self.RULES_USER)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(queue_ids(sb, "inbox")), 1)

        # root: allowed (without polkit).
        self.assertEqual(gdbus_call(sb, "ResumeDispatch").returncode, 0)
        self.assertIs(sb.get_property("DispatchPaused"), False)

        # The same policy without the owner annotation: polkitd refuses to
        # answer a daemon that is not root, so even the allowed user is denied.
        stripped = re.sub(r"\s*<annotate key=\"org\.freedesktop\.policykit\.owner\">[^<]*"
                          r"</annotate>", "", built)
        self.assertNotIn("<annotate", stripped)
        self.start_polkitd(self.actions_dir("actions-no-owner", stripped))
        r = gdbus_call(sb, "PauseDispatch", user=self.RULES_USER)
        self.assertIn(f"{ACCESS_DENIED}: Cannot authorize PauseDispatch: polkit failed: "
                      "Only trusted callers", r.stderr)
        self.assertIs(sb.get_property("DispatchPaused"), False)


def daemon_pid(sb):
    """The claude-failoverd process (start_daemon(user=…) runs it under runuser)."""
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat") as f:
                pgid = int(f.read().rsplit(")", 1)[1].split()[2])
        except OSError:
            continue
        if argv and argv[0] == sb.daemon_path.encode() and pgid == sb.daemon.pid:
            return int(pid)
    raise AssertionError("claude-failoverd is not running")


def plain(value):
    """dbus-python values → str/int/bool/list/dict."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    return str(value)


def deep(base, overrides):
    out = dict(base)
    for k, v in overrides.items():
        out[k] = deep(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def enter_private_mount_namespace():
    """Re-runs this script in a private mount namespace (root only), where
    the real-polkitd test may bind-mount over system directories."""
    if os.getuid() != 0 or os.environ.get(NS_MARKER) is not None or not shutil.which("unshare"):
        return
    env = dict(os.environ)
    if subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                      capture_output=True).returncode != 0:
        env[NS_MARKER] = "0"
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    env[NS_MARKER] = "1"
    os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private", "--",
                           sys.executable, os.path.abspath(__file__), *sys.argv[1:]], env)


if __name__ == "__main__":
    # Exit 77 (skip) here, not in setUp: unittest counts a SystemExit there as an error.
    require(os.getuid() == 0, "needs root: callers run as another user (runuser)")
    require(user_exists(CALLER), f"no user {CALLER}")
    require_programs("dbus-daemon", "tmux", "busctl", "gdbus", "runuser")
    require_dbusmock()
    enter_private_mount_namespace()
    unittest.main(verbosity=2)
