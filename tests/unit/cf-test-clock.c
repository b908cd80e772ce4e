/* SPDX-License-Identifier: MIT */
#include "cf-test-clock.h"

/* The time until CLOCK's next timeout, or -1 when none is armed. */
static gint64
until_next (CfClock *clock)
{
  gint64 next = cf_clock_next_deadline (clock);

  return next < 0 ? -1 : MAX (next - cf_clock_now_monotonic (clock), 0);
}

gboolean
cf_test_run_until_advancing (gpointer fixture, CfTestCondition cond, gconstpointer data,
                             CfClock *clock, gint64 max_step_usec, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!cond (fixture, data))
    {
      gint64 wait;

      if (g_get_monotonic_time () >= deadline)
        return FALSE;
      if (g_main_context_iteration (NULL, FALSE))
        continue;
      wait = until_next (clock);
      if (wait >= 0 && wait <= max_step_usec)
        cf_clock_advance (clock, wait);
      else
        g_usleep (1000);
    }
  return TRUE;
}

gint64
cf_test_clock_advance_to_next (CfClock *clock, gint64 max_usec, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gint64 wait;

  for (;;)
    {
      wait = until_next (clock);
      if (wait >= 0 && wait <= max_usec)
        break;
      if (g_get_monotonic_time () >= deadline)
        g_error ("no timeout due within %" G_GINT64_FORMAT " ms was armed within %u ms",
                 max_usec / 1000, timeout_ms);
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
  cf_clock_advance (clock, wait);
  return wait;
}

void
cf_test_clock_advance (CfClock *clock, gint64 usec, guint settle_ms)
{
  cf_clock_advance (clock, usec);
  cf_test_run_for (settle_ms);
}
