/* SPDX-License-Identifier: MIT */
#include "cf-duration.h"

#include <string.h>

typedef struct {
  const char *suffix;
  gint64 usec;
} CfDurationUnit;

/* Longest suffix first within a shared prefix ("ms" before "m"), and in the
 * descending order the components must follow. "us" exists so that every
 * value cf_duration_format produces parses back exactly. */
static const CfDurationUnit units[] = {
  { "h", (gint64) G_USEC_PER_SEC * 3600 },
  { "ms", 1000 },
  { "m", (gint64) G_USEC_PER_SEC * 60 },
  { "s", G_USEC_PER_SEC },
  { "us", 1 },
};

/* Rank of each unit in the required descending order, indexed like units[]. */
static const guint unit_rank[] = { 0, 3, 1, 2, 4 };

static gboolean
parse_digits (const char **cursor, guint64 *out)
{
  const char *p = *cursor;
  guint64 value = 0;

  if (!g_ascii_isdigit (*p))
    return FALSE;
  for (; g_ascii_isdigit (*p); p++)
    {
      guint digit = (guint) (*p - '0');
      if (value > (G_MAXUINT64 - digit) / 10)
        return FALSE;
      value = value * 10 + digit;
    }
  *cursor = p;
  *out = value;
  return TRUE;
}

gboolean
cf_duration_parse (const char *text, gint64 *out_usec)
{
  const char *p = text;
  gint64 total = 0;
  gint next_rank = 0;
  guint64 number;

  if (text == NULL || *text == '\0')
    return FALSE;

  if (!parse_digits (&p, &number))
    return FALSE;
  if (*p == '\0')
    {
      /* A bare integer is seconds, as in the Go predecessor's integer fields. */
      if (number > (guint64) (G_MAXINT64 / G_USEC_PER_SEC))
        return FALSE;
      if (out_usec != NULL)
        *out_usec = (gint64) number * G_USEC_PER_SEC;
      return TRUE;
    }

  for (;;)
    {
      gsize i;
      gint64 part;

      for (i = 0; i < G_N_ELEMENTS (units); i++)
        if (g_str_has_prefix (p, units[i].suffix))
          break;
      if (i == G_N_ELEMENTS (units))
        return FALSE;
      if ((gint) unit_rank[i] < next_rank)
        return FALSE;
      next_rank = (gint) unit_rank[i] + 1;
      p += strlen (units[i].suffix);

      if (number > (guint64) (G_MAXINT64 / units[i].usec))
        return FALSE;
      part = (gint64) number * units[i].usec;
      if (total > G_MAXINT64 - part)
        return FALSE;
      total += part;

      if (*p == '\0')
        break;
      if (!parse_digits (&p, &number))
        return FALSE;
    }

  if (out_usec != NULL)
    *out_usec = total;
  return TRUE;
}

char *
cf_duration_format (gint64 usec)
{
  GString *out = g_string_new (NULL);
  guint64 rest;

  if (usec == 0)
    return g_string_free (g_string_append (out, "0s"), FALSE);

  if (usec < 0)
    {
      /* Not parseable, but a readable log line beats an assertion. */
      g_string_append_c (out, '-');
      rest = (guint64) -(usec + 1) + 1;
    }
  else
    rest = (guint64) usec;

  {
    static const struct { const char *suffix; guint64 usec; } parts[] = {
      { "h", (guint64) G_USEC_PER_SEC * 3600 },
      { "m", (guint64) G_USEC_PER_SEC * 60 },
      { "s", (guint64) G_USEC_PER_SEC },
      { "ms", 1000 },
      { "us", 1 },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (parts); i++)
      {
        guint64 count = rest / parts[i].usec;
        if (count == 0)
          continue;
        g_string_append_printf (out, "%" G_GUINT64_FORMAT "%s", count, parts[i].suffix);
        rest -= count * parts[i].usec;
      }
  }

  return g_string_free (out, FALSE);
}
