/* SPDX-License-Identifier: MIT */
/* Command-line parsing and --help for the commands that talk to the daemon. */
#include "cf-ctl-args.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cf-ctl-output.h"

#define HELP_COLUMN 24

static void
append_option (GString *out, const char *names, const char *description)
{
  /* Columns, not bytes: translated argument names such as "PRIORITÉ". */
  gsize width = cf_ctl_text_width (names);

  g_string_append_printf (out, "  %s", names);
  if (width + 2 < HELP_COLUMN)
    g_string_append_printf (out, "%*s", (int) (HELP_COLUMN - width - 2), "");
  else
    g_string_append_printf (out, "\n%*s", HELP_COLUMN, "");
  /* Continuation lines of a description line up under its first line. */
  for (const char *p = description; *p != '\0'; p++)
    {
      g_string_append_c (out, *p);
      if (*p == '\n')
        g_string_append_printf (out, "%*s", HELP_COLUMN, "");
    }
  g_string_append_c (out, '\n');
}

char *
cf_ctl_help_text (const CfCtlUsage *usage, const GOptionEntry *entries)
{
  GString *out = g_string_new (NULL);

  /* TRANSLATORS: the command, then its parameters */
  g_string_append_printf (out, _("Usage: claude-failoverctl [--json] %s%s%s"), usage->command,
                          *usage->parameters != '\0' ? " " : "",
                          *usage->parameters != '\0' ? _(usage->parameters) : "");
  g_string_append_printf (out, "\n\n%s\n", _(usage->summary));
  g_string_append_printf (out, "\n%s\n", _("Options:"));
  for (guint i = 0; entries != NULL && entries[i].long_name != NULL; i++)
    {
      g_autofree char *names = NULL;

      if (entries[i].flags & G_OPTION_FLAG_HIDDEN)
        continue;
      names = g_strdup_printf ("--%s%s%s", entries[i].long_name,
                               entries[i].arg_description ? " " : "",
                               entries[i].arg_description ? _(entries[i].arg_description) : "");
      append_option (out, names, _(entries[i].description));
    }
  append_option (out, "--json", usage->json_help ? _(usage->json_help)
                                                 : _("machine-readable output (JSON)"));
  append_option (out, "-h, --help", _("show this help"));
  if (usage->description != NULL)
    g_string_append_printf (out, "\n%s\n", _(usage->description));
  return g_string_free (out, FALSE);
}

int
cf_ctl_parse_args (const CfCtlUsage *usage, const GOptionEntry *entries, int argc, char **argv,
                   gboolean *json, GStrv *args)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GOptionGroup) group = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) parsed = g_new0 (char *, argc + 1);
  gboolean json_flag = FALSE;
  const GOptionEntry json_entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json_flag, NULL, NULL },
    { NULL },
  };
  guint n;

  /* --help anywhere before "--" wins over everything else, as in git. */
  for (int i = 1; i < argc && !g_str_equal (argv[i], "--"); i++)
    if (g_str_equal (argv[i], "--help") || g_str_equal (argv[i], "-h"))
      {
        g_autofree char *help = cf_ctl_help_text (usage, entries);
        g_print ("%s", help);
        return 0;
      }

  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  group = g_option_group_new ("json", "", "", NULL, NULL);
  g_option_group_add_entries (group, json_entries);
  g_option_context_add_group (context, g_steal_pointer (&group));

  for (int i = 0; i < argc; i++)
    parsed[i] = g_strdup (argv[i]);
  if (!g_option_context_parse_strv (context, &parsed, &error))
    return cf_ctl_usage_error (usage->command, "%s", error->message);

  n = g_strv_length (parsed) - 1;
  /* GOption leaves "--" in place when it ends the options. */
  for (guint i = 1; parsed[i] != NULL; i++)
    if (g_str_equal (parsed[i], "--"))
      {
        g_free (parsed[i]);
        memmove (&parsed[i], &parsed[i + 1], (n - i + 1) * sizeof (char *));
        n--;
        break;
      }
  if (n < usage->min_args)
    return cf_ctl_usage_error (usage->command, _("missing %s"), usage->arg_names[n]);
  if (n > usage->max_args)
    return cf_ctl_usage_error (usage->command, _("unexpected argument '%s'"),
                               parsed[usage->max_args + 1]);
  for (guint i = 1; parsed[i] != NULL; i++)
    if (!g_utf8_validate (parsed[i], -1, NULL))
      return cf_ctl_usage_error (usage->command, _("argument %u is not UTF-8 text"), i);

  if (json_flag)
    *json = TRUE;
  *args = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    (*args)[i] = g_strdup (parsed[i + 1]);
  return -1;
}
