#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Parallel tasks of one project (issue 19, ARCHITECTURE.md 4.9) on real
parts and real git: a worktree per task (isolation), projects.max_parallel,
depends_on; the session's cwd is what tests/fake-claude logs at its start."""

import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SandboxTestCase  # noqa: E402

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def queue_dir(project, place):
    return os.path.join(project, ".agent-queue", place)


def task_ids(project, place):
    return sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(queue_dir(project, place), "*.md")))


def git(cwd, *args):
    env = dict(os.environ, **GIT_ENV)
    r = subprocess.run(["git", "-C", cwd, *args], capture_output=True, text=True, env=env, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} in {cwd}: {r.stderr}")
    return r.stdout


def make_repo(path):
    for sub in ("inbox", "active", "done", "failed"):
        os.makedirs(queue_dir(path, sub), exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    with open(os.path.join(path, ".gitignore"), "w") as f:
        f.write(".agent-queue/\n")
    with open(os.path.join(path, "README"), "w") as f:
        f.write("base\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "base")


def make_plain(path):
    for sub in ("inbox", "active", "done", "failed"):
        os.makedirs(queue_dir(path, sub), exist_ok=True)


class WorktreeTest(SandboxTestCase):
    LOG_LINES = 80
    PROGRAMS = SandboxTestCase.PROGRAMS + ("git",)

    def start(self, overrides, sessions=2):
        sb = self.sb
        config = {"pool": {"autonomous": {"min": sessions, "max": sessions}}}
        config.update(overrides)
        sb.write_config(config)
        for account in sb.config["accounts"]:
            r = sb.ctl("install-hooks", account["home"], "--command", sb.ctl_path)
            self.assertEqual(r.returncode, 0, r.stderr)
        sb.start_daemon()
        sb.wait_for(lambda: sum(1 for s in sb.get_property("Sessions")
                                if s[1] == "pool" and s[2] == "idle") >= sessions,
                    timeout=20, what=f"{sessions} idle pool sessions")

    def project(self, name, repo=True):
        path = os.path.join(self.sb.projects_dir, name)
        os.makedirs(path, exist_ok=True)
        (make_repo if repo else make_plain)(path)
        return path

    def wait_places(self, project, place, ids, timeout=60):
        self.sb.wait_for(lambda: set(ids) <= set(task_ids(project, place)), timeout=timeout,
                         what=f"tasks {sorted(ids)} in {place}/ (inbox {task_ids(project, 'inbox')}, "
                              f"active {task_ids(project, 'active')}, done {task_ids(project, 'done')}, "
                              f"failed {task_ids(project, 'failed')})")

    def start_of(self, task_id):
        """The fake's start event of the process that got TASK_ID's prompt."""
        prompts = [e for e in self.sb.fake_events("prompt") if e["text"].startswith(f"[{task_id}]")]
        if not prompts:
            return None
        starts = [e for e in self.sb.fake_events("start") if e["pid"] == prompts[0]["pid"]]
        return starts[0] if starts else None

    def turn(self, task_id):
        """(prompt time, reply time or None) of TASK_ID's turn."""
        prompts = [e for e in self.sb.fake_events("prompt") if e["text"].startswith(f"[{task_id}]")]
        if not prompts:
            return None
        replies = [e for e in self.sb.fake_events("reply") if e["pid"] == prompts[0]["pid"]]
        return prompts[0]["time"], replies[0]["time"] if replies else None

    # --------------------------------------------------------------------

    def test_two_tasks_of_one_project_in_two_worktrees(self):
        sb = self.sb
        repo = self.project("repo")
        self.start({"projects": {"dir": sb.projects_dir, "isolation": "worktree"}})
        for tid in ("w1", "w2"):
            sb.add_task(tid, f"Change {tid}. FAKE:work=4000", project=repo)
        sb.wait_for(lambda: self.start_of("w1") and self.start_of("w2"), timeout=30,
                    what="both tasks started")
        cwds = {tid: self.start_of(tid)["cwd"] for tid in ("w1", "w2")}
        for tid, cwd in cwds.items():
            self.assertEqual(cwd, os.path.join(repo, ".agent-queue", "worktrees", tid))
            self.assertEqual(git(cwd, "symbolic-ref", "--short", "HEAD").strip(), f"cf/{tid}")
            # What the session would do: a change and a commit in its worktree.
            with open(os.path.join(cwd, f"{tid}.txt"), "w") as f:
                f.write(f"{tid}\n")
            git(cwd, "add", f"{tid}.txt")
            git(cwd, "commit", "-q", "-m", f"work of {tid}")
        self.assertNotEqual(cwds["w1"], cwds["w2"])
        shown = sb.ctl("tasks", "repo").stdout
        for tid in ("w1", "w2"):
            self.assertIn(f"{tid}: branch cf/{tid}, worktree {cwds[tid]}", shown)
        listed = {t["task_id"]: t for t in json.loads(sb.ctl("--json", "tasks", "repo").stdout)}
        self.assertEqual(listed["w1"]["branch"], "cf/w1")
        self.assertEqual(listed["w1"]["worktree"], cwds["w1"])
        self.wait_places(repo, "done", ["w1", "w2"])
        base = git(repo, "rev-parse", "main").strip()
        for tid in ("w1", "w2"):
            log = git(repo, "log", "--format=%s", f"main..cf/{tid}").splitlines()
            self.assertEqual(log, [f"work of {tid}"], f"cf/{tid} holds only its own commit")
            files = git(repo, "diff", "--name-only", base, f"cf/{tid}").split()
            self.assertEqual(files, [f"{tid}.txt"])
            with open(os.path.join(queue_dir(repo, "done"), f"{tid}.md")) as f:
                done = f.read()
            self.assertIn(f"Branch: cf/{tid} (worktree .agent-queue/worktrees/{tid}: removed)", done)
            self.assertIn(f"work of {tid}", done)
            self.assertIn(f"{tid}.txt", done)
            self.assertRegex(done, r"1 file changed, 1 insertion")
            # Clean and done: the worktree is gone, the branch stays.
            self.assertFalse(os.path.exists(cwds[tid]))
            self.assertNotIn(cwds[tid], git(repo, "worktree", "list"))
        # The project's own checkout was never touched.
        self.assertEqual(git(repo, "status", "--porcelain"), "")
        self.assertEqual(git(repo, "rev-parse", "HEAD").strip(), base)

    def test_task_isolation_in_a_project_that_is_not_git_fails_with_the_reason(self):
        sb = self.sb
        plain = self.project("plain", repo=False)
        self.start({"projects": {"dir": sb.projects_dir}})
        sb.add_task("iso", "Needs its own worktree.", project=plain, isolation="worktree")
        sb.add_task("shared", "Runs in the directory. FAKE:work=100", project=plain)
        self.wait_places(plain, "failed", ["iso"])
        with open(os.path.join(queue_dir(plain, "failed"), "iso.reason.txt")) as f:
            reason = f.read()
        self.assertIn("is not a git repository", reason)
        self.assertIsNone(self.start_of("iso"), "a task that asked for isolation never ran shared")
        self.wait_places(plain, "done", ["shared"])
        self.assertEqual(self.start_of("shared")["cwd"], plain)

    def test_global_worktree_default_in_a_project_that_is_not_git_runs_shared(self):
        sb = self.sb
        plain = self.project("plain", repo=False)
        self.start({"projects": {"dir": sb.projects_dir, "isolation": "worktree"}})
        sb.add_task("t1", "Anything. FAKE:work=100", project=plain)
        self.wait_places(plain, "done", ["t1"])
        self.assertEqual(self.start_of("t1")["cwd"], plain)
        self.assertIn("runs in the shared project directory", sb.daemon_log())

    def test_max_parallel_serialises_one_project_while_another_runs(self):
        sb = self.sb
        repo = self.project("repo")
        other = self.project("other", repo=False)
        self.start({"projects": {"dir": sb.projects_dir, "max_parallel": 1}}, sessions=3)
        sb.call("PauseDispatch")
        for tid in ("s1", "s2"):
            sb.add_task(tid, f"Serial {tid}. FAKE:work=1500", project=repo, isolation="worktree")
            time.sleep(0.05)
        sb.add_task("o1", "Other project. FAKE:work=1500", project=other)
        time.sleep(0.5)
        sb.call("ResumeDispatch")
        self.wait_places(repo, "done", ["s1", "s2"], timeout=60)
        self.wait_places(other, "done", ["o1"], timeout=60)
        s1, s2, o1 = self.turn("s1"), self.turn("s2"), self.turn("o1")
        self.assertLessEqual(s1[1], s2[0], f"s2 started before s1 ended: {s1} {s2}")
        # The other project was served while s1 worked, not after it.
        self.assertLess(o1[0], s1[1], f"o1 waited for s1: {o1} {s1}")

    def test_depends_on_orders_and_failures_are_reported(self):
        sb = self.sb
        repo = self.project("repo")
        self.start({"projects": {"dir": sb.projects_dir}}, sessions=3)
        sb.call("PauseDispatch")
        sb.add_task("second", "After first. FAKE:work=100", project=repo, depends_on=["first"])
        sb.add_task("orphan", "Never.", project=repo, depends_on=["nosuch"])
        sb.add_task("c1", "Cycle.", project=repo, depends_on=["c2"])
        sb.add_task("c2", "Cycle.", project=repo, depends_on=["c1"])
        time.sleep(0.05)
        sb.add_task("first", "First. FAKE:work=1500", project=repo)
        time.sleep(0.5)
        r = sb.ctl("tasks", "repo")
        self.assertIn("second: waiting for first", r.stdout)
        self.assertIn("orphan: depends on unknown task nosuch", r.stdout)
        self.assertIn("c1: dependency cycle: c1 → c2 → c1", r.stdout)
        sb.call("ResumeDispatch")
        self.wait_places(repo, "failed", ["orphan", "c1", "c2"], timeout=30)
        with open(os.path.join(queue_dir(repo, "failed"), "orphan.reason.txt")) as f:
            self.assertIn("depends on unknown task nosuch", f.read())
        for tid in ("c1", "c2"):
            with open(os.path.join(queue_dir(repo, "failed"), f"{tid}.reason.txt")) as f:
                reason = f.read()
            self.assertTrue("dependency cycle" in reason or "dependency c" in reason, reason)
        self.wait_places(repo, "done", ["first", "second"], timeout=60)
        first, second = self.turn("first"), self.turn("second")
        self.assertLessEqual(first[1], second[0], f"second ran before first ended: {first} {second}")

    def test_dependency_failed_fails_the_dependent(self):
        sb = self.sb
        repo = self.project("repo")
        self.start({"projects": {"dir": sb.projects_dir}})
        os.makedirs(queue_dir(repo, "failed"), exist_ok=True)
        # Both in the inbox before either is looked at: "after" claimed
        # alone would fail for an unknown dependency instead.
        sb.call("PauseDispatch")
        sb.add_task("after", "After broken.", project=repo, depends_on=["broken"])
        # A dependency that fails on its own: bad frontmatter.
        sb.add_task("broken", "x", project=repo, priority="urgent-ish")
        time.sleep(0.3)
        sb.call("ResumeDispatch")
        self.wait_places(repo, "failed", ["broken", "after"], timeout=30)
        with open(os.path.join(queue_dir(repo, "failed"), "after.reason.txt")) as f:
            self.assertIn("dependency broken failed", f.read())
        self.assertIsNone(self.start_of("after"))

    def test_janitor_prunes_the_worktree_of_a_deleted_task_and_keeps_its_branch(self):
        sb = self.sb
        repo = self.project("repo")
        self.start({"projects": {"dir": sb.projects_dir, "isolation": "worktree",
                                 "keep_worktrees": "always"}})
        sb.add_task("kept", "Work. FAKE:work=100", project=repo)
        self.wait_places(repo, "done", ["kept"])
        path = os.path.join(repo, ".agent-queue", "worktrees", "kept")
        with open(os.path.join(queue_dir(repo, "done"), "kept.md")) as f:
            self.assertIn("Branch: cf/kept (worktree .agent-queue/worktrees/kept: kept (keep_worktrees: always))",
                          f.read())
        self.assertTrue(os.path.isdir(path))
        time.sleep(1.5)
        self.assertTrue(os.path.isdir(path), "a kept worktree of an existing task is not pruned")
        os.unlink(os.path.join(queue_dir(repo, "done"), "kept.md"))
        sb.wait_for(lambda: not os.path.exists(path), timeout=15, what="the janitor removed the worktree")
        self.assertNotIn(path, git(repo, "worktree", "list"))
        self.assertEqual(git(repo, "branch", "--list", "cf/kept").strip(), "cf/kept")

    def crash_during_creation(self, fault):
        sb = self.sb
        repo = self.project("repo")
        # The requeue after the crash counts an attempt: no cooldown after it here.
        self.start({"projects": {"dir": sb.projects_dir, "isolation": "worktree"},
                    "dispatcher": {"prompt_timeout": "5s", "cooldown_schedule": [0]}})
        sb.stop_daemon()
        sb.start_daemon(env=sb.env(CF_FAULT_CRASH_AT=fault))
        sb.add_task("crashy", "Work. FAKE:work=200", project=repo)
        sb.wait_for(lambda: sb.daemon.poll() is not None, timeout=30, what=f"the daemon killed at {fault}")
        self.assertEqual(sb.daemon.returncode, -9)
        sb.start_daemon()
        self.wait_places(repo, "done", ["crashy"], timeout=60)
        prompts = [e for e in sb.fake_events("prompt") if e["text"].startswith("[crashy]")]
        self.assertEqual(len(prompts), 1, "run exactly once")
        self.assertEqual(self.start_of("crashy")["cwd"], os.path.join(repo, ".agent-queue", "worktrees", "crashy"))
        for place in ("inbox", "active", "failed"):
            self.assertEqual(task_ids(repo, place), [], place)
        self.assertEqual(git(repo, "branch", "--list", "cf/*").split(), ["cf/crashy"])
        # Done and clean: no worktree left behind, none registered.
        self.assertEqual(len(git(repo, "worktree", "list").splitlines()), 1)
        self.assertEqual(os.listdir(os.path.join(repo, ".agent-queue", "worktrees")), [])

    def test_kill_before_git_worktree_add(self):
        self.crash_during_creation("worktree-adding")

    def test_kill_after_git_worktree_add(self):
        self.crash_during_creation("worktree-added")

    def test_kill_while_removing_the_worktree(self):
        sb = self.sb
        repo = self.project("repo")
        self.start({"projects": {"dir": sb.projects_dir, "isolation": "worktree"},
                    "dispatcher": {"prompt_timeout": "5s", "cooldown_schedule": [0]}})
        sb.stop_daemon()
        sb.start_daemon(env=sb.env(CF_FAULT_CRASH_AT="worktree-removing"))
        sb.add_task("leaving", "Work. FAKE:work=200", project=repo)
        sb.wait_for(lambda: sb.daemon.poll() is not None, timeout=30, what="the daemon killed at worktree-removing")
        self.assertEqual(sb.daemon.returncode, -9)
        sb.start_daemon()
        self.wait_places(repo, "done", ["leaving"], timeout=60)
        prompts = [e for e in sb.fake_events("prompt") if e["text"].startswith("[leaving]")]
        self.assertEqual(len(prompts), 1, "run exactly once")
        for place in ("inbox", "active", "failed"):
            self.assertEqual(task_ids(repo, place), [], place)
        self.assertEqual(git(repo, "branch", "--list", "cf/*").replace("+", "").split(), ["cf/leaving"])
        with open(os.path.join(queue_dir(repo, "done"), "leaving.md")) as f:
            self.assertIn("Branch: cf/leaving", f.read())
        sb.wait_for(lambda: len(git(repo, "worktree", "list").splitlines()) == 1, timeout=15,
                    what="no worktree left registered")

    def test_a_task_that_comes_before_tmux_is_up_starts_once_it_is(self):
        # A restart under load: the daemon owns its bus name and watches the
        # inbox before its tmux control connection is up, and a task comes
        # then. Dispatch waits for tmux; it must start when tmux is up, not at
        # some later unrelated event (test_kill_while_removing_the_worktree
        # timed out after 30 s waiting for it).
        sb = self.sb
        repo = self.project("repo")
        self.start({"projects": {"dir": sb.projects_dir}})
        sb.stop_daemon()
        server = int(sb.tmux("display-message", "-p", "#{pid}").stdout)
        os.kill(server, signal.SIGSTOP)
        try:
            sb.start_daemon()
            sb.add_task("early", "Work. FAKE:work=100", project=repo)
            time.sleep(1.5)
            self.assertEqual(task_ids(repo, "inbox"), ["early"])
        finally:
            os.kill(server, signal.SIGCONT)
        self.wait_places(repo, "done", ["early"], timeout=10)

    def test_resume_after_a_switch_goes_back_to_the_same_worktree(self):
        sb = self.sb
        repo = self.project("repo")
        self.start({"projects": {"dir": sb.projects_dir, "isolation": "worktree"},
                    "quota": {"interval": "300ms", "reactivate_cooldown": "1s", "return_margin": "1s",
                              "pool_threshold": 1, "dedicated_threshold": 1}}, sessions=1)
        sb.add_task("moved", "Long work. FAKE:work=4000", project=repo)
        sb.wait_for(lambda: self.start_of("moved"), timeout=30, what="the task started")
        path = os.path.join(repo, ".agent-queue", "worktrees", "moved")
        self.assertEqual(self.start_of("moved")["cwd"], path)
        # The limit comes once the turn is under way (its UserPromptSubmit
        # hook answered): one that comes between the paste and that hook ends
        # the launch, and the task starts afresh on the other account.
        pid = self.start_of("moved")["pid"]
        sb.wait_for(lambda: sb.fake_events("hook", pid=pid, name="UserPromptSubmit"), timeout=15,
                    what="the turn under way")
        reset = int(time.time() + 30)
        sb.fake_account_limit(os.path.join(sb.home, ".claude-main"), f"Claude AI usage limit reached|{reset}")
        sb.wait_for(lambda: any(e.get("resume") for e in sb.fake_events("start")), timeout=30,
                    what="the conversation resumed on the other account")
        resumed = [e for e in sb.fake_events("start") if e.get("resume")]
        self.assertEqual(resumed[0]["cwd"], path, "the resume works in the task's worktree")
        self.assertEqual(resumed[0]["CLAUDE_CONFIG_DIR"], os.path.join(sb.home, ".claude-backup"))
        self.assertEqual(git(repo, "branch", "--list", "cf/*").replace("+", "").split(), ["cf/moved"])
        self.assertEqual(len(git(repo, "worktree", "list").splitlines()), 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
