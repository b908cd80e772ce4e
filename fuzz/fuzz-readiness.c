/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the inbox readiness state machine. The input is a
 * sequence of 4-byte events: byte 0 picks the event (low nibble) and, with
 * bit 7, an entry that does not exist; byte 1 the file version (bits 0-1),
 * a full scan (bit 2), a move (bit 3), the parse outcome (bits 4-6); byte 2
 * moves the monotonic clock (signed, 50 ms steps: it may go backwards);
 * byte 3 the scan clock (0 same, 1 up, 2 down, 3 up two) and, in bits 2-7,
 * the real clock's drift from the monotonic one (100 ms steps). Checks, after
 * each event: no crash, a named state, the listing and the count follow the
 * state, each action only from the event that may ask for it, a young write
 * holds back the quiet rules, and a close or a move never lists a file. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-readiness.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MS (G_TIME_SPAN_MILLISECOND)
#define T0 (G_GINT64_CONSTANT (1000) * G_TIME_SPAN_SECOND)
#define R0 (G_GINT64_CONSTANT (1780000000) * G_TIME_SPAN_SECOND)

static const CfReadinessEventType types[] = {
  CF_READINESS_EVENT_COMPLETE, CF_READINESS_EVENT_WRITING, CF_READINESS_EVENT_LEFT,
  CF_READINESS_EVENT_ATTRIBUTES, CF_READINESS_EVENT_SCAN_SEEN, CF_READINESS_EVENT_SCAN_SEEN,
  CF_READINESS_EVENT_SCAN_END, CF_READINESS_EVENT_READ_WANTED, CF_READINESS_EVENT_PARSED,
  CF_READINESS_EVENT_PARSED, CF_READINESS_EVENT_CLAIMED, CF_READINESS_EVENT_UNWATCHED,
};

static void
check_actions (const CfReadiness *before, const CfReadiness *after, const CfReadinessEvent *event,
               CfReadinessResult result, const CfReadinessConfig *config)
{
  guint a = result.actions;
  CfReadinessState was = cf_readiness_state (before);
  CfReadinessState state = cf_readiness_state (after);

  g_assert_cmpint (state, <, CF_READINESS_N_STATES);
  g_assert_cmpint (cf_readiness_listed (after), ==, state == CF_READINESS_LISTED);
  g_assert_cmpint (cf_readiness_counted (after), ==,
                   state != CF_READINESS_GONE && state != CF_READINESS_CLAIMED &&
                   state != CF_READINESS_UNSEEN);
  g_assert_true (!after->gone || !after->observed);

  if (a & CF_READINESS_ACTION_SCAN_LATER)
    g_assert_cmpint (result.deadline, ==, event->now + config->settle_usec);
  else
    g_assert_cmpint (result.deadline, ==, 0);
  if (a & CF_READINESS_ACTION_DROP)
    g_assert_cmpint (event->type, ==, CF_READINESS_EVENT_SCAN_END);
  if (a & CF_READINESS_ACTION_STALE)
    {
      g_assert_cmpint (event->type, ==, CF_READINESS_EVENT_SCAN_SEEN);
      g_assert_true (memcmp (before, after, sizeof *before) == 0);
    }
  if (a & CF_READINESS_ACTION_MAY_REFUSE)
    g_assert_true (a & CF_READINESS_ACTION_READ);
  if (a & CF_READINESS_ACTION_READ)
    {
      g_assert_cmpint (event->type, ==, CF_READINESS_EVENT_READ_WANTED);
      g_assert_cmpint (was, ==, CF_READINESS_READY);
      g_assert_cmpint (state, ==, CF_READINESS_READING);
    }
  else if (event->type == CF_READINESS_EVENT_READ_WANTED)
    g_assert_cmpint (was, !=, CF_READINESS_READY);
  if (a & CF_READINESS_ACTION_STORE)
    {
      g_assert_cmpint (event->type, ==, CF_READINESS_EVENT_PARSED);
      g_assert_true (after->parsed && cf_readiness_key_equal (&after->parsed_key, &after->key));
    }
  if (a & CF_READINESS_ACTION_LOG_FAILURE)
    {
      g_assert_false (before->failure_logged);
      g_assert_true (after->failed && cf_readiness_key_equal (&after->failed_key, &after->key));
    }
  if (a & CF_READINESS_ACTION_SCAN)
    g_assert_true (event->type == CF_READINESS_EVENT_COMPLETE ||
                   event->type == CF_READINESS_EVENT_ATTRIBUTES);

  switch (event->type)
    {
    case CF_READINESS_EVENT_COMPLETE:
      g_assert_true (state == CF_READINESS_UNSEEN || state == CF_READINESS_SIGNALLED);
      break;
    case CF_READINESS_EVENT_WRITING:
      g_assert_true (state == CF_READINESS_UNSEEN || state == CF_READINESS_WRITING ||
                     state == CF_READINESS_CLAIMED ||
                     (event->now == 0 && state == CF_READINESS_SETTLING));
      break;
    case CF_READINESS_EVENT_LEFT:
      g_assert_cmpint (state, ==, CF_READINESS_GONE);
      break;
    case CF_READINESS_EVENT_SCAN_SEEN:
      /* Made ready by the quiet rules (no close or move bound to this
       * scan): no CREATED/CHANGED younger than the hold came before. */
      if (!(a & CF_READINESS_ACTION_STALE) && !before->ready && after->ready &&
          !(before->ready_signal && before->signal_clock < event->clock) &&
          !after->forgotten)
        g_assert_true (after->writing_since == 0 ||
                       event->scan_begin - after->writing_since >= config->writing_hold_usec);
      if (!(a & CF_READINESS_ACTION_STALE))
        {
          g_assert_true (after->observed);
          g_assert_true (cf_readiness_key_equal (&after->key, &event->key));
          g_assert_cmpuint (after->scan_stamp, ==, event->clock);
        }
      break;
    case CF_READINESS_EVENT_CLAIMED:
      g_assert_true (state == CF_READINESS_CLAIMED || state == CF_READINESS_GONE);
      break;
    default:
      break;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const CfReadinessConfig *config = &cf_readiness_config_default;
  CfReadiness entry = { 0 };
  CfReadinessKey keys[4];
  gint64 now = T0;
  gint64 drift = 0;
  guint64 clock = 1;

  /* Four versions of the file: old, just written, rewritten, from the future. */
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    keys[i] = (CfReadinessKey) { .mtime = R0 + (gint64) i * 700 * MS - 3 * G_TIME_SPAN_SECOND,
                                 .size = 100 + i, .meta_size = -1 };
  keys[3].mtime = R0 + 3600 * G_TIME_SPAN_SECOND;

  for (size_t at = 0; at + 4 <= size; at += 4)
    {
      const uint8_t *op = data + at;
      CfReadinessEvent event = { 0 };
      CfReadiness before;
      CfReadinessResult result;
      gboolean no_entry = (op[0] & 0x80) != 0;

      memcpy (&before, &entry, sizeof before);  /* padding too: STALE compares bytes */

      now += (gint64) (gint8) op[2] * 50 * MS;
      switch (op[3] & 3)
        {
        case 1: clock++; break;
        case 2: clock = clock > 0 ? clock - 1 : 0; break;
        case 3: clock += 2; break;
        default: break;
        }
      drift = (gint64) (op[3] >> 2) * 100 * MS;

      event.type = types[(op[0] & 0x7F) % G_N_ELEMENTS (types)];
      event.clock = clock;
      event.now = now;
      event.now_real = now - T0 + R0 + drift;
      event.key = keys[op[1] & 3];
      event.full = (op[1] & 4) != 0;
      event.moved = (op[1] & 8) != 0;
      event.outcome = ((op[1] >> 4) & 7) % (CF_READINESS_PARSE_ERROR + 1);
      event.scan_begin = now - 20 * MS;
      event.scan_end = now;
      event.scan_begin_real = event.now_real - 20 * MS;

      if (no_entry)
        {
          result = cf_readiness_step (NULL, &event, config);
          if (result.actions & CF_READINESS_ACTION_SCAN_LATER)
            g_assert_cmpint (result.deadline, ==, now + config->settle_usec);
          g_assert_false (result.actions & (CF_READINESS_ACTION_READ |
                                            CF_READINESS_ACTION_STORE |
                                            CF_READINESS_ACTION_DROP |
                                            CF_READINESS_ACTION_LOG_FAILURE));
          continue;
        }
      result = cf_readiness_step (&entry, &event, config);
      check_actions (&before, &entry, &event, result, config);
    }
  return 0;
}
