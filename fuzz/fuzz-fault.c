/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the fault-list parser (CF_FAULT_FAIL).  Input: the
 * name, a NUL byte, the list (no NUL: the rest).  Checks: no crash; a bare
 * NAME means "always" (G_MAXUINT), a count comes only from an item
 * "NAME:digits", both as a plain split on ',' finds them (the first item
 * naming NAME decides). */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-fault.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* An item "NAME:digits" (at most G_MAXUINT) in LIST; its count, or -1. */
static gint64
first_count (const char *list, const char *name)
{
  g_auto(GStrv) items = g_strsplit (list, ",", -1);
  gsize length = strlen (name);

  if (length == 0)
    return -1;
  for (guint i = 0; items[i] != NULL; i++)
    {
      const char *item = items[i];
      guint64 value = 0;
      const char *p;

      if (strcmp (item, name) == 0)
        return G_MAXUINT;
      if (strncmp (item, name, length) != 0 || item[length] != ':' || item[length + 1] == '\0')
        continue;
      for (p = item + length + 1; g_ascii_isdigit (*p) && value <= G_MAXUINT; p++)
        value = value * 10 + (guint64) (*p - '0');
      if (*p == '\0' && value <= G_MAXUINT)
        return (gint64) value;
    }
  return -1;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const uint8_t *split = memchr (data, '\0', size);
  g_autofree char *name = NULL;
  g_autofree char *list = NULL;
  guint times = 0;
  gint64 expected;

  if (split == NULL)
    return 0;
  if (memchr (split + 1, '\0', size - (gsize) (split - data) - 1) != NULL)
    return 0;
  name = g_strndup ((const char *) data, (gsize) (split - data));
  list = g_strndup ((const char *) split + 1, size - (gsize) (split - data) - 1);

  /* The first item naming NAME decides, as the parser reads left to right. */
  expected = first_count (list, name);
  if (cf_fault_fail_times (list, name, &times))
    g_assert_cmpint ((gint64) times, ==, expected);
  else
    g_assert_cmpint (expected, ==, -1);
  if (cf_fault_list_contains (list, name))
    g_assert_cmpint (expected, >=, 0);
  return 0;
}
