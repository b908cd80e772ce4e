/* SPDX-License-Identifier: MIT */
/* The switcher's file-system work in a GTask thread: the shared links and
 * claude_link of a switch, its rollback, the layout check before a return
 * to the primary. */
#include "cf-switcher-links.h"

#include <glib/gi18n.h>

#include "cf-fault.h"
#include "cf-switcher.h"
#include "cf-symlinks.h"

typedef struct {
  CfConfig *config;
  char *account;
} LinkJob;

static void
link_job_free (LinkJob *job)
{
  cf_config_unref (job->config);
  g_free (job->account);
  g_free (job);
}

static GTask *
new_task (CfConfig *config, const char *account, GCancellable *cancellable,
          GAsyncReadyCallback callback, gpointer user_data, gpointer tag)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  LinkJob *job = g_new0 (LinkJob, 1);

  job->config = cf_config_ref (config);
  job->account = g_strdup (account);
  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, job, (GDestroyNotify) link_job_free);
  return task;
}

static gboolean
has_claude_link (const CfConfig *config)
{
  return config->claude_link != NULL && config->claude_link[0] != '\0';
}

static gboolean
point (const CfConfig *config, const char *account, GError **error)
{
  const CfAccountConfig *to = cf_config_find_account (config, account);
  g_autoptr(GError) local_error = NULL;

  if (to == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           _("the target account is no longer configured"));
      return FALSE;
    }
  if (!cf_symlinks_ensure (to->home, config->shared_root,
                           (const char *const *) config->shared_entries, &local_error))
    {
      g_set_error (error, local_error->domain, local_error->code, _("shared links of %s: %s"),
                   to->name, local_error->message);
      return FALSE;
    }
  if (has_claude_link (config) && !cf_symlinks_flip (config->claude_link, to->home, &local_error))
    {
      g_set_error (error, local_error->domain, local_error->code, _("cannot point %s at %s: %s"),
                   config->claude_link, to->home, local_error->message);
      return FALSE;
    }
  return TRUE;
}

static void
point_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  LinkJob *job = task_data;
  GError *error = NULL;

  if (point (job->config, job->account, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
cf_switcher_links_point_async (CfConfig *config, const char *account,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = new_task (config, account, NULL, callback, user_data,
                                    cf_switcher_links_point_async);

  g_task_run_in_thread (task, point_thread);
}

gboolean
cf_switcher_links_point_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
cf_switcher_links_rollback (CfConfig *config, const char *from, GError **error)
{
  const CfAccountConfig *account = cf_config_find_account (config, from);

  if (!has_claude_link (config) || account == NULL ||
      cf_symlinks_link_account (config, config->claude_link) == account)
    return TRUE;
  cf_fault_point ("swap-rollback");
  return cf_symlinks_flip (config->claude_link, account->home, error);
}

static void
rollback_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  LinkJob *job = task_data;
  GError *error = NULL;

  if (cf_switcher_links_rollback (job->config, job->account, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
cf_switcher_links_rollback_async (CfConfig *config, const char *from,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = new_task (config, from, NULL, callback, user_data,
                                    cf_switcher_links_rollback_async);

  g_task_run_in_thread (task, rollback_thread);
}

gboolean
cf_switcher_links_rollback_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* The message of the first problem of the shared links, or NULL. Blocks. */
static char *
first_link_problem (CfConfig *config)
{
  g_autoptr(GPtrArray) problems = cf_symlinks_validate_all (config, FALSE);

  if (problems->len == 0)
    return NULL;
  return g_strdup (((CfLinkProblem *) g_ptr_array_index (problems, 0))->message);
}

static void
check_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  LinkJob *job = task_data;

  g_task_return_pointer (task, first_link_problem (job->config), g_free);
}

void
cf_switcher_links_check_async (CfConfig *config, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = new_task (config, NULL, cancellable, callback, user_data,
                                    cf_switcher_links_check_async);

  g_task_run_in_thread (task, check_thread);
}

char *
cf_switcher_links_check_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ClearPartialSwap's look at the layout: which account claude_link names,
 * and the first problem of the shared links. */
static void
clear_check_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  LinkJob *job = task_data;
  const CfAccountConfig *linked = NULL;
  g_autofree char *problem = NULL;

  if (has_claude_link (job->config))
    {
      linked = cf_symlinks_link_account (job->config, job->config->claude_link);
      if (linked == NULL)
        {
          g_task_return_new_error (task, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_LAYOUT,
                                   _("%s still points to none of the account homes: point it at "
                                     "one (ln -sfn HOME %s), then clear"),
                                   job->config->claude_link, job->config->claude_link);
          return;
        }
    }
  problem = first_link_problem (job->config);
  if (problem != NULL)
    {
      g_task_return_new_error (task, CF_SWITCHER_ERROR, CF_SWITCHER_ERROR_LAYOUT, "%s", problem);
      return;
    }
  g_task_return_pointer (task, g_strdup (linked != NULL ? linked->name : ""), g_free);
}

void
cf_switcher_links_clear_check_async (CfConfig *config, GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  g_autoptr(GTask) task = new_task (config, NULL, NULL, callback, user_data,
                                    cf_switcher_links_clear_check_async);

  g_task_run_in_thread (task, clear_check_thread);
}

char *
cf_switcher_links_clear_check_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
