#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Capture what the real Claude Code CLI draws, as fixtures for the pane classifier and
for tests/fake-claude.

Drives the pinned CLI (realclaude.py) in a private tmux server, 200 columns, against
tests/mock_anthropic.py, and writes:

  tests/fixtures/panes/claude-<version>-<what>.txt   `capture-pane -p` screens
  tests/fixtures/hooks/claude-<version>-<event>.json hook payloads seen on stdin
  tests/fixtures/hooks/claude-<version>-statusline.json  a statusLine stdin with rate_limits

Not a meson test (it takes a minute and rewrites fixtures). Run it by hand after a CLI
upgrade and review the diff:

  /usr/bin/python3 tests/integration/capture_real_panes.py [--only WHAT,...] [--out DIR]
                                                           [--keep] [--list]

Paths of the scratch directory are replaced by /tmp/cfcap-fixtures (same length, so
columns stay where the CLI put them). Exit status 1 when a screen never appeared (its
last capture is still written, with the name in the summary).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)

import realclaude  # noqa: E402
from harness import source_dir  # noqa: E402

WIDTH, HEIGHT = 200, 50
SCRATCH_NAME = "cfcap-fixtures"
# The empty input box: "❯" and a no-break space.
PROMPT_RE = r"^❯[ \u00a0]*$"
# A live spinner line: glyph, verb…, then "(Ns" — not the "running … hook" phase.
SPINNER_RE = r"^\S \S+… \((?!running)\d+s"
HOOK_EVENTS = ("SessionStart", "SessionEnd", "UserPromptSubmit", "Stop", "StopFailure",
               "Notification", "PermissionRequest", "PreToolUse", "PostToolUse")


class Capturer:
    def __init__(self, claude, out_panes, out_hooks, version, keep=False):
        self.claude = claude
        self.version = version
        self.out_panes = out_panes
        self.out_hooks = out_hooks
        self.keep = keep
        self.dir = tempfile.mkdtemp(prefix="cfcap-", dir="/tmp")
        assert len(os.path.basename(self.dir)) == len(SCRATCH_NAME)
        self.sock = os.path.join(self.dir, "tmux.sock")
        self.hooks_log = os.path.join(self.dir, "hooks.jsonl")
        self.status_log = os.path.join(self.dir, "statusline.jsonl")
        self.project = os.path.join(self.dir, "proj")
        os.makedirs(self.project)
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home)
        self.mock = realclaude.start_mock(lifetime=900)
        self.failed = []
        self.written = []
        self._n = 0
        self.tmux("-f", "/dev/null", "start-server", ";", "set-option", "-g", "exit-empty",
                  "off", ";", "set-option", "-g", "history-limit", "5000")

    # --- plumbing ------------------------------------------------------------
    def base_env(self):
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": self.home,
                "TERM": "xterm-256color", "LANG": "C.UTF-8", "TZ": "UTC",
                "SHELL": "/bin/bash"}

    def tmux(self, *args, check=True, input=None):
        r = subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True,
                           env=self.base_env(), input=input, timeout=30)
        if check and r.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {r.stderr.decode().strip()}")
        return r.stdout.decode("utf-8", "replace")

    def account(self, name, prepared=True, trusted=None, max_retries=0, hooks=True,
                statusline=True, settings=None, claude_json=None):
        home = os.path.join(self.dir, f"acct-{name}")
        if os.path.exists(home):
            shutil.rmtree(home)
        st = dict(settings or {})
        if hooks:
            rec = (f"/usr/bin/python3 -c 'import sys,json; d=json.load(sys.stdin); "
                   f"open(sys.argv[1],\"a\").write(json.dumps(d)+\"\\n\")' {self.hooks_log}")
            st["hooks"] = realclaude.hook_settings(rec, HOOK_EVENTS)
        if statusline:
            st["statusLine"] = {"type": "command", "command":
                                f"/usr/bin/python3 -c 'import sys,json; d=json.load(sys.stdin); "
                                f"open(sys.argv[1],\"a\").write(json.dumps(d)+\"\\n\"); "
                                f"print(\"statusline: mock\")' {self.status_log}"}
        return realclaude.make_account_home(
            home, name, self.mock.url, prepared=prepared,
            trusted=[self.project] if trusted is None else trusted,
            max_retries=max_retries, settings=st, claude_json=claude_json)

    def launch(self, home, args=("--dangerously-skip-permissions",), cwd=None, shell=False,
               env=None):
        """A tmux session running the CLI (or a shell, when SHELL, with the CLI typed in);
        returns the session target."""
        self._n += 1
        name = f"c{self._n}"
        cenv = realclaude.claude_env(home, base=self.base_env(), **(env or {}))
        argv = ["new-session", "-d", "-s", name, "-x", str(WIDTH), "-y", str(HEIGHT),
                "-c", cwd or self.project]
        for k, v in cenv.items():
            argv += ["-e", f"{k}={v}"]
        target = f"={name}:"
        if shell:
            # tmux 3.3 gives a new pane the client's PATH whatever -e says: set it here.
            argv += ["--", "/usr/bin/env", f"PATH={cenv['PATH']}", "/bin/bash", "--norc",
                     "--noprofile", "-i"]
            self.tmux(*argv)
            self.tmux("send-keys", "-t", target, "-l", "PS1='$ '; clear\n")
            time.sleep(0.3)
            self.tmux("send-keys", "-t", target, "-l", " ".join(["claude", *args]) + "\n")
        else:
            argv += ["--", self.claude, *args]
            self.tmux(*argv)
        return target

    def shell_alias(self):
        """A directory with `claude` → the pinned CLI, put first on PATH for SHELL launches
        (the hint after /exit says `claude …`, as it would for an operator)."""
        bindir = os.path.join(self.dir, "bin")
        os.makedirs(bindir, exist_ok=True)
        link = os.path.join(bindir, "claude")
        if not os.path.lexists(link):
            os.symlink(self.claude, link)
        return {"PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin"}

    def capture(self, target):
        return self.tmux("capture-pane", "-p", "-t", target)

    def wait_screen(self, target, pattern, timeout=20.0, absent=None):
        """Polls until PATTERN (regex) is on screen (and ABSENT is not); the screen or None."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture(target)
            if re.search(pattern, screen, re.M) and not (absent and re.search(absent, screen,
                                                                                re.M)):
                return screen
            time.sleep(0.15)
        return None

    def ready(self, target, timeout=20.0):
        return self.wait_screen(target, PROMPT_RE, timeout=timeout)

    def type(self, target, text, enter=True):
        self.tmux("send-keys", "-t", target, "-l", text)
        if enter:
            time.sleep(0.3)
            self.tmux("send-keys", "-t", target, "Enter")

    def keys(self, target, *keys):
        self.tmux("send-keys", "-t", target, *keys)

    def paste(self, target, text):
        self.tmux("load-buffer", "-b", "cap", "-", input=text.encode())
        self.tmux("paste-buffer", "-p", "-d", "-b", "cap", "-t", target)

    def kill(self, target):
        self.tmux("kill-session", "-t", target, check=False)

    def scrub(self, text):
        """The scratch path, also in the escaped form of transcript directories."""
        stable = "/tmp/" + SCRATCH_NAME
        text = text.replace(self.dir, stable)
        return text.replace(re.sub(r"[^A-Za-z0-9]", "-", self.dir),
                            re.sub(r"[^A-Za-z0-9]", "-", stable))

    def wait_hook(self, predicate, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(predicate(p) for p in self.hook_payloads()):
                return True
            time.sleep(0.2)
        return False

    def settle(self, target, screen, pattern, most=3.0):
        """The screen once it stopped changing for 0.5 s (at most MOST s), still showing
        PATTERN; a spinner or a countdown never settles: then the last one showing it."""
        deadline = time.monotonic() + most
        while time.monotonic() < deadline:
            time.sleep(0.5)
            again = self.capture(target)
            if not re.search(pattern, again, re.M):
                return screen
            if again == screen:
                return again
            screen = again
        return screen

    def save(self, what, target, pattern, timeout=20.0, absent=None):
        """Waits for PATTERN, then writes the settled screen as claude-<version>-<what>.txt."""
        screen = self.wait_screen(target, pattern, timeout, absent)
        if screen is not None:
            screen = self.settle(target, screen, pattern)
        if screen is None:
            screen = self.capture(target)
            self.failed.append(f"{what}: /{pattern}/ never appeared")
        path = os.path.join(self.out_panes, f"claude-{self.version}-{what}.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.scrub(screen))
        self.written.append(path)
        return screen

    def hook_payloads(self):
        out = []
        try:
            with open(self.hooks_log, encoding="utf-8") as f:
                for line in f:
                    out.append(json.loads(line))
        except FileNotFoundError:
            pass
        return out

    def save_hook(self, name, payload):
        path = os.path.join(self.out_hooks, f"claude-{self.version}-{name}.json")
        text = self.scrub(json.dumps(payload, indent=2, ensure_ascii=False)) + "\n"
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        self.written.append(path)

    def close(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True)
        self.mock.stop()
        if self.keep:
            print(f"kept {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


# --- the scenarios -------------------------------------------------------------------------
# Each takes the Capturer; accounts are named after the scenario so the mock's behaviours
# never leak from one to the next.

def sc_ready(c):
    t = c.launch(c.account("ready"))
    c.save("ready", t, PROMPT_RE)
    c.kill(t)


def sc_busy_finished(c):
    home = c.account("busy")
    c.mock.set_behavior("busy", "slow", delay=12, chunks=12, times=1,
                        text="Here is a slow answer, streamed a little at a time. " * 3)
    t = c.launch(home)
    c.ready(t)
    c.type(t, "Do a slow task")
    c.wait_screen(t, SPINNER_RE, timeout=10)
    c.save("busy", t, r"esc to interrupt", timeout=10)
    c.save("finished", t, r"^✻ \S+ for \d+s", timeout=30)
    c.kill(t)


def sc_limit_five_hour(c):
    home = c.account("fivehour")
    c.mock.set_behavior("fivehour", "limit", claim="five_hour",
                        reset=int(time.time()) + 2 * 3600 + 1800)
    t = c.launch(home)
    c.ready(t)
    c.type(t, "Refactor the parser")
    c.save("limit-five-hour", t, r"Continuing automatically at")
    c.kill(t)


def sc_limit_five_hour_berlin(c):
    home = c.account("berlin")
    c.mock.set_behavior("berlin", "limit", claim="five_hour",
                        reset=int(time.time()) + 3 * 3600)
    t = c.launch(home, env={"TZ": "Europe/Berlin"})
    c.ready(t)
    c.type(t, "Refactor the parser")
    c.save("limit-five-hour-berlin", t, r"Continuing automatically at")
    c.kill(t)


def sc_limit_weekly(c):
    home = c.account("weekly")
    c.mock.set_behavior("weekly", "limit", claim="seven_day",
                        reset=int(time.time()) + 3 * 86400 + 3600)
    t = c.launch(home)
    c.ready(t)
    c.type(t, "Write the release notes")
    c.save("limit-weekly-menu", t, r"What do you want to do\?")
    c.kill(t)


def sc_limit_opus(c):
    home = c.account("opus")
    c.mock.set_behavior("opus", "limit", claim="seven_day_opus",
                        reset=int(time.time()) + 2 * 86400)
    t = c.launch(home)
    c.ready(t)
    c.type(t, "Write the release notes")
    c.save("limit-opus-menu", t, r"What do you want to do\?")
    c.kill(t)


def sc_limit_overage(c):
    home = c.account("overage")
    c.mock.set_behavior("overage", "limit", claim="overage",
                        reset=int(time.time()) + 4 * 3600)
    t = c.launch(home)
    c.ready(t)
    c.type(t, "Write the release notes")
    c.save("limit-overage", t, r"You've hit your|limit")
    c.kill(t)


def sc_warning(c):
    # The footer warning is drawn where a statusLine's output would go: none here.
    home = c.account("warning", statusline=False)
    c.mock.set_behavior("warning", "warning", claim="five_hour", utilization=92,
                        reset=int(time.time()) + 3600 + 1200)
    t = c.launch(home)
    c.ready(t)
    c.type(t, "Summarise the changes")
    c.save("warning-five-hour", t, r"You've used 92% of your 5-hour limit")
    c.kill(t)
    # The same headers seen by a statusLine command (its stdin is a fixture too).
    home = c.account("warnstatus")
    c.mock.set_behavior("warnstatus", "warning", claim="five_hour", utilization=92,
                        reset=int(time.time()) + 3600 + 1200)
    t = c.launch(home)
    c.ready(t)
    c.type(t, "Summarise the changes")
    c.wait_screen(t, r"^✻ \S+ for \d+s")
    time.sleep(1)
    c.kill(t)


def sc_throttle(c):
    home = c.account("throttle")
    c.mock.set_behavior("throttle", "throttle429")
    t = c.launch(home)
    c.ready(t)
    c.type(t, "Fix the flaky test")
    c.save("throttle-429", t, r"temporarily limiting requests")
    c.kill(t)


def sc_error500(c):
    home = c.account("err500")
    c.mock.set_behavior("err500", "error500")
    t = c.launch(home)
    c.ready(t)
    c.type(t, "Fix the flaky test")
    c.save("server-500", t, r"API Error: 500")
    # The placeholder stays in the box: what the daemon sees when it comes back later.
    c.save("error-placeholder", t, r"^❯[ \u00a0]Resend your message to try again")
    c.kill(t)


def sc_error529(c):
    home = c.account("err529")
    c.mock.set_behavior("err529", "error529")
    t = c.launch(home)
    c.ready(t)
    c.type(t, "Fix the flaky test")
    c.save("server-529", t, r"API Error: 529")
    c.kill(t)


def sc_retrying(c):
    home = c.account("retrying", max_retries=None)
    c.mock.set_behavior("retrying", "error500")
    t = c.launch(home)
    c.ready(t)
    c.type(t, "Fix the flaky test")
    c.save("retrying", t, r"retrying in \d+s · attempt \d+/10", timeout=30)
    c.keys(t, "Escape")
    c.kill(t)


def sc_stall(c):
    home = c.account("stall")
    c.mock.set_behavior("stall", "stall", stall=120)
    t = c.launch(home)
    c.ready(t)
    c.type(t, "Fix the flaky test")
    # The spinner runs ("✽ Whirring… (43s)") until, about 45 s in, the CLI says so.
    c.save("stalled", t, r"Waiting for API response · will retry in", timeout=75)
    c.keys(t, "Escape")
    c.kill(t)


def sc_auth(c):
    home = c.account("auth")
    c.mock.set_behavior("auth", "auth401")
    t = c.launch(home)
    c.ready(t)
    c.type(t, "Fix the flaky test")
    # First "✻ 401 … · retrying in 1s · attempt 0/0" (a token refresh), then the error.
    c.save("auth-failure", t, r"^● .*(?:401|[Aa]uthenticat|/login|OAuth)", timeout=30,
           absent=r"retrying in")
    c.kill(t)


def sc_permission(c):
    home = c.account("perm")
    c.mock.set_behavior("perm", "tool_use", command="touch created-by-claude.txt",
                        description="Create a file", text="Created the file.")
    # 2.1.332 defaults to "auto" mode, which approves a harmless command by itself.
    t = c.launch(home, args=("--permission-mode", "manual"))
    c.ready(t)
    c.type(t, "Create the file")
    c.save("permission-question", t, r"Do you want to proceed\?")
    if not c.wait_hook(lambda p: p.get("notification_type") == "permission_prompt"):
        c.failed.append("Notification(permission_prompt) hook never ran")
    c.keys(t, "Escape")
    c.kill(t)


def sc_tool_use_bypass(c):
    home = c.account("tooluse")
    c.mock.set_behavior("tooluse", "tool_use", command="echo hello-from-tool",
                        description="Print a greeting", text="The command printed hello.")
    t = c.launch(home)
    c.ready(t)
    c.type(t, "Run the greeting")
    c.save("tool-use-done", t, r"^✻ \S+ for \d+s")
    c.kill(t)


def sc_trust(c):
    home = c.account("trust", trusted=[])
    t = c.launch(home)
    c.save("trust-dialog", t, r"Yes, I trust this folder")
    c.kill(t)


def sc_bypass(c):
    home = c.account("bypass")
    with open(os.path.join(home, "settings.json"), encoding="utf-8") as f:
        st = json.load(f)
    st.pop("skipDangerousModePermissionPrompt", None)
    with open(os.path.join(home, "settings.json"), "w", encoding="utf-8") as f:
        json.dump(st, f)
    t = c.launch(home)
    c.save("bypass-warning", t, r"Yes, I accept")
    c.kill(t)


def sc_onboarding(c):
    home = os.path.join(c.dir, "acct-empty")
    os.makedirs(home, exist_ok=True)
    t = c.launch(home, shell=True, env=c.shell_alias())
    c.save("onboarding-failure", t, r"Unable to connect", timeout=40)
    c.kill(t)


def sc_no_conversation(c):
    home = c.account("noconv")
    t = c.launch(home, args=("--dangerously-skip-permissions", "--resume",
                             "0b5b6a9e-3c1d-4f8e-9a57-1f2e3d4c5b6a"),
                 shell=True, env=c.shell_alias())
    c.save("no-conversation", t, r"No conversation found")
    c.kill(t)


def sc_exit_resume(c):
    home = c.account("exitresume")
    t = c.launch(home, args=("--model", "sonnet", "--dangerously-skip-permissions"),
                 shell=True, env=c.shell_alias())
    c.ready(t)
    c.type(t, "Say hello")
    c.wait_screen(t, r"^✻ \S+ for \d+s")
    c.type(t, "/exit")
    c.save("exit-resume", t, r"--resume [0-9a-f-]{36}[\s\S]*^\$ *$")
    c.kill(t)


def sc_paste(c):
    home = c.account("paste")
    t = c.launch(home)
    c.ready(t)
    c.paste(t, "".join(f"line {i} of the pasted task\n" for i in range(1, 7)))
    c.save("paste-multiline", t, r"\[Pasted text #1 \+\d+ lines\]")
    c.keys(t, "Enter")
    c.save("paste-submitted", t, r"^✻ \S+ for \d+s")
    c.kill(t)


def sc_auto_continue_cancelled(c):
    home = c.account("cancel")
    c.mock.set_behavior("cancel", "limit", claim="five_hour",
                        reset=int(time.time()) + 3600)
    t = c.launch(home)
    c.ready(t)
    c.type(t, "Refactor the parser")
    c.wait_screen(t, r"Continuing automatically at")
    c.keys(t, "Escape")
    c.save("limit-auto-continue-cancelled", t, r"Automatic continue cancelled")
    c.kill(t)


SCENARIOS = {
    "ready": sc_ready, "busy": sc_busy_finished, "limit-five-hour": sc_limit_five_hour,
    "limit-five-hour-berlin": sc_limit_five_hour_berlin, "limit-weekly": sc_limit_weekly,
    "limit-opus": sc_limit_opus, "limit-overage": sc_limit_overage,
    "limit-cancelled": sc_auto_continue_cancelled, "warning": sc_warning,
    "throttle": sc_throttle, "error500": sc_error500, "error529": sc_error529,
    "retrying": sc_retrying, "stall": sc_stall, "auth": sc_auth,
    "permission": sc_permission, "tool-use": sc_tool_use_bypass, "trust": sc_trust,
    "bypass": sc_bypass, "onboarding": sc_onboarding, "no-conversation": sc_no_conversation,
    "exit-resume": sc_exit_resume, "paste": sc_paste,
}


def save_hooks(c):
    """One payload per event (StopFailure per error kind), the last one seen."""
    chosen = {}
    for p in c.hook_payloads():
        ev = p.get("hook_event_name", "unknown")
        if ev == "StopFailure":
            name = f"StopFailure-{p.get('error', 'unknown')}"
            if "not your usage limit" in str(p.get("last_assistant_message")):
                name += "-throttle"
            chosen.setdefault(name, p)
        elif ev == "Notification":
            chosen[f"Notification-{p.get('notification_type', 'unknown')}"] = p
        elif ev == "SessionStart":
            chosen[f"SessionStart-{p.get('source', 'unknown')}"] = p
        elif ev == "SessionEnd":
            chosen[f"SessionEnd-{p.get('reason', 'unknown')}"] = p
        else:
            chosen.setdefault(ev, p)
    for name, payload in sorted(chosen.items()):
        c.save_hook(name, payload)
    status = None
    try:
        with open(c.status_log, encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                five = (d.get("rate_limits") or {}).get("five_hour") or {}
                if five.get("used_percentage") == 92:
                    status = d
    except FileNotFoundError:
        pass
    if status is not None:
        c.save_hook("statusline", status)
    else:
        c.failed.append("statusline: no statusLine stdin carried rate_limits")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--out", default=os.path.join(source_dir(), "tests", "fixtures"))
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--list", action="store_true", help="list the scenarios")
    args = ap.parse_args()
    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    names = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s): {', '.join(unknown)}")
    claude = realclaude.require_real_claude()
    version = realclaude.installed_version(claude) or realclaude.pinned_version()
    panes = os.path.join(args.out, "panes")
    hooks = os.path.join(args.out, "hooks")
    os.makedirs(panes, exist_ok=True)
    os.makedirs(hooks, exist_ok=True)
    c = Capturer(claude, panes, hooks, version, keep=args.keep)
    try:
        for n in names:
            t0 = time.monotonic()
            try:
                SCENARIOS[n](c)
            except Exception as e:  # one broken scenario must not lose the others
                c.failed.append(f"{n}: {type(e).__name__}: {e}")
            print(f"{n}: {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)
        if not args.only:
            save_hooks(c)
    finally:
        c.close()
    for p in c.written:
        print(os.path.relpath(p, source_dir()))
    for f in c.failed:
        print(f"NOT CAPTURED: {f}", file=sys.stderr)
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
