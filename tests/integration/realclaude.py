# SPDX-License-Identifier: MIT
"""Helpers for the tests that run the real Claude Code CLI against tests/mock_anthropic.py.

    from realclaude import require_real_claude, make_account_home, claude_env, start_mock
    claude = require_real_claude()          # path of the CLI, or exit 77 / fail (CI) with why
    mock = start_mock(lifetime=300)         # tests/mock_anthropic.MockAnthropic, started
    home = make_account_home(dir, "main", mock.url, trusted=[project])
    env = claude_env(home)                  # CLAUDE_CONFIG_DIR (+ IS_SANDBOX=1 as root)

The pinned version is read from the top-level file `claude-code-version` (one place for
meson, scripts/setup and the tests). The CLI is CF_CLAUDE_BIN, else
/opt/cf-claude-code/<version>/node_modules/.bin/claude (where scripts/setup installs it).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.normpath(os.path.join(_HERE, "..")))

from harness import SKIP_EXIT_CODE, source_dir  # noqa: E402

INSTALL_ROOT = "/opt/cf-claude-code"
NPM_PACKAGE = "@anthropic-ai/claude-code"


def pinned_version():
    """The Claude Code version the tests are pinned to (file `claude-code-version`)."""
    path = os.path.join(source_dir(), "claude-code-version")
    with open(path, encoding="utf-8") as f:
        version = f.read().strip()
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise ValueError(f"{path}: not a version: {version!r}")
    return version


def claude_bin(version=None):
    """The path of the CLI to test (it may not exist)."""
    explicit = os.environ.get("CF_CLAUDE_BIN")
    if explicit:
        return explicit
    return os.path.join(INSTALL_ROOT, version or pinned_version(), "node_modules", ".bin",
                        "claude")


def installed_version(path, timeout=20):
    """`claude --version` → "2.1.332", or None when it does not run or says something else."""
    try:
        r = subprocess.run([path, "--version"], capture_output=True, text=True,
                           timeout=timeout, env={**os.environ, "DISABLE_AUTOUPDATER": "1"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.match(r"\s*(\d+\.\d+\.\d+)\b", r.stdout)
    return m.group(1) if r.returncode == 0 and m else None


def npm_reachable(timeout=15):
    """(reachable, why): whether npm can reach its registry."""
    try:
        r = subprocess.run(["npm", "ping", f"--fetch-timeout={timeout * 1000}",
                            "--fetch-retries=0"], capture_output=True, text=True,
                           timeout=timeout + 5)
    except FileNotFoundError:
        return False, "npm is not installed"
    except subprocess.TimeoutExpired:
        return False, "npm could not reach its registry (timed out)"
    if r.returncode != 0:
        lines = [ln.strip() for ln in r.stderr.splitlines()
                 if ln.strip() and "complete log" not in ln]
        why = next((ln for ln in lines if re.search(r"E[A-Z]{4,}|code ", ln)),
                   lines[0] if lines else f"npm ping exited {r.returncode}")
        return False, f"npm could not reach its registry ({why})"
    return True, ""


def _exit_skip(reason):
    print(f"SKIP: {reason}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(SKIP_EXIT_CODE)


def _exit_fail(reason):
    print(f"FAIL: {reason}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(1)


def real_claude_problem():
    """None when the pinned CLI is there and runs, else why not."""
    version = pinned_version()
    path = claude_bin(version)
    if not os.path.exists(path):
        return (f"the real Claude Code {version} is not installed at {path} "
                f"(run scripts/setup, or set CF_CLAUDE_BIN)")
    found = installed_version(path)
    if found is None:
        return f"{path} --version does not run"
    if found != version and not os.environ.get("CF_CLAUDE_BIN"):
        return f"{path} is Claude Code {found}, the tests are pinned to {version}"
    return None


def require_real_claude():
    """The CLI's path; else exits 77 (skip) saying why. Under CI=true a missing CLI is a
    failure, unless npm could not reach its registry: then it skips with that reason."""
    problem = real_claude_problem()
    if problem is None:
        return claude_bin()
    if os.environ.get("CI") == "true":
        reachable, why = npm_reachable()
        if not reachable:
            _exit_skip(f"{problem}; {why}")
        _exit_fail(f"{problem} although npm can reach its registry (CI must install it)")
    _exit_skip(problem)


def start_mock(**kwargs):
    """A started tests/mock_anthropic.MockAnthropic (stop it with .stop())."""
    from mock_anthropic import MockAnthropic
    kwargs.setdefault("lifetime", 600)
    return MockAnthropic(**kwargs).start()


def token_for(account):
    from mock_anthropic import token_for as _token_for
    return _token_for(account)


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def make_account_home(home, account, mock_url, prepared=True, trusted=(),
                      max_retries=0, api_key=False, settings=None, claude_json=None):
    """Make (or refresh) a Claude Code config dir for a mock account.

    Always: `.credentials.json` with a fake subscription OAuth token for ACCOUNT (or, with
    api_key, ANTHROPIC_API_KEY in the settings env instead) and settings.json "env" pointing
    at MOCK_URL with the autoupdater off and CLAUDE_CODE_MAX_RETRIES=MAX_RETRIES (None:
    the CLI's default of 10).
    PREPARED also pre-seeds what the daemon's preparation would do: onboarding completed,
    the TRUSTED directories trusted, the bypass-permissions warning accepted (for tests that
    do not go through the daemon). SETTINGS / CLAUDE_JSON are merged on top (shallow).
    Returns HOME."""
    os.makedirs(home, mode=0o700, exist_ok=True)
    env = {"ANTHROPIC_BASE_URL": mock_url, "DISABLE_AUTOUPDATER": "1"}
    if max_retries is not None:
        env["CLAUDE_CODE_MAX_RETRIES"] = str(max_retries)
    if api_key:
        env["ANTHROPIC_API_KEY"] = token_for(account).replace("sk-ant-oat01-", "sk-ant-api03-")
    else:
        _write_json(os.path.join(home, ".credentials.json"), {"claudeAiOauth": {
            "accessToken": token_for(account),
            "refreshToken": f"sk-ant-ort01-{account}-mockrefresh",
            "expiresAt": 4102444800000,
            "scopes": ["user:inference", "user:profile"],
            "subscriptionType": "max",
        }})
        os.chmod(os.path.join(home, ".credentials.json"), 0o600)
    st = {"env": env}
    cj = {}
    if prepared:
        st["skipDangerousModePermissionPrompt"] = True
        cj["hasCompletedOnboarding"] = True
        cj["projects"] = {os.path.abspath(d): {"hasTrustDialogAccepted": True}
                          for d in trusted}
        if api_key:
            key = env["ANTHROPIC_API_KEY"]
            cj["customApiKeyResponses"] = {"approved": [key[-20:]], "rejected": []}
    st.update(settings or {})
    cj.update(claude_json or {})
    _write_json(os.path.join(home, "settings.json"), st)
    if cj:
        _write_json(os.path.join(home, ".claude.json"), cj)
    return home


def remove_late_writes(root, wait=2.0):
    """Remove ROOT again if it comes back within WAIT seconds: a Claude killed with its tmux
    server writes its account files (telemetry, .claude.json backups) as it exits, after the
    sandbox was removed. Call it after the Sandbox closed (not with CF_KEEP_SANDBOX=1)."""
    if os.environ.get("CF_KEEP_SANDBOX") == "1":
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if os.path.exists(root):
            shutil.rmtree(root, ignore_errors=True)
        time.sleep(0.1)


def hook_settings(command, events):
    """The settings.json "hooks" block that runs COMMAND (a shell string) for each event."""
    return {ev: [{"matcher": "", "hooks": [{"type": "command", "command": command}]}]
            for ev in events}


def claude_env(home, base=None, **extra):
    """Environment for a CLI under account HOME; IS_SANDBOX=1 when running as root (the CLI
    refuses --dangerously-skip-permissions as root without it)."""
    env = dict(base if base is not None else os.environ)
    env["CLAUDE_CONFIG_DIR"] = home
    env["DISABLE_AUTOUPDATER"] = "1"
    for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "CLAUDE_CODE_OAUTH_TOKEN",
                "ANTHROPIC_AUTH_TOKEN"):
        env.pop(var, None)
    if os.geteuid() == 0:
        env["IS_SANDBOX"] = "1"
    env.update(extra)
    return env


class ClaudeTmux:
    """A private tmux server (its own socket, no user config) running real CLIs.

        tm = ClaudeTmux(directory)
        target = tm.launch(claude, home, cwd=project)        # CLI as the pane's process
        tm.wait_screen(target, PROMPT_RE); tm.type(target, "task"); tm.close()
    """

    # The empty input box: "❯" and a no-break space (2.1.332).
    PROMPT_RE = r"^❯[ \u00a0]*$"

    def __init__(self, directory, width=200, height=50):
        import shutil
        self.sock = os.path.join(directory, "tmux.sock")
        self.width, self.height = width, height
        self._n = 0
        self._tmux = shutil.which("tmux")
        self.run("-f", "/dev/null", "start-server", ";", "set-option", "-g", "exit-empty",
                 "off", ";", "set-option", "-g", "history-limit", "5000")

    def run(self, *args, check=True, input=None):
        r = subprocess.run([self._tmux or "tmux", "-S", self.sock, *args], capture_output=True,
                           input=input, timeout=30)
        if check and r.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {r.stderr.decode().strip()}")
        return r.stdout.decode("utf-8", "replace")

    def launch(self, claude, home, args=("--dangerously-skip-permissions",), cwd=None,
               shell=False, env=None):
        """A session running CLAUDE ARGS under account HOME (no shell parses anything), or
        with SHELL a `sh` that runs it and stays (to see what is printed after exit)."""
        import shlex
        self._n += 1
        name = f"c{self._n}"
        cenv = claude_env(home, **(env or {}))
        argv = ["new-session", "-d", "-s", name, "-x", str(self.width), "-y",
                str(self.height), "-c", cwd or os.getcwd()]
        for k in ("CLAUDE_CONFIG_DIR", "IS_SANDBOX", "DISABLE_AUTOUPDATER", "TZ"):
            if k in cenv:
                argv += ["-e", f"{k}={cenv[k]}"]
        for k, v in (env or {}).items():
            argv += ["-e", f"{k}={v}"]
        if shell:
            line = " ".join(shlex.quote(a) for a in [claude, *args])
            argv += ["--", "/bin/sh", "-c", f"{line}; echo EXIT=$?; exec sleep 600"]
        else:
            argv += ["--", claude, *args]
        self.run(*argv)
        return f"={name}:"

    def capture(self, target):
        return self.run("capture-pane", "-p", "-t", target)

    def wait_screen(self, target, pattern, timeout=20.0):
        """The screen once PATTERN (a regex, multiline) shows; AssertionError otherwise."""
        import time
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture(target)
            if re.search(pattern, screen, re.M):
                return screen
            time.sleep(0.15)
        raise AssertionError(f"/{pattern}/ not on screen after {timeout}s:\n{screen}")

    def type(self, target, text, enter=True):
        import time
        self.run("send-keys", "-t", target, "-l", text)
        if enter:
            time.sleep(0.3)
            self.run("send-keys", "-t", target, "Enter")

    def keys(self, target, *keys):
        self.run("send-keys", "-t", target, *keys)

    def close(self, wait=5.0):
        """Kills the server, then waits for the panes' processes to be gone (a CLI still
        exiting writes into its config dir, which would outlive a cleanup)."""
        import time
        r = subprocess.run([self._tmux or "tmux", "-S", self.sock, "list-panes", "-a", "-F",
                            "#{pane_pid}"], capture_output=True, text=True)
        pids = [int(p) for p in r.stdout.split() if p.isdigit()]
        subprocess.run([self._tmux or "tmux", "-S", self.sock, "kill-server"],
                       capture_output=True)
        deadline = time.monotonic() + wait
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if os.path.exists(f"/proc/{p}")]
            time.sleep(0.05)
