# SPDX-License-Identifier: MIT
"""The README's first command: claude-failoverd live, in a throwaway sandbox."""

import os
import subprocess
import sys
import time

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


def failover(sb, signals):
    """Account main runs out mid-task: the switch, the tasks finishing on the
    backup, the return to main after its reset."""
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
    sb.fake_account_limit(main_home, False)
    done_dir = os.path.join(sb.project_dir, ".agent-queue", "done")
    sb.wait_for(lambda: all(os.path.exists(os.path.join(done_dir, f"long-task-{i}.md"))
                            for i in range(3)), timeout=60, what="the long tasks done")
    on_backup = [e["args"][1] for e in signals.events("TaskDispatched") if e["args"][4] == "backup"]
    say(f"requeued tasks finished on the backup: {', '.join(sorted(set(on_backup)))}")
    show("claude-failoverctl status", sb.ctl("status"))
    say(f"ReturnAt is main's reset + return_margin; waiting {max(0, reset + 1 - time.time()):.0f} s")
    back = signals.wait("SwapStarted", lambda a: a[2] == "return", timeout=60)
    signals.wait("SwapFinished", lambda a: a[1] == "main", timeout=30)
    say(f"back on main ({back['args'][2]}); {link} → {os.readlink(link)}")


def main():
    keep = "--keep" in sys.argv[1:]
    with Sandbox("demo") as sb:
        say(f"sandbox in {sb.root}")
        sb.start_bus()
        say(f"private system bus at {sb.bus_address}")
        sb.start_tmux()
        say(f"private tmux server at {sb.tmux_socket}")
        config = sb.write_config({"pool": {"autonomous": {"min": 3, "max": 5}},
                                  "lifecycle": {"interval": "500ms"},
                                  "quota": {"interval": "500ms", "return_margin": "1s",
                                            "reactivate_cooldown": "2s"}})
        say(f"config {config}: accounts main and backup, pool ccl-auto-0..2, fake Claude")
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
        prompts = sb.fake_events("prompt")
        say(f"fake Claude received {len(prompts)} prompts; first: "
            f"{prompts[0]['text'].splitlines()[0][:60] if prompts else '-'}")

        failover(sb, signals)

        if keep and sys.stdin.isatty():
            print(f"Sandbox kept running. In another shell:\n"
                  f"  export DBUS_SYSTEM_BUS_ADDRESS={sb.bus_address}\n"
                  f"  {sb.ctl_path} status\n  tmux -S {sb.tmux_socket} ls\n"
                  f"Press Enter to stop.", flush=True)
            input()
        code = sb.stop_daemon()
        say(f"daemon stopped cleanly (exit {code}); state written to "
            f"{sb.config['state_file']}")
    say("sandbox removed")


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as e:
        print(f"demo: {e}", file=sys.stderr)
        sys.exit(1)
