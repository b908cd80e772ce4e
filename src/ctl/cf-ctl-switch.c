/* SPDX-License-Identifier: MIT */
/* `switch [ACCOUNT]`: SwitchAccount answers once the switch has started;
 * SwapFinished says how it ended, and this waits for it. */
#include "cf-ctl.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

#include "cf-ctl-args.h"
#include "cf-ctl-bus.h"
#include "cf-ctl-output.h"
#include "cf-names.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_slot, sd_bus_slot_unref)

static const char *const account_arg_names[] = { "ACCOUNT" };

static const CfCtlUsage switch_usage = {
  .command = "switch",
  .parameters = N_("[ACCOUNT] [--no-wait]"),
  .summary = N_("Switches the pool to ACCOUNT, or to the next available account without one\n"
                "(SwitchAccount): every session's resume id is saved, the account is\n"
                "switched and the sessions are recreated on it. Waits until the switch has\n"
                "ended (SwapFinished) and fails if it did not succeed."),
  .description = N_("Refused while a switch is in progress, and after a partial swap until\n"
                    "'claude-failoverctl clear-partial-swap'. Interrupting the wait does not\n"
                    "stop the switch."),
  .json_help = N_("print {\"from\", \"to\", \"reason\", \"success\", \"message\"}\n"
                  "(with --no-wait: the first three)"),
  .min_args = 0,
  .max_args = 1,
  .arg_names = account_arg_names,
};

typedef struct {
  CfCtlCallInfo info;
  gboolean replied;
  char *call_error;            /* the explained error of SwitchAccount */
  gboolean finished;
  gboolean vanished;
  char *from, *to, *reason;
  gboolean success;
  char *message;
} Switch;

static void
switch_clear (Switch *sw)
{
  g_free (sw->call_error);
  g_free (sw->from);
  g_free (sw->to);
  g_free (sw->reason);
  g_free (sw->message);
}

static int
on_swap_started (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Switch *sw = userdata;
  const char *from, *to, *reason;

  /* Emitted before SwitchAccount answers; a later one is another switch. */
  if (sw->replied || sd_bus_message_read (m, "sss", &from, &to, &reason) < 0)
    return 0;
  g_free (sw->from);
  g_free (sw->to);
  g_free (sw->reason);
  sw->from = g_strdup (from);
  sw->to = g_strdup (to);
  sw->reason = g_strdup (reason);
  return 0;
}

static int
on_swap_finished (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Switch *sw = userdata;
  const char *from, *to, *message;
  int success;

  /* One that arrives before the answer ended an earlier switch. */
  if (!sw->replied || sw->call_error != NULL || sw->finished ||
      sd_bus_message_read (m, "ssbs", &from, &to, &success, &message) < 0)
    return 0;
  sw->finished = TRUE;
  sw->success = success;
  sw->message = g_strdup (message);
  if (sw->from == NULL)
    {
      sw->from = g_strdup (from);
      sw->to = g_strdup (to);
    }
  return 0;
}

static int
on_name_owner_changed (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Switch *sw = userdata;
  const char *name, *old_owner, *new_owner;

  if (sd_bus_message_read (m, "sss", &name, &old_owner, &new_owner) >= 0 &&
      g_str_equal (name, CF_BUS_NAME) && *old_owner != '\0')
    sw->vanished = TRUE;
  return 0;
}

static int
on_reply (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Switch *sw = userdata;
  const sd_bus_error *error = sd_bus_message_get_error (reply);

  sw->replied = TRUE;
  if (error != NULL)
    sw->call_error = cf_ctl_explain_error ("SwitchAccount", &sw->info, error,
                                           -sd_bus_message_get_errno (reply));
  return 0;
}

/* Runs BUS until DONE (a field of SW) becomes TRUE, the daemon goes away or
 * the connection breaks; FALSE after printing why it stopped early. */
static gboolean
wait_for (sd_bus *bus, Switch *sw, gboolean *done)
{
  while (!*done)
    {
      int r = sd_bus_process (bus, NULL);

      if (r < 0)
        {
          cf_ctl_fail (1, "switch", "%s", _("lost the connection to the system bus"));
          return FALSE;
        }
      if (*done)
        break;
      if (sw->vanished)
        {
          cf_ctl_fail (1, "switch", "%s", _("the daemon stopped before the switch had ended; "
                                            "see 'claude-failoverctl status'"));
          return FALSE;
        }
      if (r > 0)
        continue;
      r = sd_bus_wait (bus, UINT64_MAX);
      if (r < 0 && r != -EINTR)
        {
          cf_ctl_fail (1, "switch", "%s", _("lost the connection to the system bus"));
          return FALSE;
        }
    }
  return TRUE;
}

static void
print_result_json (Switch *sw, gboolean waited)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "from");
  json_builder_add_string_value (b, sw->from ? sw->from : "");
  json_builder_set_member_name (b, "to");
  json_builder_add_string_value (b, sw->to ? sw->to : "");
  json_builder_set_member_name (b, "reason");
  json_builder_add_string_value (b, sw->reason ? sw->reason : "");
  if (waited)
    {
      json_builder_set_member_name (b, "success");
      json_builder_add_boolean_value (b, sw->success);
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, sw->message ? sw->message : "");
    }
  json_builder_end_object (b);
  cf_ctl_print_json (b, FALSE);
}

int
cf_ctl_switch (int argc, char **argv, gboolean json)
{
  gboolean no_wait = FALSE;
  const GOptionEntry entries[] = {
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &no_wait,
      N_("return once the switch has started"), NULL },
    { NULL },
  };
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_slot) reply_slot = NULL;
  g_auto(GStrv) args = NULL;
  g_autofree char *from = NULL;
  g_autofree char *to = NULL;
  Switch sw = { .info = { .command = "switch", .action = CF_POLKIT_SWITCH_ACCOUNT } };
  int status = cf_ctl_parse_args (&switch_usage, entries, argc, argv, &json, &args);
  int r;

  if (status >= 0)
    return status;
  sw.info.account = args[0] != NULL ? args[0] : "";
  bus = cf_ctl_bus_open ("switch", FALSE);
  if (bus == NULL)
    return 1;

  /* Subscribe before calling, so that no signal of this switch is missed. */
  r = sd_bus_add_match (bus, NULL,
                        "type='signal',sender='" CF_BUS_NAME "',path='" CF_OBJECT_PATH "',"
                        "interface='" CF_INTERFACE "',member='SwapStarted'",
                        on_swap_started, &sw);
  if (r >= 0)
    r = sd_bus_add_match (bus, NULL,
                          "type='signal',sender='" CF_BUS_NAME "',path='" CF_OBJECT_PATH "',"
                          "interface='" CF_INTERFACE "',member='SwapFinished'",
                          on_swap_finished, &sw);
  if (r >= 0)
    r = sd_bus_add_match (bus, NULL,
                          "type='signal',sender='org.freedesktop.DBus',"
                          "path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
                          "member='NameOwnerChanged',arg0='" CF_BUS_NAME "'",
                          on_name_owner_changed, &sw);
  if (r >= 0)
    r = cf_ctl_new_call (bus, "SwitchAccount", CF_CTL_CALL_MUTATING, &call);
  if (r >= 0)
    r = sd_bus_message_append (call, "s", sw.info.account);
  if (r >= 0)
    r = sd_bus_call_async (bus, &reply_slot, call, on_reply, &sw,
                           cf_ctl_call_timeout (CF_CTL_CALL_MUTATING));
  if (r < 0)
    {
      switch_clear (&sw);
      return cf_ctl_fail (1, "switch", _("cannot call %s: %s"), "SwitchAccount", g_strerror (-r));
    }

  if (!wait_for (bus, &sw, &sw.replied))
    {
      switch_clear (&sw);
      return 1;
    }
  if (sw.call_error != NULL)
    {
      cf_ctl_fail (1, "switch", "%s", sw.call_error);
      switch_clear (&sw);
      return 1;
    }
  from = cf_ctl_printable (sw.from ? sw.from : "?");
  to = cf_ctl_printable (sw.to ? sw.to : (*sw.info.account ? sw.info.account : "?"));
  if (no_wait)
    {
      if (json)
        print_result_json (&sw, FALSE);
      else
        /* TRANSLATORS: from account, to account */
        g_print (_("Switch from %s to %s started; follow it with 'claude-failoverctl monitor'.\n"),
                 from, to);
      switch_clear (&sw);
      return 0;
    }
  if (!json)
    {
      /* TRANSLATORS: from account, to account */
      g_print (_("Switching from %s to %s…\n"), from, to);
      fflush (stdout);
    }
  if (!wait_for (bus, &sw, &sw.finished))
    {
      switch_clear (&sw);
      return 1;
    }
  status = sw.success ? 0 : 1;
  if (json)
    print_result_json (&sw, TRUE);
  if (!sw.success || !json)
    {
      /* The daemon's message is a whole sentence naming both accounts. */
      g_autofree char *message = cf_ctl_printable (sw.message);

      if (sw.success && *message != '\0')
        g_print ("%s\n", message);
      else if (sw.success)
        /* TRANSLATORS: from account, to account */
        g_print (_("Switched from %s to %s.\n"), from, to);
      else if (*message != '\0')
        cf_ctl_fail (1, "switch", "%s", message);
      else
        /* TRANSLATORS: from account, to account */
        cf_ctl_fail (1, "switch", _("the switch from %s to %s failed"), from, to);
    }
  switch_clear (&sw);
  return status;
}
