/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "cf-state.h"

G_BEGIN_DECLS

/* Persistence of a CfState in its state file (ARCHITECTURE.md 4.3, format
 * in cf-state-json.h): every change the state reports ("content-changed")
 * marks the store dirty; writes are durable and run in a worker thread. */

#define CF_TYPE_STATE_STORE (cf_state_store_get_type ())
G_DECLARE_FINAL_TYPE (CfStateStore, cf_state_store, CF, STATE_STORE, GObject)

/* Persists STATE in PATH (NULL = in memory only: nothing is ever written). */
CfStateStore *cf_state_store_new (CfState *state, const char *path);

/* Reads PATH into the state if it exists. A file that cannot be parsed is
 * renamed to PATH.corrupt-<unix time>, reported in *quarantined_to (newly
 * allocated), and the state starts clean; only I/O failures other than
 * "absent" and a failed quarantine return FALSE. */
gboolean cf_state_store_load (CfStateStore *self, char **quarantined_to, GError **error);

/* Completes once every change made before the call is on disk (written
 * now, not after the debounce): the swap journal waits on it before each
 * step. Fails when the write fails (the store stays dirty and retries). */
void cf_state_store_flush_async (CfStateStore *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean cf_state_store_flush_finish (CfStateStore *self, GAsyncResult *result,
                                      GError **error);
/* Writes now, synchronously (start-up and shutdown only). */
gboolean cf_state_store_save_sync (CfStateStore *self, GError **error);
/* Persistence on change: debounced (DEBOUNCE_MS after the first change) and a
 * periodic flush every PERIOD_MS when dirty; writes run in a worker thread.
 * Each write counts CF_EVENT_STATE_WRITTEN in the state's registry. */
void cf_state_store_enable_autosave (CfStateStore *self, guint debounce_ms, guint period_ms);
gboolean cf_state_store_is_dirty (CfStateStore *self);

/* The error of the last failed write of the state file, NULL once a write
 * succeeds again; a change emits "write-error-changed". */
const char *cf_state_store_get_write_error (CfStateStore *self);

G_END_DECLS
