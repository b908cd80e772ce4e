#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Remote delegation end to end (ARCHITECTURE 4.2, 4.8) on real parts: the
real claude-failoverd on a private bus and tmux server, fake-claude pool
sessions, and a job API served by this process (http.server in a thread).

- the routing matrix: ccl-delegate decide on every fixture file, and the
  daemon sending exactly the remote rows to the API with their provider;
- submit → marker → reaper → done/ with the footer; a failed job → failed/;
- kill -9 mid-job: the restarted daemon finds the job from its marker;
- 5xx on every try → 4 POSTs, then the task runs on a fake-claude session;
  a 4xx → one POST, then local;
- a job API that never answers holds neither local dispatch nor D-Bus;
- delegation off (no key) → nothing remote, /api/delegated/status 404;
- ccl-delegate submit / get / result against the same API."""

import glob
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Sandbox, require_programs, has_failed  # noqa: E402
from signal_log import SignalLog  # noqa: E402

KEY = "test-key-0f9e8d"
KEY_ENV = "CF_TEST_JOBS_KEY"
FIXTURES = os.path.join(os.environ.get("CF_FIXTURES") or
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"),
                        "delegate-route")


def queue_dir(project, place):
    return os.path.join(project, ".agent-queue", place)


def task_ids(project, place):
    return sorted(os.path.basename(p)[:-3]
                  for p in glob.glob(os.path.join(queue_dir(project, place), "*.md")))


def expected_routes():
    """{file name: (route, reason)} from tests/fixtures/delegate-route/expected.txt."""
    out = {}
    with open(os.path.join(FIXTURES, "expected.txt"), encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, route, reason = line.split()
                out[name] = (route, reason)
    return out


class JobApi:
    """The job API contract, in a thread: POST /api/jobs, GET /api/jobs/ID.
    Records every request; answers POSTs with the statuses queued in
    post_failures first; jobs are created "queued" and changed by set()."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.jobs = {}
        self.post_failures = []
        self.next_id = 0
        self.hang = False
        self.released = threading.Event()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, doc):
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                if api.hang:
                    with api.lock:
                        api.requests.append(("POST", self.path, self.headers.get("Authorization"),
                                             body))
                    api.released.wait(120)
                    return
                with api.lock:
                    api.requests.append(("POST", self.path, self.headers.get("Authorization"), body))
                    failure = api.post_failures.pop(0) if api.post_failures else None
                    if failure is None and self.path == "/api/jobs":
                        api.next_id += 1
                        job_id = f"job-{api.next_id}"
                        api.jobs[job_id] = {"id": job_id, "status": "queued",
                                            "request": json.loads(body)}
                if failure is not None:
                    self.reply(failure, {"error": "the test says no"})
                elif self.path != "/api/jobs":
                    self.reply(404, {"error": "no such path"})
                else:
                    self.reply(201, {"id": job_id, "status": "queued"})

            def do_GET(self):
                with api.lock:
                    api.requests.append(("GET", self.path, self.headers.get("Authorization"), ""))
                    job = None
                    if self.path.startswith("/api/jobs/"):
                        job = api.jobs.get(self.path[len("/api/jobs/"):])
                    doc = {k: v for k, v in job.items() if k != "request"} if job else None
                if doc is None:
                    self.reply(404, {"error": "no such job"})
                else:
                    self.reply(200, doc)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def set(self, job_id, **fields):
        with self.lock:
            self.jobs[job_id].update(fields)

    def posts(self):
        with self.lock:
            return [r for r in self.requests if r[0] == "POST"]

    def count(self, method=None):
        with self.lock:
            return sum(1 for r in self.requests if method is None or r[0] == method)

    def job_for_task(self, task):
        with self.lock:
            for job in self.jobs.values():
                if job["request"]["task"] == task:
                    return dict(job)
        return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class InstallTest(unittest.TestCase):
    def test_ccl_delegate_goes_to_bindir(self):
        build = os.environ.get("CF_BUILD_DIR") or os.path.join(os.path.dirname(FIXTURES), "..", "..",
                                                                "build")
        with open(os.path.join(build, "meson-info", "intro-installed.json")) as f:
            installed = json.load(f)
        with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
            options = {o["name"]: o["value"] for o in json.load(f)}
        dests = [d for s, d in installed.items() if os.path.basename(s) == "ccl-delegate"]
        self.assertEqual(dests, [os.path.join(options["prefix"], options["bindir"], "ccl-delegate")])
        pages = [d for s, d in installed.items() if os.path.basename(s) == "ccl-delegate.1"]
        self.assertEqual(len(pages), 1)
        self.assertTrue(pages[0].endswith("/man1/ccl-delegate.1"), pages)


class DelegationTest(unittest.TestCase):
    def setUp(self):
        require_programs("dbus-daemon", "tmux", "busctl")
        self.sb = Sandbox(self.id().rsplit(".", 1)[-1])
        self.api = JobApi()
        self.addCleanup(self._close)
        self.sb.start_bus()
        self.sb.start_tmux()
        self.delegate_path = os.path.join(self.sb.build_dir, "src", "delegate", "ccl-delegate")

    def _close(self):
        if has_failed(self):
            self.sb.dump_logs(80)
        self.sb.close()
        self.api.close()

    def start(self, pool=2, key=True, overrides=None):
        sb = self.sb
        config = {
            "pool": {"autonomous": {"min": pool, "max": max(pool, 1)}},
            "delegation": {"url": self.api.url, "api_key_env": KEY_ENV, "reap_interval": "200ms"},
        }
        config.update(overrides or {})
        sb.write_config(config)
        self.signals = SignalLog(sb)
        self.env = sb.env(**{KEY_ENV: KEY if key else None})
        sb.start_daemon(env=self.env)
        if pool:
            sb.wait_for(lambda: sum(1 for s in sb.get_property("Sessions")
                                    if s[1] == "pool" and s[2] == "idle") >= pool,
                        timeout=20, what=f"{pool} idle pool sessions")

    def marker(self, task, project=None):
        path = os.path.join(queue_dir(project or self.sb.project_dir, "inbox"), f"{task}.md.delegated")
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    def wait_marker(self, task, timeout=15):
        path = os.path.join(queue_dir(self.sb.project_dir, "inbox"), f"{task}.md.delegated")
        self.sb.wait_for(lambda: os.path.exists(path), timeout=timeout, what=f"{task}.md.delegated")
        return self.marker(task)

    def wait_in(self, place, task, timeout=30):
        self.sb.wait_for(lambda: task in task_ids(self.sb.project_dir, place), timeout=timeout,
                         what=f"{task} in {place}/ (inbox {task_ids(self.sb.project_dir, 'inbox')}, "
                              f"active {task_ids(self.sb.project_dir, 'active')})")

    def read(self, place, name):
        with open(os.path.join(queue_dir(self.sb.project_dir, place), name), encoding="utf-8") as f:
            return f.read()

    def add_remote(self, task, provider="gemini", body="Summarise the build log. FAKE:work=200"):
        self.sb.add_task(task, body, title=f"Remote {task}", priority="high",
                         preferred_ai=provider, allow_delegation=True)

    def delegate(self, *args, env=None, input=None):
        return self.sb.run([self.delegate_path, *args], env=env or self.sb.env(), input=input)

    # ------------------------------------------------------------------

    def test_decide_every_fixture(self):
        routes = expected_routes()
        self.assertGreaterEqual(len(routes), 63)
        for name, (route, reason) in sorted(routes.items()):
            path = os.path.join(FIXTURES, name)
            r = self.delegate("decide", path)
            self.assertEqual(r.returncode, 0, f"{name}: {r.stderr}")
            self.assertEqual(r.stdout, route + "\n", name)
            self.assertEqual(r.stderr, "")
            r = self.delegate("--json", "decide", path)
            doc = json.loads(r.stdout)
            self.assertEqual(doc["route"], "local" if route == "local" else "remote", name)
            self.assertEqual(doc["provider"], None if route == "local" else route, name)
            self.assertEqual(doc["reason"], reason, name)
        # Standard input, and errors on one line with the documented statuses.
        with open(os.path.join(FIXTURES, "needs-absent_ai-gemini_allow-true.md")) as f:
            r = self.delegate("decide", "-", input=f.read())
        self.assertEqual((r.returncode, r.stdout), (0, "gemini\n"))
        bad = os.path.join(self.sb.root, "bad.md")
        with open(bad, "w") as f:
            f.write("---\nallow_delegation: maybe\n---\nx\n")
        r = self.delegate("decide", bad)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.count("\n"), 1)
        self.assertIn("bad.md:2:1: allow_delegation: 'maybe' is not a boolean", r.stderr)
        self.assertEqual(self.delegate("decide").returncode, 2)
        self.assertEqual(self.delegate("decide", "a", "b").returncode, 2)
        self.assertEqual(self.delegate("decide", os.path.join(self.sb.root, "none.md")).returncode, 1)
        self.assertEqual(self.delegate("frobnicate").returncode, 2)
        for cmd in ("submit", "get", "result", "decide"):
            r = self.delegate(cmd, "--help")
            self.assertEqual(r.returncode, 0, cmd)
            self.assertIn(f"ccl-delegate {cmd}", r.stdout)

    def test_daemon_routes_like_decide(self):
        """Every fixture row goes into the inbox of a daemon with no pool
        session: exactly the rows ccl-delegate calls remote reach the API,
        with that provider; the others wait for a local session."""
        sb = self.sb
        routes = expected_routes()
        inbox = queue_dir(sb.project_dir, "inbox")
        os.makedirs(inbox, exist_ok=True)
        self.start(pool=0)
        decided = {}
        for name in routes:
            r = self.delegate("decide", os.path.join(FIXTURES, name))
            self.assertEqual(r.returncode, 0, r.stderr)
            decided[name[:-3]] = r.stdout.strip()
            tmp = os.path.join(sb.root, name)
            shutil.copyfile(os.path.join(FIXTURES, name), tmp)
            os.rename(tmp, os.path.join(inbox, name))
        remote = {t: p for t, p in decided.items() if p != "local"}
        self.assertEqual(len(remote), 8)
        sb.wait_for(lambda: len(self.api.posts()) >= len(remote), timeout=30,
                    what=f"{len(remote)} submissions")
        for task in remote:
            self.wait_marker(task)
        time.sleep(1.5)          # a few reaping passes and inbox scans more
        posts = self.api.posts()
        sent = {json.loads(p[3])["task"]: json.loads(p[3])["provider"] for p in posts}
        self.assertEqual(sent, remote)
        self.assertEqual(len(posts), len(remote), "a task was submitted twice")
        for task, provider in remote.items():
            m = self.marker(task)
            self.assertEqual(m["provider"], provider)
            self.assertEqual(self.api.job_for_task(task)["id"], m["job_id"])
        # The local rows are still waiting, unmarked, and counted as pending.
        local = sorted(t for t, p in decided.items() if p == "local")
        self.assertEqual(task_ids(sb.project_dir, "inbox"), sorted(decided))
        for task in local:
            self.assertFalse(os.path.exists(os.path.join(inbox, f"{task}.md.delegated")), task)
        sb.wait_for(lambda: sb.get_property("PendingTasks") == len(local), timeout=10,
                    what=f"PendingTasks == {len(local)} (is {sb.get_property('PendingTasks')})")
        self.assertEqual(sb.get_property("TasksDelegated"), len(remote))

    def test_submit_reap_done_and_failed(self):
        sb = self.sb
        self.start(pool=1)
        self.add_remote("ok", "gemini")
        self.add_remote("ko", "gpu")
        m_ok = self.wait_marker("ok")
        m_ko = self.wait_marker("ko")
        self.assertEqual((m_ok["version"], m_ok["provider"]), (1, "gemini"))
        self.assertTrue(m_ok["job_id"].startswith("job-"))
        self.assertRegex(m_ok["submitted_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        job_ok = self.api.job_for_task("ok")
        self.assertEqual(job_ok["request"], {"provider": "gemini", "priority": "high",
                                             "prompt": "Remote ok\n\nSummarise the build log. "
                                                       "FAKE:work=200",
                                             "project": "demo", "task": "ok"})
        self.assertTrue(all(r[2] == f"Bearer {KEY}" for r in self.api.requests))
        sb.wait_for(lambda: sb.get_property("TasksDelegated") == 2, timeout=10,
                    what="TasksDelegated == 2")
        # While the jobs run, they are polled and stay in the inbox.
        self.api.set(m_ok["job_id"], status="running")
        sb.wait_for(lambda: self.api.count("GET") >= 4, timeout=10, what="polls")
        self.assertEqual(task_ids(sb.project_dir, "done"), [])
        self.assertEqual(task_ids(sb.project_dir, "active"), [])

        self.api.set(m_ok["job_id"], status="completed", result="All green.", cost=0.0123,
                     provider="gemini")
        self.api.set(m_ko["job_id"], status="failed", error="GPU out of memory")
        self.wait_in("done", "ok")
        self.wait_in("failed", "ko")
        text = self.read("done", "ok.md")
        self.assertRegex(text, r"\n---\nDelegated to gemini: job job-\d+, cost 0\.0123, completed "
                               r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\.\n\nResult:\n\nAll green\.\n$")
        reason = self.read("failed", "ko.reason.txt")
        self.assertIn(f"Reason: the remote job failed (gpu, job {m_ko['job_id']}): GPU out of memory",
                      reason)
        # The marker goes after the move; the signal after both.
        self.signals.wait("TaskFinished", lambda a: a[1] == "ok" and a[3] == "delegated-done")
        self.signals.wait("TaskFinished", lambda a: a[1] == "ko" and a[3] == "delegated-failed")
        self.assertEqual([f for f in os.listdir(queue_dir(sb.project_dir, "inbox"))
                          if f.endswith(".delegated")], [])
        sb.wait_for(lambda: sb.get_property("TasksCompleted") == 1 and
                    sb.get_property("TasksFailed") == 1, timeout=10, what="counters")
        # Nothing ran locally, nothing was sent twice.
        self.assertEqual(sb.fake_events("prompt"), [])
        self.assertEqual(len(self.api.posts()), 2)

    def test_restart_after_kill9_finds_the_job(self):
        sb = self.sb
        self.start(pool=1)
        self.add_remote("long", "claude-api")
        m = self.wait_marker("long")
        self.api.set(m["job_id"], status="running")
        sb.wait_for(lambda: self.api.count("GET") >= 1, timeout=10, what="a poll")
        self.assertEqual(sb.stop_daemon(signal.SIGKILL), -signal.SIGKILL)
        self.api.set(m["job_id"], status="completed", result="Finished while nobody watched.",
                     cost="$0.40")
        self.assertIn("long", task_ids(sb.project_dir, "inbox"))
        sb.start_daemon(env=self.env)
        self.wait_in("done", "long")
        text = self.read("done", "long.md")
        self.assertIn(f"Delegated to claude-api: job {m['job_id']}, cost $0.40, completed ", text)
        self.assertIn("Finished while nobody watched.", text)
        self.assertEqual(len(self.api.posts()), 1, "submitted again after the restart")
        self.assertIn("from its marker", sb.daemon_log())
        self.signals.wait("TaskFinished", lambda a: a[1] == "long" and a[3] == "delegated-done")
        self.assertEqual(sb.fake_events("prompt"), [])

    def check_local_fallback(self, task, posts):
        sb = self.sb
        self.wait_in("done", task, timeout=60)
        self.assertEqual(len(self.api.posts()), posts)
        prompts = [e for e in sb.fake_events("prompt") if e["text"].startswith(f"[{task}]")]
        self.assertEqual(len(prompts), 1, "the task did not run once on a local session")
        self.assertNotIn("Delegated to", self.read("done", f"{task}.md"))
        with open(os.path.join(sb.project_dir, ".agent-queue", "meta", f"{task}.json")) as f:
            meta = json.load(f)
        self.assertIs(meta["local_only"], True)
        self.assertEqual(meta["attempts"], 1)
        self.assertFalse(os.path.exists(os.path.join(queue_dir(sb.project_dir, "inbox"),
                                                     f"{task}.md.delegated")))
        self.assertEqual(sb.get_property("TasksDelegated"), 0)
        self.signals.wait("TaskFinished", lambda a: a[1] == task and a[3] == "done")
        self.assertIn("running it locally instead", sb.daemon_log())

    def test_5xx_every_time_falls_back_to_a_local_session(self):
        self.api.post_failures = [503] * 10
        self.start(pool=1)
        self.add_remote("flaky")
        # One try and three retries, then the pool runs it.
        self.check_local_fallback("flaky", 4)
        time.sleep(1)
        self.assertEqual(len(self.api.posts()), 4)

    def test_4xx_is_not_retried_and_runs_locally(self):
        self.api.post_failures = [400]
        self.start(pool=1)
        self.add_remote("refused")
        self.check_local_fallback("refused", 1)
        time.sleep(1)
        self.assertEqual(len(self.api.posts()), 1)

    def test_a_hung_api_blocks_nothing(self):
        """Submissions that never get an answer hold neither local dispatch
        nor D-Bus: local tasks run meanwhile, GetStatus stays quick."""
        sb = self.sb
        self.api.hang = True
        self.start(pool=2)
        for i in range(4):
            self.add_remote(f"hung{i}", "gpu")
        sb.wait_for(lambda: len(self.api.posts()) == 4, timeout=15, what="4 hanging submissions")
        for i in range(4):
            sb.add_task(f"local{i}", f"Local work {i}. FAKE:work=200")
        latencies = []
        deadline = time.monotonic() + 60
        while set(task_ids(sb.project_dir, "done")) != {f"local{i}" for i in range(4)}:
            self.assertLess(time.monotonic(), deadline, "local tasks did not finish")
            started = time.monotonic()
            sb.busctl("call", "org.claudefailover", "/org/claudefailover/Manager",
                      "org.claudefailover.Manager", "GetStatus")
            latencies.append(time.monotonic() - started)
            time.sleep(0.1)
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99)]
        print(f"GetStatus over busctl while 4 submissions hang: {len(latencies)} calls, "
              f"median {latencies[len(latencies) // 2] * 1000:.1f} ms, "
              f"p99 {p99 * 1000:.1f} ms", file=sys.stderr)
        # busctl itself costs a few ms to start; a blocked loop would cost seconds.
        self.assertLess(p99, 1.0)
        # The remote tasks are still held for the API, none ran locally.
        self.assertEqual([e for e in sb.fake_events("prompt") if "hung" in e["text"]], [])
        self.assertEqual(sorted(t for t in task_ids(sb.project_dir, "inbox")),
                         [f"hung{i}" for i in range(4)])

    def test_off_without_the_key(self):
        sb = self.sb
        self.start(pool=1, key=False)
        self.add_remote("stays")
        self.wait_in("done", "stays", timeout=60)
        self.assertEqual(self.api.count(), 0)
        self.assertEqual(len([e for e in sb.fake_events("prompt")
                              if e["text"].startswith("[stays]")]), 1)
        self.assertEqual(sb.get_property("TasksDelegated"), 0)

    def http_get(self, port, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")
        except (urllib.error.URLError, ConnectionError):
            return None, None

    def http_status(self, key):
        port = self.port = free_port()
        self.start(pool=0, key=key, overrides={"http": {"listen": f"127.0.0.1:{port}"}})
        status, doc = None, None
        deadline = time.monotonic() + 3
        while status is None and time.monotonic() < deadline:
            status, doc = self.http_get(port, "/api/delegated/status")
            time.sleep(0.1)
        self.assertIsNotNone(status, "the HTTP API did not answer")
        return status, doc

    def test_http_status_404_when_off(self):
        status, _ = self.http_status(key=False)
        self.assertEqual(status, 404)

    def test_http_status_when_on(self):
        status, doc = self.http_status(key=True)
        self.assertEqual(status, 200, doc)
        self.assertIs(doc["enabled"], True)
        self.assertEqual(doc["url"], self.api.url)
        for member in ("active", "submitting", "completed", "failed", "fallbacks", "jobs"):
            self.assertIn(member, doc)
        self.assertNotIn(KEY, json.dumps(doc))
        # A delegated job shows up with its status.
        self.add_remote("shown", "gpu")
        m = self.wait_marker("shown")
        self.api.set(m["job_id"], status="running")

        def listed():
            _, doc = self.http_get(self.port, "/api/delegated/status")
            jobs = [j for j in doc["jobs"] if j["task"] == "shown"]
            return jobs and jobs[0]["status"] == "running" and jobs[0]
        job = self.sb.wait_for(listed, timeout=10, what="the job in /api/delegated/status")
        self.assertEqual((job["job_id"], job["provider"], job["project"]),
                         (m["job_id"], "gpu", self.sb.project_dir))
        self.assertEqual(self.http_get(self.port, "/api/delegated/status")[1]["active"], 1)

    def test_ccl_delegate_against_the_api(self):
        sb = self.sb
        env = sb.env(CCL_SECUTOOLS_API_KEY=KEY, CCL_SECUTOOLS_URL=self.api.url)
        project = os.path.join(sb.projects_dir, "web")
        os.makedirs(queue_dir(project, "inbox"))
        path = os.path.join(queue_dir(project, "inbox"), "fix-it.md")
        with open(path, "w") as f:
            f.write("---\ntitle: Fix it\npriority: critical\npreferred_ai: gpu\n"
                    "allow_delegation: true\n---\nThe build is red.\n")

        r = self.delegate("submit", path, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        job_id = r.stdout.strip()
        job = self.api.jobs[job_id]
        self.assertEqual(job["request"], {"provider": "gpu", "priority": "critical",
                                          "prompt": "Fix it\n\nThe build is red.",
                                          "project": "web", "task": "fix-it"})
        self.assertEqual(self.api.requests[-1][2], f"Bearer {KEY}")

        # From options; SECUTOOLS_API_KEY when CCL_SECUTOOLS_API_KEY is unset.
        env2 = sb.env(SECUTOOLS_API_KEY="other-key", CCL_SECUTOOLS_URL=self.api.url)
        r = self.delegate("--json", "submit", "--provider", "gemini", "--prompt", "Hello",
                          "--project", "p", "--task", "t", env=env2)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["status"], "queued")
        self.assertEqual(self.api.requests[-1][2], "Bearer other-key")
        self.assertEqual(self.api.jobs[doc["id"]]["request"]["priority"], "default")

        r = self.delegate("get", job_id, env=env)
        self.assertEqual((r.returncode, r.stdout), (0, f"{job_id}: queued\n"))
        r = self.delegate("result", job_id, env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"job {job_id} is queued: no result yet", r.stderr)

        self.api.set(job_id, status="completed", result="Fixed the build.\n", cost=1.5,
                     provider="gpu")
        r = self.delegate("get", job_id, env=env)
        self.assertEqual(r.stdout, f"{job_id}: completed, provider gpu, cost 1.5\n")
        r = self.delegate("--json", "get", job_id, env=env)
        self.assertEqual(json.loads(r.stdout), {"id": job_id, "status": "completed",
                                                "result": "Fixed the build.\n", "provider": "gpu",
                                                "cost": "1.5", "error": None})
        r = self.delegate("result", job_id, env=env)
        self.assertEqual((r.returncode, r.stdout), (0, "Fixed the build.\n"))

        self.api.set(doc["id"], status="failed", error="no GPU")
        r = self.delegate("result", doc["id"], env=env)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f"ccl-delegate: job {doc['id']} failed: no GPU\n")

        # A local task is not sent; errors are one line; 4xx sent once, 5xx four times.
        local = os.path.join(sb.root, "local.md")
        with open(local, "w") as f:
            f.write("---\npreferred_ai: gpu\n---\nStay.\n")
        before = self.api.count()
        r = self.delegate("submit", local, env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("stays local (allow_delegation is false (the default))", r.stderr)
        self.assertEqual(self.api.count(), before)
        self.api.post_failures = [400]
        r = self.delegate("submit", path, env=env)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.count("\n"), 1)
        self.assertIn("HTTP 400", r.stderr)
        self.assertEqual(self.api.count("POST"), 3)
        self.api.post_failures = [500] * 4
        r = self.delegate("submit", path, env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("(after 4 attempts)", r.stderr)
        self.assertEqual(self.api.count("POST"), 7)
        r = self.delegate("get", "nope", env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 404", r.stderr)

        # Usage and configuration errors.
        self.assertEqual(self.delegate("get", "../x", env=env).returncode, 2)
        self.assertEqual(self.delegate("get", env=env).returncode, 2)
        self.assertEqual(self.delegate("submit", "--priority", "urgent", path, env=env).returncode, 2)
        r = self.delegate("get", job_id, env=sb.env(CCL_SECUTOOLS_URL=self.api.url,
                                                     SECUTOOLS_API_KEY=None,
                                                     CCL_SECUTOOLS_API_KEY=None))
        self.assertEqual(r.returncode, 1)
        self.assertIn("no API key", r.stderr)
        r = self.delegate("get", job_id, env=sb.env(CCL_SECUTOOLS_API_KEY=KEY,
                                                     CCL_SECUTOOLS_URL=None))
        self.assertEqual(r.returncode, 1)
        self.assertIn("no job API URL", r.stderr)
        r = self.delegate("--url", self.api.url, "get", job_id,
                          env=sb.env(CCL_SECUTOOLS_API_KEY=KEY, CCL_SECUTOOLS_URL=None))
        self.assertEqual(r.returncode, 0, r.stderr)
        for r in (self.delegate("get", job_id, env=env),):
            self.assertNotIn(KEY, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
