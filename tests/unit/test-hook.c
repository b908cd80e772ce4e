/* SPDX-License-Identifier: MIT */
#include <glib.h>
#include <string.h>

#include "cf-hook-payload.h"

#include <json-glib/json-glib.h>
#include "cf-pane.h"

#define UUID "00893aaf-19fa-41d2-8238-13269b9b3ca0"
#define TRANSCRIPT "/home/claude/.claude-main/projects/-home-claude-projects-web/" UUID ".jsonl"
#define CWD "/home/claude/projects/web"
/* The fields every Claude Code 2.x hook input starts with. */
#define COMMON(event)                                                                   \
  "\"session_id\":\"" UUID "\",\"transcript_path\":\"" TRANSCRIPT "\",\"cwd\":\"" CWD \
  "\",\"permission_mode\":\"bypassPermissions\",\"hook_event_name\":\"" event "\""

/* --- Accepted payloads ---------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *event;           /* the hook's argument; NULL: from the payload */
  const char *json;
  CfHookEvent expect_event;
  const char *event_name;
  const char *session_id;
  const char *transcript_path;
  const char *cwd;
  const char *hook_event_name;
  const char *error;
  const char *prompt;
  const char *source;
  const char *message;
  gboolean rate_limit;
} Case;

static const Case cases[] = {
  /* Claude Code 2.x, as documented and as tests/fake-claude sends them */
  { "session-start-startup", "SessionStart",
    "{" COMMON ("SessionStart") ",\"source\":\"startup\",\"model\":\"claude-sonnet-4-5\"}",
    CF_HOOK_EVENT_SESSION_START, "SessionStart", UUID, TRANSCRIPT, CWD, "SessionStart",
    NULL, NULL, "startup", NULL, FALSE },
  { "session-start-clear", "SessionStart", "{" COMMON ("SessionStart") ",\"source\":\"clear\"}",
    CF_HOOK_EVENT_SESSION_START, "SessionStart", UUID, TRANSCRIPT, CWD, "SessionStart",
    NULL, NULL, "clear", NULL, FALSE },
  { "session-start-compact-pretty", "SessionStart",
    "{\n  \"session_id\": \"" UUID "\",\n  \"hook_event_name\": \"SessionStart\",\n"
    "  \"source\": \"compact\"\n}\n",
    CF_HOOK_EVENT_SESSION_START, "SessionStart", UUID, NULL, NULL, "SessionStart",
    NULL, NULL, "compact", NULL, FALSE },
  { "user-prompt-submit", "UserPromptSubmit",
    "{" COMMON ("UserPromptSubmit") ",\"prompt\":\"[fix-login] Fix the redirect\\n\\nIMPORTANT: "
    "Tu dois EXECUTER les actions demand\\u00e9es\"}",
    CF_HOOK_EVENT_USER_PROMPT_SUBMIT, "UserPromptSubmit", UUID, TRANSCRIPT, CWD,
    "UserPromptSubmit", NULL,
    "[fix-login] Fix the redirect\n\nIMPORTANT: Tu dois EXECUTER les actions demandées",
    NULL, NULL, FALSE },
  { "stop", "Stop",
    "{" COMMON ("Stop") ",\"stop_hook_active\":false,\"last_assistant_message\":\"Done.\"}",
    CF_HOOK_EVENT_STOP, "Stop", UUID, TRANSCRIPT, CWD, "Stop", NULL, NULL, NULL, NULL, FALSE },
  /* A 429 whose text is no usage limit: a throttle, not a reason to switch. */
  { "stop-failure-rate-limit-throttle", "StopFailure",
    "{" COMMON ("StopFailure") ",\"error\":\"rate_limit\",\"error_details\":\"429 Too Many "
    "Requests\",\"last_assistant_message\":\"API Error: Rate limit reached\"}",
    CF_HOOK_EVENT_STOP_FAILURE, "StopFailure", UUID, TRANSCRIPT, CWD, "StopFailure",
    "rate_limit", NULL, NULL, NULL, FALSE },
  { "stop-failure-error-type", "StopFailure",
    "{" COMMON ("StopFailure") ",\"error_type\":\"rate_limit\",\"error\":\"429\","
    "\"error_message\":\"Rate limit exceeded\"}",
    CF_HOOK_EVENT_STOP_FAILURE, "StopFailure", UUID, TRANSCRIPT, CWD, "StopFailure",
    "rate_limit", NULL, NULL, NULL, TRUE },
  { "stop-failure-overloaded", "StopFailure", "{" COMMON ("StopFailure") ",\"error\":\"overloaded\"}",
    CF_HOOK_EVENT_STOP_FAILURE, "StopFailure", UUID, TRANSCRIPT, CWD, "StopFailure",
    "overloaded", NULL, NULL, NULL, FALSE },
  { "stop-failure-server-error", "StopFailure",
    "{" COMMON ("StopFailure") ",\"error\":\"server_error\"}",
    CF_HOOK_EVENT_STOP_FAILURE, "StopFailure", UUID, TRANSCRIPT, CWD, "StopFailure",
    "server_error", NULL, NULL, NULL, FALSE },
  { "stop-failure-error-object", "StopFailure",
    "{" COMMON ("StopFailure") ",\"error\":{\"type\":\"rate_limit\",\"message\":\"limit\"}}",
    CF_HOOK_EVENT_STOP_FAILURE, "StopFailure", UUID, TRANSCRIPT, CWD, "StopFailure",
    "rate_limit", NULL, NULL, NULL, TRUE },
  { "stop-failure-api-envelope", "StopFailure",
    "{" COMMON ("StopFailure") ",\"error\":{\"type\":\"error\",\"error\":{\"type\":"
    "\"rate_limit_error\",\"message\":\"Number of request tokens has exceeded your limit\"}}}",
    CF_HOOK_EVENT_STOP_FAILURE, "StopFailure", UUID, TRANSCRIPT, CWD, "StopFailure",
    "rate_limit_error", NULL, NULL, NULL, TRUE },
  { "stop-failure-api-overloaded-envelope", "StopFailure",
    "{\"error\":{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}}",
    CF_HOOK_EVENT_STOP_FAILURE, "StopFailure", NULL, NULL, NULL, NULL,
    "overloaded_error", NULL, NULL, NULL, FALSE },
  { "notification", "Notification",
    "{" COMMON ("Notification") ",\"message\":\"Claude is waiting for your input\","
    "\"notification_type\":\"idle_prompt\"}",
    CF_HOOK_EVENT_NOTIFICATION, "Notification", UUID, TRANSCRIPT, CWD, "Notification",
    NULL, NULL, NULL, "Claude is waiting for your input", FALSE },
  { "session-end", "SessionEnd", "{" COMMON ("SessionEnd") ",\"reason\":\"prompt_input_exit\"}",
    CF_HOOK_EVENT_SESSION_END, "SessionEnd", UUID, TRANSCRIPT, CWD, "SessionEnd",
    NULL, NULL, NULL, NULL, FALSE },
  { "pre-compact", "PreCompact",
    "{" COMMON ("PreCompact") ",\"trigger\":\"auto\",\"custom_instructions\":\"\"}",
    CF_HOOK_EVENT_PRE_COMPACT, "PreCompact", UUID, TRANSCRIPT, CWD, "PreCompact",
    NULL, NULL, NULL, NULL, FALSE },
  { "subagent-stop", "SubagentStop", "{" COMMON ("SubagentStop") ",\"stop_hook_active\":true}",
    CF_HOOK_EVENT_SUBAGENT_STOP, "SubagentStop", UUID, TRANSCRIPT, CWD, "SubagentStop",
    NULL, NULL, NULL, NULL, FALSE },
  { "other-event-pre-tool-use", "PreToolUse",
    "{" COMMON ("PreToolUse") ",\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"ls\"}}",
    CF_HOOK_EVENT_OTHER, "PreToolUse", UUID, TRANSCRIPT, CWD, "PreToolUse",
    NULL, NULL, NULL, NULL, FALSE },

  /* the event: the argument wins; without one, the payload names it */
  { "event-from-payload", NULL, "{\"hook_event_name\":\"Stop\"}",
    CF_HOOK_EVENT_STOP, "Stop", NULL, NULL, NULL, "Stop", NULL, NULL, NULL, NULL, FALSE },
  { "event-from-payload-stop-failure", NULL,
    "{\"hook_event_name\":\"StopFailure\",\"error\":\"rate_limit\"}",
    CF_HOOK_EVENT_STOP_FAILURE, "StopFailure", NULL, NULL, NULL, "StopFailure",
    "rate_limit", NULL, NULL, NULL, TRUE },
  { "event-argument-wins", "Stop", "{\"hook_event_name\":\"StopFailure\",\"error\":\"rate_limit\"}",
    CF_HOOK_EVENT_STOP, "Stop", NULL, NULL, NULL, "StopFailure", "rate_limit",
    NULL, NULL, NULL, FALSE },
  { "event-missing-everywhere", NULL, "{}", CF_HOOK_EVENT_OTHER, "Other",
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, FALSE },
  { "event-payload-not-identifier", NULL, "{\"hook_event_name\":\"Stop now\"}",
    CF_HOOK_EVENT_OTHER, "Other", NULL, NULL, NULL, "Stop now", NULL, NULL, NULL, NULL, FALSE },
  { "event-case-matters", "stop", "{}", CF_HOOK_EVENT_OTHER, "stop",
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, FALSE },

  /* wrong types and bad values are dropped, not errors */
  { "session-id-not-uuid", "Stop", "{\"session_id\":\"abc123\",\"cwd\":\"/tmp\"}",
    CF_HOOK_EVENT_STOP, "Stop", NULL, NULL, "/tmp", NULL, NULL, NULL, NULL, NULL, FALSE },
  { "session-id-uuid-with-braces", "Stop", "{\"session_id\":\"{" UUID "}\"}",
    CF_HOOK_EVENT_STOP, "Stop", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, FALSE },
  { "session-id-uppercase-kept", "Stop", "{\"session_id\":\"00893AAF-19FA-41D2-8238-13269B9B3CA0\"}",
    CF_HOOK_EVENT_STOP, "Stop", "00893AAF-19FA-41D2-8238-13269B9B3CA0", NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, FALSE },
  { "session-id-number", "Stop", "{\"session_id\":12345}",
    CF_HOOK_EVENT_STOP, "Stop", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, FALSE },
  { "wrong-types", "SessionStart",
    "{\"session_id\":null,\"transcript_path\":[\"/a\"],\"cwd\":{\"p\":1},\"hook_event_name\":7,"
    "\"source\":true,\"prompt\":1.5,\"message\":[],\"error\":false}",
    CF_HOOK_EVENT_SESSION_START, "SessionStart", NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, FALSE },
  { "error-object-without-type", "StopFailure", "{\"error\":{\"message\":\"x\"}}",
    CF_HOOK_EVENT_STOP_FAILURE, "StopFailure", NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, FALSE },
  { "error-object-type-not-string", "StopFailure", "{\"error\":{\"type\":429}}",
    CF_HOOK_EVENT_STOP_FAILURE, "StopFailure", NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, FALSE },
  { "error-envelope-without-inner", "StopFailure", "{\"error\":{\"type\":\"error\"}}",
    CF_HOOK_EVENT_STOP_FAILURE, "StopFailure", NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, FALSE },
  { "error-type-not-string-falls-back", "StopFailure",
    "{\"error_type\":5,\"error\":\"rate_limit\"}",
    CF_HOOK_EVENT_STOP_FAILURE, "StopFailure", NULL, NULL, NULL, NULL,
    "rate_limit", NULL, NULL, NULL, TRUE },
  { "rate-limit-only-for-stop-failure", "Notification", "{\"error\":\"rate_limit\"}",
    CF_HOOK_EVENT_NOTIFICATION, "Notification", NULL, NULL, NULL, NULL,
    "rate_limit", NULL, NULL, NULL, FALSE },
  { "unknown-source-kept", "SessionStart", "{\"source\":\"teleport\"}",
    CF_HOOK_EVENT_SESSION_START, "SessionStart", NULL, NULL, NULL, NULL,
    NULL, NULL, "teleport", NULL, FALSE },

  /* JSON details */
  { "duplicate-member-last-wins", "Stop", "{\"cwd\":\"/a\",\"cwd\":\"/b\"}",
    CF_HOOK_EVENT_STOP, "Stop", NULL, NULL, "/b", NULL, NULL, NULL, NULL, NULL, FALSE },
  { "escapes", "Notification",
    "{\"message\":\"tab\\there \\\"quoted\\\" \\u2713 \\ud83d\\ude00 \\/ \\\\\"}",
    CF_HOOK_EVENT_NOTIFICATION, "Notification", NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, "tab\there \"quoted\" ✓ 😀 / \\", FALSE },
  { "utf8-raw", "UserPromptSubmit", "{\"prompt\":\"Corrige la page « café » ✓\"}",
    CF_HOOK_EVENT_USER_PROMPT_SUBMIT, "UserPromptSubmit", NULL, NULL, NULL, NULL,
    NULL, "Corrige la page « café » ✓", NULL, NULL, FALSE },
  { "numbers-and-literals", "Stop",
    "{\"a\":-0.5e+10,\"b\":0,\"c\":[true,false,null],\"d\":1E-3,\"cwd\":\"/x\"}",
    CF_HOOK_EVENT_STOP, "Stop", NULL, NULL, "/x", NULL, NULL, NULL, NULL, NULL, FALSE },
  { "whitespace-around", "Stop", " \r\n\t{ \"cwd\" : \"/x\" } \n",
    CF_HOOK_EVENT_STOP, "Stop", NULL, NULL, "/x", NULL, NULL, NULL, NULL, NULL, FALSE },
  { "empty-string-fields-kept", "Stop", "{\"cwd\":\"\",\"message\":\"\"}",
    CF_HOOK_EVENT_STOP, "Stop", NULL, NULL, "", NULL, NULL, NULL, NULL, "", FALSE },
};

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  g_autoptr(CfHookPayload) payload = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (cf_hook_payload_parse (c->event, c->json, (gsize) -1, &payload, &error));
  g_assert_no_error (error);
  g_assert_nonnull (payload);
  g_assert_cmpint (payload->event, ==, c->expect_event);
  g_assert_cmpstr (payload->event_name, ==, c->event_name);
  g_assert_cmpstr (payload->session_id, ==, c->session_id);
  g_assert_cmpstr (payload->transcript_path, ==, c->transcript_path);
  g_assert_cmpstr (payload->cwd, ==, c->cwd);
  g_assert_cmpstr (payload->hook_event_name, ==, c->hook_event_name);
  g_assert_cmpstr (payload->error, ==, c->error);
  g_assert_cmpstr (payload->prompt, ==, c->prompt);
  g_assert_false (payload->prompt_truncated);
  g_assert_cmpstr (payload->source, ==, c->source);
  g_assert_cmpstr (payload->message, ==, c->message);
  g_assert_cmpint (cf_hook_payload_is_rate_limit (payload), ==, c->rate_limit);
}

/* --- Refused input --------------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *event;
  const char *text;
  gssize length;               /* -1: NUL-terminated */
  CfHookError code;
  const char *message;         /* substring of the message */
} ErrorCase;

static const ErrorCase error_cases[] = {
  { "empty", "Stop", "", -1, CF_HOOK_ERROR_SYNTAX, "the hook input is empty" },
  { "only-space", "Stop", " \n\t", -1, CF_HOOK_ERROR_SYNTAX, "the hook input is empty" },
  { "array", "Stop", "[{\"session_id\":\"" UUID "\"}]", -1, CF_HOOK_ERROR_NOT_OBJECT,
    "must be a JSON object" },
  { "string", "Stop", "\"rate_limit\"", -1, CF_HOOK_ERROR_NOT_OBJECT, "must be a JSON object" },
  { "number", "Stop", "42", -1, CF_HOOK_ERROR_NOT_OBJECT, "must be a JSON object" },
  { "null", "Stop", "null", -1, CF_HOOK_ERROR_NOT_OBJECT, "must be a JSON object" },
  { "truncated", "Stop", "{\"session_id\":\"" UUID "\",\"cwd\":", -1, CF_HOOK_ERROR_SYNTAX,
    "the JSON ends too early" },
  { "unterminated-string", "Stop", "{\"cwd\":\"/tmp}", -1, CF_HOOK_ERROR_SYNTAX,
    "a string that is never closed at line 1, column 8" },
  { "trailing-comma", "Stop", "{\"cwd\":\"/tmp\",}", -1, CF_HOOK_ERROR_SYNTAX,
    "expected a quoted member name at line 1, column 15" },
  { "two-documents", "Stop", "{} {}", -1, CF_HOOK_ERROR_SYNTAX,
    "unexpected data after the JSON value at line 1, column 4" },
  { "trailing-garbage", "Stop", "{}x", -1, CF_HOOK_ERROR_SYNTAX, "unexpected data" },
  { "comment", "Stop", "/* hi */ {}", -1, CF_HOOK_ERROR_SYNTAX, "unexpected character at line 1, column 1" },
  { "single-quotes", "Stop", "{'cwd':'/tmp'}", -1, CF_HOOK_ERROR_SYNTAX,
    "expected a quoted member name at line 1, column 2" },
  { "leading-zero", "Stop", "{\"a\":01}", -1, CF_HOOK_ERROR_SYNTAX,
    "expected ',' or '}' at line 1, column 7" },
  { "bare-word", "Stop", "{\"a\":rate_limit}", -1, CF_HOOK_ERROR_SYNTAX, "unexpected character" },
  { "nan", "Stop", "{\"a\":NaN}", -1, CF_HOOK_ERROR_SYNTAX, "unexpected character" },
  { "position-line-3", "Stop", "{\n  \"prompt\": \"é\",\n  \"x\": 01\n}", -1, CF_HOOK_ERROR_SYNTAX,
    "expected ',' or '}' at line 3, column 9" },
  { "position-counts-characters", "Stop", "{\"é\":1,x}", -1, CF_HOOK_ERROR_SYNTAX,
    "expected a quoted member name at line 1, column 8" },
  { "too-deep-message", "Stop", "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", -1,
    CF_HOOK_ERROR_TOO_DEEP, "the hook input is refused: objects and arrays nested more than 32 deep at line 1, column 37" },
  { "missing-colon", "Stop", "{\"a\" 1}", -1, CF_HOOK_ERROR_SYNTAX, "expected ':'" },
  { "unbalanced-array", "Stop", "{\"a\":[1,2}", -1, CF_HOOK_ERROR_SYNTAX, "expected ',' or ']'" },
  { "raw-newline-in-string", "Stop", "{\"a\":\"x\ny\"}", -1, CF_HOOK_ERROR_SYNTAX,
    "a control character inside a string" },
  { "bad-escape", "Stop", "{\"a\":\"\\x41\"}", -1, CF_HOOK_ERROR_SYNTAX, "an invalid escape" },
  { "bad-u-escape", "Stop", "{\"a\":\"\\u12g4\"}", -1, CF_HOOK_ERROR_SYNTAX, "an invalid \\u escape" },
  { "short-u-escape-at-end", "Stop", "{\"a\":\"\\u12", -1, CF_HOOK_ERROR_SYNTAX, "an invalid \\u escape" },
  { "backslash-at-end", "Stop", "{\"a\":\"\\", -1, CF_HOOK_ERROR_SYNTAX, "never closed" },
  { "number-no-digits", "Stop", "{\"a\":-}", -1, CF_HOOK_ERROR_SYNTAX, "an invalid number" },
  { "number-bad-fraction", "Stop", "{\"a\":1.}", -1, CF_HOOK_ERROR_SYNTAX, "an invalid number" },
  { "number-bad-exponent", "Stop", "{\"a\":1e}", -1, CF_HOOK_ERROR_SYNTAX, "an invalid number" },
  { "lone-surrogate", "Stop", "{\"a\":\"\\ud800\"}", -1, CF_HOOK_ERROR_SYNTAX, "is not JSON" },
  { "nul-byte", "Stop", "{\"cwd\":\"/t\0mp\"}", 15, CF_HOOK_ERROR_NUL_BYTE, "at byte offset 10" },
  { "latin1", "Stop", "{\"cwd\":\"/caf\xe9\"}", -1, CF_HOOK_ERROR_ENCODING, "at byte offset 12" },
  { "utf16-bom", "Stop", "\xff\xfe{\0}\0", 6, CF_HOOK_ERROR_NUL_BYTE, "NUL byte" },
  { "utf8-bom", "Stop", "\xef\xbb\xbf{}", -1, CF_HOOK_ERROR_SYNTAX, "unexpected character at line 1, column 1" },
  { "event-with-space", "Stop now", "{}", -1, CF_HOOK_ERROR_INVALID_EVENT, "invalid hook event name" },
  { "event-empty", "", "{}", -1, CF_HOOK_ERROR_INVALID_EVENT, "invalid hook event name" },
  { "event-leading-digit", "1Stop", "{}", -1, CF_HOOK_ERROR_INVALID_EVENT, "invalid hook event name" },
  { "event-shell", "Stop;rm", "{}", -1, CF_HOOK_ERROR_INVALID_EVENT, "invalid hook event name" },
  /* One character over CF_HOOK_EVENT_NAME_MAX. */
  { "event-too-long", "StopStopStopStopStopStopStopStopStopStopStopStopStopStopStopStopS", "{}", -1,
    CF_HOOK_ERROR_INVALID_EVENT, "invalid hook event name" },
  { "event-newline", "Stop\nStop", "{}", -1, CF_HOOK_ERROR_INVALID_EVENT, "invalid hook event name" },
  { "lone-low-surrogate", "Stop", "{\"a\":\"\\udc00\"}", -1, CF_HOOK_ERROR_SYNTAX, "is not JSON" },
  { "crlf-inside-string", "Stop", "{\"a\":\"x\r\ny\"}", -1, CF_HOOK_ERROR_SYNTAX, "is not JSON" },
  { "top-level-arrays-too-deep", "Stop", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", -1,
    CF_HOOK_ERROR_TOO_DEEP, "nested more than 32 deep" },
};

static void
test_error (gconstpointer data)
{
  const ErrorCase *c = data;
  CfHookPayload *payload = (CfHookPayload *) &payload;   /* must stay untouched */
  g_autoptr(GError) error = NULL;
  gsize length = c->length < 0 ? strlen (c->text) : (gsize) c->length;

  g_assert_false (cf_hook_payload_parse (c->event, c->text, length, &payload, &error));
  g_assert_error (error, CF_HOOK_ERROR, (gint) c->code);
  g_assert_true (payload == (CfHookPayload *) &payload);
  if (strstr (error->message, c->message) == NULL)
    g_error ("%s: message \"%s\" lacks \"%s\"", c->name, error->message, c->message);
  g_assert_null (strchr (error->message, '\n'));
}

/* --- Limits ------------------------------------------------------------------- */

static char *
object_of_size (gsize size)
{
  /* {"message":"xxx…"} padded to exactly SIZE bytes. */
  GString *text = g_string_new ("{\"message\":\"");

  while (text->len < size - 2)
    g_string_append_c (text, 'x');
  g_string_append (text, "\"}");
  g_assert_cmpuint (text->len, ==, size);
  return g_string_free (text, FALSE);
}

static void
test_size_limit (void)
{
  g_autofree char *largest = object_of_size (CF_HOOK_PAYLOAD_MAX);
  g_autofree char *too_large = object_of_size (CF_HOOK_PAYLOAD_MAX + 1);
  g_autoptr(CfHookPayload) payload = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (cf_hook_payload_parse ("Notification", largest, strlen (largest), &payload, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (payload->message), ==, CF_HOOK_PAYLOAD_MAX - 14);

  g_assert_false (cf_hook_payload_parse ("Notification", too_large, (gsize) -1, &payload, &error));
  g_assert_error (error, CF_HOOK_ERROR, CF_HOOK_ERROR_TOO_LARGE);
}

static char *
nested (guint levels)
{
  GString *text = g_string_new ("{\"a\":");

  for (guint i = 1; i < levels; i++)
    g_string_append (text, i % 2 ? "[" : "{\"b\":");
  g_string_append (text, "1");
  for (guint i = levels - 1; i >= 1; i--)
    g_string_append (text, i % 2 ? "]" : "}");
  g_string_append (text, "}");
  return g_string_free (text, FALSE);
}

static void
test_depth_limit (void)
{
  g_autofree char *deepest = nested (CF_HOOK_MAX_DEPTH);
  g_autofree char *too_deep = nested (CF_HOOK_MAX_DEPTH + 1);
  g_autofree char *brackets_in_string = NULL;
  g_autoptr(CfHookPayload) payload = NULL;
  g_autoptr(CfHookPayload) payload2 = NULL;
  g_autoptr(GError) error = NULL;
  GString *text;

  g_assert_true (cf_hook_payload_parse ("Stop", deepest, (gsize) -1, &payload, &error));
  g_assert_no_error (error);

  g_assert_false (cf_hook_payload_parse ("Stop", too_deep, (gsize) -1, &payload2, &error));
  g_assert_error (error, CF_HOOK_ERROR, CF_HOOK_ERROR_TOO_DEEP);
  g_assert_null (payload2);
  g_clear_error (&error);

  /* The largest payload, all brackets: refused without recursing. */
  {
    g_autofree char *brackets = g_malloc (CF_HOOK_PAYLOAD_MAX + 1);

    memset (brackets, '[', CF_HOOK_PAYLOAD_MAX);
    brackets[CF_HOOK_PAYLOAD_MAX] = '\0';
    g_assert_false (cf_hook_payload_parse ("Stop", brackets, (gsize) -1, &payload2, &error));
    g_assert_error (error, CF_HOOK_ERROR, CF_HOOK_ERROR_TOO_DEEP);
    g_clear_error (&error);
  }

  /* A prompt full of brackets is text, not nesting. */
  text = g_string_new ("{\"prompt\":\"");
  for (guint i = 0; i < 1000; i++)
    g_string_append (text, "[{\\\"");
  g_string_append (text, "\"}");
  brackets_in_string = g_string_free (text, FALSE);
  g_assert_true (cf_hook_payload_parse ("UserPromptSubmit", brackets_in_string, (gsize) -1,
                                        &payload2, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (payload2->prompt), ==, 3000);
}

static void
test_prompt_truncation (void)
{
  /* 4095 ASCII bytes, then "é" (2 bytes) straddling the limit, then more. */
  GString *json = g_string_new ("{\"prompt\":\"");
  g_autofree char *text = NULL;
  g_autoptr(CfHookPayload) payload = NULL;
  g_autoptr(CfHookPayload) exact = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *exact_json = NULL;
  GString *exact_prompt = g_string_new (NULL);

  for (guint i = 0; i < CF_HOOK_PROMPT_MAX - 1; i++)
    g_string_append_c (json, 'a' + i % 26);
  g_string_append (json, "é and the rest of a long pasted prompt\"}");
  text = g_string_free (json, FALSE);

  g_assert_true (cf_hook_payload_parse ("UserPromptSubmit", text, (gsize) -1, &payload, &error));
  g_assert_no_error (error);
  g_assert_true (payload->prompt_truncated);
  g_assert_cmpuint (strlen (payload->prompt), ==, CF_HOOK_PROMPT_MAX - 1);
  g_assert_true (g_utf8_validate (payload->prompt, -1, NULL));

  /* Exactly CF_HOOK_PROMPT_MAX bytes ending in a 3-byte character: kept whole. */
  for (guint i = 0; i < CF_HOOK_PROMPT_MAX - 3; i++)
    g_string_append_c (exact_prompt, 'z');
  g_string_append (exact_prompt, "✓");
  g_assert_cmpuint (exact_prompt->len, ==, CF_HOOK_PROMPT_MAX);
  exact_json = g_strdup_printf ("{\"prompt\":\"%s\"}", exact_prompt->str);
  g_assert_true (cf_hook_payload_parse ("UserPromptSubmit", exact_json, (gsize) -1, &exact, &error));
  g_assert_false (exact->prompt_truncated);
  g_assert_cmpstr (exact->prompt, ==, exact_prompt->str);
  g_string_free (exact_prompt, TRUE);
}

static void
test_length_is_respected (void)
{
  /* Only the first 17 bytes count: a valid object followed by junk. */
  static const char text[] = "{\"cwd\":\"/tmp/a\"}{junk";
  g_autoptr(CfHookPayload) payload = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (cf_hook_payload_parse ("Stop", text, 16, &payload, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (payload->cwd, ==, "/tmp/a");
}

static void
test_event_names (void)
{
  for (CfHookEvent e = CF_HOOK_EVENT_OTHER; e <= CF_HOOK_EVENT_LAST; e++)
    {
      const char *name = cf_hook_event_to_string (e);

      g_assert_nonnull (name);
      g_assert_true (cf_hook_event_name_is_valid (name));
      g_assert_cmpint (cf_hook_event_from_string (name), ==, e);
    }
  g_assert_cmpstr (cf_hook_event_to_string (CF_HOOK_EVENT_STOP_FAILURE), ==, "StopFailure");
  g_assert_cmpstr (cf_hook_event_to_string (CF_HOOK_EVENT_USER_PROMPT_SUBMIT), ==, "UserPromptSubmit");
  g_assert_cmpstr (cf_hook_event_to_string ((CfHookEvent) 999), ==, "Other");
  g_assert_cmpint (cf_hook_event_from_string (NULL), ==, CF_HOOK_EVENT_OTHER);
  g_assert_cmpint (cf_hook_event_from_string (""), ==, CF_HOOK_EVENT_OTHER);
  g_assert_cmpint (cf_hook_event_from_string ("STOP"), ==, CF_HOOK_EVENT_OTHER);
  g_assert_cmpint (cf_hook_event_from_string ("PostToolUse"), ==, CF_HOOK_EVENT_OTHER);

  g_assert_true (cf_hook_event_name_is_valid ("PostToolUse"));
  g_assert_true (cf_hook_event_name_is_valid ("X1"));
  g_assert_false (cf_hook_event_name_is_valid (NULL));
  g_assert_false (cf_hook_event_name_is_valid (""));
  g_assert_false (cf_hook_event_name_is_valid ("Stop-Failure"));
  g_assert_false (cf_hook_event_name_is_valid ("Stöp"));
  {
    g_autofree char *longest = g_strnfill (CF_HOOK_EVENT_NAME_MAX, 'a');
    g_autofree char *too_long = g_strnfill (CF_HOOK_EVENT_NAME_MAX + 1, 'a');

    g_assert_true (cf_hook_event_name_is_valid (longest));
    g_assert_false (cf_hook_event_name_is_valid (too_long));
  }
}

/* Claude Code 2.1.332 sends "rate_limit" for every 429: the message on
 * screen (last_assistant_message) tells a usage limit from a throttle. */
static const struct {
  const char *message;         /* NULL: no last_assistant_message member */
  const char *error;
  gboolean limit;
  gboolean throttle;
} limit_messages[] = {
  { "You've hit your 5-hour limit · resets 1:47pm (UTC)", "rate_limit", TRUE, FALSE },
  { "You've hit your weekly limit · resets Dec 9, 5:32pm (Europe/Berlin)", "rate_limit", TRUE, FALSE },
  { "You've hit your Opus limit · resets 3pm (Europe/Berlin)", "rate_limit", TRUE, FALSE },
  { "You've hit your usage credit limit · out of usage credits", "rate_limit", TRUE, FALSE },
  { "Claude usage limit reached. Your limit will reset at 9am (America/Chicago).", "rate_limit", TRUE, FALSE },
  { "API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited",
    "rate_limit", FALSE, TRUE },
  { "API Error: Request rejected (429) · rate limited", "rate_limit", FALSE, TRUE },
  { "Sure, the 5-hour limit is documented here.", "rate_limit", FALSE, TRUE },
  { NULL, "rate_limit", TRUE, FALSE },   /* older releases: no message, the error decides */
  { "API Error: 500 Internal server error. This is a server-side issue", "server_error", FALSE, FALSE },
  { "You've hit your 5-hour limit · resets 1:47pm (UTC)", "overloaded", FALSE, FALSE },
};

static void
test_limit_or_throttle (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (limit_messages); i++)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonGenerator) generator = json_generator_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *json = NULL;
      g_autoptr(CfHookPayload) payload = NULL;
      g_autoptr(GError) error = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "hook_event_name");
      json_builder_add_string_value (builder, "StopFailure");
      json_builder_set_member_name (builder, "error");
      json_builder_add_string_value (builder, limit_messages[i].error);
      if (limit_messages[i].message != NULL)
        {
          json_builder_set_member_name (builder, "last_assistant_message");
          json_builder_add_string_value (builder, limit_messages[i].message);
        }
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      json_generator_set_root (generator, root);
      json = json_generator_to_data (generator, NULL);

      g_test_message ("row %u: %s", i, json);
      g_assert_true (cf_hook_payload_parse ("StopFailure", json, (gsize) -1, &payload, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (payload->last_assistant_message, ==, limit_messages[i].message);
      g_assert_cmpint (cf_hook_payload_is_rate_limit (payload), ==, limit_messages[i].limit);
      g_assert_cmpint (cf_hook_payload_is_throttle (payload), ==, limit_messages[i].throttle);
    }
}

/* --- The reset time a usage-limit StopFailure names ---------------------------------- */

/* 2026-12-06 13:37:20 UTC (14:37:20 in Berlin). */
#define RESET_NOW G_GINT64_CONSTANT (1796564240)

typedef struct {
  const char *name;
  const char *error;
  const char *message;         /* NULL: no last_assistant_message */
  const char *zone;            /* the daemon's local zone, NULL = UTC */
  const char *reset;           /* ISO 8601 UTC, NULL = none */
} ResetCase;

static const ResetCase reset_cases[] = {
  { "five-hour-utc", "rate_limit", "You've hit your 5-hour limit · resets 1:47pm (UTC)", NULL,
    "2026-12-06T13:47:00Z" },
  { "zone-named-wins", "rate_limit", "You've hit your limit · resets 3pm (Europe/Berlin)", NULL,
    "2026-12-06T14:00:00Z" },
  { "weekly-with-date", "rate_limit",
    "You've hit your weekly limit · resets Dec 9, 5:32pm (Europe/Berlin)", NULL,
    "2026-12-09T16:32:00Z" },
  { "no-zone-local", "rate_limit", "You've hit your 5-hour limit · resets 4:15pm",
    "Europe/Berlin", "2026-12-06T15:15:00Z" },
  { "same-minute", "rate_limit", "You've hit your 5-hour limit · resets 1:37pm (UTC)", NULL,
    "2026-12-06T13:37:00Z" },
  { "api-error-name", "rate_limit_error", "You've hit your 5-hour limit · resets 1:47pm (UTC)",
    NULL, "2026-12-06T13:47:00Z" },
  { "no-reset", "rate_limit", "You've hit your limit", NULL, NULL },
  { "throttle", "rate_limit",
    "API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited",
    NULL, NULL },
  { "not-a-429", "overloaded", "You've hit your 5-hour limit · resets 1:47pm (UTC)", NULL, NULL },
  { "no-message", "rate_limit", NULL, NULL, NULL },
};

static void
test_reset_at (gconstpointer data)
{
  const ResetCase *c = data;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;
  g_autoptr(CfHookPayload) payload = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTimeZone) zone = c->zone ? g_time_zone_new_identifier (c->zone) : NULL;
  g_autoptr(GDateTime) reset = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "hook_event_name");
  json_builder_add_string_value (builder, "StopFailure");
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, c->error);
  if (c->message != NULL)
    {
      json_builder_set_member_name (builder, "last_assistant_message");
      json_builder_add_string_value (builder, c->message);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json = json_generator_to_data (generator, NULL);
  g_assert_true (cf_hook_payload_parse ("StopFailure", json, (gsize) -1, &payload, &error));
  g_assert_no_error (error);

  reset = cf_hook_payload_reset_at (payload, RESET_NOW, zone);
  if (c->reset == NULL)
    g_assert_null (reset);
  else
    {
      g_autoptr(GDateTime) utc = NULL;
      g_autofree char *text = NULL;

      g_assert_nonnull (reset);
      utc = g_date_time_to_utc (reset);
      text = g_date_time_format (utc, "%Y-%m-%dT%H:%M:%SZ");
      g_assert_cmpstr (text, ==, c->reset);
    }
}

static void
test_reset_at_not_stop_failure (void)
{
  g_autoptr(CfHookPayload) payload = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_null (cf_hook_payload_reset_at (NULL, RESET_NOW, NULL));
  g_assert_true (cf_hook_payload_parse ("Stop", "{\"error\": \"rate_limit\", "
                                        "\"last_assistant_message\": \"You've hit your 5-hour "
                                        "limit · resets 1:47pm (UTC)\"}", (gsize) -1, &payload,
                                        &error));
  g_assert_no_error (error);
  g_assert_null (cf_hook_payload_reset_at (payload, RESET_NOW, NULL));
}

static const struct {
  const char *event;
  const char *json;
  const char *problem;         /* cf_hook_payload_account_problem, NULL = none */
  gboolean needs_person;
} account_rows[] = {
  { "StopFailure", "{\"error\": \"authentication_failed\"}", "authentication_failed", FALSE },
  { "StopFailure", "{\"error\": \"oauth_org_not_allowed\"}", "oauth_org_not_allowed", FALSE },
  { "StopFailure", "{\"error\": \"account_on_hold\"}", "account_on_hold", FALSE },
  { "StopFailure", "{\"error\": \"verification_required\"}", "verification_required", FALSE },
  { "StopFailure", "{\"error\": \"billing_error\"}", "billing_error", FALSE },
  { "StopFailure", "{\"error\": \"rate_limit\"}", NULL, FALSE },
  { "StopFailure", "{\"error\": \"server_error\"}", NULL, FALSE },
  { "StopFailure", "{\"error\": \"authentication_failed_x\"}", NULL, FALSE },
  { "StopFailure", "{}", NULL, FALSE },
  /* the error of another event is not the account's */
  { "Stop", "{\"error\": \"authentication_failed\"}", NULL, FALSE },
  { "Notification", "{\"notification_type\": \"permission_prompt\", \"message\": \"Claude needs "
    "your permission to use Bash\"}", NULL, TRUE },
  { "Notification", "{\"notification_type\": \"agent_needs_input\"}", NULL, TRUE },
  { "Notification", "{\"notification_type\": \"elicitation_dialog\"}", NULL, TRUE },
  { "Notification", "{\"notification_type\": \"idle_prompt\"}", NULL, FALSE },
  { "Notification", "{\"notification_type\": \"auth_success\"}", NULL, FALSE },
  { "Notification", "{\"message\": \"Claude needs your permission\"}", NULL, FALSE },
  { "UserPromptSubmit", "{\"notification_type\": \"permission_prompt\"}", NULL, FALSE },
};

static void
test_account_problem_and_person (void)
{
  g_assert_null (cf_hook_payload_account_problem (NULL));
  g_assert_false (cf_hook_payload_needs_person (NULL));
  for (guint i = 0; i < G_N_ELEMENTS (account_rows); i++)
    {
      g_autoptr(CfHookPayload) payload = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("row %u: %s %s", i, account_rows[i].event, account_rows[i].json);
      g_assert_true (cf_hook_payload_parse (account_rows[i].event, account_rows[i].json,
                                            (gsize) -1, &payload, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (cf_hook_payload_account_problem (payload), ==, account_rows[i].problem);
      g_assert_cmpint (cf_hook_payload_needs_person (payload), ==, account_rows[i].needs_person);
    }
}

static void
test_rate_limit_null (void)
{
  g_assert_false (cf_hook_payload_is_rate_limit (NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/hook/parse/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_case);
    }
  for (guint i = 0; i < G_N_ELEMENTS (error_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/hook/error/%s", error_cases[i].name);
      g_test_add_data_func (path, &error_cases[i], test_error);
    }
  g_test_add_func ("/hook/limits/size", test_size_limit);
  g_test_add_func ("/hook/limits/depth", test_depth_limit);
  g_test_add_func ("/hook/limits/prompt", test_prompt_truncation);
  g_test_add_func ("/hook/parse/length-is-respected", test_length_is_respected);
  g_test_add_func ("/hook/event-names", test_event_names);
  g_test_add_func ("/hook/rate-limit-null", test_rate_limit_null);
  g_test_add_func ("/hook/limit-or-throttle", test_limit_or_throttle);
  for (guint i = 0; i < G_N_ELEMENTS (reset_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/hook/reset-at/%s", reset_cases[i].name);
      g_test_add_data_func (path, &reset_cases[i], test_reset_at);
    }
  g_test_add_func ("/hook/reset-at/not-stop-failure", test_reset_at_not_stop_failure);
  g_test_add_func ("/hook/account-problem-and-person", test_account_problem_and_person);
  return g_test_run ();
}
