/* SPDX-License-Identifier: MIT */
/* Shared-state links: inspect, ensure, validate-all, atomic flip; and the
 * fault-point list parser. Table-driven over real temporary directories. */
#include <glib.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "cf-fault.h"
#include "cf-symlinks.h"
#include "cf-test-util.h"

typedef struct {
  char *dir;
  char *root;                  /* <dir>/shared */
  char *home;                  /* <dir>/home-a */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = cf_test_make_tmpdir ("cf-symlinks-XXXXXX");
  f->root = g_build_filename (f->dir, "shared", NULL);
  f->home = g_build_filename (f->dir, "home-a", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  cf_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->root);
  g_free (f->home);
}

static char *
path (Fixture *f, const char *relative)
{
  return g_build_filename (f->dir, relative, NULL);
}

/* A tiny layout language: "d:P" directory, "f:P" file, "l:P>T" symlink P → T
 * (T relative to the fixture unless it starts with '/' or '.'). */
static void
build_layout (Fixture *f, const char *const *items)
{
  for (guint i = 0; items != NULL && items[i] != NULL; i++)
    {
      const char *item = items[i];
      g_autofree char *p = NULL;

      if (g_str_has_prefix (item, "d:"))
        {
          p = path (f, item + 2);
          g_assert_cmpint (g_mkdir_with_parents (p, 0700), ==, 0);
        }
      else if (g_str_has_prefix (item, "f:"))
        {
          g_autofree char *dir = NULL;
          p = path (f, item + 2);
          dir = g_path_get_dirname (p);
          g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
          cf_test_write_file (p, "data\n");
        }
      else if (g_str_has_prefix (item, "l:"))
        {
          g_auto(GStrv) parts = g_strsplit (item + 2, ">", 2);
          g_autofree char *target = NULL;
          g_autofree char *dir = NULL;

          p = path (f, parts[0]);
          dir = g_path_get_dirname (p);
          g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
          target = (parts[1][0] == '/' || parts[1][0] == '.') ? g_strdup (parts[1]) : path (f, parts[1]);
          g_assert_cmpint (symlink (target, p), ==, 0);
        }
      else
        g_assert_not_reached ();
    }
}

/* ---- inspect ------------------------------------------------------------ */

typedef struct {
  const char *name;
  const char *layout[4];
  const char *link;            /* relative to the fixture */
  const char *target;          /* relative to the fixture */
  CfLinkStatus expected;
} InspectRow;

static const InspectRow inspect_rows[] = {
  { "absent", { NULL }, "home-a/projects", "shared/projects", CF_LINK_MISSING },
  { "right", { "d:shared/projects", "l:home-a/projects>shared/projects", NULL },
    "home-a/projects", "shared/projects", CF_LINK_OK },
  { "right-relative", { "d:shared/projects", "l:home-a/projects>../shared/projects", NULL },
    "home-a/projects", "shared/projects", CF_LINK_OK },
  { "dangling-right", { "l:home-a/projects>shared/projects", NULL },
    "home-a/projects", "shared/projects", CF_LINK_TARGET_MISSING },
  { "divergent", { "d:elsewhere", "l:home-a/projects>elsewhere", NULL },
    "home-a/projects", "shared/projects", CF_LINK_DIVERGENT },
  { "directory-in-the-way", { "d:home-a/projects", NULL },
    "home-a/projects", "shared/projects", CF_LINK_OBSTRUCTED },
  { "file-in-the-way", { "f:home-a/projects", NULL },
    "home-a/projects", "shared/projects", CF_LINK_OBSTRUCTED },
  { "target-is-a-file", { "f:shared/projects", "l:home-a/projects>shared/projects", NULL },
    "home-a/projects", "shared/projects", CF_LINK_TARGET_NOT_DIR },
};

static void
test_inspect (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < G_N_ELEMENTS (inspect_rows); i++)
    {
      const InspectRow *row = &inspect_rows[i];
      g_autofree char *sub = g_strdup_printf ("%s/%s", f->dir, row->name);
      Fixture local = { .dir = sub };
      g_autofree char *link = NULL;
      g_autofree char *target = NULL;

      g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
      build_layout (&local, row->layout);
      link = path (&local, row->link);
      target = path (&local, row->target);
      g_test_message ("row %s", row->name);
      g_assert_cmpint (cf_symlinks_inspect (link, target, NULL), ==, row->expected);
    }
}

/* ---- ensure --------------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *layout[4];
  gboolean ok;
  CfLinkStatus error_code;
  const char *message_part;    /* in the error message */
  const char *untouched;       /* a path whose content must survive, or NULL */
} EnsureRow;

static const EnsureRow ensure_rows[] = {
  { "fresh", { NULL }, TRUE, 0, NULL, NULL },
  { "already-right", { "d:shared/projects", "l:home-a/projects>shared/projects", NULL },
    TRUE, 0, NULL, NULL },
  { "targets-exist-already", { "d:shared/projects", "d:shared/session-env", "d:home-a", NULL },
    TRUE, 0, NULL, NULL },
  { "dangling-gets-target", { "l:home-a/projects>shared/projects", NULL }, TRUE, 0, NULL, NULL },
  { "divergent-refused", { "d:elsewhere", "l:home-a/projects>elsewhere", NULL },
    FALSE, CF_LINK_DIVERGENT, "instead of", "elsewhere" },
  { "directory-refused", { "f:home-a/projects/conv.jsonl", NULL },
    FALSE, CF_LINK_OBSTRUCTED, "is a directory", "home-a/projects/conv.jsonl" },
  { "file-refused", { "f:home-a/file-history", NULL },
    FALSE, CF_LINK_OBSTRUCTED, "is a file", "home-a/file-history" },
  { "target-file-refused", { "f:shared/session-env", NULL },
    FALSE, CF_LINK_TARGET_NOT_DIR, "not a directory", "shared/session-env" },
  { "home-is-a-file", { "f:home-a", NULL },
    FALSE, CF_LINK_HOME_NOT_DIR, "not a directory", "home-a" },
};

static const char *const entries[] = { "session-env", "file-history", "projects", NULL };

static void
test_ensure (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < G_N_ELEMENTS (ensure_rows); i++)
    {
      const EnsureRow *row = &ensure_rows[i];
      g_autofree char *sub = g_strdup_printf ("%s/%s", f->dir, row->name);
      Fixture local = { .dir = sub };
      g_autofree char *home = NULL, *root = NULL;
      g_autoptr(GError) error = NULL;
      gboolean ok;

      g_test_message ("row %s", row->name);
      g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
      build_layout (&local, row->layout);
      home = path (&local, "home-a");
      root = path (&local, "shared");
      ok = cf_symlinks_ensure (home, root, entries, &error);
      g_assert_cmpint (ok, ==, row->ok);
      if (ok)
        {
          g_assert_no_error (error);
          for (guint j = 0; entries[j] != NULL; j++)
            {
              g_autofree char *link = g_build_filename (home, entries[j], NULL);
              g_autofree char *target = g_build_filename (root, entries[j], NULL);
              g_assert_cmpint (cf_symlinks_inspect (link, target, NULL), ==, CF_LINK_OK);
            }
          /* Idempotent. */
          g_assert_true (cf_symlinks_ensure (home, root, entries, NULL));
          continue;
        }
      g_assert_error (error, CF_SYMLINKS_ERROR, (gint) row->error_code);
      g_assert_nonnull (strstr (error->message, row->message_part));
      g_assert_null (strchr (error->message, '\n'));
      if (row->untouched != NULL)
        {
          g_autofree char *kept = path (&local, row->untouched);
          g_assert_true (g_file_test (kept, G_FILE_TEST_EXISTS));
        }
    }
}

/* ---- validate all ----------------------------------------------------------- */

static CfConfig *
config_for (Fixture *f, const char *link)
{
  g_autofree char *yaml = g_strdup_printf (
    "accounts:\n"
    "  - {name: main, home: %s/home-a}\n"
    "  - {name: backup, home: %s/home-b}\n"
    "claude_link: %s/%s\n"
    "shared_state: {root: %s, entries: [session-env, file-history, projects]}\n",
    f->dir, f->dir, f->dir, link, f->root);
  g_autoptr(GError) error = NULL;
  CfConfig *config = cf_config_load_data (yaml, -1, "test.yaml", f->dir, &error);

  g_assert_no_error (error);
  return config;
}

static void
test_validate_all_reports_every_problem (Fixture *f, gconstpointer data)
{
  static const char *const layout[] = {
    "d:home-a/projects",                      /* main: a real directory */
    "d:elsewhere", "l:home-b/session-env>elsewhere",   /* backup: divergent */
    "f:home-b/file-history",                  /* backup: a file */
    NULL,
  };
  g_autoptr(CfConfig) config = NULL;
  g_autoptr(GPtrArray) problems = NULL;
  g_autoptr(GPtrArray) with_fixable = NULL;
  guint per_account[2] = { 0, 0 };

  build_layout (f, (const char *const *) layout);
  config = config_for (f, ".claude");
  problems = cf_symlinks_validate_all (config, FALSE);
  g_assert_cmpuint (problems->len, ==, 3);
  for (guint i = 0; i < problems->len; i++)
    {
      CfLinkProblem *problem = g_ptr_array_index (problems, i);
      g_assert_false (cf_link_status_is_fixable (problem->status));
      g_assert_nonnull (problem->message);
      per_account[g_str_equal (problem->account, "main") ? 0 : 1]++;
    }
  g_assert_cmpuint (per_account[0], ==, 1);
  g_assert_cmpuint (per_account[1], ==, 2);

  /* With the fixable ones: main's 2 missing links, backup's missing
   * projects link, and the absent claude_link. */
  with_fixable = cf_symlinks_validate_all (config, TRUE);
  g_assert_cmpuint (with_fixable->len, ==, 3 + 2 + 1 + 1);
}

static void
test_validate_claude_link (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *layout[3];
    guint problems;
    const char *linked;        /* account the link designates, or NULL */
  } rows[] = {
    { { NULL }, 0, NULL },                                           /* absent: fine */
    { { "d:home-b", "l:.claude>home-b", NULL }, 0, "backup" },
    { { "d:home-a", "l:.claude>./home-a", NULL }, 0, "main" },      /* relative */
    { { "d:other", "l:.claude>other", NULL }, 1, NULL },             /* none of them */
    { { "d:.claude", NULL }, 1, NULL },                              /* a directory */
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autofree char *sub = g_strdup_printf ("%s/claude-link-%u", f->dir, i);
      Fixture local = { .dir = sub };
      g_autoptr(CfConfig) config = NULL;
      g_autoptr(GPtrArray) problems = NULL;
      const CfAccountConfig *linked;

      g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
      local.root = g_build_filename (sub, "shared", NULL);
      build_layout (&local, rows[i].layout);
      config = config_for (&local, ".claude");
      problems = cf_symlinks_validate_all (config, FALSE);
      g_test_message ("row %u", i);
      g_assert_cmpuint (problems->len, ==, rows[i].problems);
      linked = cf_symlinks_link_account (config, config->claude_link);
      g_assert_cmpstr (linked ? linked->name : NULL, ==, rows[i].linked);
      g_free (local.root);
    }
}

/* ---- flip ------------------------------------------------------------------- */

static void
test_flip_is_atomic_and_safe (Fixture *f, gconstpointer data)
{
  static const char *const layout[] = { "d:home-a", "d:home-b", NULL };
  g_autofree char *link = path (f, ".claude");
  g_autofree char *home_a = path (f, "home-a");
  g_autofree char *home_b = path (f, "home-b");
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = NULL;
  const char *name;

  build_layout (f, (const char *const *) layout);
  /* Absent → created. */
  g_assert_true (cf_symlinks_flip (link, home_a, &error));
  g_assert_no_error (error);
  g_assert_cmpint (cf_symlinks_inspect (link, home_a, NULL), ==, CF_LINK_OK);
  /* A link → replaced. */
  g_assert_true (cf_symlinks_flip (link, home_b, &error));
  text = g_file_read_link (link, NULL);
  g_assert_cmpstr (text, ==, home_b);
  /* No temporary left behind. */
  dir = g_dir_open (f->dir, 0, NULL);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_assert_false (g_str_has_prefix (name, ".") && strstr (name, "cf-new") != NULL);
  /* A real directory is never replaced. */
  g_assert_cmpint (g_unlink (link), ==, 0);
  g_assert_cmpint (g_mkdir (link, 0700), ==, 0);
  cf_test_write_file (g_build_filename (link, "keep", NULL), "x");
  g_assert_false (cf_symlinks_flip (link, home_a, &error));
  g_assert_error (error, CF_SYMLINKS_ERROR, CF_LINK_OBSTRUCTED);
  g_assert_true (g_file_test (link, G_FILE_TEST_IS_DIR));
}

/* While one thread flips the link back and forth, the other never sees it
 * missing: rename(2) replaces it in one step. */
static gint flipper_done;

static gpointer
flipper (gpointer data)
{
  Fixture *f = data;
  g_autofree char *link = path (f, ".claude");
  g_autofree char *home_a = path (f, "home-a");
  g_autofree char *home_b = path (f, "home-b");

  for (guint i = 0; i < 2000; i++)
    g_assert_true (cf_symlinks_flip (link, (i % 2) ? home_a : home_b, NULL));
  g_atomic_int_set (&flipper_done, 1);
  return NULL;
}

static void
test_flip_never_disappears (Fixture *f, gconstpointer data)
{
  static const char *const layout[] = { "d:home-a", "d:home-b", "l:.claude>home-a", NULL };
  g_autofree char *link = path (f, ".claude");
  GThread *thread;
  guint missing = 0, reads = 0;
  GStatBuf st;

  build_layout (f, (const char *const *) layout);
  g_atomic_int_set (&flipper_done, 0);
  thread = g_thread_new ("flipper", flipper, f);
  while (!g_atomic_int_get (&flipper_done))
    {
      if (g_lstat (link, &st) < 0 || !S_ISLNK (st.st_mode))
        missing++;
      reads++;
    }
  g_thread_join (thread);
  g_test_message ("%u reads during 2000 flips", reads);
  g_assert_cmpuint (reads, >, 0);
  g_assert_cmpuint (missing, ==, 0);
}

/* ---- fault points --------------------------------------------------------- */

static void
test_fault_list (void)
{
  static const struct { const char *list, *name; gboolean expected; } rows[] = {
    { NULL, "swap-saving", FALSE },
    { "", "swap-saving", FALSE },
    { "swap-saving", "swap-saving", TRUE },
    { "a,swap-saving,b", "swap-saving", TRUE },
    { "swap-saving-x", "swap-saving", FALSE },
    { "x-swap-saving", "swap-saving", FALSE },
    { "swap", "swap-saving", FALSE },
    { "a,,b", "", FALSE },
    { "a,b,", "b", TRUE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    g_assert_cmpint (cf_fault_list_contains (rows[i].list, rows[i].name), ==, rows[i].expected);
  /* Unset in the test environment: a no-op. */
  cf_fault_point ("swap-saving");
}

static void
test_fault_fail_times (void)
{
  static const struct { const char *list, *name; gboolean expected; guint times; } rows[] = {
    { NULL, "taskq-finish-meta", FALSE, 0 },
    { "", "taskq-finish-meta", FALSE, 0 },
    { "taskq-finish-meta", "taskq-finish-meta", TRUE, G_MAXUINT },
    { "taskq-finish-meta:3", "taskq-finish-meta", TRUE, 3 },
    { "a,taskq-finish-meta:0,b", "taskq-finish-meta", TRUE, 0 },
    { "a:1,taskq-finish-meta:12", "taskq-finish-meta", TRUE, 12 },
    { "taskq-finish-meta:", "taskq-finish-meta", FALSE, 0 },
    { "taskq-finish-meta:3x", "taskq-finish-meta", FALSE, 0 },
    { "taskq-finish-meta:-1", "taskq-finish-meta", FALSE, 0 },
    { "taskq-finish-meta:99999999999", "taskq-finish-meta", FALSE, 0 },
    { "taskq-finish-metadata:2", "taskq-finish-meta", FALSE, 0 },
    { "taskq-finish", "taskq-finish-meta", FALSE, 0 },
    { "x-taskq-finish-meta", "taskq-finish-meta", FALSE, 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      guint times = 0;

      g_assert_cmpint (cf_fault_fail_times (rows[i].list, rows[i].name, &times), ==,
                       rows[i].expected);
      g_assert_cmpuint (times, ==, rows[i].times);
    }

  /* Read once per process: this is the first cf_fault_fail call here. */
  g_setenv ("CF_FAULT_FAIL", "unit-twice:2,unit-always", TRUE);
  g_assert_true (cf_fault_fail ("unit-twice"));
  g_assert_true (cf_fault_fail ("unit-twice"));
  g_assert_false (cf_fault_fail ("unit-twice"));
  for (guint i = 0; i < 5; i++)
    g_assert_true (cf_fault_fail ("unit-always"));
  g_assert_false (cf_fault_fail ("unit-never"));
  g_unsetenv ("CF_FAULT_FAIL");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("CF_FAULT_CRASH_AT");
  g_test_add ("/symlinks/inspect", Fixture, NULL, fixture_setup, test_inspect, fixture_teardown);
  g_test_add ("/symlinks/ensure", Fixture, NULL, fixture_setup, test_ensure, fixture_teardown);
  g_test_add ("/symlinks/validate-all", Fixture, NULL, fixture_setup,
              test_validate_all_reports_every_problem, fixture_teardown);
  g_test_add ("/symlinks/claude-link", Fixture, NULL, fixture_setup, test_validate_claude_link,
              fixture_teardown);
  g_test_add ("/symlinks/flip", Fixture, NULL, fixture_setup, test_flip_is_atomic_and_safe,
              fixture_teardown);
  g_test_add ("/symlinks/flip-never-disappears", Fixture, NULL, fixture_setup,
              test_flip_never_disappears, fixture_teardown);
  g_test_add_func ("/fault/list", test_fault_list);
  g_test_add_func ("/fault/fail-times", test_fault_fail_times);
  return g_test_run ();
}
