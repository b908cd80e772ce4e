/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Appends VALUE to MESSAGE as the D-Bus value of the same type (basic
 * types, arrays, dictionaries, structs, variants; no maybe types, no file
 * descriptors). Negative errno on failure, as sd-bus. */
int cf_bus_message_append_variant (sd_bus_message *message, GVariant *value);

G_END_DECLS
