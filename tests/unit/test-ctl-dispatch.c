/* SPDX-License-Identifier: MIT */
#include <glib.h>

#include "cf-ctl-output.h"

/* Why dispatch is held, as `claude-failoverctl status` says it. */
static void
test_dispatch_text (void)
{
  static const struct {
    gboolean paused;
    const char *swap_state;
    guint available, accounts;
    const char *expected;
  } cases[] = {
    { FALSE, "normal", 2, 2, "running" },
    { FALSE, "fallback", 1, 2, "running" },
    { TRUE, "normal", 2, 2, "paused by an operator (claude-failoverctl resume)" },
    { TRUE, "switching", 0, 2, "paused by an operator (claude-failoverctl resume)" },
    { FALSE, "saving", 2, 2, "held while the account switch runs" },
    { FALSE, "switching", 1, 2, "held while the account switch runs" },
    { FALSE, "resuming", 1, 2, "held while the account switch runs" },
    { FALSE, "normal", 0, 2, "running, but every account is exhausted: sessions wait for a reset" },
    { FALSE, "fallback", 0, 1, "running, but every account is exhausted: sessions wait for a reset" },
    { FALSE, "normal", 0, 0, "running" },
    { FALSE, NULL, 1, 1, "running" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpstr (cf_ctl_dispatch_text (cases[i].paused, cases[i].swap_state,
                                           cases[i].available, cases[i].accounts),
                     ==, cases[i].expected);
}

int
main (int argc, char **argv)
{
  g_setenv ("LANGUAGE", "C", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ctl/dispatch-text", test_dispatch_text);
  return g_test_run ();
}
