#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The HTTP status API of the real daemon (ARCHITECTURE.md 4.7): endpoints,
JSON shapes and status codes, /status equal to GetStatus, /metrics read by a
strict Prometheus text parser, /health degraded and back, methods and bad
requests, socket activation with systemd-socket-activate, and the refusal of
addresses that are not loopback."""

import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SandboxTestCase, require_programs  # noqa: E402

ENDPOINTS = ["/health", "/status", "/api/delegated/status", "/watchdog/status", "/metrics"]
PROPERTIES = ["Version", "ActiveAccount", "Accounts", "SwapState", "PartialSwap", "LastSwap",
              "ReturnAt", "DispatchPaused", "Sessions", "PendingTasks", "TasksDispatched",
              "TasksCompleted", "TasksFailed", "TasksDelegated", "Usage",
              "ClaudeVersion", "DispatchPausedReason", "DispatchResumesAt"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, path, method="GET", host="127.0.0.1", body=None, timeout=10):
    """(status, headers dict with lower-case names, body bytes)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def get_json(port, path):
    status, headers, body = request(port, path)
    assert headers["content-type"].startswith("application/json"), headers
    return status, json.loads(body)


def children_of(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return out


def raw_exchange(port, data, timeout=5):
    """Send raw bytes, return everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except socket.timeout:
            pass
    return b"".join(chunks)


# --- a strict reader of the Prometheus text format (version 0.0.4) -------------

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_value(text):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        raise ValueError(f"bad sample value {text!r}")
    return float(text)


def parse_labels(text, lineno):
    """The inside of {…}: name="value" pairs, escapes \\\\ \\" \\n only."""
    labels = {}
    i = 0
    while i < len(text):
        m = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"").match(text, i)
        if not m:
            raise ValueError(f"line {lineno}: bad label at {text[i:]!r}")
        name = m.group(1)
        i = m.end()
        value = []
        while True:
            if i >= len(text):
                raise ValueError(f"line {lineno}: unterminated label value")
            c = text[i]
            if c == "\\":
                nxt = text[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise ValueError(f"line {lineno}: bad escape \\{nxt}")
                value.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise ValueError(f"line {lineno}: newline in a label value")
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise ValueError(f"line {lineno}: label {name} twice")
        labels[name] = "".join(value)
        if i < len(text):
            if text[i] != ",":
                raise ValueError(f"line {lineno}: expected ',' in labels at {text[i:]!r}")
            i += 1
    return labels


def parse_prometheus(text):
    """Families {name: {"type", "help", "samples": {frozenset(labels): value}}}.
    Raises ValueError on anything the format does not allow or that makes no
    sense for a scraper: HELP/TYPE twice or after samples, samples of one
    family not together, a series twice, counters not named *_total or
    negative, no final newline."""
    if not text.endswith("\n"):
        raise ValueError("no newline at the end")
    families = {}
    current = None
    closed = set()
    for lineno, line in enumerate(text[:-1].split("\n"), 1):
        if line == "":
            raise ValueError(f"line {lineno}: empty line")
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (\S+) (.*)", line)
            if not m:
                raise ValueError(f"line {lineno}: comment that is neither HELP nor TYPE: {line!r}")
            kind, name, rest = m.groups()
            if not METRIC_NAME.match(name):
                raise ValueError(f"line {lineno}: bad metric name {name!r}")
            if name in closed:
                raise ValueError(f"line {lineno}: {name} declared again after its samples")
            family = families.setdefault(name, {"type": None, "help": None, "samples": {}})
            if family["samples"]:
                raise ValueError(f"line {lineno}: {kind} of {name} after its samples")
            if kind == "HELP":
                if family["help"] is not None:
                    raise ValueError(f"line {lineno}: HELP of {name} twice")
                if not rest.strip():
                    raise ValueError(f"line {lineno}: empty HELP")
                family["help"] = rest
            else:
                if family["type"] is not None:
                    raise ValueError(f"line {lineno}: TYPE of {name} twice")
                if rest not in TYPES:
                    raise ValueError(f"line {lineno}: unknown type {rest!r}")
                family["type"] = rest
            if current is not None and current != name:
                closed.add(current)
            current = name
            continue
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?", line)
        if not m:
            raise ValueError(f"line {lineno}: not a sample: {line!r}")
        name, _, label_text, value_text, _ = m.groups()
        labels = parse_labels(label_text, lineno) if label_text else {}
        for label in labels:
            if not LABEL_NAME.match(label) or label.startswith("__"):
                raise ValueError(f"line {lineno}: bad label name {label!r}")
        value = parse_value(value_text)
        sample_name = name
        if (current is not None and families[current]["type"] == "histogram"
                and name in (current + "_bucket", current + "_sum", current + "_count")):
            # A histogram's series: NAME_bucket{le=…}, NAME_sum, NAME_count.
            if name.endswith("_bucket") and "le" not in labels:
                raise ValueError(f"line {lineno}: {name} without le")
            labels = dict(labels, __series__=name[len(current):])
            name = current
        if name != current:
            raise ValueError(f"line {lineno}: sample of {sample_name} outside its family ({current})")
        family = families[name]
        if family["type"] is None or family["help"] is None:
            raise ValueError(f"line {lineno}: {name} has no TYPE or HELP before its samples")
        key = frozenset(labels.items())
        if key in family["samples"]:
            raise ValueError(f"line {lineno}: series {name}{labels} twice")
        if family["type"] == "counter":
            if not name.endswith("_total"):
                raise ValueError(f"line {lineno}: counter {name} not named *_total")
            if value < 0 or math.isnan(value):
                raise ValueError(f"line {lineno}: counter {name} = {value}")
        family["samples"][key] = value
    for name, family in families.items():
        if not family["samples"]:
            raise ValueError(f"family {name} has no samples")
    return families


def sample(families, name, **labels):
    return families[name]["samples"][frozenset(labels.items())]


class PrometheusParserTest(unittest.TestCase):
    """The parser itself refuses what it must, or the metrics test proves nothing."""

    GOOD = ("# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"1\",y=\"a\\\"b\"} 3\n"
            "# HELP g A gauge.\n# TYPE g gauge\ng 1.5e3\n"
            "# HELP h A histogram.\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 2\n"
            "h_bucket{le=\"+Inf\"} 3\nh_sum 0.4\nh_count 3\n")

    def test_accepts_good_text(self):
        families = parse_prometheus(self.GOOD)
        self.assertEqual(sample(families, "a_total", x="1", y='a"b'), 3)
        self.assertEqual(sample(families, "g"), 1500)
        self.assertEqual(sample(families, "h", le="+Inf", __series__="_bucket"), 3)
        self.assertEqual(sample(families, "h", __series__="_count"), 3)

    def test_refuses_bad_text(self):
        bad = [
            self.GOOD[:-1],                                                   # no final newline
            self.GOOD + "\n",                                                 # empty line
            self.GOOD + "g 2\n",                                              # series twice
            "# TYPE a counter\n# HELP a x\na 1\n",                            # counter not *_total
            "# HELP a_total x\n# TYPE a_total counter\na_total -1\n",         # negative counter
            "# HELP g x\ng 1\n",                                              # no TYPE
            "# HELP g x\n# TYPE g gauge\ng{x=\"a\\q\"} 1\n",                  # bad escape
            "# HELP g x\n# TYPE g gauge\ng{x=\"a\"\"} 1\n",                   # stray quote
            "# HELP g x\n# TYPE g gauge\ng 1,5\n",                            # bad value
            "# HELP g x\n# TYPE g gauge\nh 1\n",                              # outside its family
            "# HELP g x\n# TYPE g gauge\n# HELP h x\n# TYPE h gauge\nh 1\ng 1\n",  # family split
            "# HELP g x\n# TYPE g gauge\ng 1\n# HELP g y\n",                  # HELP again
            "# HELP g x\n# TYPE g wibble\ng 1\n",                             # unknown type
            "# HELP g x\n# TYPE g gauge\n",                                   # no samples
            "# comment\n# HELP g x\n# TYPE g gauge\ng 1\n",                   # stray comment
            "# HELP 1g x\n# TYPE 1g gauge\n1g 1\n",                           # bad name
            "# HELP h x\n# TYPE h histogram\nh_bucket 1\n",                  # bucket without le
            "# HELP g x\n# TYPE g gauge\ng_sum 1\n",                          # _sum of a gauge
        ]
        for text in bad:
            with self.assertRaises(ValueError, msg=repr(text)):
                parse_prometheus(text)


# --- the daemon ----------------------------------------------------------------

class HttpApiTest(SandboxTestCase):
    LOG_LINES = 60

    def start(self, overrides=None, env=None, min_sessions=1):
        sb = self.sb
        self.port = free_port()
        config = {"http": {"listen": f"127.0.0.1:{self.port}"},
                  "pool": {"autonomous": {"min": min_sessions, "max": max(min_sessions, 1)}}}
        config.update(overrides or {})
        sb.write_config(config)
        sb.start_daemon(env=env)
        if min_sessions:
            sb.wait_for(lambda: sum(1 for s in sb.get_property("Sessions") if s[2] == "idle")
                        >= min_sessions, timeout=20, what="idle pool sessions")

    def get_status_over_dbus(self):
        data = self.sb.call("GetStatus")[0]
        return {key: value["data"] for key, value in data.items()}

    # ---------------------------------------------------------------------------

    def test_endpoints_shapes_and_codes(self):
        self.start()
        port = self.port

        status, health = get_json(port, "/health")
        self.assertEqual(status, 200)
        self.assertEqual(health["status"], "ok")
        self.assertEqual(health["reasons"], [])
        self.assertEqual(health["checks"], {"tmux_connected": True, "bus_name_owned": True,
                                            "partial_swap": False, "state_file_writable": True,
                                            "accounts_available": 2})
        self.assertEqual(health["version"], self.sb.get_property("Version"))
        self.assertIsInstance(health["uptime_seconds"], int)

        status, doc = get_json(port, "/status")
        self.assertEqual(status, 200)
        self.assertEqual(list(doc), PROPERTIES)

        status, doc = get_json(port, "/api/delegated/status")
        self.assertEqual(status, 404)
        self.assertEqual(doc["error"], "delegation is off")

        status, doc = get_json(port, "/watchdog/status")
        self.assertEqual(status, 200)
        self.assertEqual(set(doc), {"systemd_watchdog", "main_loop", "uptime_seconds"})
        self.assertEqual(doc["systemd_watchdog"], {"enabled": False, "interval_usec": 0})
        self.assertEqual(set(doc["main_loop"]),
                         {"probe_interval_usec", "samples", "lag_usec", "max_lag_usec"})
        time.sleep(1.2)
        _, doc = get_json(port, "/watchdog/status")
        self.assertGreaterEqual(doc["main_loop"]["samples"], 1)
        self.assertLess(doc["main_loop"]["lag_usec"], 1000000)

        status, headers, body = request(port, "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        parse_prometheus(body.decode("utf-8"))

        for path in ENDPOINTS:
            _, headers, _ = request(port, path)
            self.assertEqual(headers.get("cache-control"), "no-store", path)
            # HEAD: the same status and headers, no body.
            get_status, get_headers, _ = request(port, path)
            head_status, head_headers, head_body = request(port, path, method="HEAD")
            self.assertEqual(head_status, get_status, path)
            self.assertEqual(head_body, b"", path)
            self.assertEqual(head_headers["content-type"], get_headers["content-type"], path)
            # Read-only: anything else is 405 with Allow; a body is refused
            # unread with 413 (test_hostile_http.py sends big ones).
            for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
                status, headers, body = request(port, path, method=method)
                self.assertEqual(status, 405, f"{method} {path}")
                self.assertEqual(headers["allow"], "GET, HEAD")
                self.assertEqual(json.loads(body)["status"], 405)
                status, headers, body = request(port, path, method=method, body=b"{}")
                self.assertEqual(status, 413, f"{method} {path} with a body")
                self.assertEqual(headers["connection"], "close")
                self.assertEqual(json.loads(body)["status"], 413)

        # "/" is the dashboard (http.dashboard, on by default): test_dashboard.py.
        for path in ("/nope", "/health/", "/status.json", "/metrics/x", "/../etc/passwd",
                     "/api/delegated", "/HEALTH"):
            status, headers, body = request(port, path)
            self.assertEqual(status, 404, path)
            self.assertEqual(json.loads(body)["error"], "no such endpoint")
        # A query string changes nothing (scrapers may add one).
        self.assertEqual(request(port, "/health?verbose=1")[0], 200)

        # Malformed requests get a 4xx from the HTTP layer, and the server lives on.
        for raw, expected in ((b"GARBAGE\r\n\r\n", 400),
                              (b"GET /health HTTP/1.1\r\nBad Header Line\r\n\r\n", 400),
                              (b"GET /health HTTP/9.9\r\n\r\n", 505)):
            answer = raw_exchange(port, raw)
            m = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
            self.assertIsNotNone(m, f"{raw!r} → {answer[:80]!r}")
            self.assertEqual(int(m.group(1)), expected, f"{raw!r} → {answer[:80]!r}")
        self.assertEqual(request(port, "/health")[0], 200)
        self.assertIsNone(self.sb.daemon.poll())
        self.assertIn(f"HTTP status API on http://127.0.0.1:{port}/", self.sb.daemon_log())

    def test_status_equals_get_status(self):
        sb = self.sb
        self.start({"dispatcher": {"max_dispatch_per_task": 1}}, min_sessions=2)
        sb.call("PauseDispatch")
        sb.add_task("waiting", "not dispatched while paused")
        sb.wait_for(lambda: sb.get_property("PendingTasks") == 1, what="PendingTasks 1")
        sb.wait_for(lambda: sb.get_property("ClaudeVersion") != "", what="ClaudeVersion")
        # Nothing moves now: the two views are taken of the same state.
        for _ in range(3):
            over_http = get_json(self.port, "/status")[1]
            over_dbus = self.get_status_over_dbus()
            if over_http == over_dbus:
                break
            time.sleep(0.5)
        self.assertEqual(list(over_http), PROPERTIES)
        self.assertEqual(over_http, over_dbus)
        self.assertEqual(over_http["DispatchPaused"], True)
        self.assertEqual(over_http["PendingTasks"], 1)
        self.assertEqual(len(over_http["Sessions"]), 2)
        # And each property read alone says the same.
        for name in PROPERTIES:
            self.assertEqual(sb.get_property(name), over_http[name], name)

    def test_metrics_parse_and_agree_with_state(self):
        sb = self.sb
        self.start({"dispatcher": {"max_dispatch_per_task": 1}}, min_sessions=1)
        sb.add_task("quick", "FAKE:work=200")
        sb.add_task("doomed", "FAKE:crash")
        sb.wait_for(lambda: sb.get_property("TasksCompleted") == 1
                    and sb.get_property("TasksFailed") == 1, timeout=60,
                    what="one task done, one failed")
        sb.wait_for(lambda: any(s[2] == "idle" for s in sb.get_property("Sessions")),
                    timeout=20, what="pool idle again")

        families = parse_prometheus(request(self.port, "/metrics")[2].decode("utf-8"))
        status = self.get_status_over_dbus()
        version = status["Version"]
        self.assertEqual(sample(families, "claude_failover_build_info", version=version), 1)
        self.assertEqual(sample(families, "claude_failover_healthy"), 1)
        for kind in ("pool", "dedicated"):
            for state in ("idle", "launching", "working", "stalled", "failed", "dead",
                          "blocked", "needs-input"):
                expected = sum(1 for s in status["Sessions"] if s[1] == kind and s[2] == state)
                self.assertEqual(sample(families, "claude_failover_sessions",
                                        kind=kind, state=state), expected, (kind, state))
        self.assertEqual(sample(families, "claude_failover_tasks", state="pending"), 0)
        self.assertEqual(sample(families, "claude_failover_tasks_dispatched_total"),
                         status["TasksDispatched"])
        self.assertEqual(sample(families, "claude_failover_tasks_completed_total"), 1)
        self.assertEqual(sample(families, "claude_failover_tasks_failed_total"), 1)
        self.assertEqual(sample(families, "claude_failover_tasks_finished_total",
                                outcome="done"), 1)
        self.assertEqual(sample(families, "claude_failover_tasks_finished_total",
                                outcome="failed"), 1)
        completions = sum(v for k, v in
                          families["claude_failover_detections_total"]["samples"].items()
                          if dict(k)["event"] == "completion")
        self.assertEqual(completions, 1)
        self.assertEqual(sample(families, "claude_failover_account_active", account="main"), 1)
        self.assertEqual(sample(families, "claude_failover_account_active", account="backup"), 0)
        self.assertEqual(sample(families, "claude_failover_account_available", account="main"), 1)
        self.assertEqual(sample(families, "claude_failover_swap_state", state="normal"), 1)
        self.assertEqual(sample(families, "claude_failover_partial_swap"), 0)
        self.assertEqual(sample(families, "claude_failover_swaps_total", result="succeeded"), 0)
        self.assertEqual(sample(families, "claude_failover_delegation_enabled"), 0)
        self.assertEqual(sample(families, "claude_failover_delegated_tasks_total"), 0)
        for channel in ("telegram", "email"):
            for result in ("sent", "failed"):
                self.assertEqual(sample(families, "claude_failover_notifications_total",
                                        channel=channel, result=result), 0)
        self.assertGreater(sample(families, "claude_failover_state_writes_total"), 0)
        start = sample(families, "claude_failover_start_time_seconds")
        self.assertLess(abs(time.time() - start), 300)
        # The main loop's iterations (cf-loop-watch): cumulative buckets
        # ending in +Inf = _count, which counts the iterations so far.
        loop = "claude_failover_main_loop_iteration_cpu_seconds"
        self.assertEqual(families[loop]["type"], "histogram")
        buckets = sorted((float(dict(k)["le"]), v) for k, v in families[loop]["samples"].items()
                         if dict(k)["__series__"] == "_bucket")
        self.assertEqual(buckets[-1][0], math.inf)
        self.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets), buckets)
        count = sample(families, loop, __series__="_count")
        self.assertEqual(buckets[-1][1], count)
        self.assertGreater(count, 100)
        self.assertGreater(sample(families, loop, __series__="_sum"), 0)
        self.assertGreater(sample(families, "claude_failover_main_loop_iteration_max_cpu_seconds"), 0)
        self.assertGreaterEqual(sample(families, "claude_failover_main_loop_iteration_max_wall_seconds"),
                                sample(families, "claude_failover_main_loop_iteration_max_cpu_seconds"))
        for name, family in families.items():
            self.assertTrue(name.startswith("claude_failover_"), name)
            self.assertIn(family["type"], ("counter", "gauge", "histogram"), name)

    def test_health_degraded_and_back(self):
        sb = self.sb
        self.start(min_sessions=0)
        # Owning the bus name and connecting to tmux finish just after the
        # name shows on the bus: degraded for those milliseconds is true.
        sb.wait_for(lambda: get_json(self.port, "/health")[0] == 200, timeout=10,
                    what="/health 200 after start-up")
        # The state file's directory becomes a file: every write fails.
        state_dir = os.path.dirname(sb.config["state_file"])
        shutil.rmtree(state_dir)
        with open(state_dir, "w") as f:
            f.write("in the way\n")
        sb.call("PauseDispatch")
        health = sb.wait_for(lambda: (lambda r: r[1] if r[0] == 503 else None)(
            get_json(self.port, "/health")), timeout=20, what="/health 503")
        self.assertEqual(health["status"], "degraded")
        self.assertEqual(health["reasons"], ["state-write-failing"])
        self.assertFalse(health["checks"]["state_file_writable"])
        families = parse_prometheus(request(self.port, "/metrics")[2].decode("utf-8"))
        self.assertEqual(sample(families, "claude_failover_healthy"), 0)
        self.assertEqual(sample(families, "claude_failover_health_problem",
                                reason="state-write-failing"), 1)
        # HEAD says the same without a body.
        self.assertEqual(request(self.port, "/health", method="HEAD")[0], 503)

        os.unlink(state_dir)
        os.makedirs(state_dir, mode=0o700)
        sb.call("ResumeDispatch")
        sb.wait_for(lambda: get_json(self.port, "/health")[0] == 200, timeout=20,
                    what="/health 200 again")

    def test_delegation_status(self):
        self.start({"delegation": {"url": "http://127.0.0.1:9/api",
                                   "api_key_env": "CF_TEST_DELEGATION_KEY"}},
                   env=self.sb.env(CF_TEST_DELEGATION_KEY="k-123"), min_sessions=0)
        status, doc = get_json(self.port, "/api/delegated/status")
        self.assertEqual(status, 200)
        self.assertIs(doc["enabled"], True)
        self.assertEqual(doc["url"], "http://127.0.0.1:9/api")
        self.assertEqual((doc["active"], doc["completed"], doc["failed"], doc["jobs"]),
                         (0, 0, 0, []))
        self.assertNotIn("k-123", json.dumps(doc))
        families = parse_prometheus(request(self.port, "/metrics")[2].decode("utf-8"))
        self.assertEqual(sample(families, "claude_failover_delegation_enabled"), 1)
        self.assertEqual(sample(families, "claude_failover_delegation_jobs_active"), 0)
        self.assertEqual(sample(families, "claude_failover_delegation_fallbacks_total"), 0)
        # The URL alone, without the key, is off: 404.
        self.sb.stop_daemon()
        self.sb.start_daemon(env=self.sb.env(CF_TEST_DELEGATION_KEY=None))
        self.sb.wait_for(lambda: request(self.port, "/health")[0] == 200, what="HTTP up")
        self.assertEqual(get_json(self.port, "/api/delegated/status")[0], 404)

    def test_http_off_and_port_taken(self):
        sb = self.sb
        sb.write_config({"http": {"listen": ""}, "pool": {"autonomous": {"min": 0}}})
        sb.start_daemon()
        self.assertIn("HTTP status API off", sb.daemon_log())
        sb.stop_daemon()

        with socket.socket() as blocker:
            blocker.bind(("127.0.0.1", 0))
            blocker.listen(1)
            port = blocker.getsockname()[1]
            sb.write_config({"http": {"listen": f"127.0.0.1:{port}"},
                             "pool": {"autonomous": {"min": 0}}})
            proc = sb.start_daemon(wait=False)
            proc.wait(timeout=20)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(f"claude-failoverd: cannot listen on 127.0.0.1:{port} (http.listen): ",
                      sb.daemon_log())

    # --- addresses ---------------------------------------------------------------

    def test_wildcard_and_host_names_refused_by_the_config(self):
        sb = self.sb
        for listen, message in (
                ("0.0.0.0:8377", "listens on every interface; name one address"),
                ("[::]:8377", "listens on every interface; name one address"),
                ("example.com:8377", "is not IP:PORT, [IPV6]:PORT or localhost:PORT")):
            path = sb.write_config({"http": {"listen": listen}})
            r = sb.run([sb.daemon_path, "--check-config", "--config", path])
            self.assertEqual(r.returncode, 1, listen)
            self.assertIn(f"http.listen: '{listen}' {message}", r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            proc = sb.start_daemon(config=path, wait=False)
            self.assertEqual(proc.wait(timeout=20), 1)

    def test_explicit_non_loopback_address_served_with_a_warning(self):
        sb = self.sb
        address = None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect(("192.0.2.1", 9))      # no packet is sent
                address = probe.getsockname()[0]
            except OSError:
                pass
        if address is None or address.startswith("127.") or address == "0.0.0.0":
            self.skipTest("no non-loopback IPv4 address on this machine")
        port = free_port()
        sb.write_config({"http": {"listen": f"{address}:{port}"}, "pool": {"autonomous": {"min": 0}}})
        sb.start_daemon()
        sb.wait_for(lambda: request(port, "/health", host=address)[0] == 200, what="HTTP up")
        self.assertIn(f"HTTP status API on {address}:{port}, which is not loopback",
                      sb.daemon_log())
        # Exactly that address: not loopback too.
        with self.assertRaises(OSError):
            request(port, "/health", host="127.0.0.1", timeout=2)

    # --- socket activation ----------------------------------------------------------

    def socket_activate(self, listen, config_overrides):
        require_programs("systemd-socket-activate")
        sb = self.sb
        sb.write_config(dict({"pool": {"autonomous": {"min": 0}}}, **config_overrides))
        env = sb.env()
        argv = ["systemd-socket-activate", "-l", listen]
        for key in ("HOME", "DBUS_SYSTEM_BUS_ADDRESS", "LC_ALL", "LANG", "PATH"):
            argv += ["-E", f"{key}={env[key]}"]
        argv += [sb.daemon_path, "--config", sb.config_path]
        return sb.spawn(argv, log_path=sb.daemon_log_path)

    def wait_listening(self, proc, port):
        def listening():
            if proc.poll() is not None:
                raise AssertionError(f"exited {proc.returncode}: {self.sb.daemon_log()}")
            return "Listening on" in self.sb.daemon_log()
        self.sb.wait_for(listening, what="systemd-socket-activate listening")

    def test_socket_activation(self):
        sb = self.sb
        port = free_port()
        other = free_port()
        # http.listen names another port: the socket from systemd wins.
        proc = self.socket_activate(f"127.0.0.1:{port}",
                                    {"http": {"listen": f"127.0.0.1:{other}"}})
        self.wait_listening(proc, port)
        # The first connection starts the daemon, which answers it.
        status, health = get_json(port, "/health")
        self.assertIn(status, (200, 503))
        sb.wait_for(lambda: get_json(port, "/health")[1]["checks"]["bus_name_owned"],
                    what="bus name owned")
        sb.wait_for(lambda: get_json(port, "/health")[0] == 200, what="/health 200")
        self.assertEqual(get_json(port, "/status")[1]["Version"], sb.get_property("Version"))
        parse_prometheus(request(port, "/metrics")[2].decode("utf-8"))
        self.assertIn(f"HTTP status API on 127.0.0.1:{port} (socket from systemd)", sb.daemon_log())
        with self.assertRaises(OSError):
            request(other, "/health", timeout=2)
        # LISTEN_FDS is not passed on to what the daemon starts (the tmux client).
        children = children_of(proc.pid)
        self.assertTrue(children, "the daemon runs no tmux client")
        for child in children:
            with open(f"/proc/{child}/environ", "rb") as f:
                self.assertNotIn(b"LISTEN_FDS=", f.read())
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=10), 0)

    def test_socket_activation_refuses_non_loopback(self):
        sb = self.sb
        port = free_port()
        proc = self.socket_activate(f"0.0.0.0:{port}", {"http": {"listen": ""}})
        self.wait_listening(proc, port)
        try:
            request(port, "/health", timeout=5)
        except (OSError, http.client.HTTPException):
            pass
        self.assertEqual(proc.wait(timeout=20), 1)
        self.assertIn(f"the socket systemd passed listens on 0.0.0.0:{port}, which is not "
                      "loopback", sb.daemon_log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
