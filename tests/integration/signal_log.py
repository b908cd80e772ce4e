# SPDX-License-Identifier: MIT
"""Timestamped record of the daemon's D-Bus signals, for tests that measure
latencies (gdbus monitor prints no time). A child process (dbus-python on a
GLib loop) writes one JSON line per signal: {"t": epoch seconds, "member",
"args"}; SignalLog reads the file.

    log = SignalLog(sb)            # after sb.start_bus()
    ...
    started = log.wait("SwapStarted", lambda args: args[2] == "quota")
"""

import json
import os
import time

_CHILD = r"""
import json, sys, time
import dbus, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
def plain(v):
    if isinstance(v, (dbus.Array, list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dbus.Dictionary):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, dbus.Boolean):
        return bool(v)
    if isinstance(v, (dbus.String, dbus.ObjectPath)):
        return str(v)
    if isinstance(v, (int, float)):
        return v if not isinstance(v, bool) else bool(v)
    return str(v)
def on_signal(*args, **kw):
    out.write(json.dumps({"t": time.time(), "member": kw["member"],
                          "args": [plain(a) for a in args]}) + "\n")
bus.add_signal_receiver(on_signal, dbus_interface="org.claudefailover.Manager",
                        path="/org/claudefailover/Manager", member_keyword="member")
out.write(json.dumps({"t": time.time(), "member": "_ready", "args": []}) + "\n")
GLib.MainLoop().run()
"""


class SignalLog:
    def __init__(self, sb, name="signals.jsonl"):
        self.sb = sb
        self.path = os.path.join(sb.root, name)
        sb.spawn(["/usr/bin/python3", "-c", _CHILD, sb.bus_address, self.path],
                 log_path=self.path + ".err")
        sb.wait_for(lambda: any(e["member"] == "_ready" for e in self.events()),
                    timeout=10, what="the signal recorder")

    def events(self, member=None):
        try:
            with open(self.path, encoding="utf-8") as f:
                lines = [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []
        return [e for e in lines if member is None or e["member"] == member]

    def wait(self, member, predicate=None, timeout=30):
        """The first MEMBER signal whose args satisfy PREDICATE."""
        def find():
            for e in self.events(member):
                if predicate is None or predicate(e["args"]):
                    return e
            return None
        return self.sb.wait_for(find, timeout=timeout, what=f"signal {member}")

    def count(self, member, predicate=None):
        return sum(1 for e in self.events(member) if predicate is None or predicate(e["args"]))

    def since(self, t, member=None):
        return [e for e in self.events(member) if e["t"] >= t]


def wall():
    return time.time()
