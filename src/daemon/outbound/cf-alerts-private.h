/* SPDX-License-Identifier: MIT */
#pragma once

/* Private to the files of CfNotify (the alerts), included by them only:
 *   cf-alerts.c          the kinds of alert, the events: coalescing, which
 *                        channels take a kind, the components followed; the
 *                        object, its channels and webhooks set up from the
 *                        configuration
 *   cf-alerts-channel.c  one channel's delivery: credentials, its queue, the
 *                        HTTP request of each kind of channel, timeouts, retries
 *   cf-alerts-text.c     what a person reads: Telegram text, e-mail subject and
 *                        HTML, and the scrubbing of secrets from logged text */

#include <libsoup/soup.h>

#include "cf-alerts.h"
#include "cf-webhook.h"

G_BEGIN_DECLS

typedef enum {
  CHANNEL_TELEGRAM,
  CHANNEL_EMAIL,
  N_CHANNELS,
  CHANNEL_WEBHOOK = N_CHANNELS,  /* self->webhooks, not self->channels */
} ChannelId;

typedef struct {
  CfNotifyKind kind;
  char *title;
  char *body;
  GStrv fields;                /* for the generic webhook; may be NULL */
  guint retries;               /* retries already made */
} Delivery;

typedef struct _Channel Channel;

/* One request in flight. STOP detaches it from its channel (channel = NULL)
 * so that the cancelled reply, arriving later, touches nothing freed. */
typedef struct {
  Channel *channel;
  SoupMessage *message;
} Request;

struct _Channel {
  CfNotify *self;
  ChannelId id;
  const char *name;            /* for logs; a webhook's never shows its URL */
  CfEvent sent_event;
  CfEvent failed_event;
  gboolean enabled;
  char *off_reason;            /* what was logged last about being off */
  char *secret;                /* bot token or API key; memory only */
  char *recipient;             /* chat id, or the e-mail addresses */
  GQueue queue;                /* Delivery* waiting */
  Delivery *current;           /* in flight, or waiting for its retry */
  Request *request;
  GCancellable *cancellable;
  gboolean timed_out;
  guint timeout_id;
  guint retry_id;
  /* CHANNEL_WEBHOOK: */
  CfWebhookKind webhook_kind;
  char *url;                   /* may hold a secret */
  guint events;                /* CfWebhookEvent flags */
  char *owned_name;
};

struct _CfNotify {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfTaskEvents *task_events;
  CfNotifyOptions options;
  CfClock *clock;              /* timers and "now"; the real clock by default */
  SoupSession *session;
  Channel channels[N_CHANNELS];
  GPtrArray *webhooks;         /* Channel*, one per notifications.webhooks item */
  GHashTable *recent;          /* "kind\x1ftitle\x1fbody" → Recent* */
  char *host;
  gboolean stopped;
};

/* cf-alerts-channel.c */
G_GNUC_INTERNAL void log_channel (GLogLevelFlags level, Channel *channel, const Delivery *d,
                                  const char *format, ...) G_GNUC_PRINTF (4, 5);
G_GNUC_INTERNAL void channel_configure (Channel *channel, const CfConfig *config);
G_GNUC_INTERNAL void channel_enqueue (Channel *channel, CfNotifyKind kind, const char *title,
                                      const char *body, const char *const *fields);
G_GNUC_INTERNAL void channel_stop (Channel *channel);

/* cf-alerts-text.c */
G_GNUC_INTERNAL char *telegram_text (CfNotify *self, const Delivery *d);
G_GNUC_INTERNAL char *email_subject (const Delivery *d);
G_GNUC_INTERNAL char *email_html (CfNotify *self, const Delivery *d);
G_GNUC_INTERNAL char *scrub (CfNotify *self, const char *text);

G_END_DECLS
