/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "cf-config.h"
#include "cf-state.h"

G_BEGIN_DECLS

/* The status snapshot (ARCHITECTURE.md 4.4 properties): one table and one
 * value function per entry, from which the D-Bus properties, GetStatus and
 * HTTP /status are all rendered, so the three always agree. */

typedef struct {
  const char *name;            /* D-Bus property name = GetStatus and /status key */
  const char *signature;       /* D-Bus type of the value */
  CfStateChange change;        /* the state changes that alter it; 0 = constant */
} CfStatusProperty;

/* The properties, in the order of the interface description. */
const CfStatusProperty *cf_status_properties (guint *n_properties);

/* The value of property NAME (a D-Bus name from the table), of type
 * signature, or NULL for an unknown name. NOW (µs since the epoch) decides
 * which accounts are available. Returns a full reference, never floating. */
GVariant *cf_status_get_property (CfState *state, const CfConfig *config, const char *name,
                                  gint64 now);

/* Every property as an a{sv}, in table order. Full reference. */
GVariant *cf_status_snapshot (CfState *state, const CfConfig *config, gint64 now);

/* Until when (µs since the epoch) a snapshot taken at NOW stays true if the
 * state does not change: the first account exhaustion to end after NOW
 * (Accounts says "available" from then on), or G_MAXINT64. With the
 * state's "changed" signal, this lets a caller reuse a snapshot. */
gint64 cf_status_valid_until (CfState *state, gint64 now);

/* SNAPSHOT as JSON: an object with the same keys, structs as arrays (as
 * busctl --json prints them), 64-bit integers as numbers. New node. */
JsonNode *cf_status_snapshot_to_json (GVariant *snapshot);

G_END_DECLS
