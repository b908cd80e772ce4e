# SPDX-License-Identifier: MIT
"""Shared sandbox for claude-failover integration tests.

A Sandbox owns a short temporary directory under /tmp and everything started
in it: a private system-bus-like dbus-daemon, a private tmux server, the
daemon, fake Claude sessions. Leaving the `with` block kills all of it and
removes the directory (kept when CF_KEEP_SANDBOX=1).

    with Sandbox("bus") as sb:
        sb.start_bus()
        sb.start_tmux()
        sb.write_config({"pool": {"autonomous": {"min": 1}}})
        sb.start_daemon()
        sb.wait_for(lambda: sb.get_property("SwapState") == "normal",
                    what="daemon reports SwapState")

Run with Debian's /usr/bin/python3 (dbusmock and dbus-python live there).
Paths come from CF_BUILD_DIR / CF_SOURCE_DIR (set by meson test); without
them, <source>/build is assumed.
"""

import glob
import json
import os
import pwd
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

BUS_NAME = "org.claudefailover"
OBJECT_PATH = "/org/claudefailover/Manager"
INTERFACE = "org.claudefailover.Manager"

SKIP_EXIT_CODE = 77

_HERE = os.path.dirname(os.path.abspath(__file__))


def require(cond, reason):
    """Skip the whole test program (meson exit code 77) unless COND holds."""
    if not cond:
        print(f"SKIP: {reason}", file=sys.stderr, flush=True)
        # os._exit, not sys.exit: called from a unittest setUp, SystemExit
        # would be reported as an error instead of a skip.
        sys.stdout.flush()
        os._exit(SKIP_EXIT_CODE)


def require_programs(*names):
    for name in names:
        require(shutil.which(name) is not None, f"{name} is not installed")


def source_dir():
    return os.environ.get("CF_SOURCE_DIR") or os.path.normpath(os.path.join(_HERE, "..", ".."))


def build_dir():
    return os.environ.get("CF_BUILD_DIR") or os.path.join(source_dir(), "build")


def sanitized():
    """Whether the build under test uses sanitizers (b_sanitize): its memory use and
    timing are not the shipped build's (ASan's quarantine alone keeps 256 MiB)."""
    path = os.path.join(build_dir(), "meson-info", "intro-buildoptions.json")
    try:
        with open(path, encoding="utf-8") as f:
            options = json.load(f)
    except (OSError, ValueError):
        return False
    return any(o.get("name") == "b_sanitize" and o.get("value") not in ("none", "", None)
               for o in options)


def _tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return f"({path} unreadable)"
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


# --- YAML writing ------------------------------------------------------------
# A small emitter so configs read like hand-written ones (block style, plain
# scalars where YAML allows them) without depending on PyYAML.

_PLAIN_RE = re.compile(r"[A-Za-z0-9_/.~][A-Za-z0-9_/.~@+-]*\Z")
_YAML_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"}
_NUMBER_RE = re.compile(r"[-+]?(\d[\d_]*)?(\.\d*)?([eE][-+]?\d+)?\Z|0x[0-9a-fA-F]+\Z|0o[0-7]+\Z")


def yaml_scalar(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if (text and _PLAIN_RE.match(text) and text.lower() not in _YAML_RESERVED
            and not _NUMBER_RE.match(text)):
        return text
    return json.dumps(text, ensure_ascii=False)


def _is_scalar(value):
    return not isinstance(value, (dict, list, tuple))


def to_yaml(value, indent=0):
    """Render dicts/lists/scalars as block-style YAML text."""
    pad = " " * indent
    out = []
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        for key, item in value.items():
            if _is_scalar(item):
                out.append(f"{pad}{yaml_scalar(key)}: {yaml_scalar(item)}\n")
            elif isinstance(item, dict) and not item:
                out.append(f"{pad}{yaml_scalar(key)}: {{}}\n")
            elif isinstance(item, (list, tuple)) and all(_is_scalar(x) for x in item):
                flow = ", ".join(yaml_scalar(x) for x in item)
                out.append(f"{pad}{yaml_scalar(key)}: [{flow}]\n")
            else:
                out.append(f"{pad}{yaml_scalar(key)}:\n")
                out.append(to_yaml(item, indent + 2))
        return "".join(out)
    if isinstance(value, (list, tuple)):
        if not value:
            return pad + "[]\n"
        for item in value:
            if _is_scalar(item):
                out.append(f"{pad}- {yaml_scalar(item)}\n")
            else:
                body = to_yaml(item, indent + 2)
                out.append(f"{pad}- {body[indent + 2:]}")
        return "".join(out)
    return pad + yaml_scalar(value) + "\n"


def deep_merge(base, overrides):
    """Merge OVERRIDES into a copy of BASE: dicts recursively, anything else
    replaces; a None value removes the key."""
    result = dict(base)
    for key, value in overrides.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result


class Sandbox:
    """Context manager owning every process and file of one test."""

    def __init__(self, name="t"):
        safe = re.sub(r"[^A-Za-z0-9]", "", name)[:8] or "t"
        self.root = tempfile.mkdtemp(prefix=f"cf-{safe}-", dir="/tmp")
        # Reachable by other users (runuser -u nobody … for polkit tests);
        # private pieces live in 0700 subdirectories.
        os.chmod(self.root, 0o755)
        self.home = os.path.join(self.root, "home")
        self.runtime_dir = os.path.join(self.root, "run")
        self.state_dir = os.path.join(self.root, "state")
        self.projects_dir = os.path.join(self.home, "projects")
        self.project_dir = os.path.join(self.projects_dir, "demo")
        self.fake_log_path = os.path.join(self.root, "fake.log")
        self.fake_control_dir = os.path.join(self.root, "fake-ctl")
        self.daemon_log_path = os.path.join(self.root, "daemon.log")
        self.bus_log_path = os.path.join(self.root, "bus.log")
        self.tmux_log_path = os.path.join(self.root, "tmux.log")
        self.bus_socket = os.path.join(self.root, "bus.sock")
        self.tmux_socket = os.path.join(self.root, "tmux.sock")
        os.makedirs(self.home, mode=0o755)
        os.makedirs(self.runtime_dir, mode=0o700)
        os.makedirs(self.state_dir, mode=0o700)
        os.makedirs(self.fake_control_dir, mode=0o755)

        self.source_dir = source_dir()
        self.build_dir = build_dir()
        self.daemon_path = os.path.join(self.build_dir, "src", "daemon", "claude-failoverd")
        self.ctl_path = os.path.join(self.build_dir, "src", "ctl", "claude-failoverctl")
        self.fake_claude_path = os.path.join(self.source_dir, "tests", "fake-claude")
        self.data_dir = os.path.join(self.build_dir, "data")

        self.fake_work_ms = 500
        self.bus_address = None
        self.config_path = None
        self.config = None
        self.daemon = None
        self._bus_proc = None
        self._tmux_started = False
        self._procs = []
        self._closed = False

    # --- lifetime ---------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.dump_logs()
        self.close()
        return False

    def dump_logs(self, lines=40):
        """Print the tails of the daemon, bus and fake-claude logs to stderr."""
        for label, path in (("daemon", self.daemon_log_path),
                            ("dbus-daemon", self.bus_log_path),
                            ("fake-claude", self.fake_log_path)):
            if os.path.exists(path):
                print(f"--- {label} log ({path}) ---\n{_tail(path, lines)}",
                      file=sys.stderr, flush=True)
        self.dump_panes(lines)

    def dump_panes(self, lines=40):
        """Print each tmux pane's state and the last LINES of its screen to
        stderr: what the daemon saw when a test timed out."""
        if not self._tmux_started:
            return
        try:
            panes = self.tmux("list-panes", "-a", "-F",
                              "#{session_name} #{pane_id} pid=#{pane_pid} dead=#{pane_dead} "
                              "status=#{pane_dead_status} cmd=#{pane_current_command}",
                              check=False, timeout=5).stdout.split("\n")
            for pane in filter(None, panes):
                screen = self.tmux("capture-pane", "-p", "-t", pane.split()[1],
                                   check=False, timeout=5).stdout.rstrip("\n")
                tail = "\n".join(screen.split("\n")[-lines:])
                print(f"--- tmux pane {pane} ---\n{tail}", file=sys.stderr, flush=True)
        except (OSError, subprocess.SubprocessError) as e:
            print(f"--- tmux panes: {e} ---", file=sys.stderr, flush=True)

    def close(self):
        """Stop everything and remove the sandbox. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self.daemon is not None and self.daemon.poll() is None:
            try:
                self.stop_daemon(timeout=5)
            except AssertionError as e:
                print(f"harness: {e}", file=sys.stderr)
        for proc in reversed(self._procs):
            self._kill_group(proc)
        self._kill_tmux_server()
        if self._bus_proc is not None:
            self._kill_group(self._bus_proc)
        if os.environ.get("CF_KEEP_SANDBOX") == "1":
            print(f"harness: sandbox kept in {self.root}", file=sys.stderr)
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    @staticmethod
    def _kill_group(proc, timeout=3):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Children may outlive the leader; the group id stays the leader's pid.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def _kill_tmux_server(self):
        if not os.path.exists(self.tmux_socket):
            return
        pid = None
        r = self.tmux("display-message", "-p", "#{pid}", check=False)
        if r.returncode == 0 and r.stdout.strip().isdigit():
            pid = int(r.stdout.strip())
        self.tmux("kill-server", check=False)
        if pid is not None:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and _pid_alive(pid):
                time.sleep(0.05)
            if _pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def spawn(self, argv, log_path=None, env=None, cwd=None, user=None, **popen_kw):
        """Start a helper process in its own process group; killed on close."""
        if user is not None:
            argv = ["runuser", "-u", user, "--"] + list(argv)
        out = open(log_path or os.devnull, "ab")
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, env=env or self.env(),
                                    cwd=cwd, start_new_session=True, **popen_kw)
        finally:
            out.close()
        self._procs.append(proc)
        return proc

    # --- environment --------------------------------------------------------

    def env(self, **extra):
        env = dict(os.environ)
        # Never leak the caller's tmux or session bus into the sandbox.
        for key in ("TMUX", "TMUX_PANE", "DBUS_SESSION_BUS_ADDRESS"):
            env.pop(key, None)
        env.update({
            "HOME": self.home,
            "FAKE_CLAUDE_LOG": self.fake_log_path,
            "FAKE_CLAUDE_CONTROL_DIR": self.fake_control_dir,
            "FAKE_CLAUDE_WORK_MS": str(self.fake_work_ms),
            "LC_ALL": "C.UTF-8",
            "LANG": "C.UTF-8",
        })
        if self.bus_address:
            env["DBUS_SYSTEM_BUS_ADDRESS"] = self.bus_address
        for key, value in extra.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = str(value)
        return env

    def run(self, argv, input=None, check=False, env=None, user=None, timeout=60, cwd=None):
        """Run a command to completion with the sandbox environment (text mode)."""
        if user is not None:
            argv = ["runuser", "-u", user, "--"] + list(argv)
        r = subprocess.run(argv, input=input, capture_output=True, text=True,
                           env=env or self.env(), timeout=timeout, cwd=cwd)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    # --- D-Bus --------------------------------------------------------------

    def bus_config(self, servicedir=None, extra_owners=(), mock_names=(), extra_policy=""):
        """Text of a dbus-daemon config that behaves like the system bus."""
        built_conf = os.path.join(self.data_dir, "org.claudefailover.conf")
        owners = "".join(
            f'  <policy user="{u}">\n    <allow own="{BUS_NAME}"/>\n  </policy>\n'
            for u in extra_owners)
        mocks = "".join(
            f'  <policy user="root">\n    <allow own="{n}"/>\n  </policy>\n'
            f'  <policy context="default">\n    <allow send_destination="{n}"/>\n  </policy>\n'
            for n in mock_names)
        service_dir = f"  <servicedir>{servicedir}</servicedir>\n" if servicedir else ""
        return f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path={self.bus_socket}</listen>
{service_dir}
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus"
          send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>

  <include>{built_conf}</include>
  <include ignore_missing="yes">/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf</include>
{owners}{mocks}{extra_policy}
</busconfig>
"""

    def start_bus(self, servicedir=None, extra_owners=(), mock_names=(), extra_policy=""):
        """Start the private bus; returns its address (also self.bus_address).

        servicedir: a directory of .service files for activation tests.
        extra_owners: more users allowed to own org.claudefailover (the built
            policy already allows root and the configured service user).
        mock_names: names root may own and anyone may call (dbusmock
            templates such as org.freedesktop.PolicyKit1).
        extra_policy: raw XML appended inside <busconfig>.
        """
        require_programs("dbus-daemon")
        built_conf = os.path.join(self.data_dir, "org.claudefailover.conf")
        if not os.path.exists(built_conf):
            raise AssertionError(f"{built_conf} missing: build the project first")
        conf_path = os.path.join(self.root, "bus.conf")
        with open(conf_path, "w") as f:
            f.write(self.bus_config(servicedir, extra_owners, mock_names, extra_policy))
        log = open(self.bus_log_path, "ab")
        try:
            proc = subprocess.Popen(
                ["dbus-daemon", f"--config-file={conf_path}", "--nofork", "--print-address"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                start_new_session=True, env=self.env())
        finally:
            log.close()
        self._bus_proc = proc
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        line = proc.stdout.readline().decode().strip() if ready else ""
        if not line:
            raise AssertionError("dbus-daemon did not print its address:\n"
                                 + _tail(self.bus_log_path))
        self.bus_address = line
        return line

    def name_has_owner(self, name=BUS_NAME):
        r = subprocess.run(
            ["busctl", f"--address={self.bus_address}", "call", "org.freedesktop.DBus",
             "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", "s", name],
            capture_output=True, text=True, timeout=10)
        return r.returncode == 0 and r.stdout.strip() == "b true"

    def busctl(self, *args, check=True, user=None, timeout=60):
        """`busctl --system ARGS` against the private bus; CompletedProcess (text)."""
        return self.run(["busctl", "--system", *args], check=check, user=user, timeout=timeout)

    def gdbus(self, subcommand, *args, check=True, user=None, timeout=60):
        """`gdbus SUBCOMMAND --address ADDR ARGS`; CompletedProcess (text)."""
        return self.run(["gdbus", subcommand, "--address", self.bus_address, *args],
                        check=check, user=user, timeout=timeout)

    def get_property(self, name, interface=INTERFACE, path=OBJECT_PATH, dest=BUS_NAME):
        """A property of the running daemon, decoded from busctl's JSON."""
        r = self.busctl("--json=short", "get-property", dest, path, interface, name)
        return json.loads(r.stdout)["data"]

    def call(self, method, signature="", *args, interface=INTERFACE, check=True, user=None):
        """busctl call on the Manager; returns the decoded reply data list
        (check=False: the CompletedProcess, to inspect errors)."""
        argv = ["--json=short", "call", BUS_NAME, OBJECT_PATH, interface, method]
        if signature:
            argv += [signature, *[str(a) for a in args]]
        r = self.busctl(*argv, check=check, user=user)
        if not check:
            return r
        return json.loads(r.stdout)["data"] if r.stdout.strip() else []

    # --- tmux ---------------------------------------------------------------

    def tmux(self, *args, check=True, timeout=30):
        """`tmux -S <sandbox socket> ARGS`; CompletedProcess (text)."""
        r = subprocess.run(["tmux", "-S", self.tmux_socket, *args], capture_output=True,
                           text=True, env=self.env(), timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} exited {r.returncode}: {r.stderr}")
        return r

    def start_tmux(self, width=160, height=50):
        """Start the private tmux server (socket self.tmux_socket) with the
        sandbox environment as its global environment; returns the socket."""
        require_programs("tmux")
        self.tmux("-f", "/dev/null", "start-server", ";",
                  "set-option", "-g", "exit-empty", "off", ";",
                  "set-option", "-g", "default-size", f"{width}x{height}", ";",
                  "set-option", "-g", "history-limit", "5000", ";",
                  "set-option", "-g", "remain-on-exit", "off")
        self._tmux_started = True
        return self.tmux_socket

    def new_session(self, name, command=None, cwd=None, env=None, width=160, height=50):
        """tmux new-session -d NAME running COMMAND (list or shell string)."""
        argv = ["new-session", "-d", "-s", name, "-x", str(width), "-y", str(height)]
        if cwd:
            argv += ["-c", cwd]
        for key, value in (env or {}).items():
            argv += ["-e", f"{key}={value}"]
        if command is not None:
            argv += list(command) if isinstance(command, (list, tuple)) else [command]
        self.tmux(*argv)
        return self.tmux("display-message", "-p", "-t", f"={name}:", "#{pane_id}").stdout.strip()

    def start_fake(self, name, *claude_args, cwd=None, config_dir=None, env=None, **kw):
        """A tmux session NAME running tests/fake-claude CLAUDE_ARGS; returns the pane id."""
        session_env = dict(env or {})
        if config_dir:
            session_env["CLAUDE_CONFIG_DIR"] = config_dir
        return self.new_session(name, [self.fake_claude_path, *claude_args],
                                cwd=cwd or self.home, env=session_env, **kw)

    def capture(self, target, history=False):
        """Text of a pane (exact session name or pane id), trailing blanks trimmed."""
        if not target.startswith("%") and not target.startswith("="):
            target = f"={target}:"
        argv = ["capture-pane", "-p", "-t", target]
        if history:
            argv += ["-S", "-"]
        return self.tmux(*argv).stdout.rstrip("\n")

    def sessions(self):
        r = self.tmux("list-sessions", "-F", "#{session_name}", check=False)
        return r.stdout.split() if r.returncode == 0 else []

    def send_text(self, target, text, enter=True):
        """Type TEXT literally (send-keys -l), then Enter as a separate key."""
        if not target.startswith("%") and not target.startswith("="):
            target = f"={target}:"
        self.tmux("send-keys", "-t", target, "-l", text)
        if enter:
            self.tmux("send-keys", "-t", target, "Enter")

    def paste(self, target, text, enter=True, enter_delay=0.3):
        """Bracketed paste of TEXT (load-buffer + paste-buffer -p), then a
        separate Enter after ENTER_DELAY seconds."""
        if not target.startswith("%") and not target.startswith("="):
            target = f"={target}:"
        buf = f"h{os.getpid()}"
        subprocess.run(["tmux", "-S", self.tmux_socket, "load-buffer", "-b", buf, "-"],
                       input=text.encode(), check=True, env=self.env(), timeout=30)
        self.tmux("paste-buffer", "-p", "-d", "-b", buf, "-t", target)
        if enter:
            time.sleep(enter_delay)
            self.tmux("send-keys", "-t", target, "Enter")

    # --- fake Claude ----------------------------------------------------------

    def fake_log(self):
        """Events written by every fake-claude of this sandbox, oldest first."""
        events = []
        try:
            with open(self.fake_log_path, encoding="utf-8") as f:
                for line in f:
                    if line.endswith("\n"):
                        try:
                            events.append(json.loads(line))
                        except ValueError:
                            pass
        except FileNotFoundError:
            pass
        return events

    def fake_events(self, event=None, **match):
        """fake_log() filtered by event name and exact field values."""
        return [e for e in self.fake_log()
                if (event is None or e.get("event") == event)
                and all(e.get(k) == v for k, v in match.items())]

    def fake_control(self, target, *commands):
        """Queue one-shot commands for the fake in tmux session or pane TARGET
        (see the protocol at the top of tests/fake-claude)."""
        _atomic_write(os.path.join(self.fake_control_dir, target),
                      "".join(c + "\n" for c in commands))

    def fake_account_limit(self, account_home, text=None):
        """Make every fake running with CLAUDE_CONFIG_DIR=ACCOUNT_HOME hit the
        usage limit (TEXT or the default message); text=False lifts it."""
        path = os.path.join(self.fake_control_dir,
                            "account-" + os.path.basename(os.path.normpath(account_home)))
        if text is False:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        else:
            _atomic_write(path, "limit" + (f" {text}" if text else "") + "\n")

    # --- configuration --------------------------------------------------------

    def default_config(self):
        return {
            "state_file": os.path.join(self.state_dir, "state.json"),
            "runtime_dir": self.runtime_dir,
            "tmux": {
                "socket": self.tmux_socket,
                "claude_command": self.fake_claude_path,
            },
            "accounts": [
                {"name": "main", "home": os.path.join(self.home, ".claude-main")},
                {"name": "backup", "home": os.path.join(self.home, ".claude-backup")},
            ],
            "claude_link": os.path.join(self.home, ".claude"),
            "shared_state": {
                "root": os.path.join(self.home, ".claude-shared"),
                "entries": ["session-env", "file-history", "projects"],
            },
            "pool": {
                "autonomous": {"prefix": "ccl-auto-", "start_index": 0, "min": 2, "max": 4},
            },
            "projects": {"dir": self.projects_dir},
            "dispatcher": {"prompt_timeout": "5s"},
            "watcher": {"interval": "200ms", "done_signal_dir": self.runtime_dir},
            # No gap between launches unless a test asks for one (lifecycle.start_stagger).
            "lifecycle": {"interval": "200ms", "start_stagger": "0"},
            "quota": {"interval": "200ms"},
            "janitor": {"interval": "1s"},
            "http": {"listen": ""},
        }

    def write_config(self, text_or_dict_overrides=None, filename="config.yaml", **kw):
        """Write a valid config (ARCHITECTURE 4.1) and return its path.

        A str is written verbatim; a dict (and/or keyword arguments, one per
        top-level key) is deep-merged into default_config() — None removes a
        key, lists replace. Account homes, the projects dir and one project
        ("demo", with its .agent-queue) are created. Sets self.config_path and
        self.config (the merged dict; None for raw text).
        """
        for sub in ("inbox", "active", "done", "failed"):
            os.makedirs(os.path.join(self.project_dir, ".agent-queue", sub), exist_ok=True)
        path = os.path.join(self.root, filename)
        if isinstance(text_or_dict_overrides, str):
            text = text_or_dict_overrides
            self.config = None
        else:
            config = deep_merge(self.default_config(), text_or_dict_overrides or {})
            config = deep_merge(config, kw)
            for account in config.get("accounts") or []:
                home = account.get("home") if isinstance(account, dict) else None
                if isinstance(home, str):
                    if home.startswith("~"):
                        home = self.home + home[1:]
                    os.makedirs(home, exist_ok=True)
            text = "# Written by tests/integration/harness.py\n" + to_yaml(config)
            self.config = config
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        self.config_path = path
        return path

    def add_task(self, task_id, body="Do the thing.", project=None, **frontmatter):
        """Create <project>/.agent-queue/inbox/<task_id>.md atomically; returns its path."""
        project = project or self.project_dir
        inbox = os.path.join(project, ".agent-queue", "inbox")
        os.makedirs(inbox, exist_ok=True)
        text = body
        if frontmatter:
            text = "---\n" + to_yaml(frontmatter) + "---\n" + body
        path = os.path.join(inbox, f"{task_id}.md")
        _atomic_write(path, text if text.endswith("\n") else text + "\n")
        return path

    # --- the daemon -----------------------------------------------------------

    def start_daemon(self, config=None, args=(), wait=True, env=None, timeout=10, user=None):
        """Run claude-failoverd --config CONFIG ARGS (output appended to
        self.daemon_log_path). With WAIT, return once org.claudefailover has
        an owner; raise AssertionError with the log tail if it exits first or
        TIMEOUT passes."""
        if config is None:
            config = self.config_path or self.write_config()
        argv = [self.daemon_path, "--config", config, *args]
        if user is not None:
            argv = ["runuser", "-u", user, "--"] + argv
        log = open(self.daemon_log_path, "ab")
        try:
            self.daemon = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT, env=env or self.env(),
                                           start_new_session=True)
        finally:
            log.close()
        if wait:
            if self.bus_address is None:
                raise AssertionError("start_daemon(wait=True) needs start_bus() first")
            deadline = time.monotonic() + timeout
            while not self.name_has_owner():
                if self.daemon.poll() is not None:
                    raise AssertionError(
                        f"claude-failoverd exited with {self.daemon.returncode} before "
                        f"owning {BUS_NAME}:\n{_tail(self.daemon_log_path)}")
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"claude-failoverd did not own {BUS_NAME} within {timeout}s:\n"
                        f"{_tail(self.daemon_log_path)}")
                time.sleep(0.05)
        return self.daemon

    def stop_daemon(self, sig=signal.SIGTERM, timeout=10):
        """Send SIG to the daemon and return its exit status (negative =
        killed by a signal). SIGKILLs and raises AssertionError on timeout."""
        proc = self.daemon
        if proc is None:
            raise AssertionError("no daemon started")
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
                raise AssertionError(f"claude-failoverd ignored signal {sig} for {timeout}s:\n"
                                     f"{_tail(self.daemon_log_path)}")
        return proc.returncode

    def daemon_log(self):
        try:
            with open(self.daemon_log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def ctl(self, *args, input=None, check=False, env=None, user=None, timeout=60):
        """Run claude-failoverctl ARGS with the sandbox environment."""
        return self.run([self.ctl_path, *args], input=input, check=check, env=env,
                        user=user, timeout=timeout)

    # --- polling ----------------------------------------------------------------

    def wait_for(self, predicate, timeout=10, interval=0.05, what="condition"):
        """Poll PREDICATE until it returns a truthy value, which is returned.
        Exceptions inside PREDICATE count as "not yet" (the last one is
        reported on timeout)."""
        deadline = time.monotonic() + timeout
        last_error = None
        while True:
            try:
                value = predicate()
                if value:
                    return value
            except Exception as e:  # noqa: BLE001 - reported on timeout
                last_error = e
            if time.monotonic() > deadline:
                detail = f" (last error: {last_error!r})" if last_error else ""
                raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
            time.sleep(interval)


def _atomic_write(path, text):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, path)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


# --- translations ---------------------------------------------------------------------

def po_translations(path):
    """msgid → msgstr of the translated entries of a .po file, leaving out the
    fuzzy, plural and msgctxt ones; {} when the file cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return {}
    entries = {}
    for block in re.split(r"\n\s*\n", text):
        if re.search(r"^#,.*\bfuzzy\b", block, re.M) or re.search(r"^msgid_plural", block, re.M):
            continue
        m = re.search(r'^msgid ((?:".*"\s*)+)^msgstr ((?:".*"\s*)+)', block, re.M | re.S)
        if not m:
            continue

        def unquote(s):
            return "".join(json.loads(part) for part in re.findall(r'"(?:[^"\\]|\\.)*"', s))
        msgid, msgstr = unquote(m.group(1)), unquote(m.group(2))
        ctxt = re.search(r'^msgctxt ((?:".*"\s*)+)', block, re.M)
        if msgid and msgstr and not ctxt:
            entries[msgid] = msgstr
    return entries


# --- the queue on disk (ARCHITECTURE §4.2) ---------------------------------------

QUEUE_PLACES = ("inbox", "active", "done", "failed")


def task_places(project, ids=()):
    """{task id: [the queue directories holding <id>.md]} for IDS (listed even
    when found nowhere) and for every other task file found."""
    where = {t: [] for t in ids}
    for place in QUEUE_PLACES:
        for path in glob.glob(os.path.join(project, ".agent-queue", place, "*.md")):
            where.setdefault(os.path.basename(path)[:-3], []).append(place)
    return where


def settled_task_places(project, ids=(), tries=20):
    """task_places() with the daemon running: the directories are listed one
    after the other, so a rename between two listings shows a task twice or
    nowhere for a moment. Scans again until every task is in one place (a
    real fault stays), at most TRIES times."""
    for _ in range(tries):
        where = task_places(project, ids)
        if all(len(p) == 1 for p in where.values()):
            break
        time.sleep(0.05)
    return where


# --- a test case with its own sandbox ------------------------------------------------

def has_failed(testcase):
    """Whether TESTCASE has failed so far: for its cleanups, which run after
    the failure is recorded (sys.exc_info() is empty there)."""
    result = getattr(getattr(testcase, "_outcome", None), "result", None)
    if result is None:
        return False
    return any(t is testcase for t, _ in list(result.failures) + list(result.errors))


class SandboxTestCase(unittest.TestCase):
    """One Sandbox per test with its bus and tmux server started; the logs
    are printed when the test fails. PROGRAMS are required (skip otherwise)."""

    PROGRAMS = ("dbus-daemon", "tmux", "busctl", "gdbus")
    LOG_LINES = 40

    def setUp(self):
        require_programs(*self.PROGRAMS)
        self.sb = Sandbox(self.id().rsplit(".", 1)[-1])
        self.addCleanup(self._close_sandbox)
        self.sb.start_bus()
        self.sb.start_tmux()

    def _close_sandbox(self):
        if has_failed(self):
            self.sb.dump_logs(self.LOG_LINES)
        self.sb.close()
