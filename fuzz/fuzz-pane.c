/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the pane classifier: any bytes classify without
 * crashing, and the verdict is self-consistent.  Input layout: byte 0 picks
 * tail_lines, byte 1 the local zone, bytes 2..5 shift "now" around
 * 2026-07-15T12:00:00Z; the rest is the pane text. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-pane.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define HEADER_SIZE 6
#define BASE_NOW G_GINT64_CONSTANT (1784116800)

static const char *const zones[] = {
  NULL, "UTC", "America/New_York", "Europe/Berlin", "Pacific/Auckland", "Australia/Lord_Howe",
  "Asia/Kolkata", "Pacific/Chatham",
};

static gboolean
is_pattern_id (const char *id, CfPanePatternKind kind)
{
  guint n = 0;
  const CfPanePatternInfo *rows = cf_pane_patterns (&n);

  for (guint i = 0; i < n; i++)
    if (rows[i].id == id && rows[i].kind == kind)
      return TRUE;
  return FALSE;
}

static void
check_verdict (const CfPaneVerdict *verdict)
{
  g_assert_true (verdict->limit == (verdict->limit_match && !verdict->server_error));
  g_assert_true ((verdict->pattern != NULL) == verdict->limit_match);
  /* The /rate-limit-options menu is a limit by itself: its dialog row. */
  g_assert_true (verdict->pattern == NULL || is_pattern_id (verdict->pattern, CF_PANE_PATTERN_LIMIT)
                 || (is_pattern_id (verdict->pattern, CF_PANE_PATTERN_DIALOG)
                     && verdict->dialog_kind == CF_PANE_DIALOG_LIMIT_MENU));
  g_assert_true ((verdict->warning_pattern != NULL) == verdict->warning);
  g_assert_true (verdict->warning_pattern == NULL
                 || is_pattern_id (verdict->warning_pattern, CF_PANE_PATTERN_WARNING));
  g_assert_true ((verdict->server_error_pattern != NULL) == verdict->server_error);
  g_assert_true (verdict->server_error_pattern == NULL
                 || is_pattern_id (verdict->server_error_pattern, CF_PANE_PATTERN_SERVER_ERROR));
  g_assert_true (verdict->reset_at == NULL || verdict->limit_match);
  g_assert_true (verdict->resume_uuid == NULL || cf_uuid_is_valid (verdict->resume_uuid));
  if (verdict->snippet != NULL)
    {
      g_assert_cmpuint (strlen (verdict->snippet), <=, CF_PANE_SNIPPET_MAX);
      g_assert_true (g_utf8_validate (verdict->snippet, -1, NULL));
    }
  g_assert_true (verdict->snippet != NULL
                 || !(verdict->busy || verdict->warning || verdict->limit_match || verdict->server_error
                      || verdict->throttle));

  /* Pattern table v2. */
  g_assert_true ((verdict->throttle_pattern != NULL) == verdict->throttle);
  g_assert_true (verdict->throttle_pattern == NULL
                 || is_pattern_id (verdict->throttle_pattern, CF_PANE_PATTERN_THROTTLE));
  g_assert_true ((verdict->dialog != NULL) == (verdict->dialog_kind != CF_PANE_DIALOG_NONE));
  g_assert_true ((cf_pane_dialog_fix (verdict->dialog_kind) != NULL)
                 == (verdict->dialog_kind != CF_PANE_DIALOG_NONE));
  if (verdict->dialog != NULL)
    {
      g_assert_cmpuint (strlen (verdict->dialog), <=, CF_PANE_SNIPPET_MAX);
      g_assert_true (g_utf8_validate (verdict->dialog, -1, NULL));
    }
  g_assert_true (verdict->needs_input
                 == (verdict->dialog_kind == CF_PANE_DIALOG_PERMISSION
                     || verdict->dialog_kind == CF_PANE_DIALOG_LIMIT_MENU
                     || verdict->dialog_kind == CF_PANE_DIALOG_UNKNOWN_MENU));
  g_assert_true (verdict->resume_failed == (verdict->dialog_kind == CF_PANE_DIALOG_NO_CONVERSATION));
  g_assert_true (verdict->auto_continue == NULL || g_str_equal (verdict->auto_continue, "armed")
                 || g_str_equal (verdict->auto_continue, "fired")
                 || g_str_equal (verdict->auto_continue, "cancelled"));
  g_assert_true (!verdict->ready
                 || (verdict->prompt && !verdict->busy && !verdict->exited
                     && verdict->dialog_kind == CF_PANE_DIALOG_NONE));
  g_assert_true (!verdict->exited || (!verdict->prompt && !verdict->busy));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GTimeZone) zone = NULL;
  g_auto(CfPaneVerdict) verdict = { 0 };
  CfPaneContext context = { 0 };
  gint32 shift = 0;

  if (size < HEADER_SIZE)
    return 0;
  memcpy (&shift, data + 2, sizeof shift);
  context.tail_lines = data[0] % 9;
  context.now_unix = BASE_NOW + shift;
  if (zones[data[1] % G_N_ELEMENTS (zones)] != NULL)
    zone = g_time_zone_new_identifier (zones[data[1] % G_N_ELEMENTS (zones)]);
  context.local_zone = zone;

  /* A copy of exactly SIZE bytes, so ASan sees any read past LENGTH. */
  {
    g_autofree char *text = g_memdup2 (data + HEADER_SIZE, size - HEADER_SIZE);

    cf_pane_classify (text, size - HEADER_SIZE, &context, &verdict);
  }
  check_verdict (&verdict);
  return 0;
}
