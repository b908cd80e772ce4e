/* SPDX-License-Identifier: MIT */
/* The inbox readiness state machine (cf-readiness.c): each case feeds a
 * fresh entry a sequence of events and checks, after each, the named state
 * and the actions asked for. */
#include "cf-readiness.h"

#define MS (G_TIME_SPAN_MILLISECOND)
#define S (G_TIME_SPAN_SECOND)
#define T0 (1000 * S)                           /* monotonic time of the first scan */
#define R0 (G_GINT64_CONSTANT (1780000000) * S) /* real time then */
#define REAL(mono) (R0 + (mono) - T0)

#define KEY(m, sz) { .mtime = (m), .size = (sz), .meta_size = -1 }
#define OLD KEY (REAL (T0) - 10 * S, 100)         /* written long ago */
#define YOUNG KEY (REAL (T0) - 100 * MS, 100)     /* written just now */
#define YOUNG2 KEY (REAL (T0) + 400 * MS, 120)    /* rewritten */
#define FUTURE KEY (REAL (T0) + 60 * S, 100)      /* mtime ahead of the real clock */

/* A scan with clock C that began at monotonic B and took 10 ms. */
#define SEEN(c, b, k) { .type = CF_READINESS_EVENT_SCAN_SEEN, .clock = (c), .now = (b) + 10 * MS, \
                        .key = k, .scan_begin = (b), .scan_end = (b) + 10 * MS, \
                        .scan_begin_real = REAL (b) }
#define SEEN_FULL(c, b, k) { .type = CF_READINESS_EVENT_SCAN_SEEN, .clock = (c), .full = TRUE, \
                             .now = (b) + 10 * MS, .key = k, .scan_begin = (b), \
                             .scan_end = (b) + 10 * MS, .scan_begin_real = REAL (b) }
#define END(c, n) { .type = CF_READINESS_EVENT_SCAN_END, .clock = (c), .now = (n) }
#define COMPLETE(c, n, m) { .type = CF_READINESS_EVENT_COMPLETE, .clock = (c), .now = (n), \
                            .moved = (m) }
#define WRITING(c, n) { .type = CF_READINESS_EVENT_WRITING, .clock = (c), .now = (n) }
#define LEFT(c) { .type = CF_READINESS_EVENT_LEFT, .clock = (c), .now = T0 }
#define ATTRS(c) { .type = CF_READINESS_EVENT_ATTRIBUTES, .clock = (c), .now = T0 }
#define WANT(n) { .type = CF_READINESS_EVENT_READ_WANTED, .now = (n), .now_real = REAL (n) }
#define PARSED(o, k, c, n) { .type = CF_READINESS_EVENT_PARSED, .outcome = CF_READINESS_PARSE_##o, \
                             .key = k, .clock = (c), .now = (n) }
#define CLAIM(c) { .type = CF_READINESS_EVENT_CLAIMED, .clock = (c), .now = T0 }
#define UNWATCH { .type = CF_READINESS_EVENT_UNWATCHED, .now = T0 }

#define A(x) CF_READINESS_ACTION_##x
#define ST(x) CF_READINESS_##x

typedef struct {
  CfReadinessEvent event;
  CfReadinessState state;      /* after the event */
  guint actions;
} Step;

typedef struct {
  const char *name;
  Step steps[12];
} Case;

/* Steps that bring an entry with key OLD to LISTED through scan 1 at T0. */
#define LISTED_OLD \
  { SEEN (1, T0, OLD), ST (READY), 0 }, \
  { END (1, T0 + 10 * MS), ST (READY), 0 }, \
  { WANT (T0 + 20 * MS), ST (READING), A (READ) | A (MAY_REFUSE) }, \
  { PARSED (OK, OLD, 1, T0 + 30 * MS), ST (LISTED), A (STORE) }

static const Case cases[] = {
  { "an old file a scan finds is ready at once, read, listed",
    { LISTED_OLD } },

  { "a young file without events settles: two scans 500 ms apart saw the same size and mtime",
    { { SEEN (1, T0, YOUNG), ST (SETTLING), 0 },
      { END (1, T0 + 10 * MS), ST (SETTLING), A (SCAN_LATER) },
      /* 290 ms after it was first seen (the end of scan 1): not yet. */
      { SEEN (2, T0 + 300 * MS, YOUNG), ST (SETTLING), 0 },
      { END (2, T0 + 310 * MS), ST (SETTLING), A (SCAN_LATER) },
      { SEEN (3, T0 + 510 * MS, YOUNG), ST (READY), 0 },
      { END (3, T0 + 520 * MS), ST (READY), 0 },
      /* Written in place, 0.6 s old: a content error is not refused yet. */
      { WANT (T0 + 530 * MS), ST (READING), A (READ) } } },

  { "closed after writing: ready at the first scan begun after the close",
    { { COMPLETE (1, T0, FALSE), ST (UNSEEN), A (SCAN) },
      /* Scan 1 began before the event (the event recorded clock 1). */
      { SEEN (1, T0 + 10 * MS, YOUNG), ST (SIGNALLED), 0 },
      { END (1, T0 + 20 * MS), ST (SIGNALLED), A (SCAN_LATER) },
      { SEEN (2, T0 + 30 * MS, YOUNG), ST (READY), 0 },
      { WANT (T0 + 50 * MS), ST (READING), A (READ) } } },

  { "moved in: complete by construction, a content error refuses it at once",
    { { COMPLETE (0, T0, TRUE), ST (UNSEEN), A (SCAN) },
      { SEEN (1, T0 + 10 * MS, YOUNG), ST (READY), 0 },
      { WANT (T0 + 30 * MS), ST (READING), A (READ) | A (MAY_REFUSE) },
      { PARSED (REJECTED, YOUNG, 1, T0 + 40 * MS), ST (GONE), 0 } } },

  { "open for writing: a CREATED younger than 3 s holds even an old mtime back",
    { { WRITING (0, T0), ST (UNSEEN), A (SCAN_LATER) },
      { SEEN (1, T0 + 100 * MS, OLD), ST (WRITING), 0 },
      { END (1, T0 + 110 * MS), ST (WRITING), A (SCAN_LATER) },
      { SEEN (2, T0 + 2 * S, OLD), ST (WRITING), 0 },
      { SEEN (3, T0 + 3 * S, OLD), ST (READY), 0 } } },

  { "open for writing, then closed: the close wins over the hold",
    { { WRITING (0, T0), ST (UNSEEN), A (SCAN_LATER) },
      { SEEN (1, T0 + 100 * MS, YOUNG), ST (WRITING), 0 },
      { COMPLETE (1, T0 + 200 * MS, FALSE), ST (SIGNALLED), A (SCAN) },
      { SEEN (2, T0 + 300 * MS, YOUNG2), ST (READY), 0 } } },

  { "rewritten while settling: the settle time starts again",
    { { SEEN (1, T0, YOUNG), ST (SETTLING), 0 },
      { SEEN (2, T0 + 600 * MS, YOUNG2), ST (SETTLING), 0 },
      /* 590 ms after the new size was first seen (scan 2's end). */
      { SEEN (3, T0 + 1200 * MS, YOUNG2), ST (READY), 0 } } },

  { "rewritten in place after it was listed: out of the listing until ready again",
    { LISTED_OLD,
      { WRITING (1, T0 + 1 * S), ST (WRITING), A (SCAN_LATER) },
      { SEEN (2, T0 + 1500 * MS, YOUNG2), ST (WRITING), 0 },
      { SEEN (3, T0 + 4100 * MS, YOUNG2), ST (READY), 0 },
      { WANT (T0 + 4200 * MS), ST (READING), A (READ) } } },

  { "changed without an event (NFS) after it was listed: settles again",
    { LISTED_OLD,
      { SEEN (2, T0 + 1 * S, YOUNG2), ST (SETTLING), 0 },
      { END (2, T0 + 1 * S), ST (SETTLING), A (SCAN_LATER) } } },

  { "removed: a scan begun before the removal cannot bring it back; the next one drops it",
    { LISTED_OLD,
      { LEFT (2), ST (GONE), 0 },
      { SEEN (2, T0 + 1 * S, OLD), ST (GONE), A (STALE) },
      { END (2, T0 + 1 * S), ST (GONE), 0 },
      { END (3, T0 + 2 * S), ST (GONE), A (DROP) } } },

  { "removed and written again: a later scan sees the new file",
    { LISTED_OLD,
      { LEFT (1), ST (GONE), 0 },
      { SEEN (2, T0 + 1 * S, YOUNG2), ST (SETTLING), 0 },
      { END (2, T0 + 1 * S), ST (SETTLING), A (SCAN_LATER) } } },

  { "not seen by a scan and no newer event: dropped",
    { { SEEN (1, T0, OLD), ST (READY), 0 },
      { END (2, T0 + 1 * S), ST (UNSEEN), A (DROP) } } },

  { "an event newer than the scan keeps an unseen entry",
    { { COMPLETE (3, T0, TRUE), ST (UNSEEN), A (SCAN) },
      { END (3, T0 + 10 * MS), ST (UNSEEN), 0 },
      { END (4, T0 + 20 * MS), ST (UNSEEN), A (DROP) } } },

  { "claimed: out of the count until a scan begun after the claim sees it",
    { LISTED_OLD,
      { CLAIM (1), ST (CLAIMED), 0 },
      { SEEN (1, T0 + 1 * S, OLD), ST (CLAIMED), 0 },
      { END (1, T0 + 1 * S), ST (CLAIMED), 0 },
      { SEEN (2, T0 + 2 * S, OLD), ST (LISTED), 0 } } },

  { "claimed, then moved back in (a requeue): the move brings it back",
    { LISTED_OLD,
      { CLAIM (1), ST (CLAIMED), 0 },
      { COMPLETE (1, T0 + 1 * S, TRUE), ST (SIGNALLED), A (SCAN) },
      { SEEN (2, T0 + 2 * S, OLD), ST (READY), 0 } } },

  { "content that does not parse, written in place: deferred, refused after 5 s",
    { { SEEN (1, T0, FUTURE), ST (SETTLING), 0 },
      { SEEN (2, T0 + 510 * MS, FUTURE), ST (READY), 0 },
      { WANT (T0 + 600 * MS), ST (READING), A (READ) },
      { PARSED (DEFERRED, FUTURE, 2, T0 + 1 * S), ST (SETTLING), A (SCAN_LATER) },
      { SEEN (3, T0 + 1500 * MS, FUTURE), ST (READY), 0 },
      { WANT (T0 + 1600 * MS), ST (READING), A (READ) },
      /* The first failure's time is kept. */
      { PARSED (DEFERRED, FUTURE, 3, T0 + 2 * S), ST (SETTLING), A (SCAN_LATER) },
      { SEEN (4, T0 + 6 * S, FUTURE), ST (READY), 0 },
      { WANT (T0 + 6 * S), ST (READING), A (READ) | A (MAY_REFUSE) } } },

  { "its writer still has it open (lock): not ready, read again later",
    { { SEEN (1, T0, OLD), ST (READY), 0 },
      { WANT (T0 + 10 * MS), ST (READING), A (READ) | A (MAY_REFUSE) },
      { PARSED (WRITING, OLD, 1, T0 + 20 * MS), ST (SETTLING), A (SCAN_LATER) },
      { SEEN (2, T0 + 1 * S, OLD), ST (READY), 0 } } },

  { "a read error: failed, logged once, retried after a chmod or a full scan",
    { { SEEN (1, T0, OLD), ST (READY), 0 },
      { WANT (T0 + 10 * MS), ST (READING), A (READ) | A (MAY_REFUSE) },
      { WANT (T0 + 11 * MS), ST (READING), 0 },
      { PARSED (ERROR, OLD, 1, T0 + 20 * MS), ST (FAILED), A (LOG_FAILURE) },
      { WANT (T0 + 30 * MS), ST (FAILED), 0 },
      { ATTRS (1), ST (READY), A (SCAN) },
      { WANT (T0 + 40 * MS), ST (READING), A (READ) | A (MAY_REFUSE) },
      { PARSED (ERROR, OLD, 1, T0 + 50 * MS), ST (FAILED), 0 },
      { SEEN (2, T0 + 1 * S, OLD), ST (FAILED), 0 },
      { SEEN_FULL (3, T0 + 2 * S, OLD), ST (READY), 0 } } },

  { "a parse of an older version: ignored, the file is read again",
    { { SEEN (1, T0, OLD), ST (READY), 0 },
      { WANT (T0 + 10 * MS), ST (READING), A (READ) | A (MAY_REFUSE) },
      { SEEN (2, T0 + 20 * MS, KEY (REAL (T0) - 9 * S, 200)), ST (READY), 0 },
      { PARSED (OK, OLD, 2, T0 + 30 * MS), ST (READY), 0 },
      { PARSED (CHANGED, OLD, 2, T0 + 30 * MS), ST (READY), A (SCAN_LATER) } } },

  { "removed while being read: the result does not revive it",
    { { SEEN (1, T0, OLD), ST (READY), 0 },
      { WANT (T0 + 10 * MS), ST (READING), A (READ) | A (MAY_REFUSE) },
      { LEFT (1), ST (GONE), 0 },
      { PARSED (OK, OLD, 1, T0 + 20 * MS), ST (GONE), 0 },
      { PARSED (GONE, OLD, 1, T0 + 20 * MS), ST (GONE), A (SCAN_LATER) } } },

  { "its project is no longer watched: out of the count",
    { LISTED_OLD,
      { UNWATCH, ST (UNSEEN), 0 } } },

  { "the monotonic clock going backwards keeps the writing hold",
    { { WRITING (0, T0), ST (UNSEEN), A (SCAN_LATER) },
      { SEEN (1, T0 - 10 * S, OLD), ST (WRITING), 0 },
      { SEEN (2, T0 - 5 * S, OLD), ST (WRITING), 0 } } },

  { "the real clock behind the mtime: only the two-scan rule makes it ready",
    { { SEEN (1, T0, FUTURE), ST (SETTLING), 0 },
      { SEEN (2, T0 + 400 * MS, FUTURE), ST (SETTLING), 0 },
      { SEEN (3, T0 + 600 * MS, FUTURE), ST (READY), 0 } } },

  /* An odd one, kept as it is: a close that a scan begun before it could
   * not use stays pending after the quiet rule made the file ready, so the
   * next version is ready at the first scan that sees it. */
  { "a close that lost the race with the quiet rule stays pending",
    { { COMPLETE (1, T0, FALSE), ST (UNSEEN), A (SCAN) },
      { SEEN (1, T0 + 10 * MS, OLD), ST (READY), 0 },
      { SEEN (2, T0 + 20 * MS, OLD), ST (READY), 0 },
      { SEEN (3, T0 + 30 * MS, YOUNG2), ST (READY), 0 } } },
};

static void
test_cases (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Case *c = &cases[i];
      CfReadiness entry = { 0 };

      for (guint j = 0; j < G_N_ELEMENTS (c->steps) && c->steps[j].event.now != 0; j++)
        {
          const Step *step = &c->steps[j];
          CfReadinessResult result = cf_readiness_step (&entry, &step->event,
                                                        &cf_readiness_config_default);
          CfReadinessState state = cf_readiness_state (&entry);

          if (state != step->state || result.actions != step->actions)
            g_error ("%s, step %u: %s with actions 0x%x, expected %s with 0x%x", c->name, j,
                     cf_readiness_state_name (state), result.actions,
                     cf_readiness_state_name (step->state), step->actions);
          if (result.actions & CF_READINESS_ACTION_SCAN_LATER)
            g_assert_cmpint (result.deadline, ==, step->event.now + 500 * MS);
          g_assert_cmpint (cf_readiness_listed (&entry), ==, state == CF_READINESS_LISTED);
          g_assert_cmpint (cf_readiness_counted (&entry), ==,
                           state != CF_READINESS_GONE && state != CF_READINESS_CLAIMED &&
                           state != CF_READINESS_UNSEEN);
        }
    }
}

/* Events for a name the inbox holds no entry for. */
static void
test_no_entry (void)
{
  static const struct { CfReadinessEvent event; guint actions; } rows[] = {
    { LEFT (1), 0 },
    { ATTRS (1), A (SCAN) },
    { CLAIM (1), 0 },
    { PARSED (OK, OLD, 1, T0), 0 },
    { PARSED (CHANGED, OLD, 1, T0), A (SCAN_LATER) },
    { PARSED (GONE, OLD, 1, T0), A (SCAN_LATER) },
    { PARSED (REJECTED, OLD, 1, T0), 0 },
    { PARSED (ERROR, OLD, 1, T0), 0 },
    { WANT (T0), 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      CfReadinessResult result = cf_readiness_step (NULL, &rows[i].event, NULL);
      g_assert_cmpuint (result.actions, ==, rows[i].actions);
    }
}

/* The durations come from the configuration. */
static void
test_config (void)
{
  const CfReadinessConfig slow = { .settle_usec = 2 * S, .old_mtime_usec = 60 * S,
                                   .writing_hold_usec = 10 * S, .refusal_grace_usec = 30 * S };
  CfReadiness entry = { 0 };
  CfReadinessEvent seen1 = SEEN (1, T0, OLD);
  CfReadinessEvent seen2 = SEEN (2, T0 + 1 * S, OLD);
  CfReadinessEvent seen3 = SEEN (3, T0 + 2100 * MS, OLD);
  CfReadinessEvent end = END (3, T0 + 3 * S);
  CfReadinessEvent want = WANT (T0 + 3 * S);
  CfReadinessResult result;

  g_assert_cmpint (cf_readiness_config_default.settle_usec, ==, 500 * MS);
  g_assert_cmpint (cf_readiness_config_default.old_mtime_usec, ==, 2 * S);
  g_assert_cmpint (cf_readiness_config_default.writing_hold_usec, ==, 3 * S);
  g_assert_cmpint (cf_readiness_config_default.refusal_grace_usec, ==, 5 * S);

  /* 10 s old is not old under a 60 s rule: two scans 2 s apart are needed. */
  cf_readiness_step (&entry, &seen1, &slow);
  g_assert_cmpint (cf_readiness_state (&entry), ==, CF_READINESS_SETTLING);
  cf_readiness_step (&entry, &seen2, &slow);
  g_assert_cmpint (cf_readiness_state (&entry), ==, CF_READINESS_SETTLING);
  cf_readiness_step (&entry, &seen3, &slow);
  g_assert_cmpint (cf_readiness_state (&entry), ==, CF_READINESS_READY);
  result = cf_readiness_step (&entry, &end, &slow);
  g_assert_cmpuint (result.actions, ==, 0);
  /* 13 s old, under a 30 s grace: not refused. */
  result = cf_readiness_step (&entry, &want, &slow);
  g_assert_cmpuint (result.actions, ==, CF_READINESS_ACTION_READ);
}

static void
test_names (void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < CF_READINESS_N_STATES; i++)
    {
      const char *name = cf_readiness_state_name (i);
      g_assert_cmpstr (name, !=, "invalid");
      g_assert_true (g_hash_table_add (seen, (gpointer) name));
    }
  g_assert_cmpstr (cf_readiness_state_name (CF_READINESS_N_STATES), ==, "invalid");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/readiness/cases", test_cases);
  g_test_add_func ("/readiness/no-entry", test_no_entry);
  g_test_add_func ("/readiness/config", test_config);
  g_test_add_func ("/readiness/names", test_names);
  return g_test_run ();
}
