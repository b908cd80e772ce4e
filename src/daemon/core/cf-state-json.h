/* SPDX-License-Identifier: MIT */
#pragma once

#include "cf-state.h"

G_BEGIN_DECLS

/* The state file's content (ARCHITECTURE.md 4.3), CF_STATE_VERSION. */

/* Serialises to JSON (what would be written). */
char *cf_state_to_json (CfState *self);
/* Parses JSON produced by cf_state_to_json into SELF (replacing its content,
 * without a signal: loading is not a change); on error SELF is untouched. */
gboolean cf_state_from_json (CfState *self, const char *json, gssize length, GError **error);

G_END_DECLS
