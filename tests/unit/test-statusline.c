/* SPDX-License-Identifier: MIT */
#include <glib.h>
#include <string.h>

#include "cf-statusline.h"

#define UUID "00893aaf-19fa-41d2-8238-13269b9b3ca0"
#define SEC G_GINT64_CONSTANT (1000000)
#define RESET_5H G_GINT64_CONSTANT (1796562257)
#define RESET_7D G_GINT64_CONSTANT (1797000000)

/* --- Parsing ------------------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *json;
  const char *session_id;
  const char *model;
  const char *config_dir;
  gboolean has_rate_limits;
  double used[CF_USAGE_N_WINDOWS];
  gint64 resets_at[CF_USAGE_N_WINDOWS];   /* seconds */
} ParseCase;

static const ParseCase parse_cases[] = {
  { "claude-code-2.1",
    "{\"hook_event_name\":\"Status\",\"session_id\":\"" UUID "\",\"transcript_path\":\"/t.jsonl\","
    "\"cwd\":\"/p\",\"model\":{\"id\":\"claude-sonnet-4-5\",\"display_name\":\"Sonnet 4.5\"},"
    "\"workspace\":{\"current_dir\":\"/p\"},\"version\":\"2.1.332\",\"cost\":{\"total_cost_usd\":0.01},"
    "\"rate_limits\":{\"five_hour\":{\"used_percentage\":92,\"resets_at\":1796562257},"
    "\"seven_day\":{\"used_percentage\":17.5,\"resets_at\":1797000000}}}",
    UUID, "Sonnet 4.5", NULL, TRUE, { 92, 17.5 }, { RESET_5H, RESET_7D } },
  { "before-first-response", "{\"session_id\":\"" UUID "\",\"model\":{\"id\":\"claude-opus-4\"}}",
    UUID, "claude-opus-4", NULL, FALSE, { -1, -1 }, { 0, 0 } },
  { "five-hour-only",
    "{\"rate_limits\":{\"five_hour\":{\"used_percentage\":3,\"resets_at\":1796562257}}}",
    NULL, NULL, NULL, TRUE, { 3, -1 }, { RESET_5H, 0 } },
  { "report-with-config-dir",
    "{\"session_id\":\"" UUID "\",\"model\":\"Opus\",\"config_dir\":\"/home/c/.claude-main\","
    "\"rate_limits\":{\"seven_day\":{\"used_percentage\":96.0}}}",
    UUID, "Opus", "/home/c/.claude-main", TRUE, { -1, 96 }, { 0, 0 } },
  { "over-100-clamped",
    "{\"rate_limits\":{\"five_hour\":{\"used_percentage\":140,\"resets_at\":1796562257.9}}}",
    NULL, NULL, NULL, TRUE, { 100, -1 }, { RESET_5H, 0 } },
  { "wrong-types-dropped",
    "{\"session_id\":\"not-a-uuid\",\"model\":7,\"config_dir\":\"relative/dir\","
    "\"rate_limits\":{\"five_hour\":{\"used_percentage\":\"92\",\"resets_at\":\"soon\"},"
    "\"seven_day\":[1,2]}}",
    NULL, NULL, NULL, FALSE, { -1, -1 }, { 0, 0 } },
  { "negative-and-absurd-dropped",
    "{\"rate_limits\":{\"five_hour\":{\"used_percentage\":-1,\"resets_at\":-5},"
    "\"seven_day\":{\"used_percentage\":50,\"resets_at\":1e300}}}",
    NULL, NULL, NULL, TRUE, { -1, 50 }, { 0, 0 } },
  { "rate-limits-not-object", "{\"rate_limits\":null,\"model\":{\"display_name\":\"a\\u0001b\"}}",
    NULL, NULL, NULL, FALSE, { -1, -1 }, { 0, 0 } },
  { "empty-object", "{}", NULL, NULL, NULL, FALSE, { -1, -1 }, { 0, 0 } },
};

static void
test_parse (gconstpointer data)
{
  const ParseCase *c = data;
  g_autoptr(CfStatusline) statusline = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (cf_statusline_parse (c->json, (gsize) -1, &statusline, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (statusline->session_id, ==, c->session_id);
  g_assert_cmpstr (statusline->model, ==, c->model);
  g_assert_cmpstr (statusline->config_dir, ==, c->config_dir);
  g_assert_cmpint (statusline->has_rate_limits, ==, c->has_rate_limits);
  for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
    {
      g_assert_cmpfloat (statusline->windows[i].used, ==, c->used[i]);
      g_assert_cmpint (statusline->windows[i].resets_at, ==, c->resets_at[i] * SEC);
    }
}

typedef struct {
  const char *name;
  const char *json;
  gssize length;               /* -1 = strlen */
  CfStatuslineError code;
} BadCase;

static const BadCase bad_cases[] = {
  { "empty", "", -1, CF_STATUSLINE_ERROR_SYNTAX },
  { "not-json", "hello", -1, CF_STATUSLINE_ERROR_SYNTAX },
  { "truncated", "{\"rate_limits\":{", -1, CF_STATUSLINE_ERROR_SYNTAX },
  { "array", "[1,2]", -1, CF_STATUSLINE_ERROR_NOT_OBJECT },
  { "nul-byte", "{\"a\":1}\0{}", 10, CF_STATUSLINE_ERROR_ENCODING },
  { "latin1", "{\"a\":\"\xe9\"}", -1, CF_STATUSLINE_ERROR_ENCODING },
  { "lone-surrogate", "{\"a\":\"\\ud800\"}", -1, CF_STATUSLINE_ERROR_SYNTAX },
};

static void
test_parse_bad (gconstpointer data)
{
  const BadCase *c = data;
  g_autoptr(CfStatusline) statusline = NULL;
  g_autoptr(GError) error = NULL;
  gsize length = c->length < 0 ? strlen (c->json) : (gsize) c->length;

  g_assert_false (cf_statusline_parse (c->json, length, &statusline, &error));
  g_assert_error (error, CF_STATUSLINE_ERROR, (gint) c->code);
  g_assert_null (strchr (error->message, '\n'));
  g_assert_null (statusline);
}

/* What the real Claude Code 2.1.332 handed its statusLine command (captured
 * against the mock API with an allowed_warning at 92 %). */
static void
test_parse_real_capture (void)
{
  g_autofree char *path = g_build_filename (CF_FIXTURES_DIR, "statusline",
                                            "claude-2.1.332-statusline.json", NULL);
  g_autofree char *text = NULL;
  gsize length = 0;
  g_autoptr(CfStatusline) statusline = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  g_assert_true (g_file_get_contents (path, &text, &length, &error));
  g_assert_true (cf_statusline_parse (text, length, &statusline, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (statusline->session_id, ==, "93b0d9a7-4b7b-449b-8fa6-3d5f93d7d262");
  g_assert_cmpstr (statusline->model, ==, "Opus 5.5");
  g_assert_true (statusline->has_rate_limits);
  g_assert_cmpfloat (statusline->windows[CF_USAGE_FIVE_HOUR].used, ==, 92);
  g_assert_cmpint (statusline->windows[CF_USAGE_FIVE_HOUR].resets_at, ==,
                   G_GINT64_CONSTANT (1796568913) * SEC);
  g_assert_cmpfloat (statusline->windows[CF_USAGE_SEVEN_DAY].used, ==, -1);
  /* context_window.used_percentage is the context, not the account: ignored. */
  line = cf_statusline_format (statusline, "main", G_GINT64_CONSTANT (1796568913) * SEC - 3600 * SEC);
  g_assert_cmpstr (line, ==, "main · 5h 92% ↻1h00m");
}

static void
test_parse_limits (void)
{
  g_autoptr(GString) deep = g_string_new (NULL);
  g_autofree char *large = NULL;
  g_autoptr(CfStatusline) statusline = NULL;
  g_autoptr(GError) error = NULL;

  for (int i = 0; i < 100; i++)
    g_string_append (deep, "{\"a\":");
  g_assert_false (cf_statusline_parse (deep->str, deep->len, &statusline, &error));
  g_assert_error (error, CF_STATUSLINE_ERROR, CF_STATUSLINE_ERROR_SYNTAX);
  g_clear_error (&error);

  large = g_strnfill (CF_STATUSLINE_INPUT_MAX + 1, ' ');
  g_assert_false (cf_statusline_parse (large, strlen (large), &statusline, &error));
  g_assert_error (error, CF_STATUSLINE_ERROR, CF_STATUSLINE_ERROR_TOO_LARGE);
}

/* The report reads back to what was parsed, and drops everything else. */
static void
test_report_round_trip (void)
{
  const ParseCase *c = &parse_cases[0];
  g_autoptr(CfStatusline) first = NULL;
  g_autoptr(CfStatusline) second = NULL;
  g_autofree char *report = NULL;

  g_assert_true (cf_statusline_parse (c->json, (gsize) -1, &first, NULL));
  report = cf_statusline_to_report (first, "/home/c/.claude-main");
  g_assert_null (strstr (report, "transcript_path"));
  g_assert_null (strstr (report, "cost"));
  g_assert_true (cf_statusline_parse (report, (gsize) -1, &second, NULL));
  g_assert_cmpstr (second->session_id, ==, UUID);
  g_assert_cmpstr (second->model, ==, "Sonnet 4.5");
  g_assert_cmpstr (second->config_dir, ==, "/home/c/.claude-main");
  for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
    {
      g_assert_cmpfloat (second->windows[i].used, ==, first->windows[i].used);
      g_assert_cmpint (second->windows[i].resets_at, ==, first->windows[i].resets_at);
    }
}

/* --- Forwarding at most once per few seconds -------------------------------------- */

typedef struct {
  const char *name;
  const char *last_key;
  gint64 last_sent;
  const char *key;
  gint64 now;
  gboolean forward;
} ForwardCase;

#define T0 (G_GINT64_CONSTANT (1796500000) * SEC)

static const ForwardCase forward_cases[] = {
  { "first", NULL, 0, "k1", T0, TRUE },
  { "same-soon", "k1", T0, "k1", T0 + 1 * SEC, FALSE },
  { "same-59s", "k1", T0, "k1", T0 + 59 * SEC, FALSE },
  { "same-refresh", "k1", T0, "k1", T0 + CF_STATUSLINE_REFRESH_USEC, TRUE },
  { "changed-within-gap", "k1", T0, "k2", T0 + CF_STATUSLINE_MIN_GAP_USEC - 1, FALSE },
  { "changed-after-gap", "k1", T0, "k2", T0 + CF_STATUSLINE_MIN_GAP_USEC, TRUE },
  { "clock-went-back", "k1", T0, "k1", T0 - 10 * SEC, TRUE },
};

static void
test_forward (gconstpointer data)
{
  const ForwardCase *c = data;

  g_assert_cmpint (cf_statusline_should_forward (c->last_key, c->last_sent, c->key, c->now), ==,
                   c->forward);
}

static void
test_key (void)
{
  g_autoptr(CfStatusline) a = NULL;
  g_autoptr(CfStatusline) b = NULL;
  g_autoptr(CfStatusline) c = NULL;
  g_autofree char *ka = NULL, *kb = NULL, *kc = NULL;

  g_assert_true (cf_statusline_parse (parse_cases[0].json, (gsize) -1, &a, NULL));
  /* Same usage, other fields: same key. */
  g_assert_true (cf_statusline_parse (
    "{\"session_id\":\"" UUID "\",\"cost\":{\"x\":1},\"rate_limits\":{\"five_hour\":"
    "{\"used_percentage\":92,\"resets_at\":1796562257},\"seven_day\":{\"used_percentage\":17.5,"
    "\"resets_at\":1797000000}}}", (gsize) -1, &b, NULL));
  g_assert_true (cf_statusline_parse (
    "{\"session_id\":\"" UUID "\",\"rate_limits\":{\"five_hour\":{\"used_percentage\":93,"
    "\"resets_at\":1796562257},\"seven_day\":{\"used_percentage\":17.5,\"resets_at\":1797000000}}}",
    (gsize) -1, &c, NULL));
  ka = cf_statusline_key (a);
  kb = cf_statusline_key (b);
  kc = cf_statusline_key (c);
  g_assert_cmpstr (ka, ==, kb);
  g_assert_cmpstr (ka, !=, kc);
}

/* --- The line --------------------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *json;
  const char *account;
  gint64 now;
  const char *line;
} FormatCase;

#define NOW_5H (RESET_5H * SEC - (2 * 3600 + 13 * 60) * SEC)

static const FormatCase format_cases[] = {
  { "both", NULL, "main", NOW_5H, "main · 5h 92% ↻2h13m · 7d 18% ↻5d3h" },
  { "no-account", NULL, NULL, NOW_5H, "5h 92% ↻2h13m · 7d 18% ↻5d3h" },
  { "unknown", "{}", "backup", NOW_5H, "backup · usage unknown" },
  { "unknown-no-account", "{}", "", NOW_5H, "usage unknown" },
  { "past-reset-hidden", NULL, "main", RESET_5H * SEC + 1, "main · 7d 18% ↻5d1h" },
  { "no-reset", "{\"rate_limits\":{\"seven_day\":{\"used_percentage\":40}}}", "b", NOW_5H,
    "b · 7d 40%" },
  { "last-seconds", NULL, NULL, RESET_5H * SEC - 30 * SEC, "5h 92% ↻<1m · 7d 18% ↻5d1h" },
};

static void
test_format (gconstpointer data)
{
  const FormatCase *c = data;
  g_autoptr(CfStatusline) statusline = NULL;
  g_autofree char *line = NULL;

  g_assert_true (cf_statusline_parse (c->json ? c->json : parse_cases[0].json, (gsize) -1,
                                      &statusline, NULL));
  line = cf_statusline_format (statusline, c->account, c->now);
  g_assert_cmpstr (line, ==, c->line);
}

static void
test_format_remaining (void)
{
  static const struct { gint64 seconds; const char *text; } rows[] = {
    { -5, "0m" }, { 0, "0m" }, { 1, "<1m" }, { 59, "<1m" }, { 60, "1m" }, { 3599, "59m" },
    { 3600, "1h00m" }, { 2 * 3600 + 13 * 60 + 59, "2h13m" }, { 86399, "23h59m" },
    { 86400, "1d0h" }, { 3 * 86400 + 4 * 3600 + 59 * 60, "3d4h" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autofree char *text = cf_statusline_format_remaining (rows[i].seconds * SEC);
      g_assert_cmpstr (text, ==, rows[i].text);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (parse_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/statusline/parse/%s", parse_cases[i].name);
      g_test_add_data_func (path, &parse_cases[i], test_parse);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/statusline/parse-bad/%s", bad_cases[i].name);
      g_test_add_data_func (path, &bad_cases[i], test_parse_bad);
    }
  g_test_add_func ("/statusline/parse-real-capture", test_parse_real_capture);
  g_test_add_func ("/statusline/parse-limits", test_parse_limits);
  g_test_add_func ("/statusline/report-round-trip", test_report_round_trip);
  for (guint i = 0; i < G_N_ELEMENTS (forward_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/statusline/forward/%s", forward_cases[i].name);
      g_test_add_data_func (path, &forward_cases[i], test_forward);
    }
  g_test_add_func ("/statusline/key", test_key);
  for (guint i = 0; i < G_N_ELEMENTS (format_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/statusline/format/%s", format_cases[i].name);
      g_test_add_data_func (path, &format_cases[i], test_format);
    }
  g_test_add_func ("/statusline/format-remaining", test_format_remaining);
  return g_test_run ();
}
