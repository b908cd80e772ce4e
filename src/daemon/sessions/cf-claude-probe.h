/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Runs `COMMAND --version` (a program name, found on PATH, or a path)
 * without blocking the loop, killed after TIMEOUT_MS. _finish returns the
 * version ("2.1.332"), or NULL with a one-line error: not found, timed out,
 * failed, or printed no version. */
void cf_claude_probe_version_async (const char *command,
                                    guint timeout_ms,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
char *cf_claude_probe_version_finish (GAsyncResult *result, GError **error);

G_END_DECLS
