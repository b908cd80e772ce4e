/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Decides whether the sender of an incoming method call may do what it asks
 * (ARCHITECTURE.md 4.5). Everything is asynchronous: the caller's uid is
 * asked of the bus driver (GetConnectionUnixUser), then polkitd
 * (org.freedesktop.PolicyKit1.Authority.CheckAuthorization, subject
 * system-bus-name) unless the caller is trusted. Any number of checks may be
 * pending at once; none of them blocks the loop or another caller.
 *
 * The default answer is no: an absent, failing or confused polkitd, a caller
 * the bus cannot identify and a daemon shutting down all deny with
 * org.freedesktop.DBus.Error.AccessDenied; a check that needs a password the
 * caller did not allow polkit to ask for denies with
 * org.freedesktop.DBus.Error.InteractiveAuthorizationRequired. */

#define CF_TYPE_POLKIT (cf_polkit_get_type ())
G_DECLARE_FINAL_TYPE (CfPolkit, cf_polkit, CF, POLKIT, GObject)

typedef enum {
  CF_POLKIT_FLAGS_NONE = 0,
  /* Callers running as root or as the daemon's own uid pass without
   * asking polkitd. */
  CF_POLKIT_TRUST_PRIVILEGED = 1 << 0,
} CfPolkitFlags;

/* The verdict on CALL. When ALLOWED is FALSE, ERROR is set (a D-Bus error
 * name and a one-line message) and is what the caller should be answered
 * with; otherwise ERROR is NULL. */
typedef void (*CfPolkitCallback) (sd_bus_message *call,
                                  gboolean allowed,
                                  const sd_bus_error *error,
                                  gpointer user_data);

/* Checks are made over BUS, the connection CALLs arrive on. */
CfPolkit *cf_polkit_new (sd_bus *bus, CfPolkitFlags flags);

/* Authorises CALL (an incoming method call on the bus given to
 * cf_polkit_new) for ACTION_ID, a polkit action; ACTION_ID NULL admits
 * trusted callers only (CF_POLKIT_TRUST_PRIVILEGED) and asks nobody else.
 * polkitd may interact with the user (AllowUserInteraction) only when CALL
 * carries the allow-interactive-authorization flag.
 *
 * CALLBACK runs exactly once, never from inside this function: with the
 * verdict, or denied when the CfPolkit is disposed with the check still
 * pending (from the dispose, while the bus is still usable for replying). */
void cf_polkit_authorize (CfPolkit *self,
                          sd_bus_message *call,
                          const char *action_id,
                          CfPolkitCallback callback,
                          gpointer user_data);

/* Checks started and not yet decided. */
guint cf_polkit_get_n_pending (CfPolkit *self);

G_END_DECLS
