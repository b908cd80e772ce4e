/* SPDX-License-Identifier: MIT */
/* The readiness state machine of one inbox entry (see cf-readiness.h and
 * cf-inbox.h): what each monitor event, scan and read does to it. */
#include "cf-readiness.h"

const CfReadinessConfig cf_readiness_config_default = {
  .settle_usec = 500 * G_TIME_SPAN_MILLISECOND,
  .old_mtime_usec = 2 * G_TIME_SPAN_SECOND,
  .writing_hold_usec = 3 * G_TIME_SPAN_SECOND,
  /* A file written in place that does not parse may be half written: GLib
   * also says "done" 2 s after the last write when no close came. It is
   * refused once it failed this long without changing. A file moved in is
   * complete by construction and refused at once. */
  .refusal_grace_usec = 5 * G_TIME_SPAN_SECOND,
};

static const char *const state_names[CF_READINESS_N_STATES] = {
  [CF_READINESS_GONE] = "gone",
  [CF_READINESS_CLAIMED] = "claimed",
  [CF_READINESS_UNSEEN] = "unseen",
  [CF_READINESS_WRITING] = "writing",
  [CF_READINESS_SETTLING] = "settling",
  [CF_READINESS_SIGNALLED] = "signalled",
  [CF_READINESS_READY] = "ready",
  [CF_READINESS_READING] = "reading",
  [CF_READINESS_FAILED] = "failed",
  [CF_READINESS_LISTED] = "listed",
};

const char *
cf_readiness_state_name (CfReadinessState state)
{
  return (guint) state < CF_READINESS_N_STATES ? state_names[state] : "invalid";
}

gboolean
cf_readiness_key_equal (const CfReadinessKey *a, const CfReadinessKey *b)
{
  return a->mtime == b->mtime && a->size == b->size && a->meta_mtime == b->meta_mtime &&
         a->meta_size == b->meta_size && a->meta_ino == b->meta_ino;
}

CfReadinessState
cf_readiness_state (const CfReadiness *self)
{
  if (self->gone)
    return CF_READINESS_GONE;
  if (self->forgotten)
    return CF_READINESS_CLAIMED;
  if (!self->observed)
    return CF_READINESS_UNSEEN;
  if (!self->ready)
    {
      if (self->ready_signal)
        return CF_READINESS_SIGNALLED;
      return self->writing_since != 0 ? CF_READINESS_WRITING : CF_READINESS_SETTLING;
    }
  if (self->parsed && cf_readiness_key_equal (&self->parsed_key, &self->key))
    return CF_READINESS_LISTED;
  if (self->parse_in_flight && cf_readiness_key_equal (&self->inflight_key, &self->key))
    return CF_READINESS_READING;
  if (self->failed && cf_readiness_key_equal (&self->failed_key, &self->key))
    return CF_READINESS_FAILED;
  return CF_READINESS_READY;
}

gboolean
cf_readiness_counted (const CfReadiness *self)
{
  return self->observed && !self->gone && !self->forgotten;
}

gboolean
cf_readiness_listed (const CfReadiness *self)
{
  return cf_readiness_state (self) == CF_READINESS_LISTED;
}

static void
scan_later (CfReadinessResult *result, const CfReadinessEvent *event,
            const CfReadinessConfig *config)
{
  result->actions |= CF_READINESS_ACTION_SCAN_LATER;
  result->deadline = event->now + config->settle_usec;
}

/* The writer is done with the file: a young CREATED/CHANGED without its
 * close holds back; else two scans a settle apart saw the same size and
 * mtime, or the mtime is old. */
static gboolean
quiet_enough (const CfReadiness *self, gboolean same, const CfReadinessEvent *event,
              const CfReadinessConfig *config)
{
  if (self->writing_since != 0 &&
      event->scan_begin - self->writing_since < config->writing_hold_usec)
    return FALSE;
  if (same && event->scan_begin - self->seen_mono >= config->settle_usec)
    return TRUE;
  return event->scan_begin_real - event->key.mtime >= config->old_mtime_usec;
}

static void
observe (CfReadiness *self, const CfReadinessEvent *event, const CfReadinessConfig *config)
{
  gboolean same = self->observed && self->key.mtime == event->key.mtime &&
                  self->key.size == event->key.size;

  if (!same)
    {
      /* Changed since a scan saw it, and not by the move an event announced. */
      if (self->observed && !self->ready_signal)
        self->moved_in = FALSE;
      self->seen_mono = event->scan_end;
      self->ready = FALSE;
      self->parse_failed_since = 0;
    }
  self->key = event->key;
  self->observed = TRUE;
  self->scan_stamp = event->clock;
  if (self->forgotten && event->clock > self->forgotten_clock)
    self->forgotten = FALSE;
  if (self->forgotten || self->ready)
    return;
  if (self->ready_signal && self->signal_clock < event->clock)
    {
      self->ready = TRUE;
      self->ready_signal = FALSE;
    }
  else if (quiet_enough (self, same, event, config))
    self->ready = TRUE;
}

static void
step_parsed (CfReadiness *self, const CfReadinessEvent *event, const CfReadinessConfig *config,
             CfReadinessResult *result)
{
  gboolean current = self != NULL && !self->gone &&
                     cf_readiness_key_equal (&self->key, &event->key);

  if (self != NULL && self->parse_in_flight &&
      cf_readiness_key_equal (&self->inflight_key, &event->key))
    self->parse_in_flight = FALSE;

  switch (event->outcome)
    {
    case CF_READINESS_PARSE_OK:
      if (!current)
        break;
      self->parsed = TRUE;
      self->parsed_key = event->key;
      result->actions |= CF_READINESS_ACTION_STORE;
      break;

    case CF_READINESS_PARSE_CHANGED:
    case CF_READINESS_PARSE_GONE:
      scan_later (result, event, config);
      break;

    case CF_READINESS_PARSE_WRITING:
      /* Its writer still has it open: ready again once it stood still (or
       * closed it), never refused meanwhile. */
      if (!current)
        break;
      self->ready = FALSE;
      scan_later (result, event, config);
      break;

    case CF_READINESS_PARSE_DEFERRED:
      if (!current)
        break;
      if (self->parse_failed_since == 0)
        self->parse_failed_since = event->now;
      /* Ready again through the quiet-file rule, then read again. */
      self->ready = FALSE;
      scan_later (result, event, config);
      break;

    case CF_READINESS_PARSE_REJECTED:
      if (self == NULL)
        break;
      self->gone = TRUE;
      self->gone_clock = event->clock;
      self->event_clock = event->clock;
      self->observed = FALSE;
      break;

    case CF_READINESS_PARSE_ERROR:
      if (!current)
        break;
      self->failed = TRUE;
      self->failed_key = event->key;
      if (!self->failure_logged)
        result->actions |= CF_READINESS_ACTION_LOG_FAILURE;
      self->failure_logged = TRUE;
      break;
    }
}

CfReadinessResult
cf_readiness_step (CfReadiness *self, const CfReadinessEvent *event,
                   const CfReadinessConfig *config)
{
  CfReadinessResult result = { CF_READINESS_ACTION_NONE, 0 };

  g_return_val_if_fail (event != NULL, result);
  if (config == NULL)
    config = &cf_readiness_config_default;

  switch (event->type)
    {
    case CF_READINESS_EVENT_COMPLETE:
      /* Complete; the cache says nothing about it. */
      result.actions |= CF_READINESS_ACTION_SCAN;
      if (self == NULL)
        break;
      self->moved_in = event->moved;
      self->parse_failed_since = 0;
      self->gone = FALSE;
      self->forgotten = FALSE;
      self->event_clock = event->clock;
      self->ready = FALSE;
      self->ready_signal = TRUE;
      self->signal_clock = event->clock;
      self->writing_since = 0;
      self->parsed = FALSE;
      self->failed = FALSE;
      break;

    case CF_READINESS_EVENT_WRITING:
      scan_later (&result, event, config);
      if (self == NULL)
        break;
      self->gone = FALSE;
      self->event_clock = event->clock;
      self->ready = FALSE;
      self->ready_signal = FALSE;
      self->moved_in = FALSE;
      self->parse_failed_since = 0;
      self->writing_since = event->now;
      break;

    case CF_READINESS_EVENT_LEFT:
      if (self == NULL)
        break;
      self->gone = TRUE;
      self->gone_clock = event->clock;
      self->event_clock = event->clock;
      self->observed = FALSE;
      self->ready = FALSE;
      self->ready_signal = FALSE;
      self->parsed = FALSE;
      self->failed = FALSE;
      break;

    case CF_READINESS_EVENT_ATTRIBUTES:
      /* touch changes the mtime; chmod may make an unreadable file readable. */
      result.actions |= CF_READINESS_ACTION_SCAN;
      if (self != NULL)
        self->failed = FALSE;
      break;

    case CF_READINESS_EVENT_SCAN_SEEN:
      if (self == NULL)
        break;
      if (self->gone)
        {
          if (event->clock <= self->gone_clock)
            {
              result.actions |= CF_READINESS_ACTION_STALE;
              break;           /* the scan saw it before it left */
            }
          self->gone = FALSE;
          self->observed = FALSE;
        }
      if (event->full)
        self->failed = FALSE;
      observe (self, event, config);
      break;

    case CF_READINESS_EVENT_SCAN_END:
      if (self == NULL)
        break;
      if (self->scan_stamp == event->clock)
        {
          if (!self->ready && !self->forgotten)
            scan_later (&result, event, config);
          break;
        }
      if (self->event_clock >= event->clock)
        break;                 /* an event newer than this scan knows better */
      self->observed = FALSE;
      result.actions |= CF_READINESS_ACTION_DROP;
      break;

    case CF_READINESS_EVENT_READ_WANTED:
      if (self == NULL || cf_readiness_state (self) != CF_READINESS_READY)
        break;
      self->parse_in_flight = TRUE;
      self->inflight_key = self->key;
      result.actions |= CF_READINESS_ACTION_READ;
      if (self->moved_in || event->now_real - self->key.mtime >= config->refusal_grace_usec ||
          (self->parse_failed_since != 0 &&
           event->now - self->parse_failed_since >= config->refusal_grace_usec))
        result.actions |= CF_READINESS_ACTION_MAY_REFUSE;
      break;

    case CF_READINESS_EVENT_PARSED:
      step_parsed (self, event, config, &result);
      break;

    case CF_READINESS_EVENT_CLAIMED:
      if (self == NULL)
        break;
      self->forgotten = TRUE;
      self->forgotten_clock = event->clock;
      break;

    case CF_READINESS_EVENT_UNWATCHED:
      if (self != NULL)
        self->observed = FALSE;
      break;
    }
  return result;
}
