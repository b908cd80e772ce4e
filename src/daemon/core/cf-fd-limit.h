/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Raises RLIMIT_NOFILE's soft limit to its hard limit (the daemon keeps a
 * reserve of descriptors for its own work, see cf-http-listener), and
 * remembers the limit it started with. Logs what it did. */
void cf_fd_limit_raise (void);

/* In a child between fork and exec (async-signal-safe): puts the soft limit
 * back to what the daemon started with, so that what it starts (the tmux
 * server, the sessions, their tools) sees the usual limit. */
void cf_fd_limit_restore_in_child (void);

G_END_DECLS
