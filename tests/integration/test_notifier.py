#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""claude-failover-notifier on real parts: a private session bus with
python3-dbusmock's notification_daemon template (it records every Notify
call), the private system bus with the real claude-failoverd, tmux and
tests/fake-claude. Swaps, usage limits, total exhaustion, a partial swap and
failed tasks become notifications, one per kind, each replacing the previous
one of its kind; "Switch back now" (ActionInvoked emitted on the mock) makes
the daemon switch back — for an unprivileged user through polkit (dbusmock's
polkitd) with interaction allowed — and its errors are shown; the notifier
follows the daemon across a restart and the system bus across its own; the
autostart .desktop file validates."""

import datetime
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BUS_NAME, OBJECT_PATH, Sandbox, require, require_programs  # noqa: E402
from signal_log import SignalLog  # noqa: E402

try:
    import dbus
    import dbusmock  # noqa: F401  (the template runs in its own process)
    from zoneinfo import ZoneInfo
except ImportError as e:  # pragma: no cover - reported as a skip
    require(False, f"{e.name} is not importable by {sys.executable} (python3-dbusmock)")

NOTIFICATIONS = "org.freedesktop.Notifications"
NOTIFICATIONS_PATH = "/org/freedesktop/Notifications"
MOCK_INTERFACE = "org.freedesktop.DBus.Mock"
POLKIT_NAME = "org.freedesktop.PolicyKit1"
POLKIT_AUTHORITY_PATH = "/org/freedesktop/PolicyKit1/Authority"
POLKIT_AUTHORITY = "org.freedesktop.PolicyKit1.Authority"
APP_ID = "org.claudefailover.Notifier"
# Not a whole number of hours from UTC: a clock time printed in UTC, or in
# the machine's zone, cannot pass for one printed in this zone.
TZ = "Asia/Kathmandu"
NOTIFIER_READY = "claude-failoverd is on the system bus"
NOTIFIER_PATH = os.path.join(harness.build_dir(), "src", "notifier", "claude-failover-notifier")

require_programs("dbus-daemon", "tmux", "busctl", "gdbus")
require(os.path.exists(NOTIFIER_PATH), f"{NOTIFIER_PATH} is not built")


def epoch_limit(seconds_from_now):
    """A fake-claude limit line whose reset time is exact to the second."""
    reset = int(time.time() + seconds_from_now)
    return f"Claude AI usage limit reached|{reset}", reset


def local_clock(epoch_seconds):
    """HH:MM of EPOCH_SECONDS in TZ, as the notifier prints it."""
    return datetime.datetime.fromtimestamp(epoch_seconds, ZoneInfo(TZ)).strftime("%H:%M")


class Notification:
    """One recorded Notify call, with the id the mock answered."""

    def __init__(self, index, args, notify_id):
        self.index = index
        (self.app_name, self.replaces_id, self.icon, self.summary, self.body,
         actions, hints, self.timeout) = args
        self.replaces_id = int(self.replaces_id)
        self.summary = str(self.summary)
        self.body = str(self.body)
        self.actions = [str(a) for a in actions]
        self.hints = {str(k): v for k, v in hints.items()}
        self.id = notify_id

    @property
    def urgency(self):
        return int(self.hints.get("urgency", 1))

    def action_key(self, label):
        """The action key of the button labelled LABEL (actions alternate key, label)."""
        pairs = dict(zip(self.actions[1::2], self.actions[0::2]))
        return pairs.get(label)

    def __repr__(self):
        return (f"Notification(#{self.id} replaces={self.replaces_id} {self.summary!r} "
                f"body={self.body!r} actions={self.actions})")


class SessionDesktop:
    """A private session bus with the notification_daemon mock on it."""

    def __init__(self, sb):
        self.sb = sb
        self.socket = os.path.join(sb.root, "session.sock")
        config = os.path.join(sb.root, "session.conf")
        # Like the stock session bus, plus <allow user="*"/> so that a
        # notifier running as another user (nobody) can connect too.
        with open(config, "w", encoding="utf-8") as f:
            f.write(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={self.socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
""")
        address_file = os.path.join(sb.root, "session.address")
        sb.spawn(["dbus-daemon", "--config-file", config, "--nofork", "--print-address=1"],
                 log_path=address_file)
        self.address = sb.wait_for(lambda: _first_line(address_file), timeout=15,
                                   what="the session bus address")
        self.bus = dbus.bus.BusConnection(self.address)
        sb.spawn(["/usr/bin/python3", "-m", "dbusmock", "--template", "notification_daemon"],
                 log_path=os.path.join(sb.root, "notification-mock.log"),
                 env=sb.env(DBUS_SESSION_BUS_ADDRESS=self.address))
        sb.wait_for(lambda: self.bus.name_has_owner(NOTIFICATIONS), timeout=20,
                    what="the notification_daemon mock on the session bus")
        self.mock = dbus.Interface(self.bus.get_object(NOTIFICATIONS, NOTIFICATIONS_PATH),
                                   MOCK_INTERFACE)

    def close(self):
        self.bus.close()

    def notifications(self):
        """Every Notify call so far, oldest first. The ids are the ones the
        template answered: replaces_id when set, else the next of a counter
        starting at 1 (notification_daemon.py)."""
        calls = self.mock.GetMethodCalls("Notify")
        result = []
        next_id = 1
        for index, (_, args) in enumerate(calls):
            if int(args[1]):
                notify_id = int(args[1])
            else:
                notify_id = next_id
                next_id += 1
            result.append(Notification(index, args, notify_id))
        return result

    def closed(self):
        """Ids of the notifications the notifier closed (withdrew)."""
        return [int(args[0]) for _, args in self.mock.GetMethodCalls("CloseNotification")]

    def find(self, summary, after=None):
        """The first notification whose summary contains SUMMARY (after
        notification AFTER when given), or None."""
        for n in self.notifications():
            if (after is None or n.index > after.index) and summary in n.summary:
                return n
        return None

    def wait(self, summary, after=None, timeout=30):
        return self.sb.wait_for(lambda: self.find(summary, after), timeout=timeout,
                                what=f"a notification {summary!r}")

    def slow_down(self, seconds):
        """Make Notify answer after SECONDS, as a busy notification server
        does (same ids as the template)."""
        self.mock.AddMethod(NOTIFICATIONS, "Notify", "susssasa{sv}i", "u", f"""
__import__("time").sleep({seconds})
if args[1]:
    ret = args[1]
else:
    ret = self.next_id
    self.next_id += 1
""")

    def invoke(self, notification, action_key):
        """What a click on a button does: the server emits ActionInvoked."""
        self.mock.EmitSignal(NOTIFICATIONS, "ActionInvoked", "us",
                             [dbus.UInt32(notification.id), action_key])


def _first_line(path):
    try:
        with open(path, encoding="utf-8") as f:
            line = f.readline()
    except FileNotFoundError:
        return None
    return line.strip() if line.endswith("\n") else None


class NotifierTest(unittest.TestCase):
    def setUp(self):
        self.sb = Sandbox(self.id().rsplit(".", 1)[-1])
        self.desktop = None
        self.addCleanup(self._close)
        self.notifier_path = NOTIFIER_PATH
        self.notifier_log_path = os.path.join(self.sb.root, "notifier.log")
        # Root may own org.freedesktop.PolicyKit1 for the tests that mock it.
        self.sb.start_bus(mock_names=[POLKIT_NAME])
        self.sb.start_tmux()
        self.desktop = SessionDesktop(self.sb)
        self.signals = SignalLog(self.sb)
        self.main_home = os.path.join(self.sb.home, ".claude-main")
        self.backup_home = os.path.join(self.sb.home, ".claude-backup")
        self.link = os.path.join(self.sb.home, ".claude")

    def _failed(self):
        """Whether this test has failed so far (results are recorded before
        the cleanups run)."""
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return False
        return any(test is self for test, _ in result.failures + result.errors)

    def _close(self):
        if self._failed():
            self.sb.dump_logs(80)
            print(f"--- notifier log ---\n{harness._tail(self.notifier_log_path, 60)}",
                  file=sys.stderr)
            try:
                if self.desktop is not None:
                    print("--- Notify calls ---\n"
                          + "\n".join(map(repr, self.desktop.notifications())), file=sys.stderr)
            except dbus.DBusException as e:
                print(f"(Notify calls unavailable: {e})", file=sys.stderr)
        if self.desktop is not None:
            self.desktop.close()
        self.sb.close()

    # --- helpers ------------------------------------------------------------

    def start_daemon(self, overrides=None, pool=1):
        base = {"pool": {"autonomous": {"min": pool, "max": pool}},
                "quota": {"interval": "300ms", "reactivate_cooldown": "0s",
                          "return_margin": "1s", "pool_threshold": 1, "dedicated_threshold": 1}}
        self.sb.write_config(harness.deep_merge(base, overrides or {}))
        self.sb.start_daemon()
        self.sb.wait_for(lambda: sum(1 for s in self.sb.get_property("Sessions")
                                     if s[1] == "pool" and s[2] == "idle") >= pool,
                         timeout=30, what=f"{pool} idle pool sessions")

    def start_notifier(self, user=None, wait_ready=True, **env):
        env = self.sb.env(DBUS_SESSION_BUS_ADDRESS=self.desktop.address, TZ=TZ,
                          G_MESSAGES_DEBUG="claude-failover-notifier", **env)
        self.notifier = self.sb.spawn([self.notifier_path], log_path=self.notifier_log_path,
                                      env=env, user=user)
        self.sb.wait_for(lambda: self.desktop.bus.name_has_owner(APP_ID), timeout=20,
                         what=f"{APP_ID} on the session bus")
        if wait_ready:
            self.wait_notifier_log(NOTIFIER_READY)
        return self.notifier

    def notifier_log(self):
        try:
            with open(self.notifier_log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_notifier_log(self, text, count=1, timeout=30):
        self.sb.wait_for(lambda: self.notifier.poll() is None
                         and self.notifier_log().count(text) >= count,
                         timeout=timeout, what=f"notifier log line {text!r} x{count}")

    def switch(self, account):
        r = self.sb.gdbus("call", "--dest", BUS_NAME, "--object-path", OBJECT_PATH, "--method",
                          "org.claudefailover.Manager.SwitchAccount", account, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)

    def assert_replaces(self, later, earlier):
        self.assertEqual(later.replaces_id, earlier.id,
                         f"{later!r} should replace {earlier!r}, not stack")
        self.assertEqual(later.id, earlier.id)

    def assert_no_error_output(self):
        log = self.notifier_log()
        for bad in ("CRITICAL", "WARNING", "ERROR", "AddressSanitizer", "runtime error"):
            self.assertNotIn(bad, log, log)

    # --- tests --------------------------------------------------------------

    def test_swap_replaces_switch_back_and_daemon_restart(self):
        sb, desktop = self.sb, self.desktop
        # A switch with idle sessions takes milliseconds: SwapFinished
        # arrives before the server has answered the first Notify.
        desktop.slow_down(0.5)
        self.start_daemon()
        self.start_notifier()

        self.switch("backup")
        started = desktop.wait("Switching Claude account from main to backup")
        self.assertIn("An operator asked for this switch.", started.body)
        self.assertEqual(started.replaces_id, 0)
        self.assertEqual(started.hints.get("desktop-entry"), APP_ID)
        finished = desktop.wait("Now using Claude account backup", after=started)
        self.assert_replaces(finished, started)
        self.assertIn("Switched from main to backup.", finished.body)
        self.assertIn("switched from main to backup", finished.body)   # the daemon's message
        key = finished.action_key("Switch back now")
        self.assertIsNotNone(key, finished)
        self.assertTrue(key.startswith("app.switch-back"), key)
        self.assertEqual(sb.get_property("ActiveAccount"), "backup")
        # One swap notification so far, replaced in place: nothing stacked.
        self.assertEqual(len({n.id for n in desktop.notifications()}), 1, desktop.notifications())

        # "Switch back now": the notifier calls SwitchAccount("main").
        desktop.invoke(finished, key)
        self.signals.wait("SwapFinished", lambda a: a[:3] == ["backup", "main", True], timeout=40)
        self.assertEqual(sb.get_property("ActiveAccount"), "main")
        self.assertEqual(os.readlink(self.link), self.main_home)
        self.assertEqual(self.signals.events("SwapStarted")[-1]["args"], ["backup", "main", "manual"])
        back_started = desktop.wait("Switching Claude account from backup to main", after=finished)
        back = desktop.wait("Now using Claude account main", after=back_started)
        self.assert_replaces(back, back_started)
        # Back on the primary: nothing to switch back to.
        self.assertEqual(back.actions, [])
        self.wait_notifier_log("Switching back to main")

        # The daemon dies and comes back: the notifier notices and follows it.
        sb.stop_daemon(signal.SIGKILL)
        self.wait_notifier_log("left the system bus")
        sb.start_daemon()
        self.wait_notifier_log(NOTIFIER_READY, count=2)
        self.switch("backup")
        again_started = desktop.wait("Switching Claude account from main to backup", after=back)
        again = desktop.wait("Now using Claude account backup", after=again_started)
        self.assert_replaces(again, again_started)
        self.assertIsNotNone(again.action_key("Switch back now"))
        self.assertEqual(self.notifier.poll(), None)
        self.assert_no_error_output()

    def test_usage_limit_total_exhaustion_with_reset_times(self):
        sb, desktop = self.sb, self.desktop
        # The notifier first: it waits for the daemon to appear.
        self.start_notifier(wait_ready=False)
        self.wait_notifier_log("Waiting for claude-failoverd")
        self.start_daemon()
        self.wait_notifier_log(NOTIFIER_READY)

        # Main's reset comes soon enough to see dispatch resume.
        text, main_reset = epoch_limit(20)
        sb.fake_account_limit(self.main_home, text)
        sb.add_task("q0", "FAKE:work=30000 long work")
        quota = desktop.wait("Claude account main reached its usage limit", timeout=40)
        self.assertIn("1 session is blocked.", quota.body)
        self.assertIn(f"The limit resets at {local_clock(main_reset)}", quota.body)
        self.assertIn("Seen: ", quota.body)

        started = desktop.wait("Switching Claude account from main to backup")
        self.assertIn("main reached its usage limit.", started.body)
        self.assertIn(f"main resets at {local_clock(main_reset)}", started.body)
        finished = desktop.wait("Now using Claude account backup", after=started, timeout=40)
        self.assert_replaces(finished, started)
        self.assertIn(f"main resets at {local_clock(main_reset)}", finished.body)
        return_at = sb.get_property("ReturnAt") // 1_000_000
        self.assertEqual(return_at, main_reset + 1)
        self.assertIn(f"Automatic return to main at {local_clock(return_at)}", finished.body)
        self.assertIsNotNone(finished.action_key("Switch back now"))
        self.assertNotEqual(quota.id, finished.id)

        # The backup runs out too: every account is exhausted, dispatch pauses.
        backup_text, _ = epoch_limit(3600)
        sb.fake_account_limit(self.main_home, False)
        sb.fake_account_limit(self.backup_home, backup_text)
        exhausted = desktop.wait("Every Claude account is exhausted", timeout=60)
        self.assertTrue(sb.get_property("DispatchPaused"))
        self.assertEqual(exhausted.urgency, 2)
        # Main resets first.
        self.assertIn(f"paused until the earliest reset, at {local_clock(main_reset)}",
                      exhausted.body)
        second_quota = desktop.wait("Claude account backup reached its usage limit")
        self.assert_replaces(second_quota, quota)

        # Main's reset: dispatch resumes there, and the notification that
        # said everything was exhausted is taken back.
        sb.wait_for(lambda: not sb.get_property("DispatchPaused"), timeout=60,
                    what="dispatch resumed after main's reset")
        sb.wait_for(lambda: exhausted.id in desktop.closed(), timeout=20,
                    what="the all-exhausted notification withdrawn")
        self.assertGreaterEqual(time.time(), main_reset - 0.5)
        sb.fake_account_limit(self.backup_home, False)
        desktop.wait("Now using Claude account main", after=exhausted, timeout=40)
        # Announced once, not at every PropertiesChanged meanwhile.
        self.assertEqual(sum(1 for n in desktop.notifications()
                             if "Every Claude account" in n.summary), 1)
        self.assert_no_error_output()

    def test_partial_swap_and_failed_tasks(self):
        sb, desktop = self.sb, self.desktop
        self.start_daemon({"dispatcher": {"idle_timeout": "2s", "max_dispatch_per_task": 1}})
        # The backend GLib would pick anyway here (no portal, no
        # org.gtk.Notifications), forced by name as a user could.
        self.start_notifier(GNOTIFICATION_BACKEND="freedesktop")

        sb.add_task("stuck", "FAKE:hang")
        failed = desktop.wait("Task stuck failed", timeout=40)
        self.assertEqual(failed.body, "Project demo, session ccl-auto-0.")
        sb.add_task("stuck-again", "FAKE:hang")
        failed_again = desktop.wait("Task stuck-again failed", after=failed, timeout=40)
        self.assert_replaces(failed_again, failed)

        # ~/.claude replaced by a real directory: the switch fails and cannot
        # roll back.
        os.unlink(self.link)
        os.makedirs(self.link)
        self.switch("backup")
        swap_failed = desktop.wait("Switching Claude account from main to backup failed")
        self.assertIn("ClearPartialSwap", swap_failed.body)
        self.assertEqual(swap_failed.urgency, 2)
        self.assertEqual(swap_failed.actions, [])
        partial = desktop.wait("Claude account switch needs attention")
        self.assertTrue(sb.get_property("PartialSwap"))
        self.assertIn("claude-failoverctl clear-partial-swap", partial.body)
        self.assertEqual(partial.urgency, 2)
        self.assertNotEqual(partial.id, swap_failed.id)

        # Cleared: the notification is taken back. Broken again: announced again.
        os.rmdir(self.link)
        os.symlink(self.main_home, self.link)
        r = sb.gdbus("call", "--dest", BUS_NAME, "--object-path", OBJECT_PATH, "--method",
                     "org.claudefailover.Manager.ClearPartialSwap", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        sb.wait_for(lambda: partial.id in desktop.closed(), timeout=20,
                    what="the partial-swap notification withdrawn")
        self.assertFalse(sb.get_property("PartialSwap"))
        os.unlink(self.link)
        os.makedirs(self.link)
        self.switch("backup")
        partial_again = desktop.wait("Claude account switch needs attention", after=partial)
        self.assertEqual(partial_again.replaces_id, 0)
        self.assert_no_error_output()

    def test_system_bus_restart(self):
        sb, desktop = self.sb, self.desktop
        self.start_daemon()
        self.start_notifier()
        # The system bus itself goes away (the daemon with it), then both
        # come back: the notifier makes a new connection on its own.
        sb.stop_daemon()
        sb._kill_group(sb._bus_proc)
        self.wait_notifier_log("Lost the system bus")
        if os.path.exists(sb.bus_socket):
            os.unlink(sb.bus_socket)
        # While it is gone: said once, then retried quietly.
        self.wait_notifier_log("Cannot connect to the system bus", timeout=20)
        self.wait_notifier_log("Cannot connect to the system bus", count=2, timeout=20)
        warnings = [line for line in self.notifier_log().splitlines()
                    if "Cannot connect" in line and "WARNING" in line]
        self.assertEqual(len(warnings), 1, self.notifier_log())
        sb.start_bus()
        sb.start_daemon()
        self.wait_notifier_log(NOTIFIER_READY, count=2, timeout=40)
        self.assertIn("Connected to the system bus", self.notifier_log())
        self.switch("backup")
        started = desktop.wait("Switching Claude account from main to backup")
        finished = desktop.wait("Now using Claude account backup", after=started)
        self.assert_replaces(finished, started)
        self.assertIsNone(self.notifier.poll())

    def test_switch_back_asks_polkit_interactively(self):
        sb, desktop = self.sb, self.desktop
        if not harness.user_exists("nobody"):
            self.skipTest("no user nobody")
        # python3-dbusmock's polkitd, answering "yes" and logging each check.
        polkit = sb.spawn(["/usr/bin/python3", "-m", "dbusmock", "--system", "--template",
                           "polkitd"], log_path=os.path.join(sb.root, "polkitd-mock.log"))
        sb.wait_for(lambda: sb.name_has_owner(POLKIT_NAME) or polkit.poll() is not None,
                    timeout=20, what="the polkitd mock")
        self.assertIsNone(polkit.poll())
        system = dbus.bus.BusConnection(sb.bus_address)
        self.addCleanup(system.close)
        authority = dbus.Interface(system.get_object(POLKIT_NAME, POLKIT_AUTHORITY_PATH),
                                   MOCK_INTERFACE)
        authority.AddMethod(POLKIT_AUTHORITY, "CheckAuthorization", "(sa{sv})sa{ss}us",
                            "(bba{ss})", "ret = (True, False, {})")
        self.start_daemon()
        # An unprivileged desktop user: the daemon asks polkit about it.
        self.start_notifier(user="nobody")
        self.switch("backup")
        finished = desktop.wait("Now using Claude account backup", timeout=40)
        self.assertEqual(authority.GetMethodCalls("CheckAuthorization"), [])   # root: no polkit
        desktop.invoke(finished, finished.action_key("Switch back now"))
        self.signals.wait("SwapFinished", lambda a: a[:3] == ["backup", "main", True], timeout=40)
        self.assertEqual(sb.get_property("ActiveAccount"), "main")
        checks = [args for _, args in authority.GetMethodCalls("CheckAuthorization")]
        self.assertEqual(len(checks), 1, checks)
        subject, action_id, _, flags, _ = checks[0]
        self.assertEqual(str(subject[0]), "system-bus-name")
        self.assertEqual(str(action_id), "org.claudefailover.switch-account")
        # AllowUserInteraction: the notifier set allow-interactive-authorization.
        self.assertEqual(int(flags), 1)
        self.assertIsNone(desktop.find("Could not switch back"))

    def test_switch_back_error_is_shown(self):
        sb, desktop = self.sb, self.desktop
        if not harness.user_exists("nobody"):
            self.skipTest("no user nobody")
        self.start_daemon()
        # A desktop user the daemon does not let switch accounts.
        self.start_notifier(user="nobody")
        self.switch("backup")
        finished = desktop.wait("Now using Claude account backup", timeout=40)
        desktop.invoke(finished, finished.action_key("Switch back now"))
        error = desktop.wait("Could not switch back to main", after=finished)
        self.assertTrue(error.body, error)
        self.assertNotIn("GDBus.Error", error.body)
        self.wait_notifier_log("Cannot switch back to main")
        # Refused before any change.
        time.sleep(1)
        self.assertEqual(sb.get_property("ActiveAccount"), "backup")
        self.assertEqual(self.signals.count("SwapStarted"), 1)

    def test_command_line_and_autostart_file(self):
        sb = self.sb
        r = sb.run([self.notifier_path, "--version"], check=True)
        self.assertRegex(r.stdout, r"^claude-failover-notifier \d+\.\d+")
        r = sb.run([self.notifier_path, "--help"], check=True)
        self.assertIn("--version", r.stdout)
        self.assertIn("desktop notifications", r.stdout)
        r = sb.run([self.notifier_path, "--no-such-option"])
        self.assertNotEqual(r.returncode, 0)
        # Nowhere to show notifications: one clear line, exit 1.
        r = sb.run([self.notifier_path], timeout=30, env=sb.env(
            DBUS_SESSION_BUS_ADDRESS=f"unix:path={sb.root}/no-such-bus"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.strip().splitlines(),
                         ["claude-failover-notifier: no session bus, so no desktop "
                          "notifications can be shown"])

        # A second instance hands over to the running one and exits.
        self.start_notifier(wait_ready=False)
        r = sb.run([self.notifier_path],
                   env=sb.env(DBUS_SESSION_BUS_ADDRESS=self.desktop.address), timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsNone(self.notifier.poll())
        # SIGTERM ends it cleanly.
        os.killpg(self.notifier.pid, signal.SIGTERM)
        self.assertEqual(self.notifier.wait(timeout=10), 0)

        desktop_files = [os.path.join(sb.data_dir, name) for name in
                         ("claude-failover-notifier.desktop", "org.claudefailover.Notifier.desktop")]
        for path in desktop_files:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for line in ("[Desktop Entry]", "Type=Application", "NoDisplay=true",
                         "X-GNOME-Autostart-enabled=true"):
                self.assertIn(line + "\n", text)
            self.assertRegex(text, r"\nExec=/\S+/claude-failover-notifier\n")
            self.assertRegex(text, r"\nName=\S")
            if shutil.which("desktop-file-validate"):
                r = subprocess.run(["desktop-file-validate", path], capture_output=True, text=True)
                self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
            else:
                print("desktop-file-validate missing (scripts/setup installs "
                      "desktop-file-utils): only the keys were checked", file=sys.stderr)
        # Installed as an XDG autostart entry, and under the application id.
        dests = {os.path.basename(src): dest for src, dest in harness_installed().items()}
        self.assertTrue(dests["claude-failover-notifier.desktop"].endswith(
            "/xdg/autostart/claude-failover-notifier.desktop"), dests)
        self.assertTrue(dests["org.claudefailover.Notifier.desktop"].endswith(
            "/applications/org.claudefailover.Notifier.desktop"), dests)
        self.assertTrue(dests["claude-failover-notifier"].endswith("/bin/claude-failover-notifier"))


def harness_installed():
    import json
    with open(os.path.join(harness.build_dir(), "meson-info", "intro-installed.json")) as f:
        return json.load(f)


if __name__ == "__main__":
    unittest.main(verbosity=2)
