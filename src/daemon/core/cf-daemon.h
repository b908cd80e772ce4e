/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-config.h"

G_BEGIN_DECLS

/* Owns and wires the components. Signal "quit" (gint exit_status, gchararray
 * reason) asks main() to leave the loop. */

#define CF_TYPE_DAEMON (cf_daemon_get_type ())
G_DECLARE_FINAL_TYPE (CfDaemon, cf_daemon, CF, DAEMON, GObject)

CfDaemon *cf_daemon_new (CfConfig *config, const char *config_path);
gboolean cf_daemon_start (CfDaemon *self, GError **error);
/* Re-reads the config file in a worker thread and applies it on the main
 * loop; keeps the running config when it is invalid (the error says why). */
void cf_daemon_reload_async (CfDaemon *self, GAsyncReadyCallback callback, gpointer user_data);
gboolean cf_daemon_reload_finish (CfDaemon *self, GAsyncResult *result, GError **error);
/* The account preparation (prepare_accounts), for the launch sequence:
 * cf_account_prep_ensure_async () before a session starts on an account. */
struct _CfAccountPrep *cf_daemon_get_account_prep (CfDaemon *self);
/* Stops components and writes the state one last time. */
void cf_daemon_shutdown (CfDaemon *self);

G_END_DECLS
