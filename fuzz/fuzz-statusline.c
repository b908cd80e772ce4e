/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the statusLine input parser: any bytes either parse
 * into a statusline whose fields keep their documented ranges, or fail with
 * one CF_STATUSLINE_ERROR line. What parses also goes through what the
 * command does with it: the report it forwards parses back to the same
 * usage, and the line it prints is one line of UTF-8. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-pane.h"
#include "cf-statusline.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define NOW (G_GINT64_CONSTANT (1796500000) * G_USEC_PER_SEC)

static void
check_statusline (const CfStatusline *statusline)
{
  g_assert_true (statusline->session_id == NULL || cf_uuid_is_valid (statusline->session_id));
  g_assert_true (statusline->model == NULL || g_utf8_validate (statusline->model, -1, NULL));
  g_assert_true (statusline->config_dir == NULL || g_path_is_absolute (statusline->config_dir));
  for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
    {
      const CfStatuslineWindow *window = &statusline->windows[i];

      g_assert_true (window->used == -1 || (window->used >= 0 && window->used <= 100));
      g_assert_cmpint (window->resets_at, >=, 0);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* SIZE bytes and a NUL after them: the warning parser reads a C string. */
  g_autofree char *json = g_strndup ((const char *) data, size);
  g_autoptr(CfStatusline) statusline = NULL;
  g_autoptr(CfStatusline) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *report = NULL;
  g_autofree char *line = NULL;

  {
    g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
    CfUsageWindowKind kind;
    double percent;
    gint64 reset;

    if (cf_usage_parse_warning (json, NOW / G_USEC_PER_SEC, utc, &kind, &percent, &reset))
      {
        g_assert_true (kind == CF_USAGE_FIVE_HOUR || kind == CF_USAGE_SEVEN_DAY);
        g_assert_true (percent >= 0 && percent <= 100);
        g_assert_cmpint (reset, >=, 0);
      }
  }

  if (!cf_statusline_parse (json, size, &statusline, &error))
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == CF_STATUSLINE_ERROR);
      g_assert_null (statusline);
      g_assert_null (strchr (error->message, '\n'));
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }
  check_statusline (statusline);

  report = cf_statusline_to_report (statusline, statusline->config_dir);
  g_assert_true (cf_statusline_parse (report, strlen (report), &again, NULL));
  g_assert_cmpstr (again->session_id, ==, statusline->session_id);
  g_assert_cmpstr (again->config_dir, ==, statusline->config_dir);
  for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
    {
      g_assert_cmpfloat (again->windows[i].used, ==, statusline->windows[i].used);
      g_assert_cmpint (again->windows[i].resets_at, ==, statusline->windows[i].resets_at);
    }

  line = cf_statusline_format (statusline, "main", NOW);
  g_assert_true (g_utf8_validate (line, -1, NULL));
  g_assert_null (strchr (line, '\n'));
  return 0;
}
