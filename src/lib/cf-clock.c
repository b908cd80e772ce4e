/* SPDX-License-Identifier: MIT */
/* CfClock: the real clock (GLib's time and g_timeout_add) and the manual
 * clock of the unit tests, whose timeouts run from cf_clock_advance (). */
#include "cf-clock.h"

typedef struct {
  guint id;
  guint64 seq;                 /* order of arming, for equal deadlines */
  gint64 deadline;             /* monotonic µs */
  guint interval_ms;
  GSourceFunc func;
  gpointer data;
  gboolean removed;            /* removed while its callback ran */
} Timer;

struct _CfClock {
  gboolean manual;
  gint ref_count;
  GMutex lock;                 /* now_* of a manual clock */
  gint64 now_monotonic;
  gint64 real_offset;          /* real = monotonic + real_offset */
  GPtrArray *timers;           /* Timer*, armed */
  Timer *running;
  guint next_id;
  guint64 next_seq;
  gboolean advancing;
};

static CfClock default_clock = { .manual = FALSE };

CfClock *
cf_clock_get_default (void)
{
  return &default_clock;
}

CfClock *
cf_clock_new_manual (gint64 start_monotonic, gint64 start_real)
{
  CfClock *clock = g_new0 (CfClock, 1);

  if (start_monotonic == 0 && start_real == 0)
    {
      start_monotonic = g_get_monotonic_time ();
      start_real = g_get_real_time ();
    }
  clock->manual = TRUE;
  clock->ref_count = 1;
  g_mutex_init (&clock->lock);
  clock->now_monotonic = start_monotonic;
  clock->real_offset = start_real - start_monotonic;
  clock->timers = g_ptr_array_new_with_free_func (g_free);
  clock->next_id = 1;
  return clock;
}

CfClock *
cf_clock_ref (CfClock *clock)
{
  g_return_val_if_fail (clock != NULL, NULL);

  if (clock->manual)
    g_atomic_int_inc (&clock->ref_count);
  return clock;
}

void
cf_clock_unref (CfClock *clock)
{
  if (clock == NULL || !clock->manual)
    return;
  if (!g_atomic_int_dec_and_test (&clock->ref_count))
    return;
  g_ptr_array_unref (clock->timers);
  g_mutex_clear (&clock->lock);
  g_free (clock);
}

gboolean
cf_clock_is_manual (CfClock *clock)
{
  g_return_val_if_fail (clock != NULL, FALSE);
  return clock->manual;
}

gint64
cf_clock_now_monotonic (CfClock *clock)
{
  gint64 now;

  g_return_val_if_fail (clock != NULL, 0);
  if (!clock->manual)
    return g_get_monotonic_time ();
  g_mutex_lock (&clock->lock);
  now = clock->now_monotonic;
  g_mutex_unlock (&clock->lock);
  return now;
}

gint64
cf_clock_now_real (CfClock *clock)
{
  gint64 now;

  g_return_val_if_fail (clock != NULL, 0);
  if (!clock->manual)
    return g_get_real_time ();
  g_mutex_lock (&clock->lock);
  now = clock->now_monotonic + clock->real_offset;
  g_mutex_unlock (&clock->lock);
  return now;
}

static void
arm (CfClock *clock, Timer *timer, gint64 from)
{
  gint64 interval = timer->interval_ms > 0 ? (gint64) timer->interval_ms * 1000 : 1000;

  timer->deadline = from + interval;
  timer->seq = clock->next_seq++;
  g_ptr_array_add (clock->timers, timer);
}

guint
cf_clock_timeout_add (CfClock *clock, guint interval_ms, GSourceFunc func, gpointer data)
{
  Timer *timer;

  g_return_val_if_fail (clock != NULL, 0);
  g_return_val_if_fail (func != NULL, 0);
  if (!clock->manual)
    return g_timeout_add (interval_ms, func, data);
  timer = g_new0 (Timer, 1);
  timer->id = clock->next_id++;
  if (clock->next_id == 0)
    clock->next_id = 1;
  timer->interval_ms = interval_ms;
  timer->func = func;
  timer->data = data;
  timer->seq = clock->next_seq++;
  timer->deadline = cf_clock_now_monotonic (clock) + (gint64) interval_ms * 1000;
  g_ptr_array_add (clock->timers, timer);
  return timer->id;
}

void
cf_clock_remove (CfClock *clock, guint id)
{
  g_return_if_fail (clock != NULL);
  g_return_if_fail (id != 0);
  if (!clock->manual)
    {
      g_source_remove (id);
      return;
    }
  for (guint i = 0; i < clock->timers->len; i++)
    if (((Timer *) g_ptr_array_index (clock->timers, i))->id == id)
      {
        g_ptr_array_remove_index (clock->timers, i);
        return;
      }
  if (clock->running != NULL && clock->running->id == id && !clock->running->removed)
    {
      clock->running->removed = TRUE;
      return;
    }
  g_critical ("cf_clock_remove: no timeout %u on this manual clock", id);
}

void
cf_clock_clear (CfClock *clock, guint *id)
{
  guint old = *id;

  *id = 0;
  if (old != 0)
    cf_clock_remove (clock, old);
}

/* The index of the earliest timer due at or before LIMIT, or -1. */
static gint
earliest (CfClock *clock, gint64 limit)
{
  gint best = -1;
  Timer *best_timer = NULL;

  for (guint i = 0; i < clock->timers->len; i++)
    {
      Timer *timer = g_ptr_array_index (clock->timers, i);

      if (timer->deadline > limit)
        continue;
      if (best_timer == NULL || timer->deadline < best_timer->deadline ||
          (timer->deadline == best_timer->deadline && timer->seq < best_timer->seq))
        {
          best = (gint) i;
          best_timer = timer;
        }
    }
  return best;
}

void
cf_clock_advance (CfClock *clock, gint64 usec)
{
  gint64 target;
  gint index;

  g_return_if_fail (clock != NULL && clock->manual);
  g_return_if_fail (usec >= 0);
  g_return_if_fail (!clock->advancing);

  clock->advancing = TRUE;
  target = cf_clock_now_monotonic (clock) + usec;
  while ((index = earliest (clock, target)) >= 0)
    {
      Timer *timer = g_ptr_array_steal_index (clock->timers, (guint) index);
      gboolean again;

      g_mutex_lock (&clock->lock);
      clock->now_monotonic = MAX (clock->now_monotonic, timer->deadline);
      g_mutex_unlock (&clock->lock);
      clock->running = timer;
      again = timer->func (timer->data);
      clock->running = NULL;
      if (again && !timer->removed)
        arm (clock, timer, timer->deadline);
      else
        g_free (timer);
    }
  g_mutex_lock (&clock->lock);
  clock->now_monotonic = target;
  g_mutex_unlock (&clock->lock);
  clock->advancing = FALSE;
}

gint64
cf_clock_next_deadline (CfClock *clock)
{
  gint index;

  g_return_val_if_fail (clock != NULL && clock->manual, -1);
  index = earliest (clock, G_MAXINT64);
  return index < 0 ? -1 : ((Timer *) g_ptr_array_index (clock->timers, (guint) index))->deadline;
}

guint
cf_clock_get_n_timeouts (CfClock *clock)
{
  g_return_val_if_fail (clock != NULL && clock->manual, 0);
  return clock->timers->len;
}
