/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One command's command line: GOption entries (each with its help text and
 * argument name), --json, --help, and the positional arguments. Every
 * command accepts --json: the read commands print JSON, the others print
 * nothing on success (switch: the state after the switch). */

typedef struct {
  const char *command;         /* "submit" */
  const char *parameters;      /* N_(): "PROJECT --title TITLE [OPTION…]" */
  const char *summary;         /* N_(): what the command does, shown by --help */
  const char *description;     /* N_() or NULL: more, after the options */
  const char *json_help;       /* N_() or NULL: what --json prints, if not the usual */
  guint min_args;
  guint max_args;              /* G_MAXUINT: any number */
  const char *const *arg_names;/* names of the positional arguments, for "missing X" */
} CfCtlUsage;

/* Parses ARGV (ARGV[0] is the command word) against USAGE and ENTRIES
 * (NULL-terminated, may be NULL). *JSON is set by --json. On success
 * returns -1 and *ARGS holds the positional arguments (free with
 * g_strfreev); otherwise returns the exit status: 0 after printing the
 * help, 2 after printing a usage error. */
int cf_ctl_parse_args (const CfCtlUsage *usage, const GOptionEntry *entries, int argc,
                       char **argv, gboolean *json, GStrv *args);

/* The help text of USAGE and ENTRIES, as --help prints it. */
char *cf_ctl_help_text (const CfCtlUsage *usage, const GOptionEntry *entries);

G_END_DECLS
