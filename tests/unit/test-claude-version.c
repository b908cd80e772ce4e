/* SPDX-License-Identifier: MIT */
#include <glib.h>

#include "cf-claude-version.h"

static void
test_parse (void)
{
  static const struct { const char *output; const char *want; } cases[] = {
    { "2.1.332 (Claude Code)\n", "2.1.332" },
    { "2.0.76 (Claude Code)", "2.0.76" },
    { "  1.0.0\n", "1.0.0" },
    { "2.2.0-beta.1 (Claude Code)", "2.2.0-beta.1" },
    { "10", "10" },
    { "", NULL },
    { "claude: command not found", NULL },
    { "2.1.x (Claude Code)", NULL },
    { "2..1", NULL },
    { "1.2.3.4.5", NULL },
    { "2.1.332-", NULL },
    { "99999999999999999999999.1", NULL },
    { NULL, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = cf_claude_version_parse (cases[i].output);

      g_test_message ("%s", cases[i].output);
      g_assert_cmpstr (got, ==, cases[i].want);
    }
}

static void
test_compare (void)
{
  static const struct { const char *a; const char *b; int want; } cases[] = {
    { "2.1.332", "2.1.332", 0 },
    { "2.1.333", "2.1.332", 1 },
    { "2.1.10", "2.1.9", 1 },
    { "2.0.76", "2.1.332", -1 },
    { "3.0.0", "2.99.999", 1 },
    { "2.1", "2.1.0", 0 },
    { "2.1.332", "2.1", 1 },
    { "2.2.0-beta.1", "2.2.0", -1 },
    { "2.2.0-beta.2", "2.2.0-beta.1", 1 },
    { "2.2.0-beta.1", "2.1.332", 1 },
    { "", "2.1.332", -1 },
    { "junk", "junk", 0 },
    { "2.1.332", NULL, 1 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      int got = cf_claude_version_compare (cases[i].a, cases[i].b);
      int back = cf_claude_version_compare (cases[i].b, cases[i].a);

      g_test_message ("%s vs %s", cases[i].a, cases[i].b);
      g_assert_cmpint (got < 0 ? -1 : got > 0, ==, cases[i].want);
      g_assert_cmpint (back < 0 ? -1 : back > 0, ==, -cases[i].want);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/claude-version/parse", test_parse);
  g_test_add_func ("/claude-version/compare", test_compare);
  return g_test_run ();
}
