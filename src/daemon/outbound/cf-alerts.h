/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-clock.h"
#include "cf-config.h"
#include "cf-quota.h"
#include "cf-state.h"
#include "cf-task-events.h"
#include "cf-switcher.h"

G_BEGIN_DECLS

/* Alerts: the daemon's outbound notifications, sent from the daemon itself
 * (not src/notifier/, the desktop applet that shows the bus's signals). The
 * files are cf-alerts*.c; the API keeps the CfNotify / cf_notify_ names that
 * cf-daemon.c and the tests call.
 *
 * Outbound notifications (ARCHITECTURE.md 4.1 "notifications"): Telegram
 * (sendMessage, HTML with the text escaped) and e-mail through the Resend
 * API, over libsoup, asynchronously: nothing here waits on the loop.
 *
 * Channels. Telegram is on when the variables named by telegram_token_env
 * and telegram_chat_id_env are both set and non-empty; e-mail when
 * resend_api_key_env and notify_email_env are (the latter may list several
 * addresses separated by commas). A channel that is off stays silent; why
 * is logged once, naming the variable, never a value.
 *
 * Delivery. Each channel sends one request at a time from a queue bounded
 * to queue_limit entries (when full, the oldest waiting one is dropped,
 * logged and counted). A request that fails with a transport error, a
 * timeout (timeout_ms), a 5xx or a 429 is retried max_retries times, after
 * backoff_ms, doubling — or after the Retry-After the server asked for, at
 * most max_retry_after_ms. Any other status is final: no retry. Redirects
 * are not followed (a bearer key never goes to another host).
 *
 * Coalescing. An event identical (kind, title, body) to one accepted less
 * than coalesce_ms before is not sent; when that window ends, one summary
 * with the count of such repeats is, and a new window starts.
 *
 * Counters (CfState events, for /metrics): CF_EVENT_NOTIFY_{TELEGRAM,EMAIL}_
 * {SENT,FAILED} per delivery, CF_EVENT_NOTIFY_DROPPED, CF_EVENT_NOTIFY_COALESCED.
 *
 * Secrets (token, key, chat id, addresses) are never logged: messages that
 * could carry them (errors, response bodies) are scrubbed first.
 *
 * Webhooks (notifications.webhooks, ARCHITECTURE.md 4.9) are channels
 * too, one per item, each with its own queue and the same retries,
 * coalescing and scrubbing; each gets only the events its `events:` list
 * names (cf_notify_kind_webhook_event), in its kind's payload (cf-webhook).
 * Their URL may carry a token: logs name a webhook by its number, kind and
 * host only. A reload that changes the list drops what the old webhooks
 * had queued (logged). Telegram and e-mail get every kind but task-done,
 * limit, usage-warning (webhooks only); webhooks every kind but
 * daemon-degraded.
 *
 * Task failures are notified by this component itself: CfTaskEvents
 * "task-finished" with outcome "failed" (the task used its last attempt)
 * or "delegated-failed"; so are the switcher's events once
 * cf_notify_follow_switcher is called. Other components call
 * cf_notify_event. */

typedef enum {
  CF_NOTIFY_SWAP_STARTED,      /* an account switch began */
  CF_NOTIFY_SWAP_FINISHED,     /* an account switch completed */
  CF_NOTIFY_SWAP_FAILED,       /* an account switch failed and was rolled back */
  CF_NOTIFY_ALL_EXHAUSTED,     /* every account hit its usage limit */
  CF_NOTIFY_PARTIAL_SWAP,      /* a switch failed and could not roll back */
  CF_NOTIFY_TASK_FAILED,       /* a task went to failed/ after its last attempt */
  CF_NOTIFY_DAEMON_DEGRADED,   /* /health has been degraded for a while */
  CF_NOTIFY_RESUME_FAILED,     /* a switch could not resume a task's conversation */
  /* Webhooks only: */
  CF_NOTIFY_TASK_DONE,         /* a task went to done/ (or its remote job completed) */
  CF_NOTIFY_LIMIT,             /* an account hit its usage limit (QuotaExhausted) */
  CF_NOTIFY_USAGE_WARNING,     /* an account's usage passed quota.warn_at */
  CF_NOTIFY_NEEDS_INPUT,       /* a session waits for a person (SessionNeedsInput) */
  CF_NOTIFY_ACCOUNT_UNUSABLE,  /* an account cannot be used until EnableAccount */
  /* Telegram, e-mail and webhooks ("task-stuck" event): */
  CF_NOTIFY_TASK_STUCK,        /* a finished task cannot leave active/ (disk full…) */
  CF_NOTIFY_TASK_UNSTUCK,      /* that task has left active/ at last */
  CF_NOTIFY_KIND_COUNT,
} CfNotifyKind;

/* "swap-started", "swap-finished", … as in the list above. */
const char *cf_notify_kind_to_string (CfNotifyKind kind);

/* The webhook event (filter) KIND belongs to; 0 for none (daemon-degraded). */
CfWebhookEvent cf_notify_kind_webhook_event (CfNotifyKind kind);

typedef struct {
  guint timeout_ms;            /* one request, 10 000 */
  guint backoff_ms;            /* before the first retry, then doubling, 1 000 */
  guint max_retries;           /* 3 */
  guint max_retry_after_ms;    /* cap on a server's Retry-After, 300 000 */
  guint queue_limit;           /* waiting notifications per channel, 32 */
  guint coalesce_ms;           /* window for identical events, 60 000 */
} CfNotifyOptions;

/* The defaults above. */
void cf_notify_options_init (CfNotifyOptions *options);

#define CF_TYPE_NOTIFY (cf_notify_get_type ())
G_DECLARE_FINAL_TYPE (CfNotify, cf_notify, CF, NOTIFY, GObject)

/* OPTIONS NULL = the defaults. Reads the credentials from the environment. */
CfNotify *cf_notify_new (CfConfig *config, CfState *state, CfTaskEvents *task_events,
                         const CfNotifyOptions *options);

/* The clock of the retries, timeouts and coalescing windows (NULL = the
 * real one, the default); before the first event. Unit tests pass a manual
 * clock and advance it instead of waiting. */
void cf_notify_set_clock (CfNotify *self, CfClock *clock);

/* A reload: new URLs, sender and variable names (the environment is read
 * again); notifications already queued keep the channel they were queued on. */
void cf_notify_set_config (CfNotify *self, CfConfig *config);

/* Queues a notification on every channel that is on and returns at once.
 * TITLE is one line; BODY may have several. Both are plain text (escaped
 * for HTML here), already translated by the caller — e.g.
 *
 *   cf_notify_event (notify, CF_NOTIFY_SWAP_STARTED,
 *                    _("Switching Claude account"),
 *                    body);    // e.g. "From main to backup: usage limit reached"
 */
void cf_notify_event (CfNotify *self, CfNotifyKind kind, const char *title, const char *body);

/* The same, with FIELDS (names and values alternating, NULL-terminated, may
 * be NULL) for the generic webhook's "fields" object, e.g. { "project", P,
 * "task", T, NULL }. */
void cf_notify_event_full (CfNotify *self, CfNotifyKind kind, const char *title,
                           const char *body, const char *const *fields);

/* Notifies the switcher's "swap-started", "swap-finished" (swap-finished,
 * or swap-failed, or partial-swap when PartialSwap is set) and
 * "all-exhausted". */
void cf_notify_follow_switcher (CfNotify *self, CfSwitcher *switcher);

/* Notifies the quota's "exhausted" (CF_NOTIFY_LIMIT). */
void cf_notify_follow_quota (CfNotify *self, CfQuota *quota);

/* Cancels the requests in flight and drops what is queued (shutdown). */
void cf_notify_stop (CfNotify *self);

/* Whether the channels are on (tests, /health). */
gboolean cf_notify_telegram_enabled (CfNotify *self);
gboolean cf_notify_email_enabled (CfNotify *self);
guint cf_notify_get_n_webhooks (CfNotify *self);
/* Notifications queued or in flight, all channels. */
guint cf_notify_get_pending (CfNotify *self);

G_END_DECLS
