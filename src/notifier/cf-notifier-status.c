/* SPDX-License-Identifier: MIT */
#include "cf-notifier-status.h"

static void
account_free (gpointer data)
{
  CfNotifierAccount *account = data;

  g_free (account->name);
  g_free (account);
}

static void
usage_free (gpointer data)
{
  CfNotifierUsage *usage = data;

  g_free (usage->name);
  g_free (usage);
}

CfNotifierStatus *
cf_notifier_status_new (void)
{
  CfNotifierStatus *status = g_new0 (CfNotifierStatus, 1);

  status->accounts = g_ptr_array_new_with_free_func (account_free);
  status->usage = g_ptr_array_new_with_free_func (usage_free);
  status->active_account = g_strdup ("");
  return status;
}

void
cf_notifier_status_free (CfNotifierStatus *status)
{
  if (status == NULL)
    return;
  g_ptr_array_unref (status->accounts);
  g_ptr_array_unref (status->usage);
  g_free (status->active_account);
  g_free (status);
}

static void
take_accounts (CfNotifierStatus *status, GVariant *value)
{
  GVariantIter iter;
  const char *name;
  gboolean available;
  guint64 until;

  g_ptr_array_set_size (status->accounts, 0);
  g_variant_iter_init (&iter, value);
  while (g_variant_iter_next (&iter, "(&s&sbt)", &name, NULL, &available, &until))
    {
      CfNotifierAccount *account = g_new0 (CfNotifierAccount, 1);

      account->name = g_strdup (name);
      account->available = available;
      account->exhausted_until = (gint64) MIN (until, (guint64) G_MAXINT64);
      g_ptr_array_add (status->accounts, account);
    }
}

static void
take_usage (CfNotifierStatus *status, GVariant *value)
{
  GVariantIter iter;
  const char *name;
  double five, week;
  guint64 five_reset, week_reset;

  g_ptr_array_set_size (status->usage, 0);
  g_variant_iter_init (&iter, value);
  while (g_variant_iter_next (&iter, "(&sdtdt&st)", &name, &five, &five_reset, &week,
                              &week_reset, NULL, NULL))
    {
      CfNotifierUsage *usage = g_new0 (CfNotifierUsage, 1);

      usage->name = g_strdup (name);
      usage->used[0] = five >= 0 && five <= 100 ? five : -1;
      usage->used[1] = week >= 0 && week <= 100 ? week : -1;
      usage->resets_at[0] = (gint64) MIN (five_reset, (guint64) G_MAXINT64);
      usage->resets_at[1] = (gint64) MIN (week_reset, (guint64) G_MAXINT64);
      g_ptr_array_add (status->usage, usage);
    }
}

gboolean
cf_notifier_status_update (CfNotifierStatus *status, const char *name, GVariant *value)
{
  g_return_val_if_fail (status != NULL, FALSE);

  if (name == NULL || value == NULL)
    return FALSE;
  if (g_str_equal (name, "Accounts") && g_variant_is_of_type (value, G_VARIANT_TYPE ("a(ssbt)")))
    take_accounts (status, value);
  else if (g_str_equal (name, "ActiveAccount") && g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    {
      g_free (status->active_account);
      status->active_account = g_variant_dup_string (value, NULL);
    }
  else if (g_str_equal (name, "DispatchPaused") && g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    status->dispatch_paused = g_variant_get_boolean (value);
  else if (g_str_equal (name, "PartialSwap") && g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    status->partial_swap = g_variant_get_boolean (value);
  else if (g_str_equal (name, "Usage") &&
           g_variant_is_of_type (value, G_VARIANT_TYPE ("a(sdtdtst)")))
    take_usage (status, value);
  else if (g_str_equal (name, "ReturnAt") && g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
    status->return_at = (gint64) MIN (g_variant_get_uint64 (value), (guint64) G_MAXINT64);
  else
    return FALSE;
  return TRUE;
}

void
cf_notifier_status_update_all (CfNotifierStatus *status, GVariant *properties)
{
  GVariantIter iter;
  const char *name;
  GVariant *value;

  g_return_if_fail (status != NULL);

  if (properties == NULL || !g_variant_is_of_type (properties, G_VARIANT_TYPE_VARDICT))
    return;
  g_variant_iter_init (&iter, properties);
  while (g_variant_iter_loop (&iter, "{&sv}", &name, &value))
    cf_notifier_status_update (status, name, value);
}

const CfNotifierAccount *
cf_notifier_status_find_account (const CfNotifierStatus *status, const char *name)
{
  if (name == NULL)
    return NULL;
  for (guint i = 0; i < status->accounts->len; i++)
    {
      const CfNotifierAccount *account = g_ptr_array_index (status->accounts, i);

      if (g_str_equal (account->name, name))
        return account;
    }
  return NULL;
}

const char *
cf_notifier_status_primary (const CfNotifierStatus *status)
{
  if (status->accounts->len == 0)
    return NULL;
  return ((const CfNotifierAccount *) g_ptr_array_index (status->accounts, 0))->name;
}

gboolean
cf_notifier_status_all_exhausted (const CfNotifierStatus *status)
{
  if (!status->dispatch_paused || status->accounts->len == 0)
    return FALSE;
  for (guint i = 0; i < status->accounts->len; i++)
    if (((const CfNotifierAccount *) g_ptr_array_index (status->accounts, i))->available)
      return FALSE;
  return TRUE;
}

gint64
cf_notifier_status_earliest_reset (const CfNotifierStatus *status)
{
  gint64 earliest = 0;

  for (guint i = 0; i < status->accounts->len; i++)
    {
      const CfNotifierAccount *account = g_ptr_array_index (status->accounts, i);

      if (!account->available && account->exhausted_until > 0 &&
          (earliest == 0 || account->exhausted_until < earliest))
        earliest = account->exhausted_until;
    }
  return earliest;
}
