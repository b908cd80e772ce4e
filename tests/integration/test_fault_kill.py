#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Fault injection: kill -9 of claude-failoverd at random moments of a run
that dispatches and completes tasks on fake-claude pool sessions, switches
accounts (usage limits shown by fake-claude, and SwitchAccount) and delegates
tasks to a job API served by this process; the daemon is restarted after
every kill. After each kill, after each restart and at the end:

- every task is in exactly one of inbox/active/done/failed (a delegated task
  stays in inbox with its .md.delegated marker; no marker without its task
  once the daemon has recovered); none is lost;
- attempt counts never go down;
- claude_link points to a configured account home;
- each account home's .claude.json and settings.json are whole JSON (the
  preparation's writes are atomic), and once the daemon is up again they
  trust the project and no lock of Claude Code's is left behind;
- the state file is JSON with a version; once the daemon is up the switch
  journal is back to normal/fallback, PartialSwap is false, and the state
  file, the properties and GetStatus agree on the account and swap state;
- answered exactly once: no task's text was prompted more often than it was
  claimed, nor after it reached done/ (fake-claude's event log);
- at the end every task is done, no task was run by two Claude processes at
  once (fake-claude's event log), local tasks were all prompted, delegated
  ones finished through the API.

Each kill moment is drawn in one of these phases: "dispatch" (new tasks just
dropped in the inbox), "switch" (a limit shown by the active account's
sessions or a SwitchAccount call just made), "delegation" (remote tasks just
added, remote jobs just completed), "recovery" (right after the restart,
before anything settled), "usage" (a statusline reading over switch_at just
reported: a draining switch), "prep" (the homes' trust just taken out: the
restart prepares them again, killed at a fault point of that write half the
time) and "any".

CF_CRASH_SEED replays a run (the seed is printed first); CF_CRASH_KILLS sets
the number of kills (default 30; 200 with CF_LONG=1)."""

import glob
import json
import os
import random
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUS_NAME, OBJECT_PATH, INTERFACE, Sandbox, require_programs,  # noqa: E402
                     settled_task_places)
from test_crash import overlapping_runs  # noqa: E402
from test_delegation import KEY, KEY_ENV, JobApi  # noqa: E402

PHASES = ("dispatch", "switch", "delegation", "recovery", "any", "usage", "prep")
WEIGHTS = (2, 3, 2, 1, 1, 1, 1)
# Fault points of a switch (src/daemon/accounts/cf-switcher.c): a switch takes tens of
# milliseconds, so half the "switch" kills use them to land inside one.
SWAP_STEPS = ("swap-saving", "swap-switching", "swap-flipped", "swap-resuming")
# Fault points of the account preparation (src/lib/cf-account-file.c): Claude Code's lock
# taken, and the file replaced but the lock not yet released. The "prep" phase takes a
# project's trust out of the homes, so the next start-up writes them again.
PREP_STEPS = ("account-file-locked", "account-file-replaced")


def statusline_payload(percent, resets_at):
    """What Claude Code hands its statusLine command (CLAUDE-CODE.md)."""
    return json.dumps({"session_id": "00000000-0000-4000-8000-000000000001",
                       "transcript_path": "/nonexistent.jsonl", "cwd": "/",
                       "model": {"id": "claude-sonnet-4-5", "display_name": "Sonnet"},
                       "rate_limits": {"five_hour": {"used_percentage": percent,
                                                     "resets_at": resets_at}}})


def iso_epoch(text):
    """The meta files' "2026-12-06T14:02:26.767354Z" as epoch seconds."""
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Violation(AssertionError):
    """An invariant broken (not a bus call that failed)."""


def log(text):
    print(f"[fault-kill {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class Completer(threading.Thread):
    """Completes each job of the API a random 0.3–2 s after it appears."""

    def __init__(self, api, rng):
        super().__init__(daemon=True)
        self.api, self.rng = api, rng
        self.due = {}
        self.stop = threading.Event()
        self.paused = threading.Event()

    def run(self):
        while not self.stop.wait(0.1):
            if self.paused.is_set():
                continue
            now = time.monotonic()
            with self.api.lock:
                for job_id, job in self.api.jobs.items():
                    if job_id not in self.due:
                        self.due[job_id] = now + self.rng.uniform(0.3, 2.0)
                    elif job["status"] == "queued" and now >= self.due[job_id]:
                        job.update(status="completed", result=f"remote result of {job_id}",
                                   cost=0.01, provider=job["request"]["provider"])


class FaultKillTest(unittest.TestCase):
    def test_kill9_across_dispatch_switch_and_delegation(self):
        require_programs("dbus-daemon", "tmux", "busctl")
        long_mode = os.environ.get("CF_LONG") == "1"
        kills = int(os.environ.get("CF_CRASH_KILLS", "200" if long_mode else "30"))
        seed = int(os.environ.get("CF_CRASH_SEED") or random.SystemRandom().randrange(1 << 32))
        log(f"seed {seed} (replay with CF_CRASH_SEED={seed}), {kills} kills")
        rng = random.Random(seed)
        api = JobApi()
        completer = Completer(api, random.Random(rng.random()))
        completer.start()
        started_at = time.monotonic()
        with Sandbox("faultkil") as sb:
            try:
                self.run_kills(sb, api, completer, rng, kills, seed)
            except BaseException:
                sb.dump_logs(80)
                log(f"FAILED with seed {seed}: rerun with CF_CRASH_SEED={seed}")
                raise
            finally:
                completer.stop.set()
                api.close()
        log(f"{kills} kills in {time.monotonic() - started_at:.1f} s")

    # ------------------------------------------------------------------

    def run_kills(self, sb, api, completer, rng, kills, seed):
        sb.start_bus()
        sb.start_tmux()
        sb.fake_work_ms = 300
        main_home = os.path.join(sb.home, ".claude-main")
        backup_home = os.path.join(sb.home, ".claude-backup")
        homes = {"main": main_home, "backup": backup_home}
        link = os.path.join(sb.home, ".claude")
        sb.write_config({
            "pool": {"autonomous": {"min": 3, "max": 3}},
            "dispatcher": {"max_dispatch_per_task": 1000, "cooldown_schedule": [0]},
            "watcher": {"interval": "100ms"},
            "janitor": {"interval": "500ms"},
            "quota": {"interval": "200ms", "reactivate_cooldown": "0s", "return_margin": "1s",
                      "pool_threshold": 1, "dedicated_threshold": 1},
            "delegation": {"url": api.url, "api_key_env": KEY_ENV, "reap_interval": "200ms"},
        })
        env = sb.env(**{KEY_ENV: KEY})
        os.makedirs(os.path.join(sb.root, "xdg"), mode=0o700, exist_ok=True)
        state_file = sb.config["state_file"]
        project = sb.project_dir
        local, remote = [], []
        seen_attempts = {}
        seen_events = {}
        max_attempts = {}
        limited = {}                     # account home -> reset epoch of its limit
        phases = {p: 0 for p in PHASES}
        switches_asked = 0
        state_seen = []
        caught = {"mid-switch": 0, "fault points": 0, "tasks active": 0, "jobs delegated": 0}

        def add_local(n):
            for _ in range(n):
                tid = f"l{len(local):04d}"
                sb.add_task(tid, f"fault test {tid} FAKE:work={rng.randint(100, 700)}")
                local.append(tid)
                seen_attempts[tid] = 0

        def add_remote(n):
            for _ in range(n):
                tid = f"r{len(remote):04d}"
                sb.add_task(tid, f"Remote work {tid}. FAKE:work=200", title=f"Remote {tid}",
                            priority="high", preferred_ai=rng.choice(["gemini", "gpu"]),
                            allow_delegation=True)
                remote.append(tid)
                seen_attempts[tid] = 0

        def lift_expired_limits():
            for home, reset in list(limited.items()):
                if time.time() >= reset:
                    sb.fake_account_limit(home, False)
                    del limited[home]

        def check_disk(when, recovered=False):
            """The on-disk invariants; returns {task: [places]}."""
            ids = local + remote

            where = settled_task_places(project, ids)
            self.assertEqual(set(where), set(ids), f"{when}: unknown task files")
            # Answered exactly once: each task's text reaches Claude at most
            # once per attempt the queue recorded (its claims), and never
            # after the task reached done/ (fake-claude's log of prompts).
            prompts = {}
            for e in sb.fake_events("prompt"):
                tid = e["text"].split("]")[0][1:] if e["text"].startswith("[") else None
                if tid in where:
                    prompts.setdefault(tid, []).append(e["time"])
            for tid, places in where.items():
                self.assertEqual(len(places), 1, f"{when}: {tid} is in {places}")
            inbox = os.path.join(project, ".agent-queue", "inbox")
            for marker in glob.glob(os.path.join(inbox, "*.md.delegated")):
                tid = os.path.basename(marker)[:-len(".md.delegated")]
                self.assertIn(tid, remote, f"{when}: marker of a local task {marker}")
                # A kill between the move to done/ or failed/ and the marker's
                # removal leaves it behind (the reaper removes it); never
                # beside a task that runs locally.
                self.assertNotEqual(where[tid], ["active"],
                                    f"{when}: {tid} is active and delegated")
            for tid in ids:
                try:
                    with open(os.path.join(project, ".agent-queue", "meta",
                                           f"{tid}.json")) as f:
                        meta = json.load(f)
                except FileNotFoundError:
                    meta = {}
                attempts = meta.get("attempts", 0)
                # The only way down: an attempt given back (a requeue after a
                # usage limit or a switch, "attempt_counted": false), one per
                # such event in the task's history.
                events = {json.dumps(e, sort_keys=True) for e in meta.get("history", [])}
                given_back = sum(1 for e in events - seen_events.setdefault(tid, set())
                                 if json.loads(e).get("event") == "requeue"
                                 and json.loads(e).get("attempt_counted") is False)
                seen_events[tid] |= events
                self.assertGreaterEqual(attempts, seen_attempts[tid] - given_back,
                                        f"{when}: attempts of {tid} went down from "
                                        f"{seen_attempts[tid]} to {attempts} with {given_back} "
                                        f"given back: {meta}")
                seen_attempts[tid] = attempts
                max_attempts[tid] = max(max_attempts.get(tid, 0), attempts)
                history = meta.get("history", [])
                claims = sum(1 for e in history if e.get("event") == "claim")
                if len(prompts.get(tid, [])) > claims:
                    raise Violation(f"{when}: {tid} was prompted {len(prompts[tid])} times for "
                                    f"{claims} claims (answered twice): {meta}")
                finished = [e for e in history
                            if e.get("event") == "finish" and e.get("outcome") == "done"]
                if where[tid] == ["done"] and finished:
                    done_at = iso_epoch(finished[-1]["at"])
                    late = [t for t in prompts.get(tid, []) if t > done_at]
                    if late:
                        raise Violation(f"{when}: {tid} was prompted again after it was done "
                                        f"({len(late)} times): {meta}")
            self.assertIn(os.readlink(link), homes.values(), f"{when}: {link} points elsewhere")
            for home in homes.values():
                for name in (".claude.json", "settings.json"):
                    path = os.path.join(home, name)
                    if os.path.exists(path):
                        with open(path, encoding="utf-8") as f:
                            try:
                                json.load(f)
                            except ValueError as e:
                                raise Violation(f"{when}: {path} is not whole JSON: {e}")
            # Absent only until the first write (a kill right after the
            # first start); never removed after.
            if os.path.exists(state_file) or state_seen:
                with open(state_file) as f:
                    state = json.load(f)
                self.assertIsInstance(state.get("version"), int, f"{when}: state without version")
                state_seen.append(True)
            return where

        def journal_step():
            try:
                with open(state_file) as f:
                    return (json.load(f).get("swap") or {}).get("step", "normal")
            except (OSError, ValueError):
                return "normal"

        def get_status():
            r = sb.busctl("--json=short", "call", BUS_NAME, OBJECT_PATH, INTERFACE, "GetStatus")
            return {k: v["data"] for k, v in json.loads(r.stdout)["data"][0].items()}

        def recovered_and_consistent():
            """Once up: no switch half done, and the state file, the
            properties and GetStatus tell the same story."""
            swap_state = sb.get_property("SwapState")
            if swap_state not in ("normal", "fallback"):
                return False
            if sb.get_property("PartialSwap"):
                raise Violation("PartialSwap after recovery")
            active = sb.get_property("ActiveAccount")
            status = get_status()
            with open(state_file) as f:
                state = json.load(f)
            step = (state.get("swap") or {}).get("step", "normal")
            return (status.get("SwapState") == swap_state
                    and status.get("ActiveAccount") == active
                    and step == swap_state
                    and state.get("active_account") == active
                    and os.readlink(link) == homes[active])

        def start(fault=None):
            """Start the daemon (with FAULT: it SIGKILLs itself at that
            step of a switch, src/lib/cf-fault.c); True once it owns its
            name, False when the fault point killed it first."""
            try:
                sb.start_daemon(env=dict(env, CF_FAULT_CRASH_AT=fault) if fault else env,
                                timeout=30)
                return True
            except AssertionError:
                if fault and sb.daemon.poll() == -signal.SIGKILL:
                    return False
                raise

        def wait_recovered(what):
            """Wait for recovered_and_consistent(); False if the daemon
            died meanwhile (only a fault point may kill it)."""
            deadline = time.monotonic() + 40
            last = None
            while time.monotonic() < deadline:
                if sb.daemon.poll() is not None:
                    self.assertEqual(sb.daemon.returncode, -signal.SIGKILL, sb.daemon_log()[-3000:])
                    return False
                try:
                    if recovered_and_consistent():
                        return True
                except Violation:
                    raise
                except Exception as e:  # noqa: BLE001 - a bus call raced a fault point
                    last = e
                time.sleep(0.1)
            raise AssertionError(f"timed out waiting for {what} (last error: {last!r})")

        def draw():
            phase = rng.choices(PHASES, WEIGHTS)[0]
            fault = None
            if phase in ("switch", "usage") and rng.random() < 0.5:
                fault = rng.choice(SWAP_STEPS)
            elif phase == "prep" and rng.random() < 0.5:
                fault = rng.choice(PREP_STEPS)
            return phase, fault

        def untrust():
            """Takes the project's trust out of every home (as a home copied from
            elsewhere would lack it): the next start-up's preparation writes it back."""
            for home in homes.values():
                path = os.path.join(home, ".claude.json")
                try:
                    with open(path, encoding="utf-8") as f:
                        data = json.load(f)
                except (OSError, ValueError):
                    continue
                data.pop("projects", None)
                tmp = path + ".cf-test"
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump(data, f)
                os.replace(tmp, path)

        def trusted_everywhere():
            for home in homes.values():
                with open(os.path.join(home, ".claude.json"), encoding="utf-8") as f:
                    projects = json.load(f).get("projects") or {}
                if not any(os.path.realpath(project).startswith(os.path.realpath(p))
                           and v.get("hasTrustDialogAccepted") for p, v in projects.items()):
                    return False
                if any(name.endswith(".lock") for name in os.listdir(home)):
                    return False
            return True

        def start_phase(phase, fault):
            if phase == "prep":
                untrust()
            return start(fault)

        add_local(12)
        add_remote(3)
        phase, fault = draw()
        alive = start_phase(phase, fault)
        for k in range(kills):
            phases[phase] += 1
            when = f"kill {k + 1}/{kills} ({phase}{', at ' + fault if fault else ''}, seed {seed})"
            if alive and phase != "recovery":
                alive = wait_recovered(f"a recovered, consistent daemon before {when}")
                if alive:
                    check_disk(f"after the restart before {when}", recovered=True)
            lift_expired_limits()
            delay = 0
            if not alive:
                pass
            elif phase == "dispatch":
                add_local(rng.randint(2, 5))
                delay = rng.uniform(0.0, 0.8)
            elif phase == "switch":
                active = sb.get_property("ActiveAccount")
                if rng.random() < 0.6:
                    for home in homes.values():
                        if home != homes[active] and home in limited:
                            sb.fake_account_limit(home, False)
                            del limited[home]
                    reset = int(time.time() + rng.uniform(3, 8))
                    sb.fake_account_limit(homes[active],
                                          f"Claude AI usage limit reached|{reset}")
                    limited[homes[active]] = reset
                    add_local(rng.randint(1, 3))      # something for the limit to hit
                else:
                    sb.busctl("call", BUS_NAME, OBJECT_PATH, INTERFACE, "SwitchAccount",
                              "s", "", check=False)
                switches_asked += 1
                if fault:
                    # Killed by the fault point once the switch reaches it.
                    deadline = time.monotonic() + 5
                    while time.monotonic() < deadline and sb.daemon.poll() is None:
                        time.sleep(0.02)
                else:
                    delay = rng.uniform(0.0, 1.5)
            elif phase == "delegation":
                add_remote(rng.randint(1, 3))
                delay = rng.uniform(0.0, 1.2)
            elif phase == "recovery":
                delay = rng.uniform(0.0, 0.4)
            elif phase == "usage":
                # Over quota.switch_at (95): a proactive, draining switch; the window
                # resets in seconds so that it cannot keep every account out.
                active = sb.get_property("ActiveAccount")
                sb.ctl("statusline", input=statusline_payload(rng.randint(96, 99),
                                                             int(time.time()) + 4),
                       env=sb.env(CLAUDE_CONFIG_DIR=homes[active], TMUX_PANE=None,
                                  XDG_RUNTIME_DIR=os.path.join(sb.root, "xdg")))
                switches_asked += 1
                if fault:
                    deadline = time.monotonic() + 5
                    while time.monotonic() < deadline and sb.daemon.poll() is None:
                        time.sleep(0.02)
                else:
                    delay = rng.uniform(0.0, 1.0)
            elif phase == "prep":
                if alive:
                    # The restart writes the homes again, in a worker thread that
                    # may first wait out a lock a killed daemon left (10 s); with
                    # a fault point armed, it may die doing it.
                    sb.wait_for(lambda: (fault and sb.daemon.poll() is not None)
                                or trusted_everywhere(), timeout=30,
                                what=f"the project trusted in every home before {when}")
                delay = rng.uniform(0.0, 0.5)
            else:
                add_local(rng.randint(0, 2))
                delay = rng.uniform(0.1, 1.5)
            time.sleep(delay)
            if sb.daemon.poll() is None:
                sb.daemon.send_signal(signal.SIGKILL)
            elif fault:
                caught["fault points"] += 1
            sb.daemon.wait(timeout=10)
            self.assertEqual(sb.daemon.returncode, -signal.SIGKILL, sb.daemon_log()[-3000:])
            where = check_disk(f"after {when}")
            # What the kill interrupted, from what it left behind.
            if journal_step() not in ("normal", "fallback"):
                caught["mid-switch"] += 1
            if any(p == ["active"] for p in where.values()):
                caught["tasks active"] += 1
            if glob.glob(os.path.join(project, ".agent-queue", "inbox", "*.md.delegated")):
                caught["jobs delegated"] += 1
            phase, fault = draw()
            alive = start_phase(phase, fault)
            if not alive:
                caught["fault points"] += 1

        if not alive or fault:
            if sb.daemon.poll() is None:
                sb.stop_daemon()
            start()

        # The end: limits lifted, everything finishes.
        for home in list(limited):
            sb.fake_account_limit(home, False)
        limited.clear()
        self.assertTrue(wait_recovered("a recovered, consistent daemon after the last restart"))
        # Whatever start-up or write a kill cut, the homes end prepared and unlocked.
        sb.wait_for(trusted_everywhere, timeout=30, what="the project trusted in every home")

        def all_done():
            where = check_disk("draining", recovered=True)
            return all(p == ["done"] for p in where.values())

        sb.wait_for(all_done, timeout=240, interval=0.5,
                    what=f"all {len(local) + len(remote)} tasks in done/ (seed {seed})")
        self.assertEqual(sb.stop_daemon(), 0)
        where = check_disk("end", recovered=True)
        self.assertEqual({t: p for t, p in where.items() if p != ["done"]}, {})
        self.assertEqual(glob.glob(os.path.join(project, ".agent-queue", "inbox", "*.delegated")),
                         [])
        events = sb.fake_log()
        self.assertEqual(overlapping_runs(events), [], f"a task ran twice at once (seed {seed})")
        prompted = {e["text"].split("]")[0][1:] for e in events if e["event"] == "prompt"}
        self.assertEqual(prompted & set(local), set(local))
        self.assertEqual(prompted & set(remote), set(), "a remote task ran on a local session")
        posts = {}
        for p in api.posts():
            task = json.loads(p[3])["task"]
            posts[task] = posts.get(task, 0) + 1
        self.assertEqual(set(posts), set(remote))
        for tid in remote:
            with open(os.path.join(project, ".agent-queue", "done", f"{tid}.md")) as f:
                self.assertIn("Delegated to", f.read(), tid)
        resubmitted = sorted(t for t, n in posts.items() if n > 1)
        daemon_log = sb.daemon_log()
        swaps_started = daemon_log.count("): starting")
        links_flipped = daemon_log.count("claude_link points to the new account")
        log(f"seed {seed}: {kills} kills by phase {phases}; kills that caught {caught}; {len(local)} local and "
            f"{len(remote)} remote tasks; {switches_asked} switches asked, {swaps_started} started, "
            f"{links_flipped} links flipped; attempts max "
            f"{max(max_attempts.values())} final total {sum(seen_attempts.values())}; "
            f"remote tasks submitted more than once (killed between the POST and the "
            f"marker): {resubmitted}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
