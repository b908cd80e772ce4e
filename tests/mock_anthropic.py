#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A mock of the Anthropic Messages API that the real Claude Code CLI accepts.

Loopback only, Python standard library only, bounded lifetime.

Run it:   /usr/bin/python3 tests/mock_anthropic.py --port-file F [--log F.jsonl]
                                                  [--lifetime SECONDS]
Import it: m = MockAnthropic(); m.start(); m.url; m.set_behavior("main", "limit",
           claim="five_hour", reset=...); m.requests(account="main"); m.stop()

Accounts are told apart by their bearer token, ``sk-ant-oat01-<account>-<suffix>``
(``token_for(account)`` makes one), or by an API key ``sk-ant-api03-<account>-<suffix>``.

Control over HTTP:
  POST /_mock/behavior  {"account": NAME|"*", "mode": MODE, "times": N, ...params}
  GET  /_mock/requests  [?account=NAME]  -> JSON list of logged requests
  POST /_mock/reset     forget behaviours and the request log

Modes (params in brackets):
  ok          reply text                           [text]
  slow        reply streamed in chunks over time   [delay (s, total), chunks, text]
  stall       stream opens then sends nothing      [stall (s, how long before closing)]
  tool_use    a Bash tool_use, then a final text once the tool_result arrives
                                                   [command, text]
  error500    500 api_error
  error529    529 overloaded_error
  throttle429 429 rate_limit_error WITHOUT unified headers   [message]
  limit       429 with unified headers, status rejected
              [claim five_hour|seven_day|seven_day_opus|seven_day_sonnet|overage,
               reset (unix s; default now+2h), overage_status, overage_disabled_reason]
  warning     200 with allowed_warning and utilization
              [claim five_hour|seven_day, utilization (percent, default 92), reset, text]
  auth401     401 authentication_error
``times: N`` applies the mode to the next N turn requests, then the account is back to ok.
``match: TEXT`` applies it only to requests whose newest user text contains TEXT (Claude's
start-up probe and other tasks' turns get ok).
The title request Claude Code sends beside each turn is answered by the same mode only when
the mode refuses every request (limit, auth401); otherwise it always gets a short title.
"""

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

OAUTH_PREFIX = "sk-ant-oat01-"
API_KEY_PREFIX = "sk-ant-api03-"
TOKEN_SUFFIX = "mocktoken"

MODES = ("ok", "slow", "stall", "tool_use", "error500", "error529", "throttle429",
         "limit", "warning", "auth401")
CLAIMS = ("five_hour", "seven_day", "seven_day_opus", "seven_day_sonnet", "overage")
PARAMS = {"text", "delay", "chunks", "stall", "command", "description", "message", "claim",
          "reset", "utilization", "threshold", "overage_status", "overage_disabled_reason", "match"}
# Modes that refuse every request of the account, the title request included.
REFUSING_MODES = ("limit", "auth401")


def token_for(account, api_key=False):
    """The fake token an account's credentials carry."""
    return f"{API_KEY_PREFIX if api_key else OAUTH_PREFIX}{account}-{TOKEN_SUFFIX}"


def account_of(token):
    """The account name a token stands for, or "" when it is not one of ours."""
    for prefix in (OAUTH_PREFIX, API_KEY_PREFIX):
        if token.startswith(prefix):
            rest = token[len(prefix):]
            return rest.rsplit("-", 1)[0] if "-" in rest else rest
    return ""


def _text_of(content):
    if isinstance(content, str):
        return content
    parts = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
    return "\n".join(parts)


def _has_tool_result(content):
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content)


# What Claude Code wraps around the user's words: context, and records of local
# commands such as /exit (kept in a resumed conversation).
_WRAPPERS_RE = re.compile(r"<(system-reminder|local-command-caveat|local-command-stdout|"
                          r"local-command-stderr|command-name|command-message|command-args)>"
                          r".*?</\1>", re.S)


def _user_words(content):
    return _WRAPPERS_RE.sub("", _text_of(content)).strip()


def _ends_with_tool_result(body):
    msgs = body.get("messages")
    return (isinstance(msgs, list) and bool(msgs) and isinstance(msgs[-1], dict)
            and _has_tool_result(msgs[-1].get("content")))


def last_user_text(body):
    """The words of the last user message that has some (tool results skipped), without
    what Claude Code wraps around them. A turn after a failed one carries both prompts in
    one message: both are in the text, in order."""
    msgs = body.get("messages")
    for msg in reversed(msgs if isinstance(msgs, list) else []):
        if not isinstance(msg, dict) or msg.get("role") != "user":
            continue
        text = _user_words(msg.get("content"))
        if text:
            return text
    return ""


def all_user_texts(body):
    """Every user text of the conversation, in order (tells what a resumed turn carried)."""
    out = []
    msgs = body.get("messages")
    for msg in msgs if isinstance(msgs, list) else []:
        if isinstance(msg, dict) and msg.get("role") == "user":
            text = _user_words(msg.get("content"))
            if text:
                out.append(text)
    return out


def is_quota_probe(body):
    """The one-token "quota" request Claude Code sends at start-up."""
    return body.get("max_tokens") == 1 and last_user_text(body) == "quota"


def is_title_request(body):
    """Claude Code asks for a session title beside each first turn: a request without
    tools whose system prompt asks for a title, or that wants JSON with a "title" key."""
    if body.get("tools"):
        return False
    system = body.get("system")
    sys_text = system if isinstance(system, str) else _text_of(system)
    low = sys_text.lower()
    if "title" in low:
        return True
    fmt = body.get("output_format") or body.get("response_format") or {}
    return "title" in json.dumps(fmt).lower()


def _fmt_reset(reset):
    return str(int(reset))


class Behavior:
    def __init__(self, mode="ok", times=None, **params):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
        if times is not None and (not isinstance(times, int) or times < 0):
            raise ValueError("times must be a non-negative integer")
        claim = params.get("claim")
        if claim is not None and claim not in CLAIMS:
            raise ValueError(f"unknown claim {claim!r} (one of {', '.join(CLAIMS)})")
        unknown = set(params) - PARAMS
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(sorted(PARAMS))})")
        for key in ("delay", "chunks", "stall", "reset", "utilization", "threshold"):
            if key in params and (isinstance(params[key], bool)
                                  or not isinstance(params[key], (int, float))
                                  or params[key] < 0):
                raise ValueError(f"{key} must be a non-negative number")
        for key in ("text", "command", "description", "message", "overage_status",
                    "overage_disabled_reason"):
            if key in params and not isinstance(params[key], str):
                raise ValueError(f"{key} must be a string")
        self.mode = mode
        self.times = times
        self.params = params

    def as_dict(self):
        return {"mode": self.mode, "times": self.times, **self.params}


class MockAnthropic:
    """The mock server; thread-safe; start() returns at once with .url set."""

    def __init__(self, host="127.0.0.1", port=0, log_path=None, lifetime=None):
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the mock binds loopback only")
        self._lock = threading.Lock()
        self._behaviors = {}
        self._requests = []
        self._log_path = log_path
        self._lifetime = lifetime
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.mock = self
        self._thread = None
        self._timer = None
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    # --- control -------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        if self._lifetime:
            self._timer = threading.Timer(self._lifetime, self.stop)
            self._timer.daemon = True
            self._timer.start()
        return self

    def stop(self):
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._timer:
            self._timer.cancel()
        threading.Thread(target=self._server.shutdown, daemon=True).start()
        if self._thread and threading.current_thread() is not self._thread:
            self._thread.join(5)
        self._server.server_close()

    def wait(self):
        self._stopping.wait()

    def set_behavior(self, account, mode, **params):
        times = params.pop("times", None)
        b = Behavior(mode, times, **params)
        with self._lock:
            self._behaviors[account or "*"] = b

    def reset(self):
        with self._lock:
            self._behaviors.clear()
            self._requests.clear()

    def requests(self, account=None):
        with self._lock:
            return [dict(r) for r in self._requests
                    if account is None or r["account"] == account]

    def turns(self, account=None):
        """The logged /v1/messages requests that were turns (not titles, not the start-up
        quota probe)."""
        return [r for r in self.requests(account)
                if r["path"] == "/v1/messages" and not r["title"] and not r["probe"]]

    def wait_for(self, predicate, timeout=10.0):
        """Waits until predicate(requests) is true; returns the requests or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reqs = self.requests()
            if predicate(reqs):
                return reqs
            time.sleep(0.05)
        return None

    # --- used by the handler -------------------------------------------------
    def behavior_for(self, account, consume, text=None):
        """The behaviour applying to the account's next request; consume counts it
        against `times`. A behaviour with a `match` parameter applies only to requests
        whose newest user text contains it (TEXT); any other request gets ok."""
        with self._lock:
            key = account if account in self._behaviors else "*"
            b = self._behaviors.get(key)
            if b is None:
                return Behavior("ok")
            match = b.params.get("match")
            if match is not None and (text is None or match not in text):
                return Behavior("ok")
            if b.times is not None and b.times <= 0:
                del self._behaviors[key]
                return Behavior("ok")
            if consume and b.times is not None:
                b.times -= 1
                current = Behavior(b.mode, None, **b.params)
                if b.times <= 0:
                    del self._behaviors[key]
                return current
            return b

    def record(self, entry):
        with self._lock:
            self._requests.append(entry)
            if self._log_path:
                try:
                    with open(self._log_path, "a", encoding="utf-8") as f:
                        f.write(json.dumps(entry) + "\n")
                except OSError as e:
                    print(f"mock_anthropic: cannot write the log: {e}", file=sys.stderr)


def _unified_headers(status, claim, reset, utilization=None, window="5h",
                     overage_status=None, overage_disabled_reason=None,
                     surpassed=None):
    h = {
        "anthropic-ratelimit-unified-status": status,
        "anthropic-ratelimit-unified-reset": _fmt_reset(reset),
        "anthropic-ratelimit-unified-representative-claim": claim,
        "anthropic-ratelimit-unified-fallback-percentage": "0.5",
    }
    if utilization is not None:
        h[f"anthropic-ratelimit-unified-{window}-utilization"] = f"{utilization:.2f}"
        h[f"anthropic-ratelimit-unified-{window}-reset"] = _fmt_reset(reset)
        h[f"anthropic-ratelimit-unified-{window}-status"] = (
            "rejected" if status == "rejected" else "allowed")
        if surpassed is not None:
            h[f"anthropic-ratelimit-unified-{window}-surpassed-threshold"] = f"{surpassed:.2f}"
    if overage_status:
        h["anthropic-ratelimit-unified-overage-status"] = overage_status
    if overage_disabled_reason:
        h["anthropic-ratelimit-unified-overage-disabled-reason"] = overage_disabled_reason
    return h


def _allowed_headers(now):
    return _unified_headers("allowed", "five_hour", now + 4 * 3600, 0.10, "5h")


_WINDOW_OF_CLAIM = {"five_hour": "5h", "seven_day": "7d", "seven_day_opus": "7d",
                    "seven_day_sonnet": "7d", "overage": "7d"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-anthropic/1"

    def log_message(self, fmt, *args):  # the request log is ours, not stderr noise
        pass

    @property
    def mock(self):
        return self.server.mock

    # --- plumbing ------------------------------------------------------------
    def _account(self):
        auth = self.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token:
            token = self.headers.get("x-api-key", "").strip()
        return account_of(token), bool(token)

    def _read_body(self):
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
        except ValueError:
            return b""
        if n < 0 or n > 64 * 1024 * 1024:
            return b""
        return self.rfile.read(n)

    def _send(self, status, obj=None, headers=None, raw=None, ctype="application/json"):
        data = raw if raw is not None else (b"" if obj is None else json.dumps(obj).encode())
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", "req_mock_" + uuid.uuid4().hex[:20])
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _record(self, account, path, status, body=None, title=False, mode="", note=""):
        body = body or {}
        probe = path == "/v1/messages" and is_quota_probe(body)
        self.mock.record({
            "time": time.time(),
            "method": self.command,
            "account": account,
            "path": path,
            "model": body.get("model", ""),
            "title": title,
            "probe": probe,
            "stream": bool(body.get("stream")),
            "text": last_user_text(body) if body else "",
            "user_texts": all_user_texts(body) if body else [],
            "tool_result": _ends_with_tool_result(body),
            "status": status,
            "mode": mode,
            "note": note,
        })

    # --- verbs ---------------------------------------------------------------
    def do_HEAD(self):
        path = urlsplit(self.path).path
        account, _ = self._account()
        self._record(account, path, 200)
        self._send(200, raw=b"")

    def do_GET(self):
        parts = urlsplit(self.path)
        if parts.path == "/_mock/requests":
            acct = parse_qs(parts.query).get("account", [None])[0]
            self._send(200, self.mock.requests(acct))
            return
        account, _ = self._account()
        if parts.path == "/api/hello":
            self._record(account, parts.path, 200)
            self._send(200, {"message": "hello"})
            return
        self._record(account, parts.path, 404, note="unknown path")
        self._send(404, {"type": "error", "error": {"type": "not_found_error",
                                                    "message": f"Not found: {parts.path}"}})

    def do_POST(self):
        parts = urlsplit(self.path)
        raw = self._read_body()
        if parts.path.startswith("/_mock/"):
            self._control(parts.path, raw)
            return
        account, has_token = self._account()
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            self._record(account, parts.path, 400, note="bad json")
            self._send(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                        "message": "body is not JSON"}})
            return
        if parts.path == "/v1/messages/count_tokens":
            self._record(account, parts.path, 200, body)
            n = max(1, len(json.dumps(body.get("messages", []))) // 4)
            self._send(200, {"input_tokens": n})
            return
        if parts.path != "/v1/messages":
            self._record(account, parts.path, 404, body, note="unknown path")
            self._send(404, {"type": "error", "error": {"type": "not_found_error",
                                                        "message": f"Not found: {parts.path}"}})
            return
        try:
            self._messages(account, has_token, body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # a mock bug must show, not hang the CLI
            print(f"mock_anthropic: {type(e).__name__}: {e}", file=sys.stderr)
            self.close_connection = True

    def _control(self, path, raw):
        try:
            req = json.loads(raw or b"{}")
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError as e:
            self._send(400, {"error": f"bad JSON: {e}"})
            return
        if path == "/_mock/reset":
            self.mock.reset()
            self._send(200, {"ok": True})
        elif path == "/_mock/behavior":
            req = dict(req)
            account = req.pop("account", "*")
            mode = req.pop("mode", "ok")
            try:
                self.mock.set_behavior(account, mode, **req)
            except (TypeError, ValueError) as e:
                self._send(400, {"error": str(e)})
                return
            self._send(200, {"ok": True})
        else:
            self._send(404, {"error": f"unknown control path {path}"})

    # --- the Messages API ----------------------------------------------------
    def _messages(self, account, has_token, body):
        title = is_title_request(body)
        probe = is_quota_probe(body)
        b = self.mock.behavior_for(account, consume=not title and not probe,
                                   text=last_user_text(body))
        mode = b.mode
        if (title or probe) and mode not in REFUSING_MODES:
            mode = "ok" if mode != "warning" else "warning"
        p = b.params
        now = int(time.time())
        if not has_token:
            mode = "auth401"

        if mode == "auth401":
            self._record(account, "/v1/messages", 401, body, title, mode)
            self._send(401, {"type": "error", "error": {
                "type": "authentication_error",
                "message": "OAuth token has expired. Please obtain a new token or refresh "
                           "your existing token."}})
            return
        if mode == "error500":
            self._record(account, "/v1/messages", 500, body, title, mode)
            self._send(500, {"type": "error", "error": {"type": "api_error",
                                                        "message": "Internal server error"}},
                       headers={"x-should-retry": "true"})
            return
        if mode == "error529":
            self._record(account, "/v1/messages", 529, body, title, mode)
            self._send(529, {"type": "error", "error": {"type": "overloaded_error",
                                                        "message": "Overloaded"}},
                       headers={"x-should-retry": "true"})
            return
        if mode == "throttle429":
            self._record(account, "/v1/messages", 429, body, title, mode)
            self._send(429, {"type": "error", "error": {
                "type": "rate_limit_error",
                "message": p.get("message", "Number of concurrent connections has exceeded "
                                            "your rate limit.")}},
                       headers={"retry-after": "1", "x-should-retry": "true"})
            return
        if mode == "limit":
            claim = p.get("claim", "five_hour")
            reset = int(p.get("reset") or now + 2 * 3600)
            window = _WINDOW_OF_CLAIM[claim]
            h = _unified_headers("rejected", claim, reset, 1.0, window,
                                 overage_status=p.get("overage_status", "rejected"),
                                 overage_disabled_reason=p.get("overage_disabled_reason",
                                                               "org_level_disabled"))
            if claim == "overage":
                h["anthropic-ratelimit-unified-overage-status"] = "rejected"
                h["anthropic-ratelimit-unified-overage-reset"] = _fmt_reset(reset)
                h["anthropic-ratelimit-unified-overage-disabled-reason"] = p.get(
                    "overage_disabled_reason", "out_of_credits")
            h["x-should-retry"] = "false"
            self._record(account, "/v1/messages", 429, body, title, mode)
            self._send(429, {"type": "error", "error": {
                "type": "rate_limit_error",
                "message": "This request would exceed your account's rate limit. "
                           "Please try again later."}}, headers=h)
            return

        if mode == "warning":
            claim = p.get("claim", "five_hour")
            window = _WINDOW_OF_CLAIM.get(claim, "5h")
            util = float(p.get("utilization", 92)) / 100.0
            reset = int(p.get("reset") or now + 3600)
            headers = _unified_headers("allowed_warning", claim, reset, util, window,
                                       surpassed=float(p.get("threshold", 90)) / 100.0)
        else:
            headers = _allowed_headers(now)

        if title:
            self._reply(body, headers, [("text", json.dumps({"title": "Mock session"}))],
                        title=True, account=account, mode=mode)
            return
        if probe:
            self._reply(body, headers, [("text", "ok")], account=account, mode=mode)
            return
        if mode == "tool_use":
            if _ends_with_tool_result(body):
                self._reply(body, headers, [("text", p.get("text", "The command ran."))],
                            account=account, mode=mode)
            else:
                tool_input = {"command": p.get("command", "echo mock-tool-use"),
                              "description": p.get("description", "Run the command")}
                self._reply(body, headers, [("text", "I will run a command."),
                                            ("tool_use", tool_input)],
                            account=account, mode=mode, stop_reason="tool_use")
            return
        if mode == "stall":
            self._stall(body, headers, float(p.get("stall", 600)), account)
            return
        text = p.get("text") or f"Mock reply to: {last_user_text(body)[:200]}"
        if mode == "slow":
            self._reply(body, headers, [("text", text)], account=account, mode=mode,
                        delay=float(p.get("delay", 5)), chunks=int(p.get("chunks", 10)))
            return
        self._reply(body, headers, [("text", text)], account=account, mode=mode)

    def _message_obj(self, body, content, stop_reason, output_tokens):
        return {
            "id": "msg_mock_" + uuid.uuid4().hex[:20],
            "type": "message",
            "role": "assistant",
            "model": body.get("model") or "claude-sonnet-4-5",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": output_tokens},
        }

    def _reply(self, body, headers, blocks, account, mode, title=False,
               stop_reason="end_turn", delay=0.0, chunks=1):
        content = []
        for kind, value in blocks:
            if kind == "text":
                content.append({"type": "text", "text": value})
            else:
                content.append({"type": "tool_use", "id": "toolu_mock_" + uuid.uuid4().hex[:16],
                                "name": "Bash", "input": value})
        self._record(account, "/v1/messages", 200, body, title, mode)
        if not body.get("stream"):
            self._send(200, self._message_obj(body, content, stop_reason, 20), headers=headers)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.send_header("request-id", "req_mock_" + uuid.uuid4().hex[:20])
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.close_connection = True
        try:
            self._event("message_start", {"type": "message_start",
                                          "message": self._message_obj(body, [], None, 1)})
            for i, block in enumerate(content):
                if block["type"] == "text":
                    self._event("content_block_start", {"type": "content_block_start",
                                                        "index": i, "content_block":
                                                        {"type": "text", "text": ""}})
                    text = block["text"]
                    n = max(1, min(chunks, len(text)))
                    step = -(-len(text) // n)
                    pieces = [text[j:j + step] for j in range(0, len(text), step)] or [""]
                    for piece in pieces:
                        if delay > 0:
                            if self.mock._stopping.wait(delay / len(pieces)):
                                return
                            self._event("ping", {"type": "ping"})
                        self._event("content_block_delta", {
                            "type": "content_block_delta", "index": i,
                            "delta": {"type": "text_delta", "text": piece}})
                else:
                    self._event("content_block_start", {
                        "type": "content_block_start", "index": i,
                        "content_block": {"type": "tool_use", "id": block["id"],
                                          "name": block["name"], "input": {}}})
                    self._event("content_block_delta", {
                        "type": "content_block_delta", "index": i,
                        "delta": {"type": "input_json_delta",
                                  "partial_json": json.dumps(block["input"])}})
                self._event("content_block_stop", {"type": "content_block_stop", "index": i})
            self._event("message_delta", {"type": "message_delta",
                                          "delta": {"stop_reason": stop_reason,
                                                    "stop_sequence": None},
                                          "usage": {"output_tokens": 20}})
            self._event("message_stop", {"type": "message_stop"})
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _stall(self, body, headers, seconds, account):
        self._record(account, "/v1/messages", 200, body, False, "stall")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.close_connection = True
        try:
            self._event("message_start", {"type": "message_start",
                                          "message": self._message_obj(body, [], None, 1)})
            self.mock._stopping.wait(seconds)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _event(self, name, data):
        self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Mock Anthropic Messages API (loopback).")
    ap.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--log", help="append every request as a JSON line here")
    ap.add_argument("--lifetime", type=float, default=600.0,
                    help="exit after this many seconds (default 600; 0 = never)")
    args = ap.parse_args(argv)
    if args.lifetime < 0:
        ap.error("--lifetime must be >= 0")
    mock = MockAnthropic(port=args.port, log_path=args.log,
                         lifetime=args.lifetime or None)
    mock.start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: mock.stop())
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{mock.port}\n")
        os.replace(tmp, args.port_file)
    print(f"mock_anthropic: listening on {mock.url}", file=sys.stderr, flush=True)
    mock.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
