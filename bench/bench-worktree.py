#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What isolation: worktree adds to a launch: the time of the commands
cf_worktree_ensure runs (git rev-parse HEAD, git worktree prune,
git rev-parse --verify of the branch, git worktree add -b cf/<id> PATH HEAD)
on a repository of --files files, and of the conclusion's removal of a
clean worktree (git log, git diff --stat, git status, git worktree remove).

    bench/bench-worktree.py [--files 10000] [--runs 5] [--assert-add-ms MS]

Prints one line per measure (median and max over the runs); with
--assert-add-ms exits 1 when the median of the add exceeds MS."""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ENV = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.invalid",
           GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.invalid", LC_ALL="C",
           GIT_TERMINAL_PROMPT="0")


def git(cwd, *args):
    subprocess.run(["git", "-C", cwd, *args], check=True, env=ENV, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_repo(root, files):
    repo = os.path.join(root, "repo")
    os.makedirs(repo)
    git(repo, "init", "-q", "-b", "main")
    for i in range(files):
        d = os.path.join(repo, f"d{i // 100:03d}")
        if i % 100 == 0:
            os.makedirs(d)
        with open(os.path.join(d, f"f{i:05d}.c"), "w") as f:
            f.write(f"/* file {i} */\nint f{i} (void) {{ return {i}; }}\n")
    with open(os.path.join(repo, ".gitignore"), "w") as f:
        f.write(".agent-queue/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    return repo


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--assert-add-ms", type=float, default=None)
    args = parser.parse_args()
    if shutil.which("git") is None:
        print("SKIP: git is not installed")
        return 77

    root = tempfile.mkdtemp(prefix="cf-bench-worktree-")
    try:
        t0 = time.monotonic()
        repo = make_repo(root, args.files)
        setup_s = time.monotonic() - t0
        adds, removes = [], []
        for run in range(args.runs):
            tid = f"bench-{run}"
            path = os.path.join(repo, ".agent-queue", "worktrees", tid)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            t0 = time.monotonic()
            git(repo, "rev-parse", "--verify", "HEAD^{commit}")
            git(repo, "worktree", "prune")
            subprocess.run(["git", "-C", repo, "rev-parse", "--verify", "--quiet", f"refs/heads/cf/{tid}"],
                           env=ENV, stdout=subprocess.DEVNULL)
            git(repo, "worktree", "add", "-b", f"cf/{tid}", path, "HEAD")
            adds.append((time.monotonic() - t0) * 1000)
            t0 = time.monotonic()
            git(repo, "log", "--oneline", f"main..cf/{tid}")
            git(repo, "diff", "--stat", "main", f"cf/{tid}")
            git(path, "status", "--porcelain")
            git(repo, "worktree", "remove", "--force", path)
            removes.append((time.monotonic() - t0) * 1000)
        print(f"repository: {args.files} files (made in {setup_s:.1f} s), {args.runs} runs")
        print(f"worktree add (launch): median {statistics.median(adds):.0f} ms, max {max(adds):.0f} ms")
        print(f"conclusion + remove (completion): median {statistics.median(removes):.0f} ms, "
              f"max {max(removes):.0f} ms")
        if args.assert_add_ms is not None and statistics.median(adds) > args.assert_add_ms:
            print(f"FAIL: median add {statistics.median(adds):.0f} ms > {args.assert_add_ms:.0f} ms")
            return 1
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
