#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Hostile arguments to EVERY method of org.claudefailover.Manager, on a
private system-bus-like dbus-daemon with real tmux and fake-claude.

The methods and their signatures come from the running daemon's
introspection, so a method added later is covered without editing this file.

- Wrong types (too few, too many, or mistyped arguments; options that are
  not a{sv}): sd-bus refuses them with org.freedesktop.DBus.Error.InvalidArgs.
- Absurd values, as root so the argument checks are what is tested: empty,
  huge (1 MiB) strings, control characters and escape sequences, path
  traversal, names with '=' ':' ' ' and tmux target syntax, format
  directives, unknown enum words, negative and huge numbers and wrongly
  typed variants in SubmitTask's options, deep or broken hook JSON; plus
  seeded random strings (CF_LONG=1: more of them). Each is answered with an
  error name from src/lib/cf-names.h (or InvalidArgs) and a one-line,
  bounded message; nothing changes in the queue, the project tree or the
  state; the daemon still answers GetStatus.
- As nobody, each mutating method with VALID arguments is AccessDenied (no
  polkitd on this bus) and changes nothing.

Needs root (runuser): skips elsewhere, runs in CI.
"""

import hashlib
import os
import random
import re
import sys
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUS_NAME, INTERFACE, OBJECT_PATH, Sandbox, require,  # noqa: E402
                     require_programs, user_exists, has_failed)

try:
    import dbus
except ImportError:  # pragma: no cover - reported as a skip
    dbus = None

CF_ERRORS = {
    "org.claudefailover.Error." + n
    for n in ("NoSuchAccount", "NoSuchTask", "NoSuchSession", "NoSuchProject",
              "InvalidArgument", "SwapInProgress", "PartialSwap")
}
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
# Methods anyone may call; every other method is mutating (a new one too).
READ_ONLY = {"GetStatus", "ListTasks"}
MAX_MESSAGE = 400
LONG = os.environ.get("CF_LONG") == "1"
HUGE = "x" * (1024 * 1024)
ACCEPTED = None  # in an allowed set: the call may succeed (but change nothing)
TASK_ID = "queued-one"
# What cf_hook_event_name_is_valid accepts: any such event is taken, as
# "Other" when unknown (Claude Code adds events), and changes nothing.
EVENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def tree(top):
    """Every path under TOP with its kind and, for files, a content hash."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            if name == "status.json":  # rewritten by the janitor with the time
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, top)
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                out[rel] = ("dir",)
            else:
                data = read_file(path)
                out[rel] = ("file", hashlib.sha256(data or b"").hexdigest())
    return out


# --- values -------------------------------------------------------------------

JUNK_STRINGS = [
    "", " ", "\t\n", HUGE, "\x01\x02\x03\x7f", "\x1b[31mred\x1b[0m\x1b]0;title\x07",
    "../../../../etc/passwd", "../", "..", ".", "/", "/etc", "a/b", "a=b", "a:b", "a b",
    "=ccl-auto-0", "ccl-auto-0:", "ccl-auto-0:0.0", "%1;kill-server", "$(id)", "`id`",
    "%s%s%s%n%x", "-1", "-9223372036854775808", "18446744073709551616",
    "99999999999999999999999999999999", "nan", "null", "true", "{}", "\u202eevil",
    "é☃\U0001F600", "line1\nline2", "\r", "a" * 300,
]


def random_string(rng):
    alphabet = ("abcXYZ019 =:/.-_%$`'\"\\\n\r\t\x01\x1b\x7féß☃\u202e\U0001F600{}[]")
    n = rng.choice([0, 1, 2, 8, 64, 300, 5000])
    return "".join(rng.choice(alphabet) for _ in range(n))


class HostileBusTest(unittest.TestCase):
    def setUp(self):
        require(dbus is not None, "dbus-python is not installed for this Python")
        require(os.getuid() == 0, "needs root (runs as root and as nobody)")
        require(user_exists("nobody"), "no user 'nobody'")
        require_programs("dbus-daemon", "tmux", "gdbus", "runuser")
        self.sb = Sandbox("hostile")
        self.addCleanup(self._close)
        sb = self.sb
        sb.start_bus()
        sb.start_tmux()
        sb.write_config({"pool": {"autonomous": {"min": 1, "max": 1}}})
        sb.start_daemon()
        self.bus = dbus.bus.BusConnection(sb.bus_address)
        self.addCleanup(self.bus.close)
        self.obj = self.bus.get_object(BUS_NAME, OBJECT_PATH, introspect=False)
        sb.wait_for(lambda: self.idle_session() is not None, timeout=20,
                    what="an idle pool session")
        # A queued task that must stay where it is: dispatch is paused first.
        self.call("PauseDispatch", "", ())
        sb.add_task(TASK_ID, "Stay in the inbox.")
        sb.wait_for(lambda: self.status()["PendingTasks"] == 1, timeout=10,
                    what="the task counted")
        sb.wait_for(lambda: b'"dispatch_paused" : true' in (read_file(sb.config["state_file"])
                                                             or b""),
                    timeout=10, what="the state file written")
        # The janitor's first pass creates the queue's lock and meta dir.
        status_json = os.path.join(sb.project_dir, ".agent-queue", "status.json")
        sb.wait_for(lambda: os.path.exists(status_json), timeout=10, what="a janitor pass")
        self.methods = self.introspect()

    def _close(self):
        if has_failed(self):
            self.sb.dump_logs()
        self.sb.close()

    # --- helpers ----------------------------------------------------------------

    def call(self, method, signature, args, timeout=30):
        return self.bus.call_blocking(BUS_NAME, OBJECT_PATH, INTERFACE, method, signature,
                                      args, timeout=timeout)

    def status(self):
        return self.call("GetStatus", "", ())

    def idle_session(self):
        for s in self.status()["Sessions"]:
            if str(s[1]) == "pool" and str(s[2]) == "idle":
                return str(s[0])
        return None

    def introspect(self):
        xml = self.bus.call_blocking(BUS_NAME, OBJECT_PATH, "org.freedesktop.DBus.Introspectable",
                                     "Introspect", "", ())
        root = ET.fromstring(str(xml))
        iface = next(i for i in root.iter("interface") if i.get("name") == INTERFACE)
        methods = {}
        for m in iface.findall("method"):
            methods[m.get("name")] = [(a.get("name"), a.get("type")) for a in m.findall("arg")
                                      if a.get("direction", "in") == "in"]
        self.assertIn("SubmitTask", methods)
        return methods

    def snapshot(self):
        """What no refused call may change: the project trees, the homes and
        links, the state file, and the daemon's view of itself."""
        st = self.status()
        view = {k: st[k] for k in st if k != "Sessions"}
        view["Sessions"] = sorted((str(s[0]), str(s[1]), str(s[2]), str(s[3]), str(s[4]))
                                  for s in st["Sessions"])
        return {
            "home": tree(self.sb.home),
            "state_file": read_file(self.sb.config["state_file"]),
            "status": repr(view),
        }

    def assert_unchanged(self, before, what):
        after = self.snapshot()
        diff = []
        for key in before:
            if key == "home":
                a, b = before["home"], after["home"]
                diff += [f"{p}: {a.get(p)} -> {b.get(p)}" for p in sorted(set(a) | set(b))
                         if a.get(p) != b.get(p)]
            elif before[key] != after[key]:
                diff.append(f"{key}: {str(before[key])[:300]} -> {str(after[key])[:300]}")
        self.assertEqual(diff, [], f"{what} changed something")

    def assert_alive(self, what):
        self.assertIsNone(self.sb.daemon.poll(), f"the daemon died after {what}")
        self.assertIn("ActiveAccount", self.status(), what)

    def expect_error(self, method, signature, args, allowed, what):
        try:
            reply = self.call(method, signature, args)
            if ACCEPTED in allowed:
                return ACCEPTED
        except dbus.exceptions.DBusException as e:
            name, message = e.get_dbus_name(), e.get_dbus_message() or ""
            self.assertTrue(name in allowed, f"{what}: {name}: {message[:200]!r}")
            self.assertFalse("\n" in message, f"{what}: multi-line message {message[:200]!r}")
            self.assertLessEqual(len(message), MAX_MESSAGE,
                                 f"{what}: a {len(message)}-character message")
            self.assertTrue(message.strip(), f"{what}: empty message")
            return name
        self.fail(f"{what}: accepted, replied {reply!r}")

    # --- argument builders ------------------------------------------------------

    def valid_args(self, method, params):
        """Arguments each method accepts, by argument name; the hostile
        value then replaces one of them."""
        session = self.idle_session() or "ccl-auto-0"
        by_name = {
            "project": "demo", "task_id": TASK_ID, "title": "A title", "body": "Body.",
            "options": dbus.Dictionary({}, signature="sv"), "account": "backup",
            "name": session, "event": "Stop", "tmux_pane": "%0",
            "payload_json": '{"session_id":"s","hook_event_name":"Stop"}',
        }
        args = []
        for name, sig in params:
            if name in by_name:
                args.append(by_name[name])
            elif sig == "s":
                args.append("")
            elif sig == "a{sv}":
                args.append(dbus.Dictionary({}, signature="sv"))
            else:  # a new method with a new kind of argument: left to sd-bus
                args.append(None)
        return args

    def hostile_values(self, method, arg_name, sig):
        """(value, allowed error names) pairs for one argument."""
        if sig == "a{sv}":
            V = dbus.Dictionary
            cases = [
                {"nonsense": dbus.String("x", variant_level=1)},
                {"": dbus.String("x", variant_level=1)},
                {HUGE: dbus.String("x", variant_level=1)},
                {"priority": dbus.String("urgent", variant_level=1)},
                {"priority": dbus.String("", variant_level=1)},
                {"priority": dbus.Int32(-1, variant_level=1)},
                {"priority": dbus.UInt64(2 ** 64 - 1, variant_level=1)},
                {"priority": dbus.Int64(-2 ** 63, variant_level=1)},
                {"priority": dbus.Double(float("nan"), variant_level=1)},
                {"model": dbus.String("../../etc/passwd", variant_level=1)},
                {"model": dbus.String("sonnet\nmodel: opus", variant_level=1)},
                {"model": dbus.String(HUGE, variant_level=1)},
                {"model": dbus.Boolean(True, variant_level=1)},
                {"preferred_ai": dbus.String("skynet", variant_level=1)},
                {"preferred_ai": dbus.String("gpu ", variant_level=1)},
                {"allow_delegation": dbus.String("yes", variant_level=1)},
                {"allow_delegation": dbus.Int32(1, variant_level=1)},
                {"needs_claude_code": dbus.String("true", variant_level=1)},
                {"tags": dbus.String("a,b", variant_level=1)},
                {"tags": dbus.Array(["ok", "two\nlines"], signature="s", variant_level=1)},
                {"tags": dbus.Array([HUGE], signature="s", variant_level=1)},
                {"tags": dbus.Array([""], signature="s", variant_level=1)},
                {"tags": dbus.Array([1, 2], signature="i", variant_level=1)},
                {"priority": dbus.String("high", variant_level=2)},
                {"priority": dbus.Struct(("high",), signature="s", variant_level=1)},
                {"priority": V({"a": "b"}, signature="ss", variant_level=1)},
            ]
            return [(V(c, signature="sv"), CF_ERRORS) for c in cases]
        if method == "SubmitTask" and arg_name == "title":
            return [(v, CF_ERRORS) for v in ("", " ", "\t\n\r ", HUGE)]
        if method == "SubmitTask" and arg_name == "body":
            return [(HUGE, CF_ERRORS)]
        if method == "SwitchAccount":
            # "" is valid: the next available account.
            return [(v, CF_ERRORS) for v in JUNK_STRINGS if v != ""] + \
                [(v, CF_ERRORS) for v in ("main ", " backup", "Backup", "backup\n")]
        if method == "ReportHookEvent" and arg_name == "payload_json":
            return [(v, CF_ERRORS) for v in (
                "", "{", "[]", "null", "\"x\"", "{\"a\":1} trailing", "[" * 100000,
                "{\"session_id\":" + "[" * 5000 + "}", "{'single':'quotes'}",
                "{\"a\":\"\\ud800\"}", "{\"hook_event_name\":\"Stop\"}/*c*/", HUGE)]
        if method == "ReportHookEvent" and arg_name == "event":
            return [(v, CF_ERRORS | {ACCEPTED} if EVENT_NAME.fullmatch(v) else CF_ERRORS)
                    for v in JUNK_STRINGS + ["Stop" * 17, "1Stop", "Stop!", "StopFailure "]]
        # Strings that name something: none of these exist.
        return [(v, CF_ERRORS) for v in JUNK_STRINGS]

    # --- tests ----------------------------------------------------------------------

    def test_wrong_types_are_invalid_args(self):
        before = self.snapshot()
        count = 0
        for method, params in sorted(self.methods.items()):
            sig = "".join(s for _, s in params)
            wrong = []
            wrong.append(("s" + sig, ["extra"] + self.valid_args(method, params)))
            wrong.append((sig + "u", self.valid_args(method, params) + [7]))
            if params:
                wrong.append(("", []))
                wrong.append((sig[:-len(params[-1][1])], self.valid_args(method, params)[:-1]))
            for i, (name, s) in enumerate(params):
                for bad_sig, bad_value in (("i", -1), ("t", 2 ** 64 - 1), ("b", True),
                                           ("as", ["a"]), ("o", "/x"), ("v", dbus.String("x")),
                                           ("a{ss}", {"a": "b"}), ("ay", b"\x00\xff")):
                    if bad_sig == s:
                        continue
                    sigs = [p[1] for p in params]
                    sigs[i] = bad_sig
                    args = self.valid_args(method, params)
                    args[i] = bad_value
                    wrong.append(("".join(sigs), args))
            for bad_sig, args in wrong:
                what = f"{method}({bad_sig})"
                self.expect_error(method, bad_sig, args, {INVALID_ARGS}, what)
                count += 1
            self.assert_alive(method)
        self.assertGreater(count, 8 * len(self.methods))
        self.assert_unchanged(before, "a wrongly typed call")

    def test_absurd_values_are_clean_errors(self):
        before = self.snapshot()
        seen = {}
        count = 0
        for method, params in sorted(self.methods.items()):
            if method in READ_ONLY or not params:
                continue
            for i, (name, sig) in enumerate(params):
                for value, allowed in self.hostile_values(method, name, sig):
                    args = self.valid_args(method, params)
                    args[i] = value
                    shown = repr(value)[:60]
                    err = self.expect_error(method, "".join(s for _, s in params), args,
                                            allowed, f"{method} {name}={shown}")
                    seen[err] = seen.get(err, 0) + 1
                    count += 1
            self.assert_alive(method)
            self.assert_unchanged(before, method)
        self.assertGreater(count, 200)
        # The validation errors the contract names are all exercised.
        for name in ("NoSuchProject", "NoSuchTask", "NoSuchAccount", "NoSuchSession",
                     "InvalidArgument"):
            self.assertIn("org.claudefailover.Error." + name, seen, seen)

    def test_random_strings_are_clean_errors(self):
        seed = int(os.environ.get("CF_TEST_SEED", time.time_ns() % 2 ** 32))
        print(f"random seed {seed} (CF_TEST_SEED={seed} to replay)", file=sys.stderr)
        rng = random.Random(seed)
        before = self.snapshot()
        rounds = 400 if LONG else 40
        for method, params in sorted(self.methods.items()):
            if method in READ_ONLY or not params:
                continue
            for _ in range(rounds):
                args = self.valid_args(method, params)
                sig = "".join(s for _, s in params)
                # Random text where no random text can be valid: the project,
                # the account, the session name, the hook event and pane.
                targets = [i for i, (n, s) in enumerate(params)
                           if s == "s" and n in ("project", "account", "name", "event",
                                                 "tmux_pane", "task_id")]
                if not targets:
                    break
                i = rng.choice(targets)
                args[i] = random_string(rng)
                if method == "SwitchAccount" and args[i] in ("", "main", "backup"):
                    continue
                allowed = CF_ERRORS
                if params[i][0] == "event" and EVENT_NAME.fullmatch(args[i]):
                    allowed = CF_ERRORS | {ACCEPTED}
                self.expect_error(method, sig, args, allowed,
                                  f"{method} {params[i][0]}={args[i][:60]!r} (seed {seed})")
            self.assert_alive(method)
        self.assert_unchanged(before, "a random call")

    def test_nobody_is_denied_before_any_effect(self):
        sb = self.sb
        before = self.snapshot()
        session = self.idle_session()
        pane = sb.tmux("display-message", "-p", "-t", f"={session}:", "#{pane_id}").stdout.strip()
        gv = {
            "project": "'demo'", "task_id": f"'{TASK_ID}'", "title": "'Forged'",
            "body": "'Forged body.'", "options": "@a{sv} {}", "account": "'backup'",
            "name": f"'{session}'", "event": "'Stop'", "tmux_pane": f"'{pane}'",
            "payload_json": "'{\"session_id\":\"s\",\"hook_event_name\":\"Stop\"}'",
        }
        mutating = sorted(m for m in self.methods if m not in READ_ONLY)
        self.assertIn("ReportHookEvent", mutating)
        for method in mutating:
            args = [gv.get(n, "''" if s == "s" else "@a{sv} {}") for n, s in self.methods[method]]
            r = sb.gdbus("call", "--dest", BUS_NAME, "--object-path", OBJECT_PATH, "--method",
                         f"{INTERFACE}.{method}", *args, user="nobody", check=False)
            self.assertNotEqual(r.returncode, 0, f"{method} as nobody: {r.stdout}")
            self.assertIn(ACCESS_DENIED, r.stderr, f"{method} as nobody: {r.stderr}")
            self.assert_alive(method)
        time.sleep(1)  # anything a forged call had started would show by now
        self.assert_unchanged(before, "a call from nobody")
        self.assertEqual(sb.fake_events("prompt"), [])
        # The same valid hook event from root is taken: the refusal above
        # was about the caller, not the arguments.
        self.call("ReportHookEvent", "sss", ("Stop", pane,
                                             '{"session_id":"s","hook_event_name":"Stop"}'))
        self.assert_alive("ReportHookEvent as root")


if __name__ == "__main__":
    unittest.main(verbosity=2)
