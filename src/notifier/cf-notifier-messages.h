/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-notifier-status.h"

G_BEGIN_DECLS

/* The text of every notification the notifier shows, built from the
 * daemon's signals and properties. Pure: "now" and the time zone are
 * arguments, nothing is sent from here. */

/* Notification ids, one per event kind: a new notification of a kind
 * replaces the previous one instead of stacking. */
#define CF_NOTIFIER_KIND_SWAP "swap"
#define CF_NOTIFIER_KIND_QUOTA "quota"
#define CF_NOTIFIER_KIND_ALL_EXHAUSTED "all-exhausted"
#define CF_NOTIFIER_KIND_PARTIAL_SWAP "partial-swap"
#define CF_NOTIFIER_KIND_TASK_FAILED "task-failed"
#define CF_NOTIFIER_KIND_SWITCH_ERROR "switch-error"
#define CF_NOTIFIER_KIND_USAGE "usage-warning"
#define CF_NOTIFIER_KIND_NEEDS_INPUT "needs-input"

typedef struct {
  const char *kind;            /* one of CF_NOTIFIER_KIND_* */
  char *title;
  char *body;
  GNotificationPriority priority;
  char *switch_back_to;        /* offer "Switch back now" to this account; NULL = no button */
} CfNotifierMessage;

void cf_notifier_message_free (CfNotifierMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfNotifierMessage, cf_notifier_message_free)

/* WHEN (µs since epoch) as a local clock time in TZ: "14:30" on NOW's day,
 * "Tue 3 Jun 14:30" otherwise, followed by how far away it is while in the
 * future ("14:30 (in 2 h 05 min)"). NULL when WHEN is 0 or cannot be
 * represented. */
char *cf_notifier_format_time (gint64 when, gint64 now, GTimeZone *tz);

/* TEXT from the daemon (evidence, error messages) on one line: whitespace
 * runs become one space, cut after MAX_CHARS characters with "…". */
char *cf_notifier_one_line (const char *text, guint max_chars);

CfNotifierMessage *cf_notifier_message_swap_started (const CfNotifierStatus *status,
                                                     const char *from,
                                                     const char *to,
                                                     const char *reason,
                                                     gint64 now,
                                                     GTimeZone *tz);

CfNotifierMessage *cf_notifier_message_swap_finished (const CfNotifierStatus *status,
                                                      const char *from,
                                                      const char *to,
                                                      gboolean success,
                                                      const char *message,
                                                      gint64 now,
                                                      GTimeZone *tz);

CfNotifierMessage *cf_notifier_message_quota_exhausted (const char *account,
                                                        const char *const *sessions,
                                                        gint64 reset_at,
                                                        const char *evidence,
                                                        gint64 now,
                                                        GTimeZone *tz);

CfNotifierMessage *cf_notifier_message_all_exhausted (const CfNotifierStatus *status,
                                                      gint64 now,
                                                      GTimeZone *tz);

CfNotifierMessage *cf_notifier_message_partial_swap (void);

/* NULL unless OUTCOME is a failure ("failed", "delegated-failed").
 * PROJECT_PATH is shown by its last component. */
CfNotifierMessage *cf_notifier_message_task_failed (const char *project_path,
                                                    const char *task_id,
                                                    const char *session,
                                                    const char *outcome);

CfNotifierMessage *cf_notifier_message_switch_error (const char *account, const char *error);

/* SessionNeedsInput: SESSION (working on TASK of PROJECT_PATH, "" = none)
 * waits for a person; WHAT is the dialog or notification. */
CfNotifierMessage *cf_notifier_message_needs_input (const char *session,
                                                    const char *project_path,
                                                    const char *task_id,
                                                    const char *what);

/* The usage warnings to show now (CfNotifierMessage*, maybe none): one
 * per account window of STATUS at or above WARN_AT % (0 = off) that
 * WARNED (a set of strings, updated) has not been warned about; a window
 * is warned about once per reset. */
GPtrArray *cf_notifier_usage_warnings (const CfNotifierStatus *status, guint warn_at,
                                       GHashTable *warned, gint64 now, GTimeZone *tz);

G_END_DECLS
