/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Each command takes its own argv (argv[0] = the command word), with the
 * global --json already parsed, and returns the process exit status:
 * 0 ok, 1 failure, 2 usage. */

int cf_ctl_explain_pane (int argc, char **argv, gboolean json);
int cf_ctl_status (int argc, char **argv, gboolean json);
int cf_ctl_sessions (int argc, char **argv, gboolean json);
int cf_ctl_tasks (int argc, char **argv, gboolean json);
int cf_ctl_submit (int argc, char **argv, gboolean json);
int cf_ctl_requeue (int argc, char **argv, gboolean json);
int cf_ctl_cancel (int argc, char **argv, gboolean json);
int cf_ctl_switch (int argc, char **argv, gboolean json);
int cf_ctl_clear_partial_swap (int argc, char **argv, gboolean json);
int cf_ctl_accounts (int argc, char **argv, gboolean json);
int cf_ctl_pause (int argc, char **argv, gboolean json);
int cf_ctl_resume (int argc, char **argv, gboolean json);
int cf_ctl_reload (int argc, char **argv, gboolean json);
int cf_ctl_recycle (int argc, char **argv, gboolean json);
int cf_ctl_monitor (int argc, char **argv, gboolean json);
int cf_ctl_attach (int argc, char **argv, gboolean json);
int cf_ctl_doctor (int argc, char **argv, gboolean json);
int cf_ctl_hook (int argc, char **argv, gboolean json);
int cf_ctl_statusline (int argc, char **argv, gboolean json);
int cf_ctl_install_hooks (int argc, char **argv, gboolean json);
int cf_ctl_complete (int argc, char **argv, gboolean json);

G_END_DECLS
