/* SPDX-License-Identifier: MIT */
#include <glib/gi18n.h>
#include <string.h>

#include "cf-notifier-messages.h"

#define EVIDENCE_CHARS 200
#define DAEMON_MESSAGE_CHARS 800

void
cf_notifier_message_free (CfNotifierMessage *message)
{
  if (message == NULL)
    return;
  g_free (message->title);
  g_free (message->body);
  g_free (message->switch_back_to);
  g_free (message);
}

/* Servers announcing "body-markup" parse the body as markup and GLib passes
 * it unescaped, while others show it verbatim: escaping would be wrong for
 * one of the two, so the three markup characters become look-alikes. */
static char *
markup_safe (GString *text)
{
  GString *out = g_string_sized_new (text->len);

  for (const char *p = text->str; *p; p++)
    {
      switch (*p)
        {
        case '&':
          g_string_append (out, "\xef\xbc\x86");   /* U+FF06 FULLWIDTH AMPERSAND */
          break;
        case '<':
          g_string_append (out, "\xe2\x80\xb9");   /* U+2039 ‹ */
          break;
        case '>':
          g_string_append (out, "\xe2\x80\xba");   /* U+203A › */
          break;
        default:
          g_string_append_c (out, *p);
        }
    }
  g_string_free (text, TRUE);
  return g_string_free (out, FALSE);
}

static CfNotifierMessage *
message_new (const char *kind, GNotificationPriority priority, GString *title, GString *body)
{
  CfNotifierMessage *message = g_new0 (CfNotifierMessage, 1);

  message->kind = kind;
  message->priority = priority;
  message->title = markup_safe (title);
  message->body = markup_safe (body);
  return message;
}

static void
add_line (GString *body, const char *line)
{
  if (line == NULL || line[0] == '\0')
    return;
  if (body->len > 0)
    g_string_append_c (body, '\n');
  g_string_append (body, line);
}

static void
add_printf (GString *body, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
add_printf (GString *body, const char *format, ...)
{
  g_autofree char *line = NULL;
  va_list args;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  add_line (body, line);
}

static GString *
string_printf (const char *format, ...) G_GNUC_PRINTF (1, 2);

static GString *
string_printf (const char *format, ...)
{
  GString *text = g_string_new (NULL);
  va_list args;

  va_start (args, format);
  g_string_append_vprintf (text, format, args);
  va_end (args);
  return text;
}

static char *
format_distance (gint64 delta)
{
  gint64 minutes = delta / (60 * G_USEC_PER_SEC);
  gint64 hours = minutes / 60;
  gint64 days = hours / 24;

  if (minutes < 1)
    return g_strdup (_("in less than a minute"));
  if (hours < 1)
    return g_strdup_printf (ngettext ("in %d minute", "in %d minutes", (unsigned long) minutes),
                            (int) minutes);
  if (days < 1)
    /* TRANSLATORS: hours and minutes from now, e.g. "in 2 h 05 min". */
    return g_strdup_printf (_("in %d h %02d min"), (int) hours, (int) (minutes % 60));
  return g_strdup_printf (ngettext ("in %d day", "in %d days", (unsigned long) MIN (days, G_MAXINT)),
                          (int) MIN (days, G_MAXINT));
}

char *
cf_notifier_format_time (gint64 when, gint64 now, GTimeZone *tz)
{
  g_autoptr(GDateTime) utc = NULL;
  g_autoptr(GDateTime) local = NULL;
  g_autoptr(GDateTime) utc_now = NULL;
  g_autoptr(GDateTime) local_now = NULL;
  g_autofree char *clock = NULL;
  g_autofree char *distance = NULL;
  int y, m, d, now_y, now_m, now_d;

  g_return_val_if_fail (tz != NULL, NULL);

  if (when <= 0)
    return NULL;
  utc = g_date_time_new_from_unix_utc (when / G_USEC_PER_SEC);
  utc_now = g_date_time_new_from_unix_utc (now / G_USEC_PER_SEC);
  if (utc == NULL || utc_now == NULL)
    return NULL;
  local = g_date_time_to_timezone (utc, tz);
  local_now = g_date_time_to_timezone (utc_now, tz);
  if (local == NULL || local_now == NULL)
    return NULL;
  g_date_time_get_ymd (local, &y, &m, &d);
  g_date_time_get_ymd (local_now, &now_y, &now_m, &now_d);
  if (y == now_y && m == now_m && d == now_d)
    /* TRANSLATORS: a clock time today, g_date_time_format() syntax. */
    clock = g_date_time_format (local, _("%H:%M"));
  else
    /* TRANSLATORS: a clock time on another day, g_date_time_format() syntax. */
    clock = g_date_time_format (local, _("%a %-d %b %H:%M"));
  if (clock == NULL)
    return NULL;
  if (when <= now)
    return g_steal_pointer (&clock);
  distance = format_distance (when - now);
  /* TRANSLATORS: a clock time and how far away it is: "14:30 (in 2 h 05 min)". */
  return g_strdup_printf (_("%s (%s)"), clock, distance);
}

char *
cf_notifier_one_line (const char *text, guint max_chars)
{
  g_autofree char *valid = g_utf8_make_valid (text ? text : "", -1);
  GString *out = g_string_new (NULL);
  gboolean space = FALSE;
  guint chars = 0;

  for (const char *p = valid; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_isspace (c) || g_unichar_iscntrl (c))
        {
          space = out->len > 0;
          continue;
        }
      if (chars + (space ? 1 : 0) >= max_chars)
        {
          g_string_append (out, "…");
          break;
        }
      if (space)
        {
          g_string_append_c (out, ' ');
          chars++;
          space = FALSE;
        }
      g_string_append_unichar (out, c);
      chars++;
    }
  return g_string_free (out, FALSE);
}

/* "main resets at 14:30 (in 2 h 05 min)." when ACCOUNT is out until later. */
static void
add_reset_line (GString *body, const CfNotifierStatus *status, const char *account,
                gint64 now, GTimeZone *tz)
{
  const CfNotifierAccount *known = cf_notifier_status_find_account (status, account);
  g_autofree char *at = NULL;

  if (known == NULL || known->exhausted_until <= now)
    return;
  at = cf_notifier_format_time (known->exhausted_until, now, tz);
  if (at != NULL)
    /* TRANSLATORS: an account name and a time: "main resets at 14:30 (in 2 h 05 min)." */
    add_printf (body, _("%s resets at %s."), account, at);
}

CfNotifierMessage *
cf_notifier_message_swap_started (const CfNotifierStatus *status, const char *from, const char *to,
                                  const char *reason, gint64 now, GTimeZone *tz)
{
  GString *body = g_string_new (NULL);

  if (g_strcmp0 (reason, "quota") == 0)
    add_printf (body, _("%s reached its usage limit."), from);
  else if (g_strcmp0 (reason, "manual") == 0)
    add_line (body, _("An operator asked for this switch."));
  else if (g_strcmp0 (reason, "return") == 0)
    add_line (body, _("Returning to the primary account after its usage limit reset."));
  else if (g_strcmp0 (reason, "reset") == 0)
    add_line (body, _("A usage limit has reset, so dispatch resumes."));
  else
    add_printf (body, _("Reason: %s."), reason);
  add_reset_line (body, status, from, now, tz);
  return message_new (CF_NOTIFIER_KIND_SWAP, G_NOTIFICATION_PRIORITY_NORMAL,
                      string_printf (_("Switching Claude account from %s to %s"), from, to), body);
}

CfNotifierMessage *
cf_notifier_message_swap_finished (const CfNotifierStatus *status, const char *from, const char *to,
                                   gboolean success, const char *message, gint64 now,
                                   GTimeZone *tz)
{
  g_autofree char *detail = cf_notifier_one_line (message, DAEMON_MESSAGE_CHARS);
  const char *primary = cf_notifier_status_primary (status);
  const char *active = status->active_account[0] ? status->active_account : to;
  GString *body = g_string_new (NULL);
  CfNotifierMessage *result;

  if (!success)
    {
      add_line (body, detail);
      return message_new (CF_NOTIFIER_KIND_SWAP, G_NOTIFICATION_PRIORITY_URGENT,
                          string_printf (_("Switching Claude account from %s to %s failed"),
                                         from, to), body);
    }

  add_printf (body, _("Switched from %s to %s."), from, to);
  add_reset_line (body, status, from, now, tz);
  if (primary != NULL && status->return_at > now && !g_str_equal (active, primary))
    {
      g_autofree char *at = cf_notifier_format_time (status->return_at, now, tz);

      if (at != NULL)
        /* TRANSLATORS: the primary account and a time. */
        add_printf (body, _("Automatic return to %s at %s."), primary, at);
    }
  add_line (body, detail);
  result = message_new (CF_NOTIFIER_KIND_SWAP, G_NOTIFICATION_PRIORITY_NORMAL,
                        string_printf (_("Now using Claude account %s"), to), body);
  if (primary != NULL && !g_str_equal (active, primary))
    result->switch_back_to = g_strdup (primary);
  return result;
}

CfNotifierMessage *
cf_notifier_message_quota_exhausted (const char *account, const char *const *sessions,
                                     gint64 reset_at, const char *evidence, gint64 now,
                                     GTimeZone *tz)
{
  guint n_sessions = sessions ? g_strv_length ((char **) sessions) : 0;
  g_autofree char *at = cf_notifier_format_time (reset_at, now, tz);
  g_autofree char *seen = cf_notifier_one_line (evidence, EVIDENCE_CHARS);
  GString *body = g_string_new (NULL);

  add_printf (body, ngettext ("%u session is blocked.", "%u sessions are blocked.", n_sessions),
              n_sessions);
  if (at != NULL)
    add_printf (body, _("The limit resets at %s."), at);
  else
    add_line (body, _("The reset time is unknown."));
  if (seen[0])
    /* TRANSLATORS: the text that showed the limit, as seen in the sessions. */
    add_printf (body, _("Seen: %s"), seen);
  return message_new (CF_NOTIFIER_KIND_QUOTA, G_NOTIFICATION_PRIORITY_HIGH,
                      string_printf (_("Claude account %s reached its usage limit"), account),
                      body);
}

CfNotifierMessage *
cf_notifier_message_all_exhausted (const CfNotifierStatus *status, gint64 now, GTimeZone *tz)
{
  g_autofree char *at = cf_notifier_format_time (cf_notifier_status_earliest_reset (status),
                                                 now, tz);
  GString *body = g_string_new (NULL);

  if (at != NULL)
    add_printf (body, _("Dispatch is paused until the earliest reset, at %s."), at);
  else
    add_line (body, _("Dispatch is paused until an account is available again."));
  return message_new (CF_NOTIFIER_KIND_ALL_EXHAUSTED, G_NOTIFICATION_PRIORITY_URGENT,
                      g_string_new (_("Every Claude account is exhausted")), body);
}

CfNotifierMessage *
cf_notifier_message_partial_swap (void)
{
  return message_new (CF_NOTIFIER_KIND_PARTIAL_SWAP, G_NOTIFICATION_PRIORITY_URGENT,
                      g_string_new (_("Claude account switch needs attention")),
                      g_string_new (_("A switch failed and could not be rolled back, so further "
                                      "switches are refused. Fix the Claude link, then run "
                                      "“claude-failoverctl clear-partial-swap”.")));
}

CfNotifierMessage *
cf_notifier_message_task_failed (const char *project_path, const char *task_id,
                                 const char *session, const char *outcome)
{
  /* The signal names the project by its directory; its last part reads
   * better in a notification. */
  g_autofree char *project = (project_path && g_path_is_absolute (project_path))
                             ? g_path_get_basename (project_path) : g_strdup (project_path);
  GString *body = g_string_new (NULL);

  if (g_strcmp0 (outcome, "failed") == 0)
    {
      if (session != NULL && session[0])
        add_printf (body, _("Project %s, session %s."), project, session);
      else
        add_printf (body, _("Project %s."), project);
      return message_new (CF_NOTIFIER_KIND_TASK_FAILED, G_NOTIFICATION_PRIORITY_NORMAL,
                          string_printf (_("Task %s failed"), task_id), body);
    }
  if (g_strcmp0 (outcome, "delegated-failed") == 0)
    {
      add_printf (body, _("The remote AI service could not complete it (project %s)."), project);
      return message_new (CF_NOTIFIER_KIND_TASK_FAILED, G_NOTIFICATION_PRIORITY_NORMAL,
                          string_printf (_("Delegated task %s failed"), task_id), body);
    }
  g_string_free (body, TRUE);
  return NULL;
}

CfNotifierMessage *
cf_notifier_message_needs_input (const char *session, const char *project_path,
                                 const char *task_id, const char *what)
{
  g_autofree char *project = (project_path && g_path_is_absolute (project_path))
                             ? g_path_get_basename (project_path) : g_strdup (project_path);
  g_autofree char *detail = cf_notifier_one_line (what, DAEMON_MESSAGE_CHARS);
  GString *body = g_string_new (NULL);

  if (task_id != NULL && task_id[0] != '\0')
    add_printf (body, _("Project %s, task %s: %s"), project ? project : "", task_id, detail);
  else
    g_string_append (body, detail);
  return message_new (CF_NOTIFIER_KIND_NEEDS_INPUT, G_NOTIFICATION_PRIORITY_HIGH,
                      string_printf (_("Session %s needs input"), session ? session : ""), body);
}

CfNotifierMessage *
cf_notifier_message_switch_error (const char *account, const char *error)
{
  g_autofree char *detail = cf_notifier_one_line (error, DAEMON_MESSAGE_CHARS);

  return message_new (CF_NOTIFIER_KIND_SWITCH_ERROR, G_NOTIFICATION_PRIORITY_HIGH,
                      string_printf (_("Could not switch back to %s"), account),
                      g_string_new (detail));
}

GPtrArray *
cf_notifier_usage_warnings (const CfNotifierStatus *status, guint warn_at, GHashTable *warned,
                            gint64 now, GTimeZone *tz)
{
  GPtrArray *messages = g_ptr_array_new_with_free_func ((GDestroyNotify) cf_notifier_message_free);

  if (warn_at == 0)
    return messages;
  for (guint i = 0; i < status->usage->len; i++)
    {
      const CfNotifierUsage *usage = g_ptr_array_index (status->usage, i);

      for (guint w = 0; w < 2; w++)
        {
          g_autofree char *key = NULL;
          g_autofree char *at = NULL;
          GString *body;

          if (usage->used[w] < warn_at)
            continue;
          key = g_strdup_printf ("%s/%u/%" G_GINT64_FORMAT, usage->name, w, usage->resets_at[w]);
          if (g_hash_table_contains (warned, key))
            continue;
          g_hash_table_add (warned, g_steal_pointer (&key));
          at = cf_notifier_format_time (usage->resets_at[w], now, tz);
          body = g_string_new (NULL);
          if (at != NULL)
            /* TRANSLATORS: %s is a time, e.g. "14:30 (in 2 h 05 min)" */
            add_printf (body, _("It resets at %s."), at);
          g_ptr_array_add (messages,
                           message_new (CF_NOTIFIER_KIND_USAGE, G_NOTIFICATION_PRIORITY_HIGH,
                                        w == 0
                                        /* TRANSLATORS: account name, then a percentage */
                                        ? string_printf (_("Claude account %s has used %.0f%% of "
                                                           "its 5-hour limit"), usage->name,
                                                         usage->used[w])
                                        : string_printf (_("Claude account %s has used %.0f%% of "
                                                           "its weekly limit"), usage->name,
                                                         usage->used[w]),
                                        body));
        }
    }
  return messages;
}
