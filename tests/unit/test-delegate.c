/* SPDX-License-Identifier: MIT */
/* The pure half of delegation: routing (the full matrix, field by field and
 * through task files), the job API's replies, requests, markers, footers. */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "cf-delegate-json.h"
#include "cf-delegate-route.h"
#include "cf-task.h"

/* --- Routing, field by field ---------------------------------------------------- */

#define N CF_DELEGATE_REASON_NEEDS_CLAUDE_CODE
#define P CF_DELEGATE_REASON_PREFERS_CLAUDE_CODE
#define X CF_DELEGATE_REASON_NOT_ALLOWED
#define R CF_DELEGATE_REASON_PROVIDER
#define A CF_DELEGATE_REASON_NO_PROVIDER
#define U CF_DELEGATE_REASON_UNKNOWN_PROVIDER

typedef struct {
  gboolean needs;
  CfPreferredAi ai;
  gboolean allow;
  CfDelegateReason reason;
  const char *provider;
} RouteRow;

/* Every combination, written out: the precedence of ARCHITECTURE.md 4.8. */
static const RouteRow route_rows[] = {
  /* needs_claude_code wins over everything */
  { TRUE, CF_PREFERRED_AI_AUTO, FALSE, N, NULL },
  { TRUE, CF_PREFERRED_AI_AUTO, TRUE, N, NULL },
  { TRUE, CF_PREFERRED_AI_CLAUDE_CODE, FALSE, N, NULL },
  { TRUE, CF_PREFERRED_AI_CLAUDE_CODE, TRUE, N, NULL },
  { TRUE, CF_PREFERRED_AI_GPU, FALSE, N, NULL },
  { TRUE, CF_PREFERRED_AI_GPU, TRUE, N, NULL },
  { TRUE, CF_PREFERRED_AI_GEMINI, FALSE, N, NULL },
  { TRUE, CF_PREFERRED_AI_GEMINI, TRUE, N, NULL },
  { TRUE, CF_PREFERRED_AI_CLAUDE_API, FALSE, N, NULL },
  { TRUE, CF_PREFERRED_AI_CLAUDE_API, TRUE, N, NULL },
  { TRUE, CF_PREFERRED_AI_OTHER, FALSE, N, NULL },
  { TRUE, CF_PREFERRED_AI_OTHER, TRUE, N, NULL },
  /* then preferred_ai: claude-code, even when delegation is allowed */
  { FALSE, CF_PREFERRED_AI_CLAUDE_CODE, FALSE, P, NULL },
  { FALSE, CF_PREFERRED_AI_CLAUDE_CODE, TRUE, P, NULL },
  /* then allow_delegation: false */
  { FALSE, CF_PREFERRED_AI_AUTO, FALSE, X, NULL },
  { FALSE, CF_PREFERRED_AI_GPU, FALSE, X, NULL },
  { FALSE, CF_PREFERRED_AI_GEMINI, FALSE, X, NULL },
  { FALSE, CF_PREFERRED_AI_CLAUDE_API, FALSE, X, NULL },
  { FALSE, CF_PREFERRED_AI_OTHER, FALSE, X, NULL },
  /* then the provider named */
  { FALSE, CF_PREFERRED_AI_GPU, TRUE, R, "gpu" },
  { FALSE, CF_PREFERRED_AI_GEMINI, TRUE, R, "gemini" },
  { FALSE, CF_PREFERRED_AI_CLAUDE_API, TRUE, R, "claude-api" },
  /* and nothing else leaves the machine */
  { FALSE, CF_PREFERRED_AI_AUTO, TRUE, A, NULL },
  { FALSE, CF_PREFERRED_AI_OTHER, TRUE, U, NULL },
};

static void
test_route_matrix (void)
{
  guint seen[2][CF_PREFERRED_AI_OTHER + 1][2] = { { { 0 } } };

  for (guint i = 0; i < G_N_ELEMENTS (route_rows); i++)
    {
      const RouteRow *row = &route_rows[i];
      CfDelegateFields fields = { row->needs, row->ai, row->allow };
      CfDelegateRoute route = cf_delegate_route (&fields);

      g_test_message ("row %u: needs=%d ai=%d allow=%d", i, row->needs, row->ai, row->allow);
      g_assert_cmpint (route.reason, ==, row->reason);
      g_assert_cmpstr (route.provider, ==, row->provider);
      g_assert_true ((route.provider != NULL) == (route.reason == CF_DELEGATE_REASON_PROVIDER));
      seen[row->needs][row->ai][row->allow]++;
    }
  /* The table is the whole matrix, each combination once. */
  for (guint n = 0; n < 2; n++)
    for (guint ai = 0; ai <= CF_PREFERRED_AI_OTHER; ai++)
      for (guint a = 0; a < 2; a++)
        g_assert_cmpuint (seen[n][ai][a], ==, 1);
}

static void
test_route_out_of_range (void)
{
  /* A value outside the enumeration (memory from a newer peer) stays local. */
  CfDelegateFields fields = { FALSE, (CfPreferredAi) 99, TRUE };
  CfDelegateRoute route = cf_delegate_route (&fields);

  g_assert_null (route.provider);
  g_assert_cmpint (route.reason, ==, CF_DELEGATE_REASON_UNKNOWN_PROVIDER);
  g_assert_cmpstr (cf_delegate_reason_to_string ((CfDelegateReason) 42), ==, "unknown-provider");
}

static void
test_route_reason_names (void)
{
  static const char *const names[] = {
    "needs-claude-code", "prefers-claude-code", "not-allowed", "provider", "no-provider",
    "unknown-provider",
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_assert_cmpstr (cf_delegate_reason_to_string ((CfDelegateReason) i), ==, names[i]);
      g_assert_nonnull (cf_delegate_reason_describe ((CfDelegateReason) i));
      g_assert_null (strchr (cf_delegate_reason_describe ((CfDelegateReason) i), '\n'));
    }
}

/* --- Routing, through the task files of tests/fixtures/delegate-route ------------ */

static void
test_route_fixtures (void)
{
  g_autofree char *dir = g_build_filename (CF_FIXTURES_DIR, "delegate-route", NULL);
  g_autofree char *expected_path = g_build_filename (dir, "expected.txt", NULL);
  g_autofree char *expected = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) error = NULL;
  guint rows = 0, remote = 0;

  g_assert_true (g_file_get_contents (expected_path, &expected, NULL, &error));
  g_assert_no_error (error);
  lines = g_strsplit (expected, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = NULL;
      g_autofree char *path = NULL;
      g_autofree char *data = NULL;
      g_autofree char *id = NULL;
      g_autoptr(CfTask) task = NULL;
      gsize length = 0;
      CfDelegateRoute route;

      if (lines[i][0] == '\0' || lines[i][0] == '#')
        continue;
      fields = g_strsplit (lines[i], " ", -1);
      g_assert_cmpuint (g_strv_length (fields), ==, 3);
      path = g_build_filename (dir, fields[0], NULL);
      g_assert_true (g_file_get_contents (path, &data, &length, &error));
      g_assert_no_error (error);
      id = g_strndup (fields[0], strlen (fields[0]) - 3);
      task = cf_task_parse (id, data, length, &error);
      g_assert_no_error (error);
      route = cf_delegate_route_task (task);
      g_test_message ("%s", fields[0]);
      g_assert_cmpstr (route.provider != NULL ? route.provider : "local", ==, fields[1]);
      g_assert_cmpstr (cf_delegate_reason_to_string (route.reason), ==, fields[2]);
      rows++;
      remote += route.provider != NULL;
    }
  /* 3 × 7 × 3 combinations of absent/false/true and every preferred_ai
   * value, plus spellings: the file is not truncated. */
  g_assert_cmpuint (rows, >=, 63);
  g_assert_cmpuint (remote, ==, 8);
}

static void
test_prompt (void)
{
  static const struct {
    const char *file;
    const char *prompt;
  } cases[] = {
    { "---\ntitle: Fix login\n---\nThe redirect loops.\n", "Fix login\n\nThe redirect loops." },
    { "---\ntitle: Only a title\n---\n", "Only a title" },
    { "# Heading\n\nBody text.\n", "# Heading\n\nBody text." },
    { "---\npriority: high\n---\nJust the body.\n", "Just the body." },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CfTask) task = cf_task_parse ("p", cases[i].file, strlen (cases[i].file), &error);
      g_autofree char *prompt = NULL;

      g_assert_no_error (error);
      prompt = cf_delegate_prompt_for_task (task);
      g_assert_cmpstr (prompt, ==, cases[i].prompt);
    }
}

/* --- Replies --------------------------------------------------------------------- */

static void
test_job_parse_ok (void)
{
  static const struct {
    const char *json;
    const char *id;
    CfJobStatus status;
    const char *result, *provider, *cost, *error;
  } cases[] = {
    { "{\"id\":\"j-1\",\"status\":\"queued\"}", "j-1", CF_JOB_STATUS_QUEUED, NULL, NULL, NULL, NULL },
    { "{\"id\":17,\"status\":\"running\",\"provider\":null}", "17", CF_JOB_STATUS_RUNNING,
      NULL, NULL, NULL, NULL },
    { "{\"id\":\"a:b@c+d=e~f.g_h-i\",\"status\":\"completed\",\"result\":\"done\\nwell\","
      "\"provider\":\"gemini\",\"cost\":0.0123,\"error\":null,\"extra\":{\"x\":[1,2]}}",
      "a:b@c+d=e~f.g_h-i", CF_JOB_STATUS_COMPLETED, "done\nwell", "gemini", "0.0123", NULL },
    { "{\"id\":\"x\",\"status\":\"completed\",\"cost\":3}", "x", CF_JOB_STATUS_COMPLETED,
      NULL, NULL, "3", NULL },
    { "{\"id\":\"x\",\"status\":\"completed\",\"cost\":\"$0.01\"}", "x", CF_JOB_STATUS_COMPLETED,
      NULL, NULL, "$0.01", NULL },
    { " \n{\"status\":\"failed\",\"error\":\"GPU out of memory\",\"id\":\"9\"}\n", "9",
      CF_JOB_STATUS_FAILED, NULL, NULL, NULL, "GPU out of memory" },
    { "{\"id\":\"x\",\"status\":\"completed\",\"result\":\"caf\\u00e9 \xe2\x9c\x93\"}", "x",
      CF_JOB_STATUS_COMPLETED, "café ✓", NULL, NULL, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CfDelegateJob) job = cf_delegate_job_parse (cases[i].json, strlen (cases[i].json),
                                                            &error);

      g_test_message ("case %u: %s", i, cases[i].json);
      g_assert_no_error (error);
      g_assert_nonnull (job);
      g_assert_cmpstr (job->id, ==, cases[i].id);
      g_assert_cmpint (job->status, ==, cases[i].status);
      g_assert_cmpstr (job->result, ==, cases[i].result);
      g_assert_cmpstr (job->provider, ==, cases[i].provider);
      g_assert_cmpstr (job->cost, ==, cases[i].cost);
      g_assert_cmpstr (job->error, ==, cases[i].error);
    }
}

static void
test_job_parse_errors (void)
{
  static const struct {
    const char *json;
    gssize length;
    const char *message;
  } cases[] = {
    { "", -1, "the reply is empty" },
    { "   ", -1, "the reply is empty" },
    { "<html>502 Bad Gateway</html>", -1, "the reply is not JSON: " },
    { "{\"id\":\"1\",\"status\":\"queued\"} trailing", -1, "the reply is not JSON: " },
    { "{\"id\":\"1\",\"status\":\"queued\",}", -1, "the reply is not JSON: " },
    { "{'id':'1','status':'queued'}", -1, "the reply is not JSON: " },
    { "{\"id\":\"1\",/*c*/\"status\":\"queued\"}", -1, "the reply is not JSON: " },
    { "[{\"id\":\"1\",\"status\":\"queued\"}]", -1, "the reply is not a JSON object" },
    { "\"queued\"", -1, "the reply is not a JSON object" },
    { "null", -1, "the reply is not a JSON object" },
    { "{\"status\":\"queued\"}", -1, "the reply: member \"id\" is missing" },
    { "{\"id\":null,\"status\":\"queued\"}", -1,
      "the reply: member \"id\" must be a string or a non-negative integer" },
    { "{\"id\":-3,\"status\":\"queued\"}", -1,
      "the reply: member \"id\" must be a string or a non-negative integer" },
    { "{\"id\":1.5,\"status\":\"queued\"}", -1,
      "the reply: member \"id\" must be a string or a non-negative integer" },
    { "{\"id\":\"\",\"status\":\"queued\"}", -1, "the reply: job id '' is not" },
    { "{\"id\":\"../../etc\",\"status\":\"queued\"}", -1, "the reply: job id '../../etc' is not" },
    { "{\"id\":\"a b\",\"status\":\"queued\"}", -1, "the reply: job id 'a b' is not" },
    { "{\"id\":\"a\\nb\",\"status\":\"queued\"}", -1, "the reply: job id 'a b' is not" },
    { "{\"id\":\"1\"}", -1, "the reply: member \"status\" is missing" },
    { "{\"id\":\"1\",\"status\":3}", -1, "the reply: member \"status\" must be a string" },
    { "{\"id\":\"1\",\"status\":\"done\"}", -1,
      "the reply: status 'done' is not queued, running, completed or failed" },
    { "{\"id\":\"1\",\"status\":\"Completed\"}", -1, "the reply: status 'Completed' is not" },
    { "{\"id\":\"1\",\"status\":\"completed\",\"result\":42}", -1,
      "the reply: member \"result\" must be a string or null" },
    { "{\"id\":\"1\",\"status\":\"failed\",\"error\":{\"message\":\"x\"}}", -1,
      "the reply: member \"error\" must be a string or null" },
    { "{\"id\":\"1\",\"status\":\"completed\",\"provider\":\"a/b\"}", -1,
      "the reply: provider 'a/b' is not" },
    { "{\"id\":\"1\",\"status\":\"completed\",\"cost\":[1]}", -1,
      "the reply: member \"cost\" must be a number, a string or null" },
    { "{\"id\":\"1\",\"status\":\"completed\",\"cost\":true}", -1,
      "the reply: member \"cost\" must be a number, a string or null" },
    { "{\"id\":\"1\",\"status\":\"completed\",\"result\":\"a\\u0000b\"}", -1,
      "the reply is not JSON: " },
    { "{\"id\":\"1\",\"status\":\"completed\",\"result\":\"\\ud800\"}", -1,
      "the reply is not JSON: " },
    { "{\"id\":99999999999999999999,\"status\":\"queued\"}", -1, "the reply is not JSON: " },
    { "{\"id\":\"1\",\"status\":\"queued\"}\0", 30, "the reply contains a NUL byte" },
    { "{\"id\":\"caf\xe9\",\"status\":\"queued\"}", -1,
      "the reply is not UTF-8 (at byte offset 10)" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      gsize length = cases[i].length < 0 ? strlen (cases[i].json) : (gsize) cases[i].length;
      g_autoptr(CfDelegateJob) job = cf_delegate_job_parse (cases[i].json, length, &error);

      g_test_message ("case %u: %s", i, cases[i].json);
      g_assert_null (job);
      g_assert_error (error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_BAD_REPLY);
      g_assert_true (g_str_has_prefix (error->message, cases[i].message));
      g_assert_null (strchr (error->message, '\n'));
    }
}

static void
test_job_parse_limits (void)
{
  g_autoptr(GString) deep = g_string_new ("{\"id\":\"1\",\"status\":\"queued\",\"x\":");
  g_autoptr(GString) large = g_string_new ("{\"id\":\"1\",\"status\":\"completed\",\"result\":\"");
  g_autoptr(GError) error = NULL;
  g_autoptr(CfDelegateJob) job = NULL;
  g_autofree char *long_id = g_strnfill (CF_DELEGATE_JOB_ID_MAX, 'a');
  g_autofree char *too_long_id = g_strnfill (CF_DELEGATE_JOB_ID_MAX + 1, 'a');
  g_autofree char *reply = NULL;

  /* Nesting far beyond json-glib's comfort: refused, without recursion. */
  for (guint i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  job = cf_delegate_job_parse (deep->str, deep->len, &error);
  g_assert_null (job);
  g_assert_error (error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_BAD_REPLY);
  g_clear_error (&error);

  while (large->len <= CF_DELEGATE_REPLY_MAX)
    g_string_append (large, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  g_string_append (large, "\"}");
  job = cf_delegate_job_parse (large->str, large->len, &error);
  g_assert_null (job);
  g_assert_error (error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_BAD_REPLY);
  g_assert_true (g_str_has_prefix (error->message, "the reply is larger than 4194304 bytes"));
  g_clear_error (&error);

  reply = g_strdup_printf ("{\"id\":\"%s\",\"status\":\"queued\"}", long_id);
  job = cf_delegate_job_parse (reply, strlen (reply), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (job->id, ==, long_id);
  g_clear_pointer (&job, cf_delegate_job_free);
  g_free (reply);
  reply = g_strdup_printf ("{\"id\":\"%s\",\"status\":\"queued\"}", too_long_id);
  job = cf_delegate_job_parse (reply, strlen (reply), &error);
  g_assert_error (error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_BAD_REPLY);

  g_assert_null (cf_delegate_job_parse (NULL, 0, NULL));
}

/* --- Requests, markers, footers ------------------------------------------------- */

static void
test_request_json (void)
{
  CfDelegateRequest request = {
    .provider = "gemini", .priority = "high", .prompt = "Say \"hi\"\n\tand leave",
    .project = "web", .task = "t-1",
  };
  g_autofree char *json = cf_delegate_request_to_json (&request);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *object;

  g_assert_true (json_parser_load_from_data (parser, json, -1, NULL));
  object = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpuint (json_object_get_size (object), ==, 5);
  g_assert_cmpstr (json_object_get_string_member (object, "provider"), ==, "gemini");
  g_assert_cmpstr (json_object_get_string_member (object, "priority"), ==, "high");
  g_assert_cmpstr (json_object_get_string_member (object, "prompt"), ==, "Say \"hi\"\n\tand leave");
  g_assert_cmpstr (json_object_get_string_member (object, "project"), ==, "web");
  g_assert_cmpstr (json_object_get_string_member (object, "task"), ==, "t-1");
}

static void
test_marker_round_trip (void)
{
  CfDelegateMarker marker = { .job_id = "job-42", .provider = "claude-api",
                              .submitted_at_usec = G_GINT64_CONSTANT (1752580800) * G_USEC_PER_SEC };
  g_autofree char *json = cf_delegate_marker_to_json (&marker);
  g_autoptr(GError) error = NULL;
  g_autoptr(CfDelegateMarker) back = cf_delegate_marker_parse (json, strlen (json), &error);

  g_assert_no_error (error);
  g_assert_nonnull (strstr (json, "\"submitted_at\": \"2025-07-15T12:00:00Z\""));
  g_assert_cmpstr (back->job_id, ==, "job-42");
  g_assert_cmpstr (back->provider, ==, "claude-api");
  g_assert_cmpint (back->submitted_at_usec, ==, marker.submitted_at_usec);
}

static void
test_marker_errors (void)
{
  static const struct {
    const char *json;
    const char *message;
  } cases[] = {
    { "", "the marker is empty" },
    { "job 17", "the marker is not JSON" },
    { "{\"job_id\":\"1\",\"provider\":\"gpu\",\"submitted_at\":\"2025-07-15T12:00:00Z\"}",
      "the marker is not a delegation marker of version 1" },
    { "{\"version\":2,\"job_id\":\"1\",\"provider\":\"gpu\",\"submitted_at\":\"2025-07-15T12:00:00Z\"}",
      "the marker is not a delegation marker of version 1" },
    { "{\"version\":1,\"provider\":\"gpu\",\"submitted_at\":\"2025-07-15T12:00:00Z\"}",
      "the marker: member \"job_id\" is missing" },
    { "{\"version\":1,\"job_id\":\"a/b\",\"provider\":\"gpu\",\"submitted_at\":\"2025-07-15T12:00:00Z\"}",
      "the marker: \"job_id\" is not a job id" },
    { "{\"version\":1,\"job_id\":\"1\",\"provider\":\"\",\"submitted_at\":\"2025-07-15T12:00:00Z\"}",
      "the marker: \"provider\" is not a provider name" },
    { "{\"version\":1,\"job_id\":\"1\",\"provider\":\"gpu\",\"submitted_at\":\"yesterday\"}",
      "the marker: \"submitted_at\" is not an ISO 8601 time" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CfDelegateMarker) marker = cf_delegate_marker_parse (cases[i].json,
                                                                     strlen (cases[i].json), &error);

      g_test_message ("case %u: %s", i, cases[i].json);
      g_assert_null (marker);
      g_assert_error (error, CF_DELEGATE_ERROR, CF_DELEGATE_ERROR_BAD_MARKER);
      g_assert_true (g_str_has_prefix (error->message, cases[i].message));
    }
}

static void
test_footer (void)
{
  CfDelegateJob job = { .id = "17", .status = CF_JOB_STATUS_COMPLETED, .result = "All green.\n\n",
                        .provider = "gemini", .cost = "0.01" };
  gint64 when = G_GINT64_CONSTANT (1752580800) * G_USEC_PER_SEC;
  g_autofree char *footer = cf_delegate_footer (&job, "gpu", when);
  g_autofree char *bare = NULL;

  g_assert_cmpstr (footer, ==,
                   "---\nDelegated to gemini: job 17, cost 0.01, completed 2025-07-15T12:00:00Z.\n"
                   "\nResult:\n\nAll green.\n");

  /* No provider, cost or result in the reply: the submitted provider, "unknown". */
  job.provider = NULL;
  job.cost = NULL;
  job.result = NULL;
  bare = cf_delegate_footer (&job, "gpu", when);
  g_assert_cmpstr (bare, ==,
                   "---\nDelegated to gpu: job 17, cost unknown, completed 2025-07-15T12:00:00Z.\n");
}

static void
test_one_line (void)
{
  g_autofree char *a = cf_delegate_one_line ("line 1\nline\t2\r\n", 100);
  g_autofree char *b = cf_delegate_one_line ("ééééé", 3);
  g_autofree char *c = cf_delegate_one_line ("bad \xff byte", 100);

  g_assert_cmpstr (a, ==, "line 1 line 2  ");
  g_assert_cmpstr (b, ==, "ééé…");
  g_assert_true (g_utf8_validate (c, -1, NULL));
}

static void
test_status_names (void)
{
  CfJobStatus status;

  for (guint i = 0; i <= CF_JOB_STATUS_FAILED; i++)
    {
      g_assert_true (cf_job_status_from_string (cf_job_status_to_string (i), &status));
      g_assert_cmpint (status, ==, i);
    }
  g_assert_false (cf_job_status_from_string ("cancelled", &status));
  g_assert_false (cf_job_status_from_string (NULL, &status));
  g_assert_true (cf_job_status_is_final (CF_JOB_STATUS_COMPLETED));
  g_assert_true (cf_job_status_is_final (CF_JOB_STATUS_FAILED));
  g_assert_false (cf_job_status_is_final (CF_JOB_STATUS_RUNNING));
  g_assert_false (cf_job_status_is_final (CF_JOB_STATUS_QUEUED));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/delegate/route/matrix", test_route_matrix);
  g_test_add_func ("/delegate/route/out-of-range", test_route_out_of_range);
  g_test_add_func ("/delegate/route/reason-names", test_route_reason_names);
  g_test_add_func ("/delegate/route/fixtures", test_route_fixtures);
  g_test_add_func ("/delegate/prompt", test_prompt);
  g_test_add_func ("/delegate/job/parse", test_job_parse_ok);
  g_test_add_func ("/delegate/job/parse-errors", test_job_parse_errors);
  g_test_add_func ("/delegate/job/parse-limits", test_job_parse_limits);
  g_test_add_func ("/delegate/job/status-names", test_status_names);
  g_test_add_func ("/delegate/request", test_request_json);
  g_test_add_func ("/delegate/marker/round-trip", test_marker_round_trip);
  g_test_add_func ("/delegate/marker/errors", test_marker_errors);
  g_test_add_func ("/delegate/footer", test_footer);
  g_test_add_func ("/delegate/one-line", test_one_line);
  return g_test_run ();
}
