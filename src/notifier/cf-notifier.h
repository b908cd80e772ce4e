/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* claude-failover-notifier: a session GApplication that follows the daemon
 * on the system bus and shows its events as desktop notifications. */

#define CF_NOTIFIER_APP_ID "org.claudefailover.Notifier"

#define CF_TYPE_NOTIFIER (cf_notifier_get_type ())
G_DECLARE_FINAL_TYPE (CfNotifier, cf_notifier, CF, NOTIFIER, GApplication)

CfNotifier *cf_notifier_new (void);

G_END_DECLS
