/* SPDX-License-Identifier: MIT */
#include "cf-sse.h"

static void
append_one_line (GString *out, const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    g_string_append_c (out, (*p == '\r' || *p == '\n') ? ' ' : *p);
}

char *
cf_sse_event (const char *name, const char *data)
{
  GString *out = g_string_new ("event: ");
  const char *p = data != NULL ? data : "";

  append_one_line (out, name != NULL ? name : "message");
  g_string_append (out, "\ndata: ");
  for (; *p != '\0'; p++)
    {
      if (*p == '\r' || *p == '\n')
        {
          if (*p == '\r' && p[1] == '\n')
            p++;
          g_string_append (out, "\ndata: ");
        }
      else
        g_string_append_c (out, *p);
    }
  g_string_append (out, "\n\n");
  return g_string_free (out, FALSE);
}

char *
cf_sse_comment (const char *text)
{
  GString *out = g_string_new (": ");

  append_one_line (out, text != NULL ? text : "");
  g_string_append (out, "\n\n");
  return g_string_free (out, FALSE);
}
