# SPDX-License-Identifier: MIT
"""The README's first command: claude-failoverd live, in a throwaway sandbox."""

import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "tests", "integration"))
from signal_log import SignalLog  # noqa: E402
from harness import Sandbox  # noqa: E402

START = time.monotonic()


def say(text):
    print(f"[{time.monotonic() - START:6.2f}s] {text}", flush=True)


def show(title, result):
    print(f"\n$ {title}", flush=True)
    out = (result.stdout or "") + (result.stderr or "")
    print(out.rstrip() + "\n", flush=True)


def failover(sb, signals, summary):
    """Account main runs out mid-task: the switch, the operator's session
    resumed, the tasks finishing on the backup, the return to main after its
    reset."""
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
    summary["detect"] = quota["t"] - t0
    summary["switch_ms"] = (finished["t"] - started["t"]) * 1000
    resumed = sb.wait_for(lambda: sb.fake_events("start", resume=summary["conversation"]),
                          timeout=20, what="the dedicated session resumed")
    say(f"operator's session {DEDICATED} resumed its conversation on the backup: "
        f"claude --resume {summary['conversation'][:8]}… with CLAUDE_CONFIG_DIR="
        f"{resumed[-1]['CLAUDE_CONFIG_DIR']}")
    summary["resumed"] = [DEDICATED]
    sb.fake_account_limit(main_home, False)
    done_dir = os.path.join(sb.project_dir, ".agent-queue", "done")
    sb.wait_for(lambda: all(os.path.exists(os.path.join(done_dir, f"long-task-{i}.md"))
                            for i in range(3)), timeout=60, what="the long tasks done")
    on_backup = [e["args"][1] for e in signals.events("TaskDispatched") if e["args"][4] == "backup"]
    summary["on_backup"] = sorted(set(on_backup))
    say(f"requeued tasks finished on the backup: {', '.join(summary['on_backup'])}")
    show("claude-failoverctl status", sb.ctl("status"))
    say(f"ReturnAt is main's reset + return_margin; waiting {max(0, reset + 1 - time.time()):.0f} s")
    back = signals.wait("SwapStarted", lambda a: a[2] == "return", timeout=60)
    signals.wait("SwapFinished", lambda a: a[1] == "main", timeout=30)
    say(f"back on main ({back['args'][2]}); {link} → {os.readlink(link)}")
    summary["swaps"] = [f"{e['args'][0]} → {e['args'][1]} ({e['args'][2]})"
                        for e in signals.events("SwapStarted")]


def queue_of(sb, place):
    return sorted(n[:-3] for n in os.listdir(os.path.join(sb.project_dir, ".agent-queue", place))
                  if n.endswith(".md"))


def print_summary(summary):
    print("\nSummary", flush=True)
    print(f"  tasks done:          {len(summary['done'])} ({', '.join(summary['done'])})")
    print(f"  tasks failed:        {len(summary['failed'])}")
    print(f"  limit → detected:    {summary['detect']:.2f} s (quota.interval 500 ms)")
    print(f"  switch took:         {summary['switch_ms']:.0f} ms")
    print(f"  switches:            {'; '.join(summary['swaps'])}")
    print(f"  sessions resumed:    {', '.join(summary['resumed'])}")
    print(f"  finished on backup:  {', '.join(summary['on_backup'])}")
    print(f"  total:               {time.monotonic() - START:.1f} s\n", flush=True)


DEDICATED = "ccl-1-web"


def main():
    keep = "--keep" in sys.argv[1:]
    summary = {"conversation": str(uuid.uuid4())}
    with Sandbox("demo") as sb:
        say(f"sandbox in {sb.root}")
        sb.start_bus()
        say(f"private system bus at {sb.bus_address}")
        sb.start_tmux()
        say(f"private tmux server at {sb.tmux_socket}")
        config = sb.write_config({"pool": {"autonomous": {"min": 3, "max": 5},
                                           "dedicated": [{"name": DEDICATED,
                                                          "project": sb.project_dir}]},
                                  "lifecycle": {"interval": "500ms"},
                                  "quota": {"interval": "500ms", "return_margin": "1s",
                                            "reactivate_cooldown": "2s"}})
        say(f"config {config}: accounts main and backup, pool ccl-auto-0..2 and {DEDICATED}, "
            "fake Claude")
        show(f"claude-failoverd --check-config --config {config}",
             sb.run([sb.daemon_path, "--config", config, "--check-config"]))

        signals = SignalLog(sb)
        sb.start_daemon()
        say("claude-failoverd owns org.claudefailover on the private bus")
        sb.wait_for(lambda: sum(1 for s in sb.get_property("Sessions")
                                if s[2] == "idle") >= 3,
                    timeout=15, what="three idle pool sessions")
        say("pool sessions created")

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
        sb.start_fake(DEDICATED, "--dangerously-skip-permissions", cwd=sb.project_dir,
                      config_dir=os.path.join(sb.home, ".claude-main"))
        sb.fake_control(DEDICATED, f"print claude --resume {summary['conversation']}")
        sb.wait_for(lambda: any(s[0] == DEDICATED and s[2] == "idle"
                                for s in sb.get_property("Sessions")),
                    timeout=20, what=f"{DEDICATED} seen by the daemon")
        say(f"the operator opens {DEDICATED} (Claude on account main); the daemon follows it")
        show("claude-failoverctl sessions", sb.ctl("sessions"))

        say("pausing dispatch, dropping 5 tasks into the demo project's inbox (one critical)")
        sb.call("PauseDispatch")
        for i in range(4):
            sb.add_task(f"demo-task-{i}", f"Demo task {i}. FAKE:work=800", title=f"Demo task {i}")
        sb.add_task("urgent-fix", "Critical fix. FAKE:work=500", priority="critical",
                    title="Urgent fix")
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
        order = [e["args"][1] for e in signals.events("TaskDispatched")]
        say(f"dispatch order (TaskDispatched): {', '.join(order)}; fake Claude received "
            f"{len(sb.fake_events('prompt'))} prompts")

        failover(sb, signals, summary)

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
    say("sandbox removed")
    print_summary(summary)
    if time.monotonic() - START > 120:
        print("demo: took longer than its two-minute budget", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as e:
        print(f"demo: {e}", file=sys.stderr)
        sys.exit(1)
