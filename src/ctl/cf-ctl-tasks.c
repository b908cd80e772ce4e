/* SPDX-License-Identifier: MIT */
/* `tasks`, `submit`, `requeue` and `cancel`: the task queue over D-Bus
 * (ListTasks, SubmitTask, RequeueTask, CancelTask). */
#include "cf-ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "cf-ctl-args.h"
#include "cf-ctl-bus.h"
#include "cf-ctl-output.h"
#include "cf-depends.h"
#include "cf-names.h"
#include "cf-submit.h"
#include "cf-task.h"

/* Titles are cut in the table; --json has them whole. */
#define CF_CTL_TITLE_WIDTH 48

static const char *const task_states[] = { "active", "inbox", "failed", "done" };

static int
state_rank (const char *state)
{
  for (guint i = 0; i < G_N_ELEMENTS (task_states); i++)
    if (g_str_equal (state, task_states[i]))
      return (int) i;
  return G_N_ELEMENTS (task_states);
}

static int
compare_tasks (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const CfCtlTask *x = *(CfCtlTask *const *) a;
  const CfCtlTask *y = *(CfCtlTask *const *) b;
  GHashTable *labels = user_data;
  int c;

  c = g_strcmp0 (g_hash_table_lookup (labels, x->project), g_hash_table_lookup (labels, y->project));
  if (c == 0)
    c = g_strcmp0 (x->project, y->project);
  if (c == 0)
    c = state_rank (x->state) - state_rank (y->state);
  if (c == 0 && x->mtime != y->mtime)
    c = x->mtime < y->mtime ? -1 : 1;
  if (c == 0)
    c = g_strcmp0 (x->id, y->id);
  return c;
}

/* PROJECT as typed (a name or a directory) names DIRECTORY. */
static gboolean
project_matches (const char *project, const char *directory)
{
  g_autofree char *base = NULL;
  g_autofree char *canonical = NULL;

  if (project == NULL)
    return TRUE;
  if (g_path_is_absolute (project))
    {
      canonical = g_canonicalize_filename (project, NULL);
      return g_str_equal (canonical, directory);
    }
  base = g_path_get_basename (directory);
  return g_str_equal (project, base);
}

/* ---- what the daemon's ListTasks cannot say (its signature is fixed):
 * why a queued task waits (depends_on) and a task's worktree, read from
 * the queue directories themselves, best effort. */

#define QUEUE_DIR ".agent-queue"

typedef struct {
  const char *project;
  GHashTable *nodes;           /* id → Node* */
} DiskLookup;

typedef struct {
  CfDependsPlace place;
  char **depends_on;
  char *reason;
} Node;

static void
node_free (Node *node)
{
  g_strfreev (node->depends_on);
  g_free (node->reason);
  g_free (node);
}

static char *
queue_file (const char *project, const char *place, const char *id, const char *suffix)
{
  g_autofree char *name = g_strconcat (id, suffix, NULL);

  return g_build_filename (project, QUEUE_DIR, place, name, NULL);
}

static CfTask *
read_queued (const char *project, const char *place, const char *id)
{
  g_autofree char *path = queue_file (project, place, id, ".md");
  g_autofree char *text = NULL;
  gsize length = 0;

  if (!g_file_get_contents (path, &text, &length, NULL))
    return NULL;
  return cf_task_parse (id, text, length, NULL);
}

static CfDependsPlace
lookup_queue (const char *id, const char *const **out_depends_on, const char **out_reason, gpointer data)
{
  DiskLookup *lookup = data;
  Node *node = g_hash_table_lookup (lookup->nodes, id);

  if (node == NULL)
    {
      static const char *const queued[] = { "inbox", "active" };
      g_autofree char *done = queue_file (lookup->project, "done", id, ".md");
      g_autofree char *failed = queue_file (lookup->project, "failed", id, ".md");

      node = g_new0 (Node, 1);
      node->place = CF_DEPENDS_PLACE_UNKNOWN;
      for (guint i = 0; i < G_N_ELEMENTS (queued) && node->place == CF_DEPENDS_PLACE_UNKNOWN; i++)
        {
          g_autofree char *path = queue_file (lookup->project, queued[i], id, ".md");

          if (g_file_test (path, G_FILE_TEST_EXISTS))
            {
              g_autoptr(CfTask) task = read_queued (lookup->project, queued[i], id);

              node->place = CF_DEPENDS_PLACE_QUEUED;
              if (task != NULL)
                node->depends_on = g_strdupv (task->depends_on);
            }
        }
      if (node->place == CF_DEPENDS_PLACE_UNKNOWN && g_file_test (done, G_FILE_TEST_EXISTS))
        node->place = CF_DEPENDS_PLACE_DONE;
      else if (node->place == CF_DEPENDS_PLACE_UNKNOWN && g_file_test (failed, G_FILE_TEST_EXISTS))
        {
          g_autofree char *reason_path = queue_file (lookup->project, "failed", id, ".reason.txt");
          g_autofree char *reason = NULL;

          node->place = CF_DEPENDS_PLACE_FAILED;
          if (g_file_get_contents (reason_path, &reason, NULL, NULL))
            {
              char *newline = strchr (reason, '\n');
              if (newline != NULL)
                *newline = '\0';
              node->reason = g_steal_pointer (&reason);
            }
        }
      g_hash_table_insert (lookup->nodes, g_strdup (id), node);
    }
  *out_depends_on = (const char *const *) node->depends_on;
  *out_reason = node->reason;
  return node->place;
}

/* "waiting for a, b" for a queued task whose dependencies are not done. */
static char *
task_waiting (const CfCtlTask *t)
{
  g_autoptr(CfTask) task = NULL;
  g_autoptr(GHashTable) nodes = NULL;
  DiskLookup lookup = { .project = t->project };
  char *reason = NULL;

  if (!g_str_equal (t->state, "inbox") || !cf_task_id_is_valid (t->id))
    return NULL;
  task = read_queued (t->project, "inbox", t->id);
  if (task == NULL || task->depends_on[0] == NULL)
    return NULL;
  nodes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) node_free);
  lookup.nodes = nodes;
  if (cf_depends_check (t->id, (const char *const *) task->depends_on, lookup_queue, &lookup, &reason) ==
      CF_DEPENDS_READY)
    g_clear_pointer (&reason, g_free);
  return reason;
}

/* The task's worktree directory when it has one, else NULL. */
static char *
task_worktree (const CfCtlTask *t)
{
  g_autofree char *path = NULL;

  if (!cf_task_id_is_valid (t->id))
    return NULL;
  path = g_build_filename (t->project, QUEUE_DIR, "worktrees", t->id, NULL);
  return g_file_test (path, G_FILE_TEST_IS_DIR) ? g_steal_pointer (&path) : NULL;
}

static void
print_tasks_json (GPtrArray *tasks)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_array (b);
  for (guint i = 0; i < tasks->len; i++)
    {
      CfCtlTask *t = g_ptr_array_index (tasks, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "project");
      json_builder_add_string_value (b, t->project);
      json_builder_set_member_name (b, "task_id");
      json_builder_add_string_value (b, t->id);
      json_builder_set_member_name (b, "state");
      json_builder_add_string_value (b, t->state);
      json_builder_set_member_name (b, "session");
      json_builder_add_string_value (b, t->session);
      json_builder_set_member_name (b, "title");
      json_builder_add_string_value (b, t->title);
      json_builder_set_member_name (b, "mtime");
      json_builder_add_int_value (b, (gint64) t->mtime);
      {
        g_autofree char *waiting = task_waiting (t);
        g_autofree char *worktree = task_worktree (t);

        if (waiting != NULL)
          {
            json_builder_set_member_name (b, "waiting");
            json_builder_add_string_value (b, waiting);
          }
        if (worktree != NULL)
          {
            g_autofree char *branch = g_strconcat ("cf/", t->id, NULL);
            json_builder_set_member_name (b, "branch");
            json_builder_add_string_value (b, branch);
            json_builder_set_member_name (b, "worktree");
            json_builder_add_string_value (b, worktree);
          }
      }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  cf_ctl_print_json (b, FALSE);
}

static void
print_tasks_table (GPtrArray *tasks, GHashTable *labels)
{
  g_autoptr(CfCtlTable) table = cf_ctl_table_new (6, _("PROJECT"), _("TASK"), _("STATE"),
                                                  _("SESSION"), _("TITLE"), _("UPDATED"));
  g_autoptr(GString) notes = g_string_new (NULL);
  gint64 now = g_get_real_time ();

  if (tasks->len == 0)
    {
      g_print ("%s\n", _("No tasks."));
      return;
    }
  for (guint i = 0; i < tasks->len; i++)
    {
      CfCtlTask *t = g_ptr_array_index (tasks, i);
      g_autofree char *title = cf_ctl_truncate (t->title, CF_CTL_TITLE_WIDTH);
      g_autofree char *updated = cf_ctl_relative_time ((gint64) t->mtime, now);

      cf_ctl_table_add_row (table);
      cf_ctl_table_set (table, 0, g_hash_table_lookup (labels, t->project), CF_CTL_STYLE_NONE);
      cf_ctl_table_set (table, 1, t->id, CF_CTL_STYLE_NONE);
      cf_ctl_table_set (table, 2, t->state, cf_ctl_style_for_task_state (t->state));
      cf_ctl_table_set (table, 3, *t->session ? t->session : "-", CF_CTL_STYLE_NONE);
      cf_ctl_table_set (table, 4, *title ? title : "-", CF_CTL_STYLE_NONE);
      cf_ctl_table_set (table, 5, updated, CF_CTL_STYLE_DIM);
      {
        g_autofree char *waiting = task_waiting (t);
        g_autofree char *worktree = task_worktree (t);
        g_autofree char *id = cf_ctl_printable (t->id);

        if (waiting != NULL)
          {
            g_autofree char *shown = cf_ctl_printable (waiting);
            /* TRANSLATORS: under the tasks table: task id, then why it is not dispatched */
            g_string_append_printf (notes, _("%s: %s\n"), id, shown);
          }
        if (worktree != NULL)
          {
            g_autofree char *shown = cf_ctl_printable (worktree);
            /* TRANSLATORS: under the tasks table: task id, its git branch, its worktree directory */
            g_string_append_printf (notes, _("%s: branch cf/%s, worktree %s\n"), id, id, shown);
          }
      }
    }
  cf_ctl_table_print (table);
  if (notes->len > 0)
    g_print ("\n%s", notes->str);
}

static const char *const tasks_arg_names[] = { "PROJECT" };

static const CfCtlUsage tasks_usage = {
  .command = "tasks",
  .parameters = N_("[PROJECT] [--state STATE[,STATE…]]"),
  .summary = N_("Lists the tasks of every project (ListTasks): active ones with the session\n"
                "running them, queued ones (inbox), done and failed ones. PROJECT, a project\n"
                "name or directory, keeps only that project's tasks."),
  .min_args = 0,
  .max_args = 1,
  .arg_names = tasks_arg_names,
};

int
cf_ctl_tasks (int argc, char **argv, gboolean json)
{
  g_autofree char *state_filter = NULL;
  const GOptionEntry entries[] = {
    { "state", 0, 0, G_OPTION_ARG_STRING, &state_filter,
      N_("only tasks in these states: inbox, active, done, failed\n(comma-separated)"),
      N_("STATE") },
    { NULL },
  };
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(GPtrArray) tasks = NULL;
  g_autoptr(GPtrArray) shown = NULL;
  g_autoptr(GHashTable) labels = NULL;
  g_auto(GStrv) states = NULL;
  g_auto(GStrv) args = NULL;
  int status = cf_ctl_parse_args (&tasks_usage, entries, argc, argv, &json, &args);

  if (status >= 0)
    return status;
  if (state_filter != NULL)
    {
      states = g_strsplit (state_filter, ",", -1);
      for (guint i = 0; states[i] != NULL; i++)
        if (state_rank (states[i]) == G_N_ELEMENTS (task_states))
          return cf_ctl_usage_error (tasks_usage.command,
                                     _("unknown state '%s' for --state: inbox, active, done or failed"),
                                     states[i]);
    }

  bus = cf_ctl_bus_open (tasks_usage.command, FALSE);
  if (bus == NULL)
    return 1;
  tasks = cf_ctl_fetch_tasks (bus, tasks_usage.command, CF_CTL_CALL_DEFAULT);
  if (tasks == NULL)
    return 1;
  shown = g_ptr_array_new ();
  for (guint i = 0; i < tasks->len; i++)
    {
      CfCtlTask *t = g_ptr_array_index (tasks, i);

      if (project_matches (args[0], t->project) &&
          (states == NULL || g_strv_contains ((const char *const *) states, t->state)))
        g_ptr_array_add (shown, t);
    }
  labels = cf_ctl_project_labels (tasks);
  g_ptr_array_sort_with_data (shown, compare_tasks, labels);
  if (json)
    print_tasks_json (shown);
  else
    print_tasks_table (shown, labels);
  return 0;
}

/* ---- submit ------------------------------------------------------------- */

/* Reads the body from PATH ("-" = standard input) into *BODY; returns -1,
 * or the exit status after printing why it cannot be a task's body. */
static int
read_body (const char *path, char **body)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  gboolean from_stdin = g_str_equal (path, "-");
  g_autofree char *shown = from_stdin ? g_strdup (_("standard input")) : g_strdup_printf ("'%s'", path);
  int fd = from_stdin ? STDIN_FILENO : open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  guint8 buffer[65536];
  int saved_errno = 0;

  if (fd < 0)
    return cf_ctl_fail (1, "submit", _("cannot read '%s': %s"), path, g_strerror (errno));
  for (;;)
    {
      ssize_t n = read (fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        saved_errno = errno;
      if (n <= 0)
        break;
      g_byte_array_append (data, buffer, (guint) n);
      /* Stops /dev/zero early; the daemon checks the exact limit. */
      if (data->len > CF_TASK_MAX_SIZE)
        {
          saved_errno = EFBIG;
          break;
        }
    }
  if (!from_stdin)
    close (fd);
  if (saved_errno == EFBIG)
    return cf_ctl_fail (1, "submit", _("%s is larger than %u bytes, the most a task may be"),
                        shown, (guint) CF_TASK_MAX_SIZE);
  if (saved_errno != 0)
    return cf_ctl_fail (1, "submit", _("cannot read %s: %s"), shown, g_strerror (saved_errno));
  if (memchr (data->data, '\0', data->len) != NULL)
    return cf_ctl_fail (1, "submit", _("%s contains NUL bytes: a task is text"), shown);
  if (!g_utf8_validate_len ((const char *) data->data, data->len, NULL))
    return cf_ctl_fail (1, "submit", _("%s is not UTF-8 text"), shown);
  g_byte_array_append (data, (const guint8 *) "", 1);
  *body = (char *) g_byte_array_free (g_steal_pointer (&data), FALSE);
  return -1;
}

static const char *const submit_arg_names[] = { "PROJECT" };

static const CfCtlUsage submit_usage = {
  .command = "submit",
  .json_help = N_("print {\"project\": …, \"task_id\": …} instead"),
  .parameters = N_("PROJECT --title TITLE [--priority PRIORITY] [--file FILE|-] [OPTION…]"),
  .summary = N_("Writes a task into PROJECT's inbox (SubmitTask) and prints its id. PROJECT is\n"
                "a project name (a directory under projects.dir) or a project directory. The\n"
                "body sent to Claude is read from FILE, or from standard input with \"-\";\n"
                "without --file the title is the body."),
  .description = N_("Exit status: 0 submitted, 1 the daemon refused it or FILE cannot be a task\n"
                    "(unreadable, over 1 MiB, not UTF-8), 2 usage error."),
  .min_args = 1,
  .max_args = 1,
  .arg_names = submit_arg_names,
};

static gboolean
append_string_option (sd_bus_message *call, const char *name, const char *value, int *r)
{
  if (*r >= 0 && value != NULL)
    *r = sd_bus_message_append (call, "{sv}", name, "s", value);
  return *r >= 0;
}

int
cf_ctl_submit (int argc, char **argv, gboolean json)
{
  g_autofree char *title = NULL;
  g_autofree char *priority = NULL;
  g_autofree char *file = NULL;
  g_autofree char *model = NULL;
  g_autofree char *preferred_ai = NULL;
  g_auto(GStrv) tags = NULL;
  gboolean allow_delegation = FALSE;
  gboolean needs_claude_code = FALSE;
  const GOptionEntry entries[] = {
    { "title", 0, 0, G_OPTION_ARG_STRING, &title, N_("the task's title (required)"), N_("TITLE") },
    { "priority", 0, 0, G_OPTION_ARG_STRING, &priority,
      N_("critical, high, default (the default) or low;\ncritical tasks run on opus"),
      N_("PRIORITY") },
    { "file", 0, 0, G_OPTION_ARG_FILENAME, &file,
      N_("read the body from FILE (\"-\": standard input)"), N_("FILE") },
    { "model", 0, 0, G_OPTION_ARG_STRING, &model,
      N_("Claude model for this task (default: by priority)"), N_("MODEL") },
    { "tag", 0, 0, G_OPTION_ARG_STRING_ARRAY, &tags, N_("a tag (repeat for more)"), N_("TAG") },
    { "preferred-ai", 0, 0, G_OPTION_ARG_STRING, &preferred_ai,
      N_("auto, claude-code, gpu, gemini or claude-api"), N_("AI") },
    { "allow-delegation", 0, 0, G_OPTION_ARG_NONE, &allow_delegation,
      N_("the task may go to the remote AI job API"), NULL },
    { "needs-claude-code", 0, 0, G_OPTION_ARG_NONE, &needs_claude_code,
      N_("the task must run in a local Claude Code session"), NULL },
    { NULL },
  };
  g_auto(CfSubmitOptions) checked = { .priority = CF_PRIORITY_DEFAULT };
  g_autoptr(GError) error = NULL;
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  g_autofree char *body = NULL;
  g_autofree char *stripped = NULL;
  g_auto(GStrv) args = NULL;
  const char *task_id = NULL;
  CfCtlCallInfo info = { .command = "submit", .action = CF_POLKIT_MANAGE_TASKS };
  int status = cf_ctl_parse_args (&submit_usage, entries, argc, argv, &json, &args);
  int r;

  if (status >= 0)
    return status;
  info.project = args[0];

  /* Everything the daemon would refuse for its form is a usage error here,
   * checked by the same code the daemon runs. */
  if (title == NULL)
    return cf_ctl_usage_error ("submit", _("missing --title"));
  if (!g_utf8_validate (title, -1, NULL))
    return cf_ctl_usage_error ("submit", _("the title is not UTF-8 text"));
  stripped = g_strstrip (g_strdup (title));
  if (*stripped == '\0')
    return cf_ctl_usage_error ("submit", _("the title is empty"));
  if ((priority != NULL && !cf_submit_options_set_string (&checked, "priority", priority, &error)) ||
      (model != NULL && !cf_submit_options_set_string (&checked, "model", model, &error)) ||
      (preferred_ai != NULL &&
       !cf_submit_options_set_string (&checked, "preferred_ai", preferred_ai, &error)) ||
      (tags != NULL &&
       !cf_submit_options_set_strv (&checked, "tags", (const char *const *) tags, &error)))
    return cf_ctl_usage_error ("submit", "%s", error->message);

  if (file != NULL)
    {
      status = read_body (file, &body);
      if (status >= 0)
        return status;
    }
  else
    body = g_strdup (title);

  bus = cf_ctl_bus_open ("submit", FALSE);
  if (bus == NULL)
    return 1;
  r = cf_ctl_new_call (bus, "SubmitTask", CF_CTL_CALL_MUTATING, &call);
  if (r >= 0)
    r = sd_bus_message_append (call, "sss", args[0], title, body);
  if (r >= 0)
    r = sd_bus_message_open_container (call, 'a', "{sv}");
  append_string_option (call, "priority", priority, &r);
  append_string_option (call, "model", model, &r);
  append_string_option (call, "preferred_ai", preferred_ai, &r);
  if (r >= 0 && tags != NULL)
    {
      r = sd_bus_message_open_container (call, 'e', "sv");
      if (r >= 0)
        r = sd_bus_message_append (call, "s", "tags");
      if (r >= 0)
        r = sd_bus_message_open_container (call, 'v', "as");
      if (r >= 0)
        r = sd_bus_message_append_strv (call, tags);
      if (r >= 0)
        r = sd_bus_message_close_container (call);
      if (r >= 0)
        r = sd_bus_message_close_container (call);
    }
  if (r >= 0 && allow_delegation)
    r = sd_bus_message_append (call, "{sv}", "allow_delegation", "b", 1);
  if (r >= 0 && needs_claude_code)
    r = sd_bus_message_append (call, "{sv}", "needs_claude_code", "b", 1);
  if (r >= 0)
    r = sd_bus_message_close_container (call);
  if (r < 0)
    return cf_ctl_fail (1, "submit", _("cannot build the %s call: %s"), "SubmitTask",
                        g_strerror (-r));
  if (!cf_ctl_call (bus, call, &info, CF_CTL_CALL_MUTATING, &reply))
    return 1;
  r = sd_bus_message_read (reply, "s", &task_id);
  if (r < 0)
    return cf_ctl_fail (1, "submit", _("unexpected SubmitTask reply: %s"), g_strerror (-r));

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "project");
      json_builder_add_string_value (b, args[0]);
      json_builder_set_member_name (b, "task_id");
      json_builder_add_string_value (b, task_id);
      json_builder_end_object (b);
      cf_ctl_print_json (b, FALSE);
    }
  else
    {
      g_autofree char *id = cf_ctl_printable (task_id);
      g_autofree char *project = cf_ctl_printable (args[0]);
      /* TRANSLATORS: task id, then project */
      g_print (_("Task %s queued in %s.\n"), id, project);
    }
  return 0;
}

/* ---- requeue and cancel ------------------------------------------------- */

static const char *const task_arg_names[] = { "PROJECT", "TASK" };

static const CfCtlUsage requeue_usage = {
  .command = "requeue",
  .json_help = N_("no output on success: the exit status says it"),
  .parameters = N_("PROJECT TASK"),
  .summary = N_("Puts task TASK of PROJECT back into the inbox (RequeueTask): a running task\n"
                "ends its session's work, a done or failed one is queued again."),
  .min_args = 2,
  .max_args = 2,
  .arg_names = task_arg_names,
};

static const CfCtlUsage cancel_usage = {
  .command = "cancel",
  .json_help = N_("no output on success: the exit status says it"),
  .parameters = N_("PROJECT TASK"),
  .summary = N_("Moves task TASK of PROJECT to failed/ as \"cancelled by the operator\"\n"
                "(CancelTask), whether it is queued or running."),
  .min_args = 2,
  .max_args = 2,
  .arg_names = task_arg_names,
};

static int
run_task_operation (const CfCtlUsage *usage, const char *member, int argc, char **argv,
                    gboolean json)
{
  g_autoptr(sd_bus) bus = NULL;
  g_auto(GStrv) args = NULL;
  CfCtlCallInfo info = { .command = usage->command, .action = CF_POLKIT_MANAGE_TASKS };
  g_autofree char *project = NULL;
  g_autofree char *task = NULL;
  int status = cf_ctl_parse_args (usage, NULL, argc, argv, &json, &args);

  if (status >= 0)
    return status;
  if (!cf_task_id_is_valid (args[1]))
    return cf_ctl_usage_error (usage->command,
                               _("'%s' is not a task id (letters, digits, '.', '_', '-')"),
                               args[1]);
  info.project = args[0];
  info.task = args[1];
  bus = cf_ctl_bus_open (usage->command, FALSE);
  if (bus == NULL)
    return 1;
  if (!cf_ctl_call_simple (bus, member, &info, CF_CTL_CALL_MUTATING, NULL, "ss", args[0], args[1]))
    return 1;
  if (json)
    return 0;
  project = cf_ctl_printable (args[0]);
  task = cf_ctl_printable (args[1]);
  if (usage == &requeue_usage)
    /* TRANSLATORS: task id, then project */
    g_print (_("Task %s of %s requeued.\n"), task, project);
  else
    /* TRANSLATORS: task id, then project */
    g_print (_("Task %s of %s cancelled.\n"), task, project);
  return 0;
}

int
cf_ctl_requeue (int argc, char **argv, gboolean json)
{
  return run_task_operation (&requeue_usage, "RequeueTask", argc, argv, json);
}

int
cf_ctl_cancel (int argc, char **argv, gboolean json)
{
  return run_task_operation (&cancel_usage, "CancelTask", argc, argv, json);
}
