/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the transcript line parser and the verdict that
 * fuses it: any bytes either parse into an entry whose fields keep their
 * documented guarantees, or fail with one CF_TRANSCRIPT_ERROR line; the
 * entry then goes through cf_session_verdict_fuse () with each hook case
 * and no pane, and the verdict is self-consistent.  The same bytes, fed
 * to a CfTranscriptCursor in two passes split where byte 0 says, consume
 * complete lines only and keep an assistant entry.  Input layout: byte 0
 * picks the hook, the rest is the line. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-transcript.h"
#include "cf-verdict.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* 2026-12-06T13:20:00Z */
#define NOW G_GINT64_CONSTANT (1796563200)

static const CfVerdictHook hooks[] = {
  { NULL },
  { "StopFailure", "rate_limit", NULL, NULL },
  { "StopFailure", "rate_limit", "API Error: Server is temporarily limiting requests (not your usage limit)", NULL },
  { "StopFailure", "server_error", NULL, NULL },
  { "Stop", NULL, "Done.", NULL },
  { "Notification", NULL, NULL, "permission_prompt" },
};

static void
check_string (const char *text, gsize max)
{
  if (text == NULL)
    return;
  g_assert_true (g_utf8_validate (text, -1, NULL));
  g_assert_cmpuint (strlen (text), <=, max);
}

static void
check_entry (const CfTranscriptEntry *entry)
{
  check_string (entry->error, CF_TRANSCRIPT_LINE_MAX);
  check_string (entry->api_error, CF_TRANSCRIPT_LINE_MAX);
  check_string (entry->rate_limit_type, CF_TRANSCRIPT_LINE_MAX);
  check_string (entry->text, CF_TRANSCRIPT_TEXT_MAX);
  g_assert_cmpint (entry->api_error_status, >=, 0);
  g_assert_cmpint (entry->api_error_status, <=, 999);
  g_assert_cmpint (entry->resets_at, >=, 0);
  if (!entry->assistant)
    g_assert_true (entry->error == NULL && entry->text == NULL && !entry->is_api_error);
}

static void
check_verdict (const CfSessionVerdict *verdict, guint present)
{
  g_assert_cmpint (verdict->kind, >=, CF_SESSION_VERDICT_UNKNOWN);
  g_assert_cmpint (verdict->kind, <=, CF_SESSION_VERDICT_AUTH);
  g_assert_true ((verdict->sources & ~present) == 0);
  g_assert_true ((verdict->sources & verdict->conflicting) == 0);
  g_assert_true ((verdict->kind == CF_SESSION_VERDICT_UNKNOWN) == (verdict->sources == 0));
  g_assert_true (verdict->reset_unix == 0
                 || (verdict->kind == CF_SESSION_VERDICT_USAGE_LIMIT && verdict->reset_unix > NOW));
  if (verdict->reason != NULL)
    g_assert_true (g_utf8_validate (verdict->reason, -1, NULL));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_auto(CfTranscriptEntry) entry = { 0 };
  g_autoptr(GError) error = NULL;
  const CfVerdictHook *hook;
  CfSessionVerdict verdict;

  if (size < 1)
    return 0;
  hook = &hooks[data[0] % G_N_ELEMENTS (hooks)];

  /* The growing-file reader: a split anywhere gives the same result as
   * one pass when the split falls on a line's end or inside a line. */
  {
    g_autofree char *bytes = g_memdup2 (data + 1, size - 1);
    gsize split = (size - 1) == 0 ? 0 : data[0] % size;
    CfTranscriptCursor cursor = { 0 }, whole = { 0 };
    g_auto(CfTranscriptEntry) newest = { 0 };
    g_auto(CfTranscriptEntry) newest_whole = { 0 };
    guint64 first;

    cf_transcript_cursor_feed (&cursor, bytes, split, &newest);
    first = cursor.offset;
    g_assert_cmpuint (first, <=, split);
    g_assert_true (first == 0 || bytes[first - 1] == '\n');
    cf_transcript_cursor_feed (&cursor, bytes + first, size - 1 - first, &newest);
    g_assert_cmpuint (cursor.offset, <=, size - 1);
    g_assert_true (cursor.skipping || cursor.offset == 0 || bytes[cursor.offset - 1] == '\n');
    if (newest.assistant)
      check_entry (&newest);
    cf_transcript_cursor_feed (&whole, bytes, size - 1, &newest_whole);
    g_assert_cmpuint (whole.offset, ==, cursor.offset);
    g_assert_cmpint (whole.skipping, ==, cursor.skipping);
    g_assert_cmpstr (newest_whole.text, ==, newest.text);
    g_assert_cmpstr (newest_whole.error, ==, newest.error);
  }

  /* A copy of exactly SIZE - 1 bytes, so ASan sees any read past LENGTH. */
  {
    g_autofree char *line = g_memdup2 (data + 1, size - 1);

    if (!cf_transcript_line_parse (line, size - 1, &entry, &error))
      {
        g_assert_nonnull (error);
        g_assert_true (error->domain == CF_TRANSCRIPT_ERROR);
        g_assert_null (strchr (error->message, '\n'));
        g_assert_true (g_utf8_validate (error->message, -1, NULL));
        g_assert_false (entry.assistant);
        return 0;
      }
  }
  g_assert_null (error);
  check_entry (&entry);
  cf_session_verdict_fuse (hook->event ? hook : NULL, &entry, NULL, NOW, NULL, &verdict);
  check_verdict (&verdict, (hook->event ? CF_VERDICT_SOURCE_HOOK : 0) | CF_VERDICT_SOURCE_TRANSCRIPT);
  return 0;
}
