#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Notifications from the real daemon to fake Telegram and Resend servers
(Python http.server on loopback): a task that fails after its last attempt
is notified with exactly the expected requests, no secret reaches the
daemon's log, a degraded daemon is notified, and a peer that never answers
neither slows D-Bus nor stops dispatch, and times out."""

import http.server
import json
import os
import shutil
import statistics
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUS_NAME, INTERFACE, OBJECT_PATH, Sandbox, require_programs, has_failed  # noqa: E402

TOKEN = "7350012345:AAHsecretTOKENvalue-xyz"
CHAT = "-1001234567890"
KEY = "re_SECRETkey_abcdef123456"
EMAIL = "operator@example.org"


class FakeApi:
    """A loopback HTTP server recording every request; MODE "ok" answers
    200, "hang" never answers (until closed)."""

    def __init__(self, mode="ok"):
        self.mode = mode
        self.requests = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with api.lock:
                    api.requests.append({"method": self.command, "path": self.path,
                                         "headers": {k.lower(): v for k, v in self.headers.items()},
                                         "body": body, "time": time.monotonic()})
                if api.mode == "hang":
                    api.release.wait(60)
                    return
                reply = b'{"ok":true,"id":"x"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def recorded(self):
        with self.lock:
            return list(self.requests)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def metrics_value(sb, port, line_prefix):
    import urllib.request
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    text = opener.open(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(line_prefix + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{line_prefix} not in /metrics")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NotifyTest(unittest.TestCase):
    def setUp(self):
        require_programs("dbus-daemon", "tmux", "busctl")
        self.sb = Sandbox(self.id().rsplit(".", 1)[-1])
        self.addCleanup(self._close)
        self.fakes = []
        self.sb.start_bus()
        self.sb.start_tmux()

    def _close(self):
        if has_failed(self):
            self.sb.dump_logs(80)
        self.sb.close()
        for fake in self.fakes:
            fake.close()

    def fake(self, mode="ok"):
        f = FakeApi(mode)
        self.fakes.append(f)
        return f

    def start(self, telegram, resend, extra_env=None, overrides=None):
        sb = self.sb
        self.port = free_port()
        config = {
            "pool": {"autonomous": {"min": 1, "max": 1}},
            "dispatcher": {"max_dispatch_per_task": 1, "cooldown_schedule": [0]},
            "notifications": {"telegram_url": telegram.url if telegram else "http://127.0.0.1:9",
                              "resend_url": resend.url if resend else "http://127.0.0.1:9",
                              "email_from": "claude-failover <cf@example.org>"},
            "http": {"listen": f"127.0.0.1:{self.port}"},
        }
        config.update(overrides or {})
        sb.write_config(config)
        env = sb.env(TELEGRAM_BOT_TOKEN=TOKEN if telegram else None,
                     TELEGRAM_CHAT_ID=CHAT,
                     RESEND_API_KEY=KEY if resend else None,
                     BETAWATCH_NOTIFY_EMAIL=EMAIL,
                     G_MESSAGES_DEBUG="all",
                     **(extra_env or {}))
        sb.start_daemon(env=env)
        sb.wait_for(lambda: any(s[2] == "idle" for s in sb.get_property("Sessions")),
                    timeout=20, what="an idle pool session")

    def assert_no_secret_in_log(self):
        log = self.sb.daemon_log()
        self.assertTrue(log)
        for secret in (TOKEN, TOKEN.split(":")[1], KEY, CHAT, EMAIL):
            self.assertNotIn(secret, log)

    # ---------------------------------------------------------------------------

    def test_task_failure_notified_exactly_and_no_secret_logged(self):
        sb = self.sb
        telegram, resend = self.fake(), self.fake()
        self.start(telegram, resend)
        sb.add_task("doomed", "FAKE:crash")
        sb.wait_for(lambda: telegram.recorded() and resend.recorded(), timeout=60,
                    what="both notifications")
        time.sleep(0.5)

        self.assertEqual(len(telegram.recorded()), 1)
        t = telegram.recorded()[0]
        self.assertEqual(t["method"], "POST")
        self.assertEqual(t["path"], f"/bot{TOKEN}/sendMessage")
        self.assertEqual(t["headers"]["content-type"], "application/json")
        self.assertNotIn("authorization", t["headers"])
        body = json.loads(t["body"])
        self.assertEqual(sorted(body), ["chat_id", "parse_mode", "text"])
        self.assertEqual(body["chat_id"], CHAT)
        self.assertEqual(body["parse_mode"], "HTML")
        self.assertTrue(body["text"].startswith(
            f"<b>Task doomed failed</b>\nProject: {sb.project_dir}\nLast session: ccl-auto-0\n"),
            body["text"])
        self.assertIn(os.path.join(sb.project_dir, ".agent-queue", "failed", "doomed.md"),
                      body["text"])

        self.assertEqual(len(resend.recorded()), 1)
        r = resend.recorded()[0]
        self.assertEqual(r["method"], "POST")
        self.assertEqual(r["path"], "/emails")
        self.assertEqual(r["headers"]["authorization"], f"Bearer {KEY}")
        self.assertEqual(r["headers"]["content-type"], "application/json")
        body = json.loads(r["body"])
        self.assertEqual(sorted(body), ["from", "html", "subject", "to"])
        self.assertEqual(body["from"], "claude-failover <cf@example.org>")
        self.assertEqual(body["to"], [EMAIL])
        self.assertEqual(body["subject"], "[claude-failover] Task doomed failed")
        self.assertTrue(body["html"].startswith("<p><b>Task doomed failed</b></p>\n<p>Project: "))

        self.assertEqual(metrics_value(sb, self.port, 'claude_failover_notifications_total'
                                       '{channel="telegram",result="sent"}'), 1)
        self.assertEqual(metrics_value(sb, self.port, 'claude_failover_notifications_total'
                                       '{channel="email",result="sent"}'), 1)
        # A task that completes is not notified.
        sb.add_task("fine", "FAKE:work=100")
        sb.wait_for(lambda: sb.get_property("TasksCompleted") == 1, timeout=40, what="done")
        time.sleep(0.5)
        self.assertEqual(len(telegram.recorded()), 1)
        self.assertIn("Telegram notification task-failed: sent", sb.daemon_log())
        self.assert_no_secret_in_log()

    def test_degraded_daemon_notified(self):
        sb = self.sb
        telegram = self.fake()
        self.start(telegram, None, extra_env={"CF_TEST_HEALTH_GRACE_MS": "500"})
        self.assertIn("E-mail notifications: off (RESEND_API_KEY is not set)", sb.daemon_log())
        state_dir = os.path.dirname(sb.config["state_file"])
        shutil.rmtree(state_dir)
        with open(state_dir, "w") as f:
            f.write("in the way\n")
        sb.call("PauseDispatch")
        sb.wait_for(telegram.recorded, timeout=20, what="a degraded notification")
        text = json.loads(telegram.recorded()[0]["body"])["text"]
        self.assertTrue(text.startswith("<b>claude-failover is degraded</b>\n"), text)
        self.assertIn("(state-write-failing)", text)
        os.unlink(state_dir)
        os.makedirs(state_dir, mode=0o700)
        self.assert_no_secret_in_log()

    def test_account_switch_notified_and_counted(self):
        sb = self.sb
        telegram = self.fake()
        self.start(telegram, None, overrides={
            "pool": {"autonomous": {"min": 2, "max": 2}},
            "quota": {"interval": "300ms", "reactivate_cooldown": "1s", "return_margin": "1s",
                      "pool_threshold": 2}})
        sb.wait_for(lambda: sum(1 for s in sb.get_property("Sessions") if s[2] == "idle") == 2,
                    timeout=30, what="2 idle pool sessions")
        for i in range(2):
            sb.add_task(f"t{i}", "FAKE:work=4000 limited work")
        sb.wait_for(lambda: sum(1 for s in sb.get_property("Sessions") if s[2] == "working") == 2,
                    timeout=30, what="2 working sessions")
        reset = int(time.time() + 3600)
        sb.fake_account_limit(os.path.join(sb.home, ".claude-main"),
                              f"Claude AI usage limit reached|{reset}")

        def titles():
            return [json.loads(r["body"])["text"].split("\n", 1)[0] for r in telegram.recorded()]
        sb.wait_for(lambda: "<b>Claude account switched</b>" in titles(), timeout=40,
                    what="the switch notified")
        texts = [json.loads(r["body"])["text"] for r in telegram.recorded()]
        self.assertEqual(titles()[:2], ["<b>Switching Claude account</b>",
                                        "<b>Claude account switched</b>"])
        self.assertTrue(texts[0].startswith("<b>Switching Claude account</b>\n"
                                            "From main to backup (quota).\n"), texts[0])
        self.assertTrue(texts[1].startswith("<b>Claude account switched</b>\n"
                                            "Now on backup (was main).\n"), texts[1])
        self.assertEqual(metrics_value(sb, self.port, 'claude_failover_swaps_total'
                                       '{result="succeeded"}'), 1)
        self.assertEqual(metrics_value(sb, self.port, 'claude_failover_swaps_total'
                                       '{result="failed"}'), 0)
        self.assertGreaterEqual(metrics_value(sb, self.port, 'claude_failover_detections_total'
                                              '{event="limit",source="pane"}'), 2)
        self.assertEqual(metrics_value(sb, self.port, 'claude_failover_account_active'
                                       '{account="backup"}'), 1)
        self.assert_no_secret_in_log()

    def test_hanging_peer_neither_slows_dbus_nor_stops_dispatch(self):
        import dbus
        sb = self.sb
        telegram = self.fake("hang")
        timeout_ms = 2000
        self.start(telegram, None, extra_env={"CF_TEST_NOTIFY_TIMEOUT_MS": str(timeout_ms),
                                              "CF_TEST_NOTIFY_BACKOFF_MS": "100"})
        bus = dbus.bus.BusConnection(sb.bus_address)
        manager = dbus.Interface(bus.get_object(BUS_NAME, OBJECT_PATH), INTERFACE)

        def latencies(seconds):
            out = []
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                t0 = time.perf_counter()
                manager.GetStatus()
                out.append((time.perf_counter() - t0) * 1000)
                time.sleep(0.01)
            return sorted(out)

        baseline = latencies(1.5)
        sb.add_task("doomed", "FAKE:crash")
        sb.wait_for(telegram.recorded, timeout=60, what="the notification reaching the peer")
        hang_started = time.monotonic()

        # While the peer holds the request: D-Bus answers as fast, and a new
        # task is dispatched and completed.
        sb.add_task("alive", "FAKE:work=300")
        during = latencies(1.5)
        sb.wait_for(lambda: sb.get_property("TasksCompleted") == 1, timeout=40,
                    what="a task completed while the peer hangs")
        completed_after = time.monotonic() - hang_started
        self.assertEqual(metrics_value(sb, self.port, 'claude_failover_notifications_total'
                                       '{channel="telegram",result="failed"}'), 0)

        def p(values, q):
            return values[min(len(values) - 1, int(q * len(values)))]
        print(f"GetStatus ms: baseline n={len(baseline)} median={statistics.median(baseline):.2f} "
              f"p99={p(baseline, 0.99):.2f} max={baseline[-1]:.2f}; peer hanging n={len(during)} "
              f"median={statistics.median(during):.2f} p99={p(during, 0.99):.2f} "
              f"max={during[-1]:.2f}; task completed {completed_after:.1f} s into the hang",
              file=sys.stderr)
        self.assertGreater(len(during), 20)
        self.assertLess(p(during, 0.99), 100)
        self.assertLess(completed_after, 4 * timeout_ms / 1000)

        # Each attempt gives up after the timeout: 1 + 3 retries, then failed.
        sb.wait_for(lambda: metrics_value(sb, self.port, 'claude_failover_notifications_total'
                                          '{channel="telegram",result="failed"}') == 1,
                    timeout=30, what="the notification given up")
        elapsed = time.monotonic() - hang_started
        attempts = telegram.recorded()
        self.assertEqual(len(attempts), 4)
        self.assertGreaterEqual(elapsed, 4 * timeout_ms / 1000)
        for before, after in zip(attempts, attempts[1:]):
            self.assertGreaterEqual(after["time"] - before["time"], timeout_ms / 1000 - 0.1)
        self.assertIn(f"no answer within {timeout_ms} ms; retry 1 of 3", sb.daemon_log())
        self.assertIn(f"not delivered after 4 attempts: no answer within {timeout_ms} ms",
                      sb.daemon_log())
        self.assertIsNone(sb.daemon.poll())
        self.assert_no_secret_in_log()


if __name__ == "__main__":
    unittest.main(verbosity=2)
