/* SPDX-License-Identifier: MIT */
#include "cf-shell.h"

char *
cf_shell_quote (const char *text)
{
  GString *out = g_string_new ("'");

  g_return_val_if_fail (text != NULL, NULL);

  for (const char *p = text; *p != '\0'; p++)
    {
      /* A single quote cannot appear inside single quotes: close, add an
       * escaped one, reopen. */
      if (*p == '\'')
        g_string_append (out, "'\\''");
      else
        g_string_append_c (out, *p);
    }
  g_string_append_c (out, '\'');
  return g_string_free (out, FALSE);
}

char *
cf_tmux_quote (const char *text)
{
  GString *out = g_string_new ("\"");

  g_return_val_if_fail (text != NULL, NULL);

  for (const char *p = text; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      switch (c)
        {
        case '\\':
        case '"':
        case '$':
          g_string_append_c (out, '\\');
          g_string_append_c (out, (char) c);
          break;
        case '~':
          /* tmux expands ~ only as the first character of a quoted string. */
          if (p == text)
            g_string_append_c (out, '\\');
          g_string_append_c (out, '~');
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          /* A raw control byte would end a control-mode command line or
           * reach the parser unescaped; tmux reads \ooo as one byte. */
          if (c < 0x20 || c == 0x7f)
            g_string_append_printf (out, "\\%03o", c);
          else
            g_string_append_c (out, (char) c);
          break;
        }
    }
  g_string_append_c (out, '"');
  return g_string_free (out, FALSE);
}

gboolean
cf_session_name_is_valid (const char *name)
{
  if (name == NULL || *name == '\0')
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    {
      /* No '.' or ':': tmux 3.3 silently renames them to '_' in session
       * names, so such a session could never be found again by its name. */
      if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
        return FALSE;
    }
  return TRUE;
}

gboolean
cf_shell_is_shell_command (const char *command)
{
  static const char *const shells[] = {
    "sh", "bash", "dash", "zsh", "fish", "ksh", "mksh", "tcsh", "csh", "ash", "busybox",
  };

  if (command == NULL)
    return FALSE;
  /* Login shells show as "-bash". */
  if (command[0] == '-')
    command++;
  for (guint i = 0; i < G_N_ELEMENTS (shells); i++)
    if (g_str_equal (command, shells[i]))
      return TRUE;
  return FALSE;
}
