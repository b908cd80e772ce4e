/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Helpers the unit tests and benchmarks share: scratch directories, files,
 * recorded warnings and waiting on the main loop. */

/* A new directory under the temporary directory; TEMPLATE ends in XXXXXX. */
char *cf_test_make_tmpdir (const char *tmpl);

/* Removes PATH and, for a directory, all below it; symbolic links are
 * removed, never followed. */
void cf_test_remove_tree (const char *path);

/* Writes TEXT to PATH, failing the test when it cannot. */
void cf_test_write_file (const char *path, const char *text);

/* A GLogWriterFunc for g_log_set_writer_func (cf_test_record_warnings,
 * ARRAY, NULL): adds each warning's message to ARRAY (a GPtrArray of
 * char*, owning them) instead of letting GTest abort; other levels go to
 * the default writer. */
GLogWriterOutput cf_test_record_warnings (GLogLevelFlags level,
                                          const GLogField *fields,
                                          gsize n_fields,
                                          gpointer array);

typedef gboolean (*CfTestCondition) (gpointer fixture, gconstpointer data);

/* Runs the default main context until COND (FIXTURE, DATA) holds or
 * TIMEOUT_MS passed; FALSE on timeout. */
gboolean cf_test_run_until (gpointer fixture,
                            CfTestCondition cond,
                            gconstpointer data,
                            guint timeout_ms);

/* Runs the default main context for MS milliseconds. */
void cf_test_run_for (guint ms);

G_END_DECLS
