# SPDX-License-Identifier: MIT
"""The README's first command: claude-failoverd live, in a throwaway sandbox.

The pool runs the real Claude Code CLI (the release pinned in claude-code-version, installed
by scripts/setup) against the tests' mock of the Anthropic API (tests/mock_anthropic.py),
with two sandbox accounts holding fake subscription credentials. When that CLI is not
installed (npm could not reach its registry), the same story runs on the simulator
tests/fake-claude, and one line says so.

    scripts/demo.py [--keep] [--simulator]

--keep leaves the sandbox running until Enter is pressed; --simulator runs the simulator
even when the real CLI is there."""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "tests", "integration"))
from signal_log import SignalLog  # noqa: E402
from harness import Sandbox, task_places  # noqa: E402
import realclaude  # noqa: E402

START = time.monotonic()
BUDGET_S = 120
DEDICATED = "ccl-1-web"


def say(text):
    print(f"[{time.monotonic() - START:6.2f}s] {text}", flush=True)


def show(title, result):
    print(f"\n$ {title}", flush=True)
    out = (result.stdout or "") + (result.stderr or "")
    print(out.rstrip() + "\n", flush=True)


def clock(epoch):
    return time.strftime("%H:%M:%S", time.gmtime(epoch))


def queue_of(sb, place):
    return sorted(n[:-3] for n in os.listdir(os.path.join(sb.project_dir, ".agent-queue", place))
                  if n.endswith(".md"))


def claimed_at(sb, task):
    """When the daemon claimed TASK first (its meta file, ISO 8601 UTC)."""
    path = os.path.join(sb.project_dir, ".agent-queue", "meta", f"{task}.json")
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return "~"
    claims = [h.get("at", "~") for h in meta.get("history", []) if h.get("event") == "claim"]
    return claims[0] if claims else meta.get("claimed_at") or "~"


def wait_done(sb, ids, timeout, what=None):
    return sb.wait_for(lambda: all(task_places(sb.project_dir, ids).get(i) == ["done"]
                                   for i in ids),
                       timeout=timeout, what=what or f"tasks {', '.join(ids)} done")


# ---- the two kinds of Claude --------------------------------------------------------------

class RealClaude:
    """The pinned Claude Code CLI against tests/mock_anthropic.py."""

    def __init__(self, path):
        self.path = path
        self.version = realclaude.pinned_version()
        self.mock = None
        # As root the CLI refuses --dangerously-skip-permissions without it; the tmux
        # server (and so every pane) inherits it from the sandbox environment.
        if os.geteuid() == 0:
            os.environ["IS_SANDBOX"] = "1"
        # No telemetry: with no internet a killed Claude writes its failed events into the
        # account home seconds after the sandbox is gone.
        os.environ["DISABLE_TELEMETRY"] = "1"

    def describe(self):
        return f"the real Claude Code {self.version} ({self.path})"

    def start(self, sb):
        self.mock = realclaude.start_mock(lifetime=600,
                                          log_path=os.path.join(sb.root, "mock.jsonl"))
        say(f"mock Anthropic API at {self.mock.url} (loopback; accounts told apart by token)")

    def stop(self):
        if self.mock is not None:
            self.mock.stop()

    def config(self, sb):
        return {"tmux": {"claude_command": self.path},
                "dispatcher": {"prompt_timeout": "20s", "cooldown_schedule": [0, 1, 1]}}

    def prepare_accounts(self, sb):
        for account in ("main", "backup"):
            home = os.path.join(sb.home, f".claude-{account}")
            realclaude.make_account_home(home, account, self.mock.url, trusted=[sb.projects_dir])
            sb.ctl("install-hooks", home, check=True)
        say("account homes ~/.claude-main and ~/.claude-backup: fake subscription credentials, "
            "settings env → the mock, onboarding done, projects trusted, hooks installed")

    def body(self, text, work_ms):
        return text

    def prompts(self):
        # Claude Code's start-up probe ("quota", max_tokens 1) is not a prompt.
        return len([r for r in self.mock.turns() if r["text"] != "quota"])

    def start_dedicated(self, sb, conversation):
        sb.new_session(DEDICATED, [self.path, "--dangerously-skip-permissions", "--session-id",
                                   conversation],
                       cwd=sb.project_dir,
                       env={"CLAUDE_CONFIG_DIR": os.path.join(sb.home, ".claude-main")})
        sb.wait_for(lambda: "❯" in sb.capture(DEDICATED), timeout=20, what="the operator's prompt")
        time.sleep(0.5)
        sb.paste(DEDICATED, "Remember the word OPERATOR-TURN.", enter=True)
        self.mock.wait_for(lambda reqs: any("OPERATOR-TURN" in r["text"] for r in reqs), 30)


class SimulatedClaude:
    """tests/fake-claude: draws what Claude Code draws, needs no network."""

    def __init__(self, why):
        self.why = why

    def describe(self):
        return "the simulator tests/fake-claude"

    def start(self, sb):
        self._sb = sb

    def stop(self):
        pass

    def config(self, sb):
        return {}

    def prepare_accounts(self, sb):
        # What an operator does once per account (log in: the simulator takes any
        # credentials) and the daemon's hooks, so that claude-failoverctl doctor finds
        # the sandbox as healthy as a real installation.
        for account in sb.config["accounts"]:
            realclaude.make_account_home(account["home"], account["name"], "http://127.0.0.1:9",
                                         trusted=[sb.projects_dir])
            sb.ctl("install-hooks", account["home"], check=True)

    def body(self, text, work_ms):
        return f"{text} FAKE:work={work_ms}"

    def prompts(self):
        return len(self._sb.fake_events("prompt"))

    def start_dedicated(self, sb, conversation):
        sb.start_fake(DEDICATED, "--dangerously-skip-permissions", "--session-id", conversation,
                      cwd=sb.project_dir, config_dir=os.path.join(sb.home, ".claude-main"))
        sb.fake_control(DEDICATED, f"print claude --resume {conversation}")


# ---- the failover story, on each kind ------------------------------------------------------

def next_reset(lead_s):
    """A reset on a whole minute at least LEAD_S seconds ahead: Claude Code prints the reset
    to the minute ("resets 1:47pm (UTC)"), so only a whole minute reads back exactly."""
    return (int(time.time()) + lead_s + 59) // 60 * 60


def real_failover(claude, sb, signals, summary):
    """Two long answers stream on account main; the next request main sends is refused with
    its 5-hour limit; the switch; the conversations resumed on the backup; the return to main
    after its reset."""
    mock = claude.mock
    link = os.path.join(sb.home, ".claude")
    mock.set_behavior("main", "slow", delay=30, chunks=30)
    long_ids = ["long-task-0", "long-task-1"]
    for i, task in enumerate(long_ids):
        sb.add_task(task, f"Long task {i}: write a summary (LONG-{i}).", title=f"Long task {i}")
    sb.wait_for(lambda: all(any(f"LONG-{i}" in r["text"] for r in mock.turns("main"))
                            for i in range(2)), timeout=30, what="the long tasks streaming")
    say(f"2 long tasks streaming on account main (mock: slow replies); {link} → "
        f"{os.readlink(link)}")
    reset = next_reset(15)
    mock.set_behavior("main", "limit", claim="five_hour", reset=reset, times=1, match="TRIGGER")
    sb.add_task("trigger", "Fix the typo in the README (TRIGGER).", title="Fix a typo")
    say(f"the mock refuses main's next request: 429, 5-hour limit, resets {clock(reset)} UTC "
        f"({reset - time.time():.0f} s from now)")
    quota = signals.wait("QuotaExhausted", timeout=30)
    refused = [r for r in mock.turns("main") if r["status"] == 429 and "TRIGGER" in r["text"]]
    t0 = refused[0]["time"] if refused else quota["t"]
    known = quota["args"][2] // 1_000_000
    say(f"QuotaExhausted: account {quota['args'][0]}, sessions {', '.join(quota['args'][1])}, "
        f"reset {clock(known) + ' UTC' if known else 'unknown'}, "
        f"{(quota['t'] - t0) * 1000:.0f} ms after the mock refused the task's turn "
        "(StopFailure hook)")
    for name in quota["args"][1]:
        line = next((ln.strip() for ln in sb.capture(name).splitlines()
                     if "You've hit your" in ln), None)
        if line:
            say(f"{name} shows: {line.lstrip('⎿ ').strip()}")
            break
    started = signals.wait("SwapStarted", timeout=30)
    say(f"SwapStarted {started['args'][0]} → {started['args'][1]} ({started['args'][2]})")
    finished = signals.wait("SwapFinished", timeout=60)
    say(f"SwapFinished in {(finished['t'] - started['t']) * 1000:.0f} ms: {finished['args'][3]}")
    say(f"{link} → {os.readlink(link)}")
    summary["detect"] = started["t"] - t0
    summary["detect_what"] = "the mock's 429 → SwapStarted"
    summary["switch_ms"] = (finished["t"] - started["t"]) * 1000

    wait_done(sb, long_ids + ["trigger"], timeout=60)
    on_backup = []
    for task, marker in (("long-task-0", "LONG-0"), ("long-task-1", "LONG-1"),
                         ("trigger", "TRIGGER")):
        turn = next((r for r in mock.turns("backup")
                     if any(marker in t for t in r["user_texts"])), None)
        if turn is None:
            say(f"{task}: finished on main before the switch")
            continue
        on_backup.append(task)
        say(f"{task} went on on the backup: the mock got its conversation from account "
            f"backup, user turns " + " | ".join(f'"{t[:34]}…"' for t in turn["user_texts"]))
    summary["on_backup"] = on_backup

    # The operator's own session goes on in its conversation, on the backup.
    sb.wait_for(lambda: "❯" in sb.capture(DEDICATED), timeout=30, what="the resumed prompt")
    time.sleep(0.5)
    sb.paste(DEDICATED, "And now the word AFTER-SWITCH.", enter=True)
    reqs = mock.wait_for(lambda reqs: any("AFTER-SWITCH" in r["text"] for r in reqs), 30)
    turn = next((r for r in reqs or [] if "AFTER-SWITCH" in r["text"]), None)
    if turn is not None and any("OPERATOR-TURN" in t for t in turn["user_texts"]):
        say(f"operator's {DEDICATED}: next message answered by account {turn['account']}, "
            "with its earlier turn in the conversation (claude --resume)")
        summary["resumed"] = [DEDICATED]
    else:
        say(f"operator's {DEDICATED}: the conversation did NOT go on on the backup")
        summary["resumed"] = []
    show("claude-failoverctl status", sb.ctl("status"))

    say(f"ReturnAt is main's reset ({clock(reset)}) + return_margin 1 s; waiting "
        f"{max(0, reset + 1 - time.time()):.0f} s")
    back = signals.wait("SwapStarted", lambda a: a[2] == "return", timeout=120)
    signals.wait("SwapFinished", lambda a: a[1] == "main", timeout=60)
    say(f"SwapStarted backup → main ({back['args'][2]}) at {clock(back['t'])}, "
        f"{back['t'] - reset:.1f} s after the reset; {link} → {os.readlink(link)}")
    sb.add_task("after-return", "Say hello again (AFTER-RETURN).", title="After the return")
    wait_done(sb, ["after-return"], timeout=60)
    accounts = sorted({r["account"] for r in mock.turns() if "AFTER-RETURN" in r["text"]})
    say(f"a new task after the return: answered by account {', '.join(accounts)}")
    summary["after_return"] = accounts
    summary["swaps"] = [f"{e['args'][0]} → {e['args'][1]} ({e['args'][2]})"
                        for e in signals.events("SwapStarted")]


def simulated_failover(claude, sb, signals, summary):
    """Account main runs out mid-task: the switch, the operator's session resumed, the tasks
    finishing on the backup, the return to main after its reset."""
    main_home = os.path.join(sb.home, ".claude-main")
    link = os.path.join(sb.home, ".claude")
    for i in range(3):
        sb.add_task(f"long-task-{i}", f"Long task {i}. FAKE:work=2500", title=f"Long task {i}")
    sb.wait_for(lambda: sum(1 for s in sb.get_property("Sessions") if s[2] == "working") >= 3,
                timeout=20, what="three working sessions")
    say(f"3 long tasks running on account main; {link} → {os.readlink(link)}")
    reset = int(time.time() + 10)
    t0 = time.time()
    sb.fake_account_limit(main_home, f"Claude AI usage limit reached|{reset}")
    say(f"account main hits its usage limit (Claude prints it; resets in {reset - t0:.0f} s)")
    quota = signals.wait("QuotaExhausted", timeout=30)
    say(f"QuotaExhausted: account {quota['args'][0]}, sessions {', '.join(quota['args'][1])}, "
        f"{quota['t'] - t0:.2f}s after the message")
    started = signals.wait("SwapStarted", timeout=30)
    say(f"SwapStarted {started['args'][0]} → {started['args'][1]} ({started['args'][2]})")
    finished = signals.wait("SwapFinished", timeout=30)
    say(f"SwapFinished in {(finished['t'] - started['t']) * 1000:.0f} ms: {finished['args'][3]}")
    say(f"{link} → {os.readlink(link)}")
    summary["detect"] = started["t"] - t0
    summary["detect_what"] = "limit shown (StopFailure hook, or the pane every 500 ms) → SwapStarted"
    summary["switch_ms"] = (finished["t"] - started["t"]) * 1000
    resumed = sb.wait_for(lambda: sb.fake_events("start", resume=summary["conversation"]),
                          timeout=20, what="the dedicated session resumed")
    say(f"operator's session {DEDICATED} resumed its conversation on the backup: "
        f"claude --resume {summary['conversation'][:8]}… with CLAUDE_CONFIG_DIR="
        f"{resumed[-1]['CLAUDE_CONFIG_DIR']}")
    summary["resumed"] = [DEDICATED]
    sb.fake_account_limit(main_home, False)
    wait_done(sb, [f"long-task-{i}" for i in range(3)], timeout=60)
    summary["on_backup"] = sorted({e["args"][1] for e in signals.since(finished["t"], "TaskFinished")
                                   if e["args"][3] == "done"})
    say(f"tasks finished on the backup: {', '.join(summary['on_backup'])}")
    show("claude-failoverctl status", sb.ctl("status"))
    say(f"ReturnAt is main's reset + return_margin; waiting {max(0, reset + 1 - time.time()):.0f} s")
    back = signals.wait("SwapStarted", lambda a: a[2] == "return", timeout=60)
    signals.wait("SwapFinished", lambda a: a[1] == "main", timeout=30)
    say(f"back on main ({back['args'][2]}); {link} → {os.readlink(link)}")
    summary["swaps"] = [f"{e['args'][0]} → {e['args'][1]} ({e['args'][2]})"
                        for e in signals.events("SwapStarted")]


# ---- the demo ------------------------------------------------------------------------------

def print_summary(claude, summary):
    print("\nSummary", flush=True)
    print(f"  Claude Code:         {claude.describe()}")
    print(f"  tasks done:          {len(summary['done'])} ({', '.join(summary['done'])})")
    print(f"  tasks failed:        {len(summary['failed'])}")
    print(f"  doctor:              {'healthy' if summary.get('doctor') == 0 else 'problems'}")
    print(f"  limit → switch:      {summary['detect'] * 1000:.0f} ms ({summary['detect_what']})")
    print(f"  switch took:         {summary['switch_ms']:.0f} ms")
    print(f"  switches:            {'; '.join(summary['swaps'])}")
    print(f"  sessions resumed:    {', '.join(summary['resumed']) or 'none'}")
    print(f"  finished on backup:  {', '.join(summary['on_backup']) or 'none'}")
    print(f"  total:               {time.monotonic() - START:.1f} s\n", flush=True)


def choose_claude(force_simulator):
    if force_simulator:
        return SimulatedClaude("--simulator")
    problem = realclaude.real_claude_problem()
    if problem is None:
        return RealClaude(realclaude.claude_bin())
    return SimulatedClaude(problem)


def installed_files_root(sb):
    """A sysroot holding the polkit policy and the D-Bus files where `meson install` puts
    them (the demo runs from the build tree): what `claude-failoverctl doctor --root`
    checks."""
    root = os.path.join(sb.root, "sysroot")
    defines = {}
    with open(os.path.join(sb.build_dir, "cf-build-config.h"), encoding="utf-8") as f:
        for line in f:
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[0] == "#define":
                defines[parts[1]] = parts[2].strip()
    for define, name in (("CF_POLKIT_ACTIONS_DIR", "org.claudefailover.policy"),
                         ("CF_DBUS_SYSTEM_CONF_DIR", "org.claudefailover.conf"),
                         ("CF_DBUS_SYSTEM_SERVICES_DIR", "org.claudefailover.service")):
        target = root + json.loads(defines[define])
        os.makedirs(target, exist_ok=True)
        shutil.copy(os.path.join(sb.data_dir, name), target)
    return root


def run(claude, keep):
    summary = {"conversation": str(uuid.uuid4())}
    real = isinstance(claude, RealClaude)
    with Sandbox("demo") as sb:
        say(f"sandbox in {sb.root}")
        claude.start(sb)
        sb.start_bus()
        say(f"private system bus at {sb.bus_address}")
        sb.start_tmux()
        say(f"private tmux server at {sb.tmux_socket}")
        overrides = {"pool": {"autonomous": {"min": 3, "max": 5},
                              "dedicated": [{"name": DEDICATED, "project": sb.project_dir}]},
                     "lifecycle": {"interval": "500ms"},
                     "quota": {"interval": "500ms", "return_margin": "1s",
                               "reactivate_cooldown": "2s", "pool_threshold": 1}}
        for key, value in claude.config(sb).items():
            overrides[key] = {**overrides.get(key, {}), **value}
        config = sb.write_config(overrides)
        say(f"config {config}: accounts main and backup, pool ccl-auto-0..2 and {DEDICATED}, "
            f"{claude.describe()}")
        claude.prepare_accounts(sb)
        show(f"claude-failoverd --check-config --config {config}",
             sb.run([sb.daemon_path, "--config", config, "--check-config"]))

        signals = SignalLog(sb)
        sb.start_daemon()
        say("claude-failoverd owns org.claudefailover on the private bus")
        sb.wait_for(lambda: sum(1 for s in sb.get_property("Sessions")
                                if s[2] == "idle") >= 3,
                    timeout=20, what="three idle pool sessions")
        say("pool sessions created")
        doctor = sb.ctl("doctor", "--config", config, "--root", installed_files_root(sb),
                        timeout=60)
        show("claude-failoverctl doctor", doctor)
        summary["doctor"] = doctor.returncode

        show("busctl --system introspect org.claudefailover /org/claudefailover/Manager",
             sb.busctl("introspect", "org.claudefailover", "/org/claudefailover/Manager",
                       "org.claudefailover.Manager", check=False))
        show("busctl --system get-property … ActiveAccount",
             sb.busctl("get-property", "org.claudefailover", "/org/claudefailover/Manager",
                       "org.claudefailover.Manager", "ActiveAccount", check=False))
        show("claude-failoverctl status", sb.ctl("status"))
        show("tmux ls", sb.tmux("ls", check=False))

        say("killing the tmux server under the daemon's feet; it reconnects and starts one")
        sb.tmux("kill-server", check=False)
        t0 = time.monotonic()
        sb.wait_for(lambda: sum(1 for s in sb.get_property("Sessions")
                                if s[2] == "idle") >= 3
                    and len([n for n in sb.sessions() if n.startswith("ccl-auto-")]) >= 3,
                    timeout=20, what="pool recreated after the tmux server died")
        say(f"pool recreated {time.monotonic() - t0:.2f}s later")
        # The operator's own session, Claude on main mid-conversation: never
        # dispatched into, resumed on the other account when main runs out.
        claude.start_dedicated(sb, summary["conversation"])
        sb.wait_for(lambda: any(s[0] == DEDICATED and s[2] == "idle"
                                for s in sb.get_property("Sessions")),
                    timeout=20, what=f"{DEDICATED} seen by the daemon")
        say(f"the operator opens {DEDICATED} (Claude on account main"
            + (", one turn already sent" if real else "") + "); the daemon follows it")
        show("claude-failoverctl sessions", sb.ctl("sessions"))

        say("pausing dispatch, dropping 5 tasks into the demo project's inbox (one critical)")
        sb.call("PauseDispatch")
        for i in range(4):
            sb.add_task(f"demo-task-{i}", claude.body(f"Demo task {i}: say hello.", 800),
                        title=f"Demo task {i}")
        sb.add_task("urgent-fix", claude.body("Critical fix: say hello first.", 500),
                    priority="critical", title="Urgent fix")
        say("resuming dispatch: the critical task goes first")
        sb.call("ResumeDispatch")
        done_dir = os.path.join(sb.project_dir, ".agent-queue", "done")
        seen = set()
        deadline = time.monotonic() + 60
        while len(seen) < 5 and time.monotonic() < deadline:
            for name in sorted(os.listdir(done_dir)):
                if name.endswith(".md") and name not in seen:
                    seen.add(name)
                    say(f"done: {name[:-3]}")
            time.sleep(0.1)
        show("claude-failoverctl status", sb.ctl("status"))
        ids = ["urgent-fix"] + [f"demo-task-{i}" for i in range(4)]
        say(f"claim order (claimed_at in each task's meta file): "
            f"{', '.join(sorted(ids, key=lambda t: claimed_at(sb, t)))}; "
            f"TaskDispatched order (prompt submitted): "
            f"{', '.join(e['args'][1] for e in signals.events('TaskDispatched'))}")
        say(f"the mock API has received {claude.prompts()} prompts (the operator's included)"
            if real else f"fake Claude received {claude.prompts()} prompts")

        (real_failover if real else simulated_failover)(claude, sb, signals, summary)

        if keep and sys.stdin.isatty():
            print(f"Sandbox kept running. In another shell:\n"
                  f"  export DBUS_SYSTEM_BUS_ADDRESS={sb.bus_address}\n"
                  f"  {sb.ctl_path} status\n  tmux -S {sb.tmux_socket} ls\n"
                  f"Press Enter to stop.", flush=True)
            input()
        summary["done"], summary["failed"] = queue_of(sb, "done"), queue_of(sb, "failed")
        code = sb.stop_daemon()
        say(f"daemon stopped cleanly (exit {code}); state written to "
            f"{sb.config['state_file']}")
        claude.stop()
    if real:
        realclaude.remove_late_writes(sb.root)
    say("sandbox removed")
    print_summary(claude, summary)
    problems = []
    if summary.get("doctor", 0) != 0:
        problems.append("claude-failoverctl doctor found problems in the demo sandbox")
    if summary["failed"]:
        problems.append(f"tasks failed: {', '.join(summary['failed'])}")
    if summary.get("after_return", ["main"]) != ["main"]:
        problems.append("the task after the return was not answered by account main")
    if not summary["resumed"]:
        problems.append(f"{DEDICATED} was not resumed on the backup")
    if time.monotonic() - START > BUDGET_S:
        problems.append(f"took longer than its {BUDGET_S} s budget")
    for p in problems:
        print(f"demo: {p}", file=sys.stderr)
    return 1 if problems else 0


def main():
    args = sys.argv[1:]
    unknown = [a for a in args if a not in ("--keep", "--simulator")]
    if unknown:
        print(f"usage: scripts/demo [--keep] [--simulator] (unknown: {' '.join(unknown)})",
              file=sys.stderr)
        return 2
    claude = choose_claude("--simulator" in args)
    if isinstance(claude, SimulatedClaude) and claude.why != "--simulator":
        # scripts/demo passes what scripts/setup said about the install (npm unreachable…).
        why = os.environ.get("CF_DEMO_SETUP_NOTE") or claude.why
        print(f"demo: {why}; showing the simulator tests/fake-claude instead", flush=True)
    try:
        return run(claude, "--keep" in args)
    finally:
        claude.stop()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as e:
        print(f"demo: {e}", file=sys.stderr)
        sys.exit(1)
