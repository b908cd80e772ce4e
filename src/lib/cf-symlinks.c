/* SPDX-License-Identifier: MIT */
#include "cf-symlinks.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK (cf-symlinks-error-quark, cf_symlinks_error)

gboolean
cf_link_status_is_fixable (CfLinkStatus status)
{
  return status == CF_LINK_OK || status == CF_LINK_MISSING || status == CF_LINK_TARGET_MISSING;
}

void
cf_link_problem_free (CfLinkProblem *problem)
{
  if (problem == NULL)
    return;
  g_free (problem->account);
  g_free (problem->path);
  g_free (problem->expected);
  g_free (problem->found);
  g_free (problem->message);
  g_free (problem);
}

/* TRUE when the link text LINK_TEXT, found at LINK_PATH, designates TARGET:
 * the same string, or a relative path that resolves (lexically) to it. */
static gboolean
link_text_designates (const char *link_path, const char *link_text, const char *target)
{
  g_autofree char *dir = NULL;
  g_autofree char *resolved = NULL;
  g_autofree char *canonical_target = NULL;

  if (g_str_equal (link_text, target))
    return TRUE;
  dir = g_path_get_dirname (link_path);
  resolved = g_canonicalize_filename (link_text, dir);
  canonical_target = g_canonicalize_filename (target, NULL);
  return g_str_equal (resolved, canonical_target);
}

CfLinkStatus
cf_symlinks_inspect (const char *link_path, const char *target, char **found)
{
  GStatBuf st;
  g_autofree char *text = NULL;

  if (found != NULL)
    *found = NULL;
  if (g_lstat (link_path, &st) < 0)
    return errno == ENOENT ? CF_LINK_MISSING : CF_LINK_UNREADABLE;
  if (!S_ISLNK (st.st_mode))
    {
      if (found != NULL)
        *found = g_strdup (S_ISDIR (st.st_mode) ? "directory" : "file");
      return CF_LINK_OBSTRUCTED;
    }
  text = g_file_read_link (link_path, NULL);
  if (text == NULL)
    return CF_LINK_UNREADABLE;
  if (found != NULL)
    *found = g_strdup (text);
  if (!link_text_designates (link_path, text, target))
    return CF_LINK_DIVERGENT;
  if (g_stat (target, &st) < 0)
    return errno == ENOENT ? CF_LINK_TARGET_MISSING : CF_LINK_UNREADABLE;
  return S_ISDIR (st.st_mode) ? CF_LINK_OK : CF_LINK_TARGET_NOT_DIR;
}

/* One line saying what is wrong at PATH and how to fix it. */
static char *
describe (CfLinkStatus status, const char *path, const char *expected, const char *found)
{
  switch (status)
    {
    case CF_LINK_OK:
      return g_strdup_printf (_("%s is a link to %s"), path, expected);
    case CF_LINK_MISSING:
      return g_strdup_printf (_("%s is missing (it will be created as a link to %s)"),
                              path, expected);
    case CF_LINK_TARGET_MISSING:
      return g_strdup_printf (_("%s points to %s, which does not exist yet (it will be created)"),
                              path, expected);
    case CF_LINK_DIVERGENT:
      return g_strdup_printf (_("%s points to %s instead of %s: move what it holds into %s, "
                                "then remove the link"),
                              path, found ? found : "?", expected, expected);
    case CF_LINK_OBSTRUCTED:
      return g_strdup_printf (_("%s is a %s, not a link to %s: move its content into %s, "
                                "then remove it"),
                              path, found ? found : _("file"), expected, expected);
    case CF_LINK_TARGET_NOT_DIR:
      return g_strdup_printf (_("%s is not a directory: it must be one (the shared state)"),
                              expected);
    case CF_LINK_HOME_NOT_DIR:
      return g_strdup_printf (_("account home %s is not a directory"), path);
    case CF_LINK_UNREADABLE:
    default:
      return g_strdup_printf (_("cannot inspect %s: %s"), path, g_strerror (errno));
    }
}

static void
set_problem_error (GError **error, CfLinkStatus status, const char *path, const char *expected,
                   const char *found)
{
  g_autofree char *message = describe (status, path, expected, found);

  g_set_error_literal (error, CF_SYMLINKS_ERROR, status, message);
}

static gboolean
make_dir (const char *path, GError **error)
{
  GStatBuf st;

  if (g_mkdir_with_parents (path, 0700) < 0)
    {
      int saved_errno = errno;
      g_set_error (error, CF_SYMLINKS_ERROR, CF_LINK_UNREADABLE, _("cannot create %s: %s"),
                   path, g_strerror (saved_errno));
      return FALSE;
    }
  if (g_stat (path, &st) < 0 || !S_ISDIR (st.st_mode))
    {
      g_set_error (error, CF_SYMLINKS_ERROR, CF_LINK_TARGET_NOT_DIR,
                   _("%s is not a directory"), path);
      return FALSE;
    }
  return TRUE;
}

gboolean
cf_symlinks_ensure (const char *home, const char *root, const char *const *entries,
                    GError **error)
{
  GStatBuf st;

  g_return_val_if_fail (home != NULL && root != NULL, FALSE);
  if (g_lstat (home, &st) == 0 && !S_ISDIR (st.st_mode) &&
      !(S_ISLNK (st.st_mode) && g_stat (home, &st) == 0 && S_ISDIR (st.st_mode)))
    {
      set_problem_error (error, CF_LINK_HOME_NOT_DIR, home, NULL, NULL);
      return FALSE;
    }
  if (!make_dir (home, error) || !make_dir (root, error))
    return FALSE;
  for (guint i = 0; entries != NULL && entries[i] != NULL; i++)
    {
      g_autofree char *link_path = g_build_filename (home, entries[i], NULL);
      g_autofree char *target = g_build_filename (root, entries[i], NULL);
      g_autofree char *found = NULL;
      CfLinkStatus status = cf_symlinks_inspect (link_path, target, &found);

      if (status == CF_LINK_MISSING)
        {
          if (symlink (target, link_path) < 0)
            {
              int saved_errno = errno;
              g_set_error (error, CF_SYMLINKS_ERROR, CF_LINK_UNREADABLE,
                           _("cannot create the link %s: %s"), link_path,
                           g_strerror (saved_errno));
              return FALSE;
            }
          status = cf_symlinks_inspect (link_path, target, &found);
        }
      if (status == CF_LINK_TARGET_MISSING)
        {
          /* The target may itself be a dangling symlink: never through it. */
          if (g_lstat (target, &st) == 0)
            {
              set_problem_error (error, CF_LINK_TARGET_NOT_DIR, link_path, target, NULL);
              return FALSE;
            }
          if (!make_dir (target, error))
            return FALSE;
          status = CF_LINK_OK;
        }
      if (status != CF_LINK_OK)
        {
          set_problem_error (error, status, link_path, target, found);
          return FALSE;
        }
    }
  return TRUE;
}

static void
add_problem (GPtrArray *problems, const char *account, CfLinkStatus status, const char *path,
             const char *expected, const char *found)
{
  CfLinkProblem *problem = g_new0 (CfLinkProblem, 1);

  problem->account = g_strdup (account);
  problem->path = g_strdup (path);
  problem->expected = g_strdup (expected);
  problem->found = g_strdup (found);
  problem->status = status;
  problem->message = describe (status, path, expected, found);
  g_ptr_array_add (problems, problem);
}

const CfAccountConfig *
cf_symlinks_link_account (const CfConfig *config, const char *link_path)
{
  for (guint i = 0; i < config->accounts->len; i++)
    {
      const CfAccountConfig *account = g_ptr_array_index (config->accounts, i);
      CfLinkStatus status = cf_symlinks_inspect (link_path, account->home, NULL);

      if (status == CF_LINK_OK || status == CF_LINK_TARGET_MISSING)
        return account;
    }
  return NULL;
}

GPtrArray *
cf_symlinks_validate_all (const CfConfig *config, gboolean include_fixable)
{
  GPtrArray *problems = g_ptr_array_new_with_free_func ((GDestroyNotify) cf_link_problem_free);
  GStatBuf st;

  for (guint i = 0; i < config->accounts->len; i++)
    {
      const CfAccountConfig *account = g_ptr_array_index (config->accounts, i);

      if (g_stat (account->home, &st) == 0 && !S_ISDIR (st.st_mode))
        {
          add_problem (problems, account->name, CF_LINK_HOME_NOT_DIR, account->home, NULL, NULL);
          continue;
        }
      for (guint j = 0; config->shared_entries != NULL && config->shared_entries[j] != NULL; j++)
        {
          g_autofree char *link_path = g_build_filename (account->home, config->shared_entries[j], NULL);
          g_autofree char *target = g_build_filename (config->shared_root, config->shared_entries[j], NULL);
          g_autofree char *found = NULL;
          CfLinkStatus status = cf_symlinks_inspect (link_path, target, &found);

          if (status == CF_LINK_OK || (cf_link_status_is_fixable (status) && !include_fixable))
            continue;
          add_problem (problems, account->name, status, link_path, target, found);
        }
    }

  if (config->claude_link != NULL && config->claude_link[0] != '\0')
    {
      g_autofree char *found = NULL;
      const CfAccountConfig *primary = g_ptr_array_index (config->accounts, 0);
      CfLinkStatus status = cf_symlinks_inspect (config->claude_link, primary->home, &found);

      if (status == CF_LINK_DIVERGENT && cf_symlinks_link_account (config, config->claude_link) != NULL)
        status = CF_LINK_OK;
      if (status == CF_LINK_DIVERGENT)
        {
          /* A link, but to none of the account homes. */
          CfLinkProblem *problem = g_new0 (CfLinkProblem, 1);
          problem->path = g_strdup (config->claude_link);
          problem->expected = g_strdup (primary->home);
          problem->found = g_strdup (found);
          problem->status = status;
          problem->message = g_strdup_printf (_("%s points to %s, which is none of the account "
                                                "homes: point it at one of them (ln -sfn HOME %s)"),
                                              config->claude_link, found ? found : "?",
                                              config->claude_link);
          g_ptr_array_add (problems, problem);
        }
      else if (status == CF_LINK_OBSTRUCTED)
        add_problem (problems, NULL, status, config->claude_link, primary->home, found);
      else if (status == CF_LINK_MISSING && include_fixable)
        add_problem (problems, NULL, status, config->claude_link, primary->home, NULL);
      else if (status == CF_LINK_UNREADABLE)
        add_problem (problems, NULL, status, config->claude_link, primary->home, NULL);
    }
  return problems;
}

gboolean
cf_symlinks_flip (const char *link_path, const char *target, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (link_path);
  g_autofree char *base = g_path_get_basename (link_path);
  g_autofree char *temp = NULL;
  GStatBuf st;

  if (g_lstat (link_path, &st) == 0 && !S_ISLNK (st.st_mode))
    {
      set_problem_error (error, CF_LINK_OBSTRUCTED, link_path, target,
                         S_ISDIR (st.st_mode) ? "directory" : "file");
      return FALSE;
    }
  for (guint attempt = 0; ; attempt++)
    {
      g_free (temp);
      temp = g_strdup_printf ("%s/.%s.cf-new-%d-%08x", dir, base, (int) getpid (), g_random_int ());
      if (symlink (target, temp) == 0)
        break;
      if (errno != EEXIST || attempt >= 8)
        {
          int saved_errno = errno;
          g_set_error (error, CF_SYMLINKS_ERROR, CF_LINK_UNREADABLE,
                       _("cannot create a link in %s: %s"), dir, g_strerror (saved_errno));
          return FALSE;
        }
    }
  if (rename (temp, link_path) < 0)
    {
      int saved_errno = errno;
      (void) unlink (temp);
      g_set_error (error, CF_SYMLINKS_ERROR, CF_LINK_UNREADABLE,
                   _("cannot replace %s: %s"), link_path, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}
