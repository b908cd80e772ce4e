/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Webhook notifications (ARCHITECTURE.md 4.9 notifications.webhooks): the
 * kinds, the event names an operator filters on, and the HTTP request each
 * kind gets for one notification. Pure: the time is passed in. */

typedef enum {
  CF_WEBHOOK_GENERIC,          /* JSON object: event, kind, title, body, host, time, fields */
  CF_WEBHOOK_SLACK,            /* Slack incoming webhook: {"text": mrkdwn} */
  CF_WEBHOOK_DISCORD,          /* Discord webhook: {"content": markdown}, no mentions */
  CF_WEBHOOK_NTFY,             /* ntfy topic URL: text body, Title/Priority/Tags headers */
  CF_WEBHOOK_KIND_COUNT,
} CfWebhookKind;

/* The events of the `events:` list, as flags. */
typedef enum {
  CF_WEBHOOK_EVENT_SWAP = 1 << 0,          /* "swap": an account switch started, ended, failed */
  CF_WEBHOOK_EVENT_LIMIT = 1 << 1,         /* "limit": usage limits reached */
  CF_WEBHOOK_EVENT_USAGE_WARNING = 1 << 2, /* "usage-warning": usage above quota.warn_at */
  CF_WEBHOOK_EVENT_NEEDS_INPUT = 1 << 3,   /* "needs-input": a session waits for a person */
  CF_WEBHOOK_EVENT_TASK_FAILED = 1 << 4,   /* "task-failed" */
  CF_WEBHOOK_EVENT_TASK_DONE = 1 << 5,     /* "task-done" */
  CF_WEBHOOK_EVENT_TASK_STUCK = 1 << 6,    /* "task-stuck": a finished task cannot leave
                                            * active/, and when it finally does */
} CfWebhookEvent;

#define CF_WEBHOOK_EVENTS_ALL ((CfWebhookEvent) 0x7f)
/* When a webhook has no `events:` key: everything but task-done. */
#define CF_WEBHOOK_EVENTS_DEFAULT (CF_WEBHOOK_EVENTS_ALL & ~CF_WEBHOOK_EVENT_TASK_DONE)

const char *cf_webhook_kind_to_string (CfWebhookKind kind);
gboolean cf_webhook_kind_from_string (const char *text, CfWebhookKind *out);

/* EVENT is one flag. */
const char *cf_webhook_event_to_string (CfWebhookEvent event);
gboolean cf_webhook_event_from_string (const char *text, CfWebhookEvent *out);

/* One notification. DETAIL says more than EVENT ("swap-started",
 * "swap-failed", "all-exhausted"…); TITLE is one line, BODY may have several
 * (plain text, translated); FIELDS, when not NULL, alternate names and
 * values (NULL-terminated) and go into the generic payload's "fields"
 * object; HOST names the machine in the footer; NOW_USEC is the time. */
typedef struct {
  CfWebhookEvent event;
  const char *detail;
  const char *title;
  const char *body;
  const char *const *fields;
  const char *host;
  gint64 now_usec;
} CfWebhookMessage;

typedef struct {
  char *content_type;          /* "application/json" or "text/plain; charset=utf-8" */
  GBytes *body;
  GPtrArray *headers;          /* char*: name, value, name, value… (ntfy) */
} CfWebhookPayload;

/* The request body and headers that KIND gets for MESSAGE. Text is cut to
 * what each service accepts (Discord 2000 characters, Slack 3000, ntfy
 * 4000 bytes), control characters other than newlines are dropped and, for
 * Slack, & < > escaped; Discord never pings anyone (allowed_mentions empty). */
CfWebhookPayload *cf_webhook_payload_build (CfWebhookKind kind, const CfWebhookMessage *message);
void cf_webhook_payload_free (CfWebhookPayload *payload);

/* URL as it may appear in a log: scheme and host (and port) only, the path
 * and query — where Slack, Discord and ntfy keep their secret — replaced by
 * "…". "(invalid URL)" when URL does not parse. */
char *cf_webhook_url_for_log (const char *url);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfWebhookPayload, cf_webhook_payload_free)

G_END_DECLS
