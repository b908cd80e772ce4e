/* SPDX-License-Identifier: MIT */
#include "cf-usage.h"

#include <math.h>
#include <string.h>

#include "cf-reset-time.h"

static const char *const source_names[] = {
  [CF_USAGE_SOURCE_NONE] = "",
  [CF_USAGE_SOURCE_STATUSLINE] = "statusline",
  [CF_USAGE_SOURCE_LIMIT] = "limit",
  [CF_USAGE_SOURCE_WARNING] = "warning",
};

G_STATIC_ASSERT (G_N_ELEMENTS (source_names) == CF_USAGE_SOURCE_LAST + 1);

const char *
cf_usage_source_to_string (CfUsageSource source)
{
  if ((guint) source >= G_N_ELEMENTS (source_names))
    return "";
  return source_names[source];
}

CfUsageSource
cf_usage_source_from_string (const char *text)
{
  if (text == NULL)
    return CF_USAGE_SOURCE_NONE;
  for (guint i = 1; i < G_N_ELEMENTS (source_names); i++)
    if (g_str_equal (text, source_names[i]))
      return (CfUsageSource) i;
  return CF_USAGE_SOURCE_NONE;
}

const char *
cf_usage_window_kind_to_string (CfUsageWindowKind kind)
{
  return kind == CF_USAGE_SEVEN_DAY ? "seven_day" : "five_hour";
}

void
cf_usage_init (CfUsage *usage)
{
  for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
    usage->windows[i] = (CfUsageWindow) { .used = -1 };
}

gboolean
cf_usage_window_is_known (const CfUsageWindow *window)
{
  return window->used >= 0;
}

gboolean
cf_usage_equal (const CfUsage *a, const CfUsage *b)
{
  for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
    {
      const CfUsageWindow *x = &a->windows[i], *y = &b->windows[i];

      if (x->used != y->used || x->resets_at != y->resets_at || x->updated != y->updated ||
          x->source != y->source)
        return FALSE;
    }
  return TRUE;
}

CfUsageWindow
cf_usage_window_at (const CfUsageWindow *window, gint64 now)
{
  CfUsageWindow aged = *window;

  if (window->resets_at > 0 && now >= window->resets_at)
    {
      aged.used = -1;
      aged.resets_at = 0;
    }
  return aged;
}

gint64
cf_usage_next_change (const CfUsage *usage, gint64 now)
{
  gint64 next = 0;

  for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
    {
      gint64 reset = usage->windows[i].resets_at;

      if (reset > now && (next == 0 || reset < next))
        next = reset;
    }
  return next;
}

gboolean
cf_usage_record (CfUsage *usage, CfUsageWindowKind kind, double used, gint64 resets_at,
                 CfUsageSource source, gint64 when)
{
  CfUsageWindow *window;
  CfUsageWindow next;

  g_return_val_if_fail ((guint) kind < CF_USAGE_N_WINDOWS, FALSE);
  window = &usage->windows[kind];
  if (when < window->updated)
    return FALSE;
  if (isnan (used))
    used = -1;
  if (used > CF_USAGE_PERCENT_MAX)
    used = CF_USAGE_PERCENT_MAX;
  if (resets_at < 0)
    resets_at = 0;

  next = cf_usage_window_at (window, when);
  if (used >= 0)
    next.used = used;
  else if (resets_at != 0 && resets_at != next.resets_at)
    /* A new window began: what was used of the old one says nothing. */
    next.used = -1;
  if (resets_at != 0)
    next.resets_at = resets_at;
  if (used < 0 && resets_at == 0)
    return FALSE;
  next.updated = when;
  next.source = source;

  if (next.used == window->used && next.resets_at == window->resets_at &&
      next.source == window->source && next.updated == window->updated)
    return FALSE;
  *window = next;
  return TRUE;
}

double
cf_usage_peak (const CfUsage *usage, gint64 now)
{
  double peak = -1;

  for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
    {
      CfUsageWindow window = cf_usage_window_at (&usage->windows[i], now);

      if (cf_usage_window_is_known (&window))
        peak = MAX (peak, window.used);
    }
  return peak;
}

gboolean
cf_usage_parse_warning (const char *line, gint64 now_unix, GTimeZone *local_zone,
                        CfUsageWindowKind *kind, double *percent, gint64 *resets_at)
{
  static gsize once;
  static GRegex *regex;
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree char *number = NULL;
  g_autofree char *words = NULL;
  g_autofree char *window = NULL;
  g_autoptr(GDateTime) reset = NULL;
  const char *resets;
  gint end = 0;

  if (g_once_init_enter (&once))
    {
      regex = g_regex_new ("used (\\d{1,3})% of your ((?:[\\w-]+ ){0,2}?)limit\\b",
                           G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL);
      g_once_init_leave (&once, 1);
    }
  if (line == NULL || !g_utf8_validate (line, -1, NULL) ||
      !g_regex_match (regex, line, 0, &match))
    return FALSE;
  number = g_match_info_fetch (match, 1);
  words = g_match_info_fetch (match, 2);
  window = g_utf8_strdown (words, -1);
  if (strstr (window, "week") != NULL || strstr (window, "opus") != NULL ||
      strstr (window, "sonnet") != NULL)
    *kind = CF_USAGE_SEVEN_DAY;
  else if (strstr (window, "5-hour") != NULL || strstr (window, "five-hour") != NULL ||
           strstr (window, "session") != NULL)
    *kind = CF_USAGE_FIVE_HOUR;
  else
    return FALSE;
  *percent = MIN (g_ascii_strtod (number, NULL), CF_USAGE_PERCENT_MAX);
  g_match_info_fetch_pos (match, 0, NULL, &end);
  resets = strstr (line + end, "resets");
  if (resets != NULL)
    reset = cf_reset_time_parse (resets + strlen ("resets"), now_unix, local_zone);
  *resets_at = reset != NULL ? g_date_time_to_unix (reset) * G_USEC_PER_SEC : 0;
  return TRUE;
}
