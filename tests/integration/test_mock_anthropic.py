#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""tests/mock_anthropic.py over HTTP, without the CLI: the wire format Claude Code reads
(SSE events, JSON messages, the unified rate-limit headers), per-account modes switched
while it runs, `times`, the request log, the control API, the command line."""

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, ".."))

import mock_anthropic  # noqa: E402
from mock_anthropic import MockAnthropic, token_for  # noqa: E402

UNIFIED = "anthropic-ratelimit-unified-"


def sse_events(body):
    events = []
    for block in body.decode().split("\n\n"):
        lines = block.strip().splitlines()
        if not lines:
            continue
        name = lines[0].removeprefix("event: ")
        data = json.loads(lines[1].removeprefix("data: "))
        events.append((name, data))
    return events


class MockAnthropicTest(unittest.TestCase):
    def setUp(self):
        self.mock = MockAnthropic(lifetime=60).start()
        self.addCleanup(self.mock.stop)

    def post(self, account, body, path="/v1/messages?beta=true", token=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.mock.port, timeout=10)
        headers = {"Content-Type": "application/json"}
        if token is not False:
            headers["Authorization"] = f"Bearer {token or token_for(account)}"
        conn.request("POST", path, json.dumps(body), headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def turn(self, account, text="Fix the bug", stream=True, messages=None, token=None):
        body = {"model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": stream,
                "system": [{"type": "text", "text": "You are Claude Code."}],
                "tools": [{"name": "Bash"}],
                "messages": messages or [{"role": "user", "content": [
                    {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
                    {"type": "text", "text": "<local-command-caveat>c</local-command-caveat>"},
                    {"type": "text", "text": text}]}]}
        return self.post(account, body, token=token)

    def test_streamed_reply_has_the_event_sequence(self):
        status, headers, body = self.turn("main", "Say hi")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/event-stream")
        names = [n for n, _ in sse_events(body)]
        self.assertEqual(names, ["message_start", "content_block_start", "content_block_delta",
                                 "content_block_stop", "message_delta", "message_stop"])
        events = dict(sse_events(body))
        self.assertEqual(events["content_block_delta"]["delta"]["text"], "Mock reply to: Say hi")
        self.assertEqual(events["message_delta"]["delta"]["stop_reason"], "end_turn")
        self.assertEqual(headers[UNIFIED + "status"], "allowed")

    def test_non_streaming_reply_is_a_message(self):
        status, _, body = self.turn("main", "Say hi", stream=False)
        self.assertEqual(status, 200)
        msg = json.loads(body)
        self.assertEqual(msg["type"], "message")
        self.assertEqual(msg["content"], [{"type": "text", "text": "Mock reply to: Say hi"}])

    def test_request_log_tells_accounts_titles_and_text_apart(self):
        self.turn("main", "first task")
        self.turn("backup-2", "second task")
        title = {"model": "claude-haiku", "max_tokens": 100, "stream": False,
                 "system": [{"type": "text", "text": "Generate a title for the session"}],
                 "messages": [{"role": "user", "content": "first task"}]}
        self.post("main", title)
        reqs = self.mock.requests()
        self.assertEqual([(r["account"], r["text"], r["title"], r["status"]) for r in reqs],
                         [("main", "first task", False, 200), ("backup-2", "second task", False, 200),
                          ("main", "first task", True, 200)])
        self.assertEqual([r["text"] for r in self.mock.turns("main")], ["first task"])
        probe = {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "quota"}]}
        self.assertEqual(self.post("main", probe)[0], 200)
        self.assertTrue(self.mock.requests()[-1]["probe"])
        self.assertEqual([r["text"] for r in self.mock.turns("main")], ["first task"])
        self.assertEqual(reqs[0]["model"], "claude-sonnet-4-5")
        conn = http.client.HTTPConnection("127.0.0.1", self.mock.port, timeout=10)
        conn.request("GET", "/_mock/requests?account=backup-2")
        over_http = json.loads(conn.getresponse().read())
        conn.close()
        self.assertEqual([r["text"] for r in over_http], ["second task"])

    def test_limit_modes_carry_unified_headers(self):
        reset = int(time.time()) + 7200
        for claim, window in (("five_hour", "5h"), ("seven_day", "7d"),
                              ("seven_day_opus", "7d"), ("overage", "7d")):
            with self.subTest(claim=claim):
                self.mock.set_behavior("main", "limit", claim=claim, reset=reset)
                status, headers, body = self.turn("main")
                self.assertEqual(status, 429)
                self.assertEqual(headers[UNIFIED + "status"], "rejected")
                self.assertEqual(headers[UNIFIED + "representative-claim"], claim)
                self.assertEqual(headers[UNIFIED + "reset"], str(reset))
                self.assertEqual(headers[UNIFIED + f"{window}-utilization"], "1.00")
                self.assertEqual(json.loads(body)["error"]["type"], "rate_limit_error")

    def test_throttle_is_a_429_without_unified_headers(self):
        self.mock.set_behavior("main", "throttle429")
        status, headers, _ = self.turn("main")
        self.assertEqual(status, 429)
        self.assertFalse([h for h in headers if h.startswith(UNIFIED)])

    def test_warning_reports_utilization(self):
        self.mock.set_behavior("main", "warning", utilization=92)
        status, headers, _ = self.turn("main")
        self.assertEqual(status, 200)
        self.assertEqual(headers[UNIFIED + "status"], "allowed_warning")
        self.assertEqual(headers[UNIFIED + "5h-utilization"], "0.92")
        self.assertEqual(headers[UNIFIED + "5h-surpassed-threshold"], "0.90")

    def test_server_errors_and_auth(self):
        for mode, code, kind in (("error500", 500, "api_error"),
                                 ("error529", 529, "overloaded_error"),
                                 ("auth401", 401, "authentication_error")):
            with self.subTest(mode=mode):
                self.mock.set_behavior("*", mode)
                status, _, body = self.turn("anyone")
                self.assertEqual(status, code)
                self.assertEqual(json.loads(body)["error"]["type"], kind)
        self.mock.set_behavior("*", "ok")
        self.assertEqual(self.turn("main", token=False)[0], 401)

    def test_behaviour_is_per_account_and_times_counts_turns(self):
        self.mock.set_behavior("main", "error500", times=2)
        title = {"model": "m", "max_tokens": 50, "stream": False,
                 "system": "Write a title", "messages": [{"role": "user", "content": "x"}]}
        self.assertEqual(self.post("main", title)[0], 200)   # a title does not count
        self.assertEqual(self.turn("backup")[0], 200)        # another account
        self.assertEqual(self.turn("main")[0], 500)
        self.assertEqual(self.turn("main")[0], 500)
        self.assertEqual(self.turn("main")[0], 200)          # back to ok

    def test_tool_use_then_final_text(self):
        self.mock.set_behavior("main", "tool_use", command="ls -la", text="Listed.")
        _, _, body = self.turn("main")
        events = sse_events(body)
        starts = [d["content_block"] for n, d in events if n == "content_block_start"]
        self.assertEqual(starts[1]["type"], "tool_use")
        self.assertEqual(starts[1]["name"], "Bash")
        partial = [d["delta"]["partial_json"] for n, d in events
                   if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"]
        self.assertEqual(json.loads(partial[0])["command"], "ls -la")
        self.assertEqual(dict(events)["message_delta"]["delta"]["stop_reason"], "tool_use")
        _, _, body = self.turn("main", messages=[
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": starts[1]["id"],
                                               "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result",
                                          "tool_use_id": starts[1]["id"], "content": "ok"}]}])
        self.assertEqual(dict(sse_events(body))["content_block_delta"]["delta"]["text"], "Listed.")

    def test_slow_reply_takes_its_time_and_stall_sends_only_the_start(self):
        self.mock.set_behavior("main", "slow", delay=0.6, chunks=3, text="abcdef")
        t0 = time.monotonic()
        _, _, body = self.turn("main")
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        text = "".join(d["delta"]["text"] for n, d in sse_events(body)
                       if n == "content_block_delta")
        self.assertEqual(text, "abcdef")
        self.mock.set_behavior("main", "stall", stall=0.5)
        _, _, body = self.turn("main")
        self.assertEqual([n for n, _ in sse_events(body)], ["message_start"])

    def test_control_api_and_bad_input(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.mock.port, timeout=10)
        conn.request("POST", "/_mock/behavior", json.dumps({"account": "main", "mode": "nope"}))
        r = conn.getresponse()
        self.assertEqual(r.status, 400)
        self.assertIn("unknown mode", json.loads(r.read())["error"])
        conn.request("POST", "/_mock/behavior",
                     json.dumps({"account": "main", "mode": "error529", "times": 1}))
        self.assertEqual(conn.getresponse().read(), b'{"ok": true}')
        self.assertEqual(self.turn("main")[0], 529)
        status, _, _ = self.post("main", None, path="/v1/messages")
        self.assertEqual(status, 400)
        conn.request("POST", "/_mock/reset", "{}")
        conn.getresponse().read()
        conn.close()
        self.assertEqual(self.mock.requests(), [])
        self.assertEqual(self.post("main", {}, path="/v1/unknown")[0], 404)
        self.assertEqual(self.mock.requests()[-1]["note"], "unknown path")
        self.assertEqual(self.post("main", {"messages": []},
                                   path="/v1/messages/count_tokens")[0], 200)

    def test_malformed_requests_never_break_it(self):
        for raw in ('{"messages": {"a": 1}}', '{"messages": "xx", "stream": true}',
                    '{"messages": [1, null, {"role": "user", "content": 5}]}',
                    '{"max_tokens": "1", "model": {"x": 1}}'):
            with self.subTest(raw=raw):
                conn = http.client.HTTPConnection("127.0.0.1", self.mock.port, timeout=10)
                conn.request("POST", "/v1/messages", raw,
                             {"Authorization": f"Bearer {token_for('main')}"})
                self.assertEqual(conn.getresponse().status, 200)
                conn.close()
        for bad in ({"mode": "slow", "delay": "x"}, {"mode": "ok", "times": -1},
                    {"mode": "limit", "claim": "weird"}, {"mode": "ok", "bogus": 1}):
            with self.subTest(bad=bad):
                with self.assertRaises(ValueError):
                    self.mock.set_behavior("main", **bad)
        self.assertEqual(self.turn("main", "still fine")[0], 200)

    def test_loopback_only(self):
        with self.assertRaises(ValueError):
            MockAnthropic(host="0.0.0.0")
        self.assertEqual(self.mock._server.server_address[0], "127.0.0.1")

    def test_command_line_port_file_log_and_lifetime(self):
        with tempfile.TemporaryDirectory() as d:
            port_file, log = os.path.join(d, "port"), os.path.join(d, "log.jsonl")
            t0 = time.monotonic()
            proc = subprocess.Popen([sys.executable, mock_anthropic.__file__, "--port-file",
                                     port_file, "--log", log, "--lifetime", "2"],
                                    stderr=subprocess.PIPE)
            try:
                for _ in range(100):
                    if os.path.exists(port_file):
                        break
                    time.sleep(0.05)
                port = int(open(port_file).read())
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("HEAD", "/api/hello")
                self.assertEqual(conn.getresponse().status, 200)
                conn.close()
                self.assertEqual(proc.wait(timeout=10), 0)   # exits by itself
                self.assertLess(time.monotonic() - t0, 8)
                with open(log) as f:
                    self.assertEqual(json.loads(f.readline())["path"], "/api/hello")
            finally:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    unittest.main(verbosity=2)
