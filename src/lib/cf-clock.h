/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* CfClock: where a component reads the time and arms its timers, so that a
 * unit test can move time itself instead of waiting for it.
 *
 *   cf_clock_get_default ()  the real clock: g_get_monotonic_time (),
 *                            g_get_real_time (), g_timeout_add () (on the
 *                            global default main context, the daemon's)
 *   cf_clock_new_manual ()   a test clock: its time moves only when the test
 *                            calls cf_clock_advance (), which runs the
 *                            timeouts that fall due, in order of deadline
 *                            (equal deadlines in the order they were added)
 *
 * A component takes a clock (NULL = the default one) and calls
 * cf_clock_timeout_add () / cf_clock_clear () where it called
 * g_timeout_add () / g_clear_handle_id (.., g_source_remove). Timeouts of a
 * manual clock are run by cf_clock_advance () only, never by a main loop;
 * a callback returning G_SOURCE_CONTINUE runs again INTERVAL later (counted
 * from its deadline, as GLib does; an interval of 0 repeats after 1 ms).
 * Reading the time is thread-safe for both kinds; timeouts of a manual
 * clock are added, removed and run on one thread. */

typedef struct _CfClock CfClock;

/* The real clock; never freed (ref and unref do nothing to it). */
CfClock *cf_clock_get_default (void);

/* A manual clock starting at monotonic time START_MONOTONIC and wall-clock
 * time START_REAL (µs; 0, 0 = the real clock's times now). */
CfClock *cf_clock_new_manual (gint64 start_monotonic, gint64 start_real);

CfClock *cf_clock_ref (CfClock *clock);
void cf_clock_unref (CfClock *clock);

gboolean cf_clock_is_manual (CfClock *clock);

/* µs, like g_get_monotonic_time () and g_get_real_time (). */
gint64 cf_clock_now_monotonic (CfClock *clock);
gint64 cf_clock_now_real (CfClock *clock);

/* FUNC (DATA) in INTERVAL_MS; a non-zero id for cf_clock_remove (). */
guint cf_clock_timeout_add (CfClock *clock, guint interval_ms, GSourceFunc func, gpointer data);

/* Removes the timeout ID (it must exist, as for g_source_remove). */
void cf_clock_remove (CfClock *clock, guint id);

/* Removes *ID when it is not 0 and sets it to 0. */
void cf_clock_clear (CfClock *clock, guint *id);

/* Manual clocks only. Moves the time USEC (>= 0) forward, running every
 * timeout whose deadline falls in that span, including those the callbacks
 * add or re-arm, each with the time set to its deadline. */
void cf_clock_advance (CfClock *clock, gint64 usec);

/* Manual clocks only: the monotonic deadline of the earliest timeout, or -1
 * when none is armed; and how many are armed. */
gint64 cf_clock_next_deadline (CfClock *clock);
guint cf_clock_get_n_timeouts (CfClock *clock);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfClock, cf_clock_unref)

G_END_DECLS
