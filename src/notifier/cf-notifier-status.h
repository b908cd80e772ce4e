/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What the notifier knows of the daemon: the Manager properties it needs
 * (ARCHITECTURE.md 4.4), filled from GetAll replies and PropertiesChanged.
 * Pure: no D-Bus here, values are checked before use, so a malformed
 * property is ignored rather than trusted. */

typedef struct {
  char *name;
  gboolean available;
  gint64 exhausted_until;      /* µs since epoch, 0 = none */
} CfNotifierAccount;

/* One row of Usage: [0] the 5-hour window, [1] the weekly one. */
typedef struct {
  char *name;
  double used[2];              /* %, < 0 = unknown */
  gint64 resets_at[2];         /* µs since epoch, 0 = unknown */
} CfNotifierUsage;

typedef struct {
  GPtrArray *accounts;         /* of CfNotifierAccount, in config order: [0] is the primary */
  char *active_account;        /* "" until known */
  gboolean dispatch_paused;
  gboolean partial_swap;
  gint64 return_at;            /* µs since epoch, 0 = none */
  GPtrArray *usage;            /* of CfNotifierUsage, empty until Usage is known */
} CfNotifierStatus;

CfNotifierStatus *cf_notifier_status_new (void);
void cf_notifier_status_free (CfNotifierStatus *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfNotifierStatus, cf_notifier_status_free)

/* Takes property NAME = VALUE. Returns TRUE when it is one the notifier
 * follows and VALUE has the contract's type; anything else changes nothing. */
gboolean cf_notifier_status_update (CfNotifierStatus *status,
                                    const char *name,
                                    GVariant *value);

/* Takes every entry of an a{sv} (a GetAll reply or the changed properties of
 * PropertiesChanged); other types are ignored. */
void cf_notifier_status_update_all (CfNotifierStatus *status, GVariant *properties);

const CfNotifierAccount *cf_notifier_status_find_account (const CfNotifierStatus *status,
                                                          const char *name);

/* The first configured account, NULL while Accounts is unknown or empty. */
const char *cf_notifier_status_primary (const CfNotifierStatus *status);

/* Dispatch is paused and every account is unavailable. */
gboolean cf_notifier_status_all_exhausted (const CfNotifierStatus *status);

/* The earliest exhausted_until among the unavailable accounts, 0 when none
 * is known. */
gint64 cf_notifier_status_earliest_reset (const CfNotifierStatus *status);

G_END_DECLS
