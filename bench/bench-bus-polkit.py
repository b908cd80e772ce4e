#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""GetStatus latency while polkit checks are pending, on the real daemon
(private system-bus-like dbus-daemon, private tmux, a pool of fake Claude
sessions so the snapshot has content). The measuring and the fake polkitd
holding the checks are bench/bench-bus-polkit.c; this script sets the stage.

    bench/bench-bus-polkit.py [--sessions N] [--calls N] [--pending N] [--assert-p99-ms MS]

Needs root (the pending callers run as nobody); exits 77 elsewhere."""

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import Sandbox, build_dir, require, user_exists  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--pending", type=int, default=16)
    parser.add_argument("--assert-p99-ms", type=float)
    args = parser.parse_args()
    require(os.getuid() == 0, "needs root: the pending callers run as nobody")
    require(user_exists("nobody"), "no user nobody")
    program = os.path.join(build_dir(), "bench", "bench-bus-polkit")

    with Sandbox("benchpk") as sb:
        sb.start_bus(mock_names=["org.freedesktop.PolicyKit1"])
        sb.start_tmux()
        n = args.sessions
        sb.write_config({"pool": {"autonomous": {"min": n, "max": n}}})
        sb.start_daemon()
        sb.wait_for(lambda: sum(1 for s in sb.get_property("Sessions")
                                if s[1] == "pool" and s[2] == "idle") == n,
                    timeout=60, what=f"{n} idle pool sessions")
        argv = [program, "--calls", str(args.calls), "--pending", str(args.pending)]
        if args.assert_p99_ms is not None:
            argv += ["--assert-p99-ms", str(args.assert_p99_ms)]
        r = subprocess.run(argv, env=sb.env())
        if r.returncode not in (0, 77):
            sb.dump_logs()
        print(f"(daemon with {n} pool sessions; command: {' '.join(argv)})")
        return r.returncode


if __name__ == "__main__":
    sys.exit(main())
