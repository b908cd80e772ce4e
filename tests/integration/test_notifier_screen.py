#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""claude-failover-notifier seen on a real screen: Xvfb, a private session
bus, the real notification server dunst, the real daemon on the sandbox's
system bus. After a switch, dunst shows "Now using Claude account backup";
dunst's action menu (its `dmenu` command, here a script that shows the
choices with xmessage and picks "Switch back now") lists the notifier's
button, picking it makes the daemon switch back, and a screenshot of the
screen with the notification and the menu is saved (into
$CF_SCREENSHOT_DIR when set: docs/images/notifier.png comes from there).
Skipped without Xvfb, dunst, xmessage or ImageMagick's import, except under
CI=true, where that fails."""

import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Sandbox, require_programs  # noqa: E402

NOTIFICATIONS = "org.freedesktop.Notifications"
APP_ID = "org.claudefailover.Notifier"
NOTIFIER_PATH = os.path.join(harness.build_dir(), "src", "notifier", "claude-failover-notifier")
NEEDED = ("Xvfb", "dunst", "dunstctl", "xmessage", "import")

require_programs("dbus-daemon", "tmux", "busctl", "gdbus")
missing = [p for p in NEEDED if shutil.which(p) is None]
if missing:
    if os.environ.get("CI") == "true":
        print(f"FAIL: {', '.join(missing)} missing (scripts/setup installs them)", file=sys.stderr)
        sys.exit(1)
    harness.require(False, f"{', '.join(missing)} not installed")

DUNSTRC = """[global]
    font = DejaVu Sans 12
    width = 520
    height = 200
    origin = top-right
    offset = 20x20
    frame_width = 2
    frame_color = "#58a6ff"
    separator_height = 2
    padding = 14
    horizontal_padding = 14
    markup = full
    format = "<b>%s</b>\\n%b"
    show_indicators = yes
    word_wrap = yes
    dmenu = {dmenu}
    mouse_left_click = context
[urgency_low]
    background = "#171d24"
    foreground = "#d8dee6"
    timeout = 0
[urgency_normal]
    background = "#171d24"
    foreground = "#d8dee6"
    timeout = 0
[urgency_critical]
    background = "#2d1517"
    foreground = "#ffd7d5"
    timeout = 0
"""

# dunst runs this with the actions, one per line ("#Label (summary) [id,key]"),
# on standard input: it shows their labels as xmessage buttons for a moment
# (the screenshot), then picks "Switch back now".
DMENU = """#!/bin/sh
choices=$(cat)
printf '%s\\n' "$choices" > "{log}"
labels=$(printf '%s\\n' "$choices" | sed -n 's/^#\\(.*\\) (.*$/\\1/p' | paste -sd, -)
xmessage -geometry +560+170 -buttons "$labels" -timeout 4 \\
    "dunst: actions of the notification" >/dev/null 2>&1 &
touch "{shown}"
sleep 3
printf '%s\\n' "$choices" | grep -m1 'Switch back now'
"""


def first_line(path):
    try:
        with open(path, encoding="utf-8") as f:
            line = f.readline()
    except FileNotFoundError:
        return None
    return line.strip() if line.endswith("\n") else None


class NotifierScreenTest(unittest.TestCase):
    def setUp(self):
        self.sb = Sandbox("notifscreen")
        self.addCleanup(self._close)
        self.sb.start_bus()
        self.sb.start_tmux()

    def _close(self):
        if harness.has_failed(self):
            self.sb.dump_logs(60)
            for name in ("dunst.log", "notifier.log", "xvfb.log"):
                print(f"--- {name} ---\n{harness._tail(os.path.join(self.sb.root, name), 40)}",
                      file=sys.stderr)
        self.sb.close()

    def start_x(self):
        sb = self.sb
        display_file = os.path.join(sb.root, "display")
        r, w = os.pipe()
        with open(os.path.join(sb.root, "xvfb.log"), "ab") as log:
            proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1100x520x24",
                                     "-nolisten", "tcp"], pass_fds=(w,), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        sb._procs.append(proc)
        os.close(w)
        with os.fdopen(r) as f:
            number = f.readline().strip()
        self.assertTrue(number.isdigit(), f"Xvfb gave no display number: {number!r}")
        with open(display_file, "w") as f:
            f.write(number)
        self.display = f":{number}"
        # A dark desktop behind the notification.
        if shutil.which("xsetroot"):
            subprocess.run(["xsetroot", "-solid", "#0f1419"], env=self.x_env(), check=False)

    def x_env(self, **extra):
        return self.sb.env(DISPLAY=self.display, **extra)

    def start_session_bus(self):
        sb = self.sb
        socket_path = os.path.join(sb.root, "session.sock")
        config = os.path.join(sb.root, "session.conf")
        with open(config, "w", encoding="utf-8") as f:
            f.write(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket_path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
""")
        address_file = os.path.join(sb.root, "session.address")
        sb.spawn(["dbus-daemon", "--config-file", config, "--nofork", "--print-address=1"],
                 log_path=address_file)
        self.session_address = sb.wait_for(lambda: first_line(address_file), timeout=15,
                                           what="the session bus address")

    def session_env(self, **extra):
        return self.x_env(DBUS_SESSION_BUS_ADDRESS=self.session_address, **extra)

    def session_has(self, name):
        r = self.sb.run(["busctl", "--address", self.session_address, "status", name],
                        env=self.session_env())
        return r.returncode == 0

    def test_switch_notification_on_screen(self):
        sb = self.sb
        self.start_x()
        self.start_session_bus()
        dmenu_log = os.path.join(sb.root, "dmenu.log")
        shown = os.path.join(sb.root, "menu-shown")
        dmenu = os.path.join(sb.root, "dmenu.sh")
        with open(dmenu, "w") as f:
            f.write(DMENU.format(log=dmenu_log, shown=shown))
        os.chmod(dmenu, 0o755)
        dunstrc = os.path.join(sb.root, "dunstrc")
        with open(dunstrc, "w") as f:
            f.write(DUNSTRC.format(dmenu=dmenu))
        sb.spawn(["dunst", "-config", dunstrc], log_path=os.path.join(sb.root, "dunst.log"),
                 env=self.session_env())
        sb.wait_for(lambda: self.session_has(NOTIFICATIONS), timeout=20,
                    what="dunst on the session bus")

        sb.write_config({"pool": {"autonomous": {"min": 1, "max": 1}}})
        sb.start_daemon()
        sb.wait_for(lambda: any(s[2] == "idle" for s in sb.get_property("Sessions")),
                    timeout=30, what="an idle pool session")
        sb.spawn([NOTIFIER_PATH], log_path=os.path.join(sb.root, "notifier.log"),
                 env=self.session_env(G_MESSAGES_DEBUG="claude-failover-notifier"))
        sb.wait_for(lambda: self.session_has(APP_ID), timeout=20, what="the notifier")
        time.sleep(1)

        r = sb.gdbus("call", "--dest", harness.BUS_NAME, "--object-path", harness.OBJECT_PATH,
                     "--method", "org.claudefailover.Manager.SwitchAccount", "backup",
                     check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        sb.wait_for(lambda: sb.get_property("ActiveAccount") == "backup", timeout=30,
                    what="the switch to backup")

        def history():
            r = sb.run(["dunstctl", "history"], env=self.session_env())
            return r.stdout if r.returncode == 0 else ""

        def displayed_count():
            r = sb.run(["dunstctl", "count", "displayed"], env=self.session_env())
            return int(r.stdout.strip() or 0) if r.returncode == 0 else 0

        sb.wait_for(lambda: displayed_count() >= 1, timeout=20, what="a notification on screen")
        time.sleep(1)

        # dunst's action menu: what a click on the notification opens.
        subprocess.Popen(["dunstctl", "context"], env=self.session_env(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sb.wait_for(lambda: os.path.exists(shown), timeout=20, what="the action menu")
        time.sleep(1.2)
        screenshot = os.path.join(sb.root, "notifier.png")
        r = sb.run(["import", "-window", "root", screenshot], env=self.x_env(), timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(screenshot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        target = os.environ.get("CF_SCREENSHOT_DIR")
        if target:
            shutil.copy(screenshot, os.path.join(target, "notifier.png"))

        with open(dmenu_log, encoding="utf-8") as f:
            choices = f.read()
        self.assertIn("Switch back now", choices)
        self.assertIn("Now using Claude account backup", choices)
        # The pick went back through dunst to the notifier, which switched back.
        sb.wait_for(lambda: sb.get_property("ActiveAccount") == "main", timeout=40,
                    what="the switch back chosen in dunst's menu")
        self.assertNotIn("CRITICAL", harness._tail(os.path.join(sb.root, "notifier.log"), 200))
        print(f"dunst offered: {choices.strip()!r}; history has "
              f"{history().count('Now using')} 'Now using' entries", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
