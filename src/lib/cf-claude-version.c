/* SPDX-License-Identifier: MIT */
#include "cf-claude-version.h"

#include <string.h>

#define MAX_PARTS 4

/* Splits TEXT into up to MAX_PARTS numbers and the prerelease tag after
 * '-'. FALSE when it is not a version. */
static gboolean
split (const char *text, guint64 parts[MAX_PARTS], guint *n_parts, const char **prerelease)
{
  const char *p = text;

  *n_parts = 0;
  *prerelease = NULL;
  if (text == NULL)
    return FALSE;
  for (;;)
    {
      guint64 number = 0;
      const char *start = p;

      while (g_ascii_isdigit (*p))
        {
          if (number > (G_MAXUINT64 - 9) / 10)
            return FALSE;
          number = number * 10 + (guint64) (*p - '0');
          p++;
        }
      if (p == start || *n_parts == MAX_PARTS)
        return FALSE;
      parts[(*n_parts)++] = number;
      if (*p == '.')
        {
          p++;
          continue;
        }
      if (*p == '\0')
        return TRUE;
      if (*p == '-' && p[1] != '\0')
        {
          for (const char *q = p + 1; *q != '\0'; q++)
            if (!g_ascii_isalnum (*q) && *q != '.' && *q != '-')
              return FALSE;
          *prerelease = p + 1;
          return TRUE;
        }
      return FALSE;
    }
}

char *
cf_claude_version_parse (const char *output)
{
  g_autofree char *word = NULL;
  guint64 parts[MAX_PARTS];
  guint n_parts;
  const char *prerelease;
  gsize length;

  if (output == NULL)
    return NULL;
  while (g_ascii_isspace (*output))
    output++;
  length = strcspn (output, " \t\r\n");
  if (length == 0 || length > 64)
    return NULL;
  word = g_strndup (output, length);
  if (!split (word, parts, &n_parts, &prerelease))
    return NULL;
  return g_steal_pointer (&word);
}

int
cf_claude_version_compare (const char *a, const char *b)
{
  guint64 pa[MAX_PARTS], pb[MAX_PARTS];
  guint na, nb;
  const char *ra, *rb;
  gboolean ok_a = split (a, pa, &na, &ra);
  gboolean ok_b = split (b, pb, &nb, &rb);

  if (!ok_a || !ok_b)
    return (int) ok_a - (int) ok_b;
  for (guint i = 0; i < MAX(na, nb); i++)
    {
      guint64 x = i < na ? pa[i] : 0;
      guint64 y = i < nb ? pb[i] : 0;

      if (x != y)
        return x < y ? -1 : 1;
    }
  if (ra == NULL || rb == NULL)
    return (ra == NULL) - (rb == NULL);
  return g_strcmp0 (ra, rb) < 0 ? -1 : g_strcmp0 (ra, rb) > 0;
}
