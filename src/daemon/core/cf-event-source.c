/* SPDX-License-Identifier: MIT */
#include "cf-event-source.h"

typedef struct {
  GSource source;
  sd_event *event;
  gpointer fd_tag;
} CfEventSource;

static gboolean
event_source_prepare (GSource *source, gint *timeout)
{
  CfEventSource *self = (CfEventSource *) source;

  /* sd-event keeps its timers in timerfds behind its epoll fd, so GLib only
   * polls that fd. The state may still be ARMED or PENDING when GLib skipped
   * our check because a higher-priority source was dispatched. */
  *timeout = -1;
  switch (sd_event_get_state (self->event))
    {
    case SD_EVENT_PENDING:
      return TRUE;
    case SD_EVENT_ARMED:
      if (sd_event_wait (self->event, 0) > 0)
        return TRUE;
      break;
    case SD_EVENT_INITIAL:
      break;
    default:
      return FALSE;
    }
  return sd_event_prepare (self->event) > 0;
}

static gboolean
event_source_check (GSource *source)
{
  CfEventSource *self = (CfEventSource *) source;

  switch (sd_event_get_state (self->event))
    {
    case SD_EVENT_PENDING:
      return TRUE;
    case SD_EVENT_ARMED:
      return sd_event_wait (self->event, 0) > 0;
    default:
      return FALSE;
    }
}

static gboolean
event_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  CfEventSource *self = (CfEventSource *) source;
  int r;

  if (sd_event_get_state (self->event) != SD_EVENT_PENDING)
    return G_SOURCE_CONTINUE;
  r = sd_event_dispatch (self->event);
  if (r < 0)
    g_warning ("sd-event dispatch failed: %s", g_strerror (-r));
  return G_SOURCE_CONTINUE;
}

static void
event_source_finalize (GSource *source)
{
  CfEventSource *self = (CfEventSource *) source;

  sd_event_unref (self->event);
}

static GSourceFuncs event_source_funcs = {
  .prepare = event_source_prepare,
  .check = event_source_check,
  .dispatch = event_source_dispatch,
  .finalize = event_source_finalize,
};

GSource *
cf_event_source_new (sd_event *event)
{
  CfEventSource *self;

  g_return_val_if_fail (event != NULL, NULL);

  self = (CfEventSource *) g_source_new (&event_source_funcs, sizeof (CfEventSource));
  self->event = sd_event_ref (event);
  self->fd_tag = g_source_add_unix_fd (&self->source, sd_event_get_fd (event),
                                       G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_name (&self->source, "sd-event");
  return &self->source;
}
