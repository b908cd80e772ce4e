/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "cf-hook-payload.h"
#include "cf-transcript.h"
#include "cf-verdict.h"

/* 2026-12-06T13:20:00Z: before every reset in the captures used here. */
#define NOW G_GINT64_CONSTANT (1796563200)
/* "You've hit your 5-hour limit · resets 4:04pm (UTC)" read at NOW. */
#define RESET_PANE G_GINT64_CONSTANT (1796573040)
/* quotaLimits.resetsAt of claude-2.1.332-limit-five-hour.jsonl. */
#define RESET_TRANSCRIPT G_GINT64_CONSTANT (1796563522)

static char *
fixture_text (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (CF_FIXTURES_DIR, dir, name, NULL);
  g_autoptr(GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

/* --- transcript lines ---------------------------------------------------------------- */

typedef struct {
  const char *file;
  gboolean assistant;
  gboolean is_api_error;
  const char *error;
  const char *api_error;
  int status;
  gint64 resets_at;
  const char *rate_limit_type;
  const char *text_prefix;
} TranscriptCase;

static void
test_transcript_fixtures (void)
{
  static const TranscriptCase cases[] = {
    { "claude-2.1.332-limit-five-hour.jsonl", TRUE, TRUE, "rate_limit", "usage_limit_reached", 429,
      RESET_TRANSCRIPT, "five_hour", "You've hit your 5-hour limit · resets 2:25pm (Europe/Berlin)" },
    { "claude-2.1.332-limit-weekly.jsonl", TRUE, TRUE, "rate_limit", "usage_limit_reached", 429,
      G_GINT64_CONSTANT (1796823439), "seven_day", "You've hit your weekly limit" },
    { "claude-2.1.332-throttle.jsonl", TRUE, TRUE, "rate_limit", NULL, 429, 0, NULL,
      "API Error: Server is temporarily limiting requests (not your usage limit)" },
    { "claude-2.1.332-server-500.jsonl", TRUE, TRUE, "server_error", NULL, 500, 0, NULL,
      "API Error: 500 Internal server error." },
    { "claude-2.1.332-ok.jsonl", TRUE, FALSE, NULL, NULL, 0, 0, NULL, "" },
    { "claude-2.1.332-tool-use.jsonl", TRUE, FALSE, NULL, NULL, 0, 0, NULL, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *line = fixture_text ("transcripts", cases[i].file);
      g_auto(CfTranscriptEntry) entry = { 0 };
      g_autoptr(GError) error = NULL;

      g_test_message ("transcript %s", cases[i].file);
      g_assert_true (cf_transcript_line_parse (line, (gsize) -1, &entry, &error));
      g_assert_no_error (error);
      g_assert_cmpint (entry.assistant, ==, cases[i].assistant);
      g_assert_cmpint (entry.is_api_error, ==, cases[i].is_api_error);
      g_assert_cmpstr (entry.error, ==, cases[i].error);
      g_assert_cmpstr (entry.api_error, ==, cases[i].api_error);
      g_assert_cmpint (entry.api_error_status, ==, cases[i].status);
      g_assert_cmpint (entry.resets_at, ==, cases[i].resets_at);
      g_assert_cmpstr (entry.rate_limit_type, ==, cases[i].rate_limit_type);
      g_assert_cmpint (entry.timestamp, >, G_GINT64_CONSTANT (1796560000));
      if (cases[i].text_prefix == NULL)
        g_assert_null (entry.text);
      else
        g_assert_true (g_str_has_prefix (entry.text, cases[i].text_prefix));
    }
}

typedef struct {
  const char *line;
  gboolean ok;
  CfTranscriptError code;
  gboolean assistant;
  gboolean is_api_error;
  const char *error;
  int status;
  const char *text;
} TranscriptLineCase;

static void
test_transcript_lines (void)
{
  static const TranscriptLineCase cases[] = {
    { "{\"type\":\"user\",\"message\":{\"content\":\"hi\"}}", TRUE, 0, FALSE, FALSE, NULL, 0, NULL },
    { "{\"type\":\"assistant\",\"isSidechain\":true,\"isApiErrorMessage\":true,\"error\":\"rate_limit\"}", TRUE, 0,
      FALSE, FALSE, NULL, 0, NULL },
    { "{\"type\":\"assistant\",\"isApiErrorMessage\":true,\"error\":\"rate_limit\",\"apiErrorStatus\":429,"
      "\"message\":{\"content\":\"You've hit your limit\"}}\n", TRUE, 0, TRUE, TRUE, "rate_limit", 429,
      "You've hit your limit" },
    /* Wrong types are dropped, not errors. */
    { "{\"type\":\"assistant\",\"isApiErrorMessage\":\"yes\",\"error\":7,\"apiErrorStatus\":\"429\","
      "\"quotaLimits\":[1],\"message\":{\"content\":[{\"type\":\"tool_use\"},{\"type\":\"text\",\"text\":1}]}}",
      TRUE, 0, TRUE, FALSE, NULL, 0, NULL },
    { "{\"type\":\"assistant\",\"apiErrorStatus\":1e3,\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
      "{\"type\":\"text\",\"text\":\"b\"}]}}", TRUE, 0, TRUE, FALSE, NULL, 0, "a\nb" },
    { "{\"type\":\"assistant\",\"apiErrorStatus\":-5}", TRUE, 0, TRUE, FALSE, NULL, 0, NULL },
    { "{\"type\":\"assistant\",\"apiErrorStatus\":123456}", TRUE, 0, TRUE, FALSE, NULL, 999, NULL },
    { "", FALSE, CF_TRANSCRIPT_ERROR_SYNTAX },
    { "\n", FALSE, CF_TRANSCRIPT_ERROR_SYNTAX },
    { "not json", FALSE, CF_TRANSCRIPT_ERROR_SYNTAX },
    { "{\"type\":\"assistant\"} {}", FALSE, CF_TRANSCRIPT_ERROR_SYNTAX },
    { "[1,2]", FALSE, CF_TRANSCRIPT_ERROR_NOT_OBJECT },
    { "\"assistant\"", FALSE, CF_TRANSCRIPT_ERROR_NOT_OBJECT },
    { "{\"type\":\"assistant\",\"x\":\"\xff\"}", FALSE, CF_TRANSCRIPT_ERROR_SYNTAX },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto(CfTranscriptEntry) entry = { 0 };
      g_autoptr(GError) error = NULL;
      gboolean ok;

      g_test_message ("transcript line %u", i);
      ok = cf_transcript_line_parse (cases[i].line, (gsize) -1, &entry, &error);
      g_assert_cmpint (ok, ==, cases[i].ok);
      if (!ok)
        {
          g_assert_error (error, CF_TRANSCRIPT_ERROR, (gint) cases[i].code);
          g_assert_null (strchr (error->message, '\n'));
          g_assert_false (entry.assistant);
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpint (entry.assistant, ==, cases[i].assistant);
      g_assert_cmpint (entry.is_api_error, ==, cases[i].is_api_error);
      g_assert_cmpstr (entry.error, ==, cases[i].error);
      g_assert_cmpint (entry.api_error_status, ==, cases[i].status);
      g_assert_cmpstr (entry.text, ==, cases[i].text);
    }
}

static void
test_transcript_limits (void)
{
  g_autoptr(GString) deep = g_string_new (NULL);
  g_autoptr(GString) long_text = g_string_new ("{\"type\":\"assistant\",\"message\":{\"content\":\"");
  g_autofree char *huge = NULL;
  static const char with_nul[] = "{\"type\":\"assistant\"}\0{}";
  g_auto(CfTranscriptEntry) entry = { 0 };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 1000; i++)
    g_string_append_c (deep, '[');
  g_assert_false (cf_transcript_line_parse (deep->str, deep->len, &entry, &error));
  g_assert_error (error, CF_TRANSCRIPT_ERROR, CF_TRANSCRIPT_ERROR_SYNTAX);
  g_clear_error (&error);

  g_assert_false (cf_transcript_line_parse (with_nul, sizeof with_nul - 1, &entry, &error));
  g_assert_error (error, CF_TRANSCRIPT_ERROR, CF_TRANSCRIPT_ERROR_SYNTAX);
  g_clear_error (&error);
  /* LENGTH bounds the line. */
  g_assert_true (cf_transcript_line_parse (with_nul, strlen (with_nul), &entry, &error));
  g_assert_true (entry.assistant);
  cf_transcript_entry_clear (&entry);

  huge = g_strnfill (CF_TRANSCRIPT_LINE_MAX + 1, ' ');
  g_assert_false (cf_transcript_line_parse (huge, (gsize) -1, &entry, &error));
  g_assert_error (error, CF_TRANSCRIPT_ERROR, CF_TRANSCRIPT_ERROR_TOO_LARGE);
  g_clear_error (&error);

  /* The text is cut on a character boundary. */
  for (guint i = 0; i < CF_TRANSCRIPT_TEXT_MAX; i++)
    g_string_append (long_text, "∙");
  g_string_append (long_text, "\"}}");
  g_assert_true (cf_transcript_line_parse (long_text->str, long_text->len, &entry, &error));
  g_assert_cmpuint (strlen (entry.text), <=, CF_TRANSCRIPT_TEXT_MAX);
  g_assert_cmpuint (strlen (entry.text), >, CF_TRANSCRIPT_TEXT_MAX - 3);
  g_assert_true (g_utf8_validate (entry.text, -1, NULL));
  cf_transcript_entry_clear (&entry);

  /* A \u escape of a lone surrogate: json-glib makes it bytes that are not
   * UTF-8; each string the entry keeps is UTF-8 (found by fuzz-transcript). */
  {
    static const char lone[] =
      "{\"type\":\"assistant\",\"error\":\"rate\\ud945 \",\"apiError\":\"\\ud800_x\","
      "\"quotaLimits\":{\"rateLimitType\":\"five\\ud800_hour\"},"
      "\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"You've hit \\ud945 your limit\"}]}}";

    g_assert_true (cf_transcript_line_parse (lone, sizeof lone - 1, &entry, &error));
    g_assert_no_error (error);
    g_assert_true (g_str_has_prefix (entry.error, "rate\xef\xbf\xbd"));
    g_assert_true (g_utf8_validate (entry.error, -1, NULL));
    g_assert_true (g_utf8_validate (entry.api_error, -1, NULL));
    g_assert_true (g_utf8_validate (entry.rate_limit_type, -1, NULL));
    g_assert_true (g_utf8_validate (entry.text, -1, NULL));
    g_assert_true (g_str_has_prefix (entry.text, "You've hit "));
  }
}

/* --- reading a growing transcript ------------------------------------------------------- */

#define L_USER "{\"type\":\"user\",\"message\":{\"content\":\"hi\"}}\n"
#define L_OK "{\"type\":\"assistant\",\"message\":{\"content\":\"Done.\"}}\n"
#define L_LIMIT "{\"type\":\"assistant\",\"isApiErrorMessage\":true,\"error\":\"rate_limit\",\"apiErrorStatus\":429," \
  "\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"You've hit your limit\"}]}}\n"
#define L_SIDE "{\"type\":\"assistant\",\"isSidechain\":true,\"isApiErrorMessage\":true,\"error\":\"server_error\"}\n"

typedef struct {
  const char *bytes;           /* the bytes from the cursor's offset on */
  guint seen;
  guint64 offset;              /* after the pass */
  gboolean skipping;
  const char *newest_text;     /* of *NEWEST after the pass (NULL: none) */
  const char *newest_error;
} FeedStep;

typedef struct {
  const char *what;
  FeedStep steps[3];
} FeedCase;

static void
test_transcript_cursor (void)
{
  static const FeedCase cases[] = {
    { "nothing", { { "", 0, 0, FALSE, NULL, NULL } } },
    { "one assistant line", { { L_OK, 1, sizeof L_OK - 1, FALSE, "Done.", NULL } } },
    { "the newest assistant line wins", { { L_LIMIT L_USER L_OK, 2, sizeof L_LIMIT L_USER L_OK - 1, FALSE,
                                            "Done.", NULL } } },
    { "an error line after an answer", { { L_OK L_LIMIT L_USER, 2, sizeof L_OK L_LIMIT L_USER - 1, FALSE,
                                           "You've hit your limit", "rate_limit" } } },
    { "a sidechain and a user line change nothing", { { L_SIDE L_USER, 0, sizeof L_SIDE L_USER - 1, FALSE,
                                                        NULL, NULL } } },
    { "garbage and empty lines are skipped", { { "not json\n\n{\n" L_OK "[1]\n", 1,
                                                 sizeof "not json\n\n{\n" L_OK "[1]\n" - 1, FALSE, "Done.",
                                                 NULL } } },
    { "a partial last line waits for its end",
      { { L_OK "{\"type\":\"assistant\",", 1, sizeof L_OK - 1, FALSE, "Done.", NULL },
        { "{\"type\":\"assistant\",\"isApiErrorMessage\":true,\"error\":\"server_error\"}", 0, sizeof L_OK - 1,
          FALSE, "Done.", NULL },
        { "{\"type\":\"assistant\",\"isApiErrorMessage\":true,\"error\":\"server_error\"}\n", 1,
          sizeof L_OK - 1 + sizeof "{\"type\":\"assistant\",\"isApiErrorMessage\":true,\"error\":\"server_error\"}\n" - 1,
          FALSE, NULL, "server_error" } } },
    { "a line without its end is not parsed", { { "{\"type\":\"assistant\"}", 0, 0, FALSE, NULL, NULL } } },
    { "CRLF lines", { { "{\"type\":\"assistant\",\"message\":{\"content\":\"a\"}}\r\n", 1,
                        sizeof "{\"type\":\"assistant\",\"message\":{\"content\":\"a\"}}\r\n" - 1, FALSE, "a",
                        NULL } } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      CfTranscriptCursor cursor = { 0 };
      g_auto(CfTranscriptEntry) newest = { 0 };

      g_test_message ("cursor: %s", cases[i].what);
      for (guint s = 0; s < G_N_ELEMENTS (cases[i].steps) && cases[i].steps[s].bytes != NULL; s++)
        {
          const FeedStep *step = &cases[i].steps[s];
          guint seen = cf_transcript_cursor_feed (&cursor, step->bytes, strlen (step->bytes), &newest);

          g_assert_cmpuint (seen, ==, step->seen);
          g_assert_cmpuint (cursor.offset, ==, step->offset);
          g_assert_cmpint (cursor.skipping, ==, step->skipping);
          g_assert_cmpstr (newest.text, ==, step->newest_text);
          g_assert_cmpstr (newest.error, ==, step->newest_error);
          g_assert_cmpint (newest.assistant, ==, step->newest_text != NULL || step->newest_error != NULL);
        }
    }
}

/* A line that cannot fit in one pass is dropped up to its newline; the
 * line after it counts. */
static void
test_transcript_cursor_long_line (void)
{
  CfTranscriptCursor cursor = { 0 };
  g_auto(CfTranscriptEntry) newest = { 0 };
  g_autofree char *chunk = g_malloc (CF_TRANSCRIPT_LINE_MAX);
  g_autofree char *tail = g_strconcat ("xyz\n", L_LIMIT, NULL);

  memset (chunk, 'a', CF_TRANSCRIPT_LINE_MAX);
  /* Just short of the limit: still waiting. */
  g_assert_cmpuint (cf_transcript_cursor_feed (&cursor, chunk, CF_TRANSCRIPT_LINE_MAX - 1, &newest), ==, 0);
  g_assert_cmpuint (cursor.offset, ==, 0);
  g_assert_false (cursor.skipping);
  g_assert_cmpuint (cf_transcript_cursor_feed (&cursor, chunk, CF_TRANSCRIPT_LINE_MAX, &newest), ==, 0);
  g_assert_cmpuint (cursor.offset, ==, CF_TRANSCRIPT_LINE_MAX);
  g_assert_true (cursor.skipping);
  /* Still the same line. */
  g_assert_cmpuint (cf_transcript_cursor_feed (&cursor, chunk, 100, &newest), ==, 0);
  g_assert_cmpuint (cursor.offset, ==, CF_TRANSCRIPT_LINE_MAX + 100);
  g_assert_true (cursor.skipping);
  g_assert_cmpuint (cf_transcript_cursor_feed (&cursor, tail, strlen (tail), &newest), ==, 1);
  g_assert_cmpuint (cursor.offset, ==, CF_TRANSCRIPT_LINE_MAX + 100 + strlen (tail));
  g_assert_false (cursor.skipping);
  g_assert_cmpstr (newest.error, ==, "rate_limit");
}

/* --- fusion ----------------------------------------------------------------------- */

typedef enum { H_NONE, H_STOP, H_LIMIT, H_THROTTLE_TEXT, H_429, H_500, H_AUTH, H_MAX_TOKENS,
               H_PERMISSION, H_PROMPT, N_HOOKS } HookCase;
typedef enum { T_NONE, T_OK, T_LIMIT, T_THROTTLE, T_500, T_AUTH, N_TRANSCRIPTS } TranscriptCaseId;
typedef enum { P_NONE, P_READY, P_BUSY, P_LIMIT, P_MENU, P_THROTTLE, P_500, P_PERMISSION, P_FIRED,
               N_PANES } PaneCase;

static const CfVerdictHook hooks[N_HOOKS] = {
  [H_NONE] = { NULL },
  [H_STOP] = { "Stop", NULL, "Done.", NULL },
  [H_LIMIT] = { "StopFailure", "rate_limit", "You've hit your 5-hour limit · resets 4:04pm (UTC)", NULL },
  [H_THROTTLE_TEXT] = { "StopFailure", "rate_limit",
                        "API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited", NULL },
  [H_429] = { "StopFailure", "rate_limit", NULL, NULL },
  [H_500] = { "StopFailure", "server_error", "API Error: 500 Internal server error.", NULL },
  [H_AUTH] = { "StopFailure", "authentication_failed", "Please run /login · API Error: 401", NULL },
  [H_MAX_TOKENS] = { "StopFailure", "max_output_tokens", NULL, NULL },
  [H_PERMISSION] = { "Notification", NULL, NULL, "permission_prompt" },
  [H_PROMPT] = { "UserPromptSubmit", NULL, NULL, NULL },
};

static const char *const transcript_files[N_TRANSCRIPTS] = {
  [T_OK] = "claude-2.1.332-ok.jsonl",
  [T_LIMIT] = "claude-2.1.332-limit-five-hour.jsonl",
  [T_THROTTLE] = "claude-2.1.332-throttle.jsonl",
  [T_500] = "claude-2.1.332-server-500.jsonl",
  [T_AUTH] = NULL,
};

static const char *const pane_files[N_PANES] = {
  [P_READY] = "claude-2.1.332-ready.txt",
  [P_BUSY] = "claude-2.1.332-busy.txt",
  [P_LIMIT] = "claude-2.1.332-limit-five-hour.txt",
  [P_MENU] = "claude-2.1.332-limit-weekly-menu.txt",
  [P_THROTTLE] = "claude-2.1.332-throttle-429.txt",
  [P_500] = "claude-2.1.332-server-500.txt",
  [P_PERMISSION] = "claude-2.1.332-permission-question.txt",
};

/* Claude continued by itself after the reset and works again. */
static const char fired_busy_pane[] =
  "  ⎿  You've hit your 5-hour limit · resets 4:04pm (UTC)\n"
  "● Usage limit reached · set to continue automatically at 4:04pm\n"
  "● Usage limit reset · Continuing automatically\n"
  "✻ Frosting… (4s · ↓ 13 tokens)\n"
  "────────────────────────────────────────\n❯ \n────────────────────────────────────────\n"
  "  ⏵⏵ bypass permissions on (shift+tab to cycle) · esc to interrupt\n";

typedef struct {
  CfTranscriptEntry transcripts[N_TRANSCRIPTS];
  CfPaneVerdict panes[N_PANES];
} Signals;

static void
signals_load (Signals *signals)
{
  CfPaneContext context = { .now_unix = NOW, .tail_lines = 3 };

  for (guint t = 0; t < N_TRANSCRIPTS; t++)
    if (transcript_files[t] != NULL)
      {
        g_autofree char *line = fixture_text ("transcripts", transcript_files[t]);

        g_assert_true (cf_transcript_line_parse (line, (gsize) -1, &signals->transcripts[t], NULL));
      }
  g_assert_true (cf_transcript_line_parse (
    "{\"type\":\"assistant\",\"isApiErrorMessage\":true,\"error\":\"authentication_failed\","
    "\"apiErrorStatus\":401,\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"Please run /login\"}]}}",
    (gsize) -1, &signals->transcripts[T_AUTH], NULL));
  for (guint p = 0; p < N_PANES; p++)
    if (pane_files[p] != NULL)
      {
        g_autofree char *text = fixture_text ("panes", pane_files[p]);

        cf_pane_classify (text, (gsize) -1, &context, &signals->panes[p]);
      }
  cf_pane_classify (fired_busy_pane, (gsize) -1, &context, &signals->panes[P_FIRED]);
  g_assert_true (signals->panes[P_LIMIT].limit);
  g_assert_true (signals->panes[P_MENU].limit && signals->panes[P_MENU].needs_input);
  g_assert_true (signals->panes[P_FIRED].busy);
}

static void
signals_clear (Signals *signals)
{
  for (guint t = 0; t < N_TRANSCRIPTS; t++)
    cf_transcript_entry_clear (&signals->transcripts[t]);
  for (guint p = 0; p < N_PANES; p++)
    cf_pane_verdict_clear (&signals->panes[p]);
}

static void
fuse (const Signals *signals, HookCase h, TranscriptCaseId t, PaneCase p, gint64 now, CfSessionVerdict *out)
{
  cf_session_verdict_fuse (h != H_NONE ? &hooks[h] : NULL, t != T_NONE ? &signals->transcripts[t] : NULL,
                           p != P_NONE ? &signals->panes[p] : NULL, now, NULL, out);
}

#define H CF_VERDICT_SOURCE_HOOK
#define T CF_VERDICT_SOURCE_TRANSCRIPT
#define P CF_VERDICT_SOURCE_PANE

typedef struct {
  const char *what;
  HookCase hook;
  TranscriptCaseId transcript;
  PaneCase pane;
  CfSessionVerdictKind kind;
  guint sources;
  guint conflicting;
  gint64 reset;
  const char *reason;
  gboolean needs_input;
} FuseCase;

static void
test_verdict_table (void)
{
  static const FuseCase cases[] = {
    /* All three agree. */
    { "limit everywhere", H_LIMIT, T_LIMIT, P_LIMIT, CF_SESSION_VERDICT_USAGE_LIMIT, H | T | P, 0, RESET_PANE,
      "hit-five-hour-limit" },
    { "throttle everywhere", H_THROTTLE_TEXT, T_THROTTLE, P_THROTTLE, CF_SESSION_VERDICT_THROTTLE, H | T | P, 0, 0,
      "throttle-server-limiting" },
    { "500 everywhere", H_500, T_500, P_500, CF_SESSION_VERDICT_SERVER_ERROR, H | T | P, 0, 0, "server_error" },
    { "finished", H_STOP, T_OK, P_READY, CF_SESSION_VERDICT_IDLE, H | P, 0, 0, NULL },
    { "working", H_PROMPT, T_OK, P_BUSY, CF_SESSION_VERDICT_WORKING, H | P, 0, 0, NULL },
    { "permission", H_PERMISSION, T_NONE, P_PERMISSION, CF_SESSION_VERDICT_NEEDS_INPUT, H | P, 0, 0, "permission",
      TRUE },
    { "auth", H_AUTH, T_AUTH, P_READY, CF_SESSION_VERDICT_AUTH, H | T, 0, 0, "authentication_failed" },

    /* They disagree. */
    { "a bare 429, the transcript says throttle", H_429, T_THROTTLE, P_READY, CF_SESSION_VERDICT_THROTTLE, H | T, 0, 0,
      "rate_limit" },
    { "a bare 429, the transcript says limit", H_429, T_LIMIT, P_READY, CF_SESSION_VERDICT_USAGE_LIMIT, H | T, 0,
      RESET_TRANSCRIPT, "hit-five-hour-limit" },
    { "a bare 429, the pane says limit", H_429, T_NONE, P_LIMIT, CF_SESSION_VERDICT_USAGE_LIMIT, H | P, 0, RESET_PANE,
      "auto-continue-set" },
    { "a bare 429 and nothing else: throttle", H_429, T_NONE, P_READY, CF_SESSION_VERDICT_THROTTLE, H, 0, 0,
      "rate_limit" },
    { "throttle text beats an old limit line on the pane", H_THROTTLE_TEXT, T_NONE, P_LIMIT,
      CF_SESSION_VERDICT_THROTTLE, H, P, 0, "throttle-server-limiting" },
    { "hook limit, transcript throttle", H_LIMIT, T_THROTTLE, P_NONE, CF_SESSION_VERDICT_USAGE_LIMIT, H, T,
      RESET_PANE, "hit-five-hour-limit" },
    { "hook 500, pane limit", H_500, T_NONE, P_LIMIT, CF_SESSION_VERDICT_SERVER_ERROR, H, P, 0, "server_error" },
    { "hook 500, Claude works again", H_500, T_500, P_BUSY, CF_SESSION_VERDICT_WORKING, P, 0, 0, NULL },
    { "hook throttle, Claude works again", H_THROTTLE_TEXT, T_NONE, P_BUSY, CF_SESSION_VERDICT_WORKING, P, 0, 0,
      NULL },
    { "hook Stop, pane limit", H_STOP, T_NONE, P_LIMIT, CF_SESSION_VERDICT_USAGE_LIMIT, P, 0, RESET_PANE,
      "auto-continue-set" },
    { "auth stays auth while Claude works", H_AUTH, T_NONE, P_BUSY, CF_SESSION_VERDICT_AUTH, H, 0, 0,
      "authentication_failed" },
    { "auth in the transcript beats a hook limit", H_LIMIT, T_AUTH, P_LIMIT, CF_SESSION_VERDICT_AUTH, T, H | P, 0,
      "authentication_failed" },
    { "limit, then Claude continued by itself", H_LIMIT, T_LIMIT, P_FIRED, CF_SESSION_VERDICT_WORKING, P, 0, 0,
      NULL },
    { "limit with the menu", H_LIMIT, T_NONE, P_MENU, CF_SESSION_VERDICT_USAGE_LIMIT, H | P, 0, RESET_PANE,
      "hit-five-hour-limit", TRUE },
    { "a permission question answered: the box is back", H_PERMISSION, T_NONE, P_READY, CF_SESSION_VERDICT_IDLE,
      P, 0, 0, NULL },
    { "a permission question while a turn failed", H_500, T_NONE, P_PERMISSION, CF_SESSION_VERDICT_NEEDS_INPUT, P,
      0, 0, "permission", TRUE },
    { "hook Stop, transcript 500", H_STOP, T_500, P_READY, CF_SESSION_VERDICT_SERVER_ERROR, T, 0, 0,
      "server_error" },
    { "max_output_tokens", H_MAX_TOKENS, T_OK, P_READY, CF_SESSION_VERDICT_TURN_FAILED, H, 0, 0,
      "max_output_tokens" },

    /* One or more missing. */
    { "nothing", H_NONE, T_NONE, P_NONE, CF_SESSION_VERDICT_UNKNOWN, 0, 0, 0, NULL },
    { "transcript limit only", H_NONE, T_LIMIT, P_NONE, CF_SESSION_VERDICT_USAGE_LIMIT, T, 0, RESET_TRANSCRIPT,
      "hit-five-hour-limit" },
    { "hook limit only", H_LIMIT, T_NONE, P_NONE, CF_SESSION_VERDICT_USAGE_LIMIT, H, 0, RESET_PANE,
      "hit-five-hour-limit" },
    { "pane limit only", H_NONE, T_NONE, P_LIMIT, CF_SESSION_VERDICT_USAGE_LIMIT, P, 0, RESET_PANE,
      "auto-continue-set" },
    { "pane menu only", H_NONE, T_NONE, P_MENU, CF_SESSION_VERDICT_USAGE_LIMIT, P, 0, G_GINT64_CONSTANT (1796826840),
      "hit-weekly-limit", TRUE },
    { "transcript 500, pane ready", H_NONE, T_500, P_READY, CF_SESSION_VERDICT_SERVER_ERROR, T, 0, 0,
      "server_error" },
    { "hook permission only", H_PERMISSION, T_NONE, P_NONE, CF_SESSION_VERDICT_NEEDS_INPUT, H, 0, 0, NULL, TRUE },
    { "hook prompt only", H_PROMPT, T_NONE, P_NONE, CF_SESSION_VERDICT_WORKING, H, 0, 0, NULL },
    { "transcript ok only", H_NONE, T_OK, P_NONE, CF_SESSION_VERDICT_UNKNOWN, 0, 0, 0, NULL },
    { "pane busy only", H_NONE, T_NONE, P_BUSY, CF_SESSION_VERDICT_WORKING, P, 0, 0, NULL },
  };
  Signals signals = { 0 };

  signals_load (&signals);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      CfSessionVerdict verdict;

      g_test_message ("fuse: %s", cases[i].what);
      fuse (&signals, cases[i].hook, cases[i].transcript, cases[i].pane, NOW, &verdict);
      g_assert_cmpstr (cf_session_verdict_kind_to_string (verdict.kind), ==,
                       cf_session_verdict_kind_to_string (cases[i].kind));
      g_assert_cmphex (verdict.sources, ==, cases[i].sources);
      g_assert_cmphex (verdict.conflicting, ==, cases[i].conflicting);
      g_assert_cmpint (verdict.reset_unix, ==, cases[i].reset);
      g_assert_cmpstr (verdict.reason, ==, cases[i].reason);
      g_assert_cmpint (verdict.needs_input, ==, cases[i].needs_input);
    }
  signals_clear (&signals);
}

/* The daemon's decision on a StopFailure follows the fused verdict. */
typedef struct {
  const char *what;
  const char *payload;         /* StopFailure hook input */
  TranscriptCaseId transcript;
  PaneCase pane;
  gboolean rate_limit;
  gboolean throttle;
  const char *problem;
  const char *described;
} DecisionCase;

static void
test_verdict_drives_hook_decision (void)
{
  static const DecisionCase cases[] = {
    { "a bare 429 alone stays a limit (older releases)", "{\"error\":\"rate_limit\"}", T_NONE, P_NONE, TRUE, FALSE,
      NULL, "StopFailure error=rate_limit → throttle (sources: hook; conflicting: none; reason: rate_limit)" },
    { "a bare 429, the transcript says throttle", "{\"error\":\"rate_limit\"}", T_THROTTLE, P_NONE, FALSE, TRUE, NULL,
      "StopFailure error=rate_limit → throttle (sources: hook,transcript; conflicting: none; reason: rate_limit)" },
    { "a bare 429, the transcript says limit", "{\"error\":\"rate_limit\"}", T_LIMIT, P_READY, TRUE, FALSE, NULL,
      "StopFailure error=rate_limit → usage-limit (sources: hook,transcript; conflicting: none; reason: hit-five-hour-limit; "
      "reset: 2026-12-06T13:25:22Z)" },
    { "a bare 429, the pane says throttle", "{\"error\":\"rate_limit\"}", T_NONE, P_THROTTLE, FALSE, TRUE, NULL,
      "StopFailure error=rate_limit → throttle (sources: hook,pane; conflicting: none; reason: rate_limit)" },
    { "throttle text", "{\"error\":\"rate_limit\",\"last_assistant_message\":\"API Error: Server is temporarily "
      "limiting requests (not your usage limit) · Rate limited\"}", T_NONE, P_NONE, FALSE, TRUE, NULL,
      "StopFailure error=rate_limit → throttle (sources: hook; conflicting: none; reason: throttle-server-limiting)" },
    { "a 500 is neither", "{\"error\":\"server_error\"}", T_500, P_NONE, FALSE, FALSE, NULL,
      "StopFailure error=server_error → server-error (sources: hook,transcript; conflicting: none; reason: server_error)" },
    { "auth in the transcript beats a 429", "{\"error\":\"rate_limit\"}", T_AUTH, P_NONE, FALSE, FALSE,
      "authentication_failed",
      "StopFailure error=rate_limit → auth (sources: transcript; conflicting: hook; reason: authentication_failed)" },
    { "a permission question on screen: the hook decides", "{\"error\":\"rate_limit\"}", T_NONE, P_PERMISSION, TRUE,
      FALSE, NULL, "StopFailure error=rate_limit → needs-input (sources: pane; conflicting: none; reason: permission; needs input)" },
    { "a busy capture predates the hook: left out", "{\"error\":\"rate_limit\"}", T_NONE, P_BUSY, TRUE, FALSE, NULL,
      "StopFailure error=rate_limit → throttle (sources: hook; conflicting: none; reason: rate_limit)" },
  };
  Signals signals = { 0 };

  signals_load (&signals);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(CfHookPayload) payload = NULL;
      g_autoptr(GDateTime) reset = NULL;
      g_autofree char *described = NULL;
      CfSessionVerdict verdict;

      g_test_message ("decision: %s", cases[i].what);
      g_assert_true (cf_hook_payload_parse ("StopFailure", cases[i].payload, (gsize) -1, &payload, NULL));
      cf_hook_payload_decide (payload, cases[i].transcript != T_NONE ? &signals.transcripts[cases[i].transcript] : NULL,
                              cases[i].pane != P_NONE ? &signals.panes[cases[i].pane] : NULL, NOW, NULL);
      g_assert_true (payload->has_verdict);
      verdict = payload->verdict;
      described = cf_hook_payload_describe_decision (payload);
      g_assert_cmpstr (described, ==, cases[i].described);
      g_assert_cmpint (cf_hook_payload_is_rate_limit (payload), ==, cases[i].rate_limit);
      g_assert_cmpint (cf_hook_payload_is_throttle (payload), ==, cases[i].throttle);
      g_assert_cmpstr (cf_hook_payload_account_problem (payload), ==, cases[i].problem);
      reset = cf_hook_payload_reset_at (payload, NOW, NULL);
      if (cases[i].rate_limit && verdict.reset_unix > 0)
        g_assert_cmpint (g_date_time_to_unix (reset), ==, verdict.reset_unix);
      else
        g_assert_null (reset);
    }
  signals_clear (&signals);
}

/* "now" decides: a limit whose reset has passed is over. */
static void
test_verdict_expired_limit (void)
{
  Signals signals = { 0 };
  CfSessionVerdict verdict;

  signals_load (&signals);
  fuse (&signals, H_NONE, T_LIMIT, P_NONE, RESET_TRANSCRIPT - 1, &verdict);
  g_assert_cmpint (verdict.kind, ==, CF_SESSION_VERDICT_USAGE_LIMIT);
  fuse (&signals, H_NONE, T_LIMIT, P_NONE, RESET_TRANSCRIPT, &verdict);
  g_assert_cmpint (verdict.kind, ==, CF_SESSION_VERDICT_UNKNOWN);
  fuse (&signals, H_NONE, T_LIMIT, P_READY, RESET_TRANSCRIPT + 60, &verdict);
  g_assert_cmpint (verdict.kind, ==, CF_SESSION_VERDICT_IDLE);
  /* The pane's limit still stands until its own reset. */
  fuse (&signals, H_NONE, T_LIMIT, P_LIMIT, RESET_TRANSCRIPT + 60, &verdict);
  g_assert_cmpint (verdict.kind, ==, CF_SESSION_VERDICT_USAGE_LIMIT);
  g_assert_cmpint (verdict.reset_unix, ==, RESET_PANE);
  g_assert_cmphex (verdict.sources, ==, P);
  signals_clear (&signals);
}

static gboolean
has_limit_evidence (const Signals *signals, HookCase h, TranscriptCaseId t, PaneCase p)
{
  return h == H_LIMIT || t == T_LIMIT || (p != P_NONE && signals->panes[p].limit);
}

/* Every combination: the rules that hold whatever the mix. */
static void
test_verdict_all_combinations (void)
{
  Signals signals = { 0 };
  guint combinations = 0;

  signals_load (&signals);
  for (guint h = 0; h < N_HOOKS; h++)
    for (guint t = 0; t < N_TRANSCRIPTS; t++)
      for (guint p = 0; p < N_PANES; p++)
        {
          CfSessionVerdict verdict;
          guint present = (h != H_NONE ? H : 0) | (t != T_NONE ? T : 0) | (p != P_NONE ? P : 0);
          gboolean auth = h == H_AUTH || t == T_AUTH;

          fuse (&signals, h, t, p, NOW, &verdict);
          combinations++;
          if (auth != (verdict.kind == CF_SESSION_VERDICT_AUTH))
            g_error ("hook %u transcript %u pane %u: %s", h, t, p, cf_session_verdict_kind_to_string (verdict.kind));
          /* A limit only on usage-limit evidence; a 429 without it is a throttle. */
          if (verdict.kind == CF_SESSION_VERDICT_USAGE_LIMIT)
            g_assert_true (has_limit_evidence (&signals, h, t, p));
          if ((h == H_429 || h == H_THROTTLE_TEXT) && !has_limit_evidence (&signals, h, t, p) && !auth)
            g_assert_true (verdict.kind == CF_SESSION_VERDICT_THROTTLE || verdict.kind == CF_SESSION_VERDICT_WORKING
                           || verdict.kind == CF_SESSION_VERDICT_NEEDS_INPUT);
          g_assert_true ((verdict.sources & ~present) == 0);
          g_assert_true ((verdict.conflicting & ~present) == 0);
          g_assert_true ((verdict.sources & verdict.conflicting) == 0);
          g_assert_true ((verdict.kind == CF_SESSION_VERDICT_UNKNOWN) == (verdict.sources == 0));
          g_assert_true (verdict.reset_unix == 0 || verdict.kind == CF_SESSION_VERDICT_USAGE_LIMIT);
          g_assert_true (verdict.reset_unix == 0 || verdict.reset_unix > NOW);
          g_assert_true (verdict.kind != CF_SESSION_VERDICT_NEEDS_INPUT || verdict.needs_input);
          g_assert_true (verdict.reason == NULL || verdict.kind >= CF_SESSION_VERDICT_NEEDS_INPUT);
        }
  g_assert_cmpuint (combinations, ==, N_HOOKS * N_TRANSCRIPTS * N_PANES);
  signals_clear (&signals);
}

static void
test_verdict_kind_strings (void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint k = CF_SESSION_VERDICT_UNKNOWN; k <= CF_SESSION_VERDICT_AUTH; k++)
    {
      const char *name = cf_session_verdict_kind_to_string (k);

      g_assert_cmpstr (name, !=, "invalid");
      g_assert_false (g_hash_table_contains (seen, name));
      g_hash_table_add (seen, (gpointer) name);
    }
  g_assert_cmpstr (cf_session_verdict_kind_to_string (CF_SESSION_VERDICT_AUTH + 1), ==, "invalid");
  g_assert_true (cf_verdict_error_is_auth ("billing_error"));
  g_assert_true (cf_verdict_error_is_auth ("account_on_hold"));
  g_assert_false (cf_verdict_error_is_auth ("rate_limit"));
  g_assert_false (cf_verdict_error_is_auth (NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/transcript/fixtures", test_transcript_fixtures);
  g_test_add_func ("/transcript/lines", test_transcript_lines);
  g_test_add_func ("/transcript/limits", test_transcript_limits);
  g_test_add_func ("/transcript/cursor", test_transcript_cursor);
  g_test_add_func ("/transcript/cursor-long-line", test_transcript_cursor_long_line);
  g_test_add_func ("/verdict/table", test_verdict_table);
  g_test_add_func ("/verdict/drives-hook-decision", test_verdict_drives_hook_decision);
  g_test_add_func ("/verdict/expired-limit", test_verdict_expired_limit);
  g_test_add_func ("/verdict/all-combinations", test_verdict_all_combinations);
  g_test_add_func ("/verdict/kind-strings", test_verdict_kind_strings);
  return g_test_run ();
}
