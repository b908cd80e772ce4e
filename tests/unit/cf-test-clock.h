/* SPDX-License-Identifier: MIT */
#pragma once

#include "cf-clock.h"
#include "cf-test-util.h"

G_BEGIN_DECLS

/* Waiting in unit tests whose component runs on a manual CfClock: the
 * main loop turns for real (I/O, worker threads), only the component's
 * timers wait for the test to move the clock. */

/* Runs the default main context until COND holds; meanwhile, whenever a
 * turn of the loop dispatched nothing and CLOCK has a timeout due within
 * MAX_STEP_USEC of its time, moves CLOCK to that deadline (so waits of up
 * to MAX_STEP_USEC pass at once; a longer one, a request's timeout for
 * instance, never passes by itself). FALSE after TIMEOUT_MS of real time. */
gboolean cf_test_run_until_advancing (gpointer fixture, CfTestCondition cond, gconstpointer data,
                                      CfClock *clock, gint64 max_step_usec, guint timeout_ms);

/* Runs the main loop until CLOCK has a timeout due within MAX_USEC of its
 * time (failing the test after TIMEOUT_MS of real time), then moves CLOCK
 * to it; returns how far it moved (µs). */
gint64 cf_test_clock_advance_to_next (CfClock *clock, gint64 max_usec, guint timeout_ms);

/* Moves CLOCK by USEC, then lets the loop handle what that started for
 * SETTLE_MS of real time. */
void cf_test_clock_advance (CfClock *clock, gint64 usec, guint settle_ms);

G_END_DECLS
