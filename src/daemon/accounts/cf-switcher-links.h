/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-config.h"

G_BEGIN_DECLS

/* The file-system steps of an account switch (cf-switcher.c): the shared
 * links and claude_link (cf-symlinks, synchronous system calls) run in a
 * GTask thread, never on the main loop. Each call holds its own reference
 * to CONFIG. */

/* Points the layout at ACCOUNT: its shared links ensured, then claude_link
 * (when configured) flipped to its home. The error's message says which
 * failed and why, as the switch logs its rollback. */
void cf_switcher_links_point_async (CfConfig *config, const char *account,
                                    GAsyncReadyCallback callback, gpointer user_data);
gboolean cf_switcher_links_point_finish (GAsyncResult *result, GError **error);

/* Points claude_link back at FROM's home when it points elsewhere (fault
 * point "swap-rollback" just before the flip). TRUE when nothing was to do
 * (no claude_link, FROM not configured, already right). */
gboolean cf_switcher_links_rollback (CfConfig *config, const char *from, GError **error);
void cf_switcher_links_rollback_async (CfConfig *config, const char *from,
                                       GAsyncReadyCallback callback, gpointer user_data);
gboolean cf_switcher_links_rollback_finish (GAsyncResult *result, GError **error);

/* cf_symlinks_validate_all (CONFIG, FALSE): the first problem's message, or
 * NULL when the layout is fine. */
void cf_switcher_links_check_async (CfConfig *config, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
char *cf_switcher_links_check_finish (GAsyncResult *result, GError **error);

/* Before ClearPartialSwap: the name of the account claude_link points to
 * ("" without claude_link), or a CF_SWITCHER_ERROR_LAYOUT error when it
 * points to none of them or a shared link is wrong. */
void cf_switcher_links_clear_check_async (CfConfig *config, GAsyncReadyCallback callback,
                                          gpointer user_data);
char *cf_switcher_links_clear_check_finish (GAsyncResult *result, GError **error);

G_END_DECLS
