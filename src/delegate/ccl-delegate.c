/* SPDX-License-Identifier: MIT */
/* ccl-delegate: the remote job API (ARCHITECTURE.md 4.8) from the command
 * line, with the daemon's own code: the same router (decide), the same
 * client, retries and strict replies (submit, get, result). */
#include <errno.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cf-build-config.h"
#include "cf-config.h"
#include "cf-delegate-client.h"
#include "cf-delegate-json.h"
#include "cf-delegate-route.h"
#include "cf-i18n.h"
#include "cf-json.h"
#include "cf-task.h"

#define PROGRAM "ccl-delegate"
#define KEY_ENV "CCL_SECUTOOLS_API_KEY"
#define KEY_ENV_FALLBACK "SECUTOOLS_API_KEY"
#define URL_ENV "CCL_SECUTOOLS_URL"
#define QUEUE_DIR ".agent-queue"

enum { EXIT_OK = 0, EXIT_FAILURE_ = 1, EXIT_USAGE = 2 };

typedef struct {
  gboolean json;
  char *url;                   /* --url, else $CCL_SECUTOOLS_URL */
} Globals;

static int
fail (int status, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* One line on stderr, as every ccl-delegate error. */
static int
fail (int status, const char *format, ...)
{
  g_autofree char *message = NULL;
  g_autofree char *line = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  line = cf_delegate_one_line (message, 2000);
  g_printerr ("%s: %s\n", PROGRAM, line);
  return status;
}

static void
print_json (JsonNode *node)
{
  g_autofree char *text = cf_json_to_string (node);

  g_print ("%s\n", text);
}

/* Parses ARGV with ENTRIES; on a usage error, prints it and returns FALSE
 * with *status set. --help prints SUMMARY and DESCRIPTION and exits 0. */
static gboolean
parse_options (int *argc, char ***argv, const char *parameters, const char *summary,
               const char *description, const GOptionEntry *entries, int *status)
{
  g_autoptr(GOptionContext) context = g_option_context_new (parameters);
  g_autoptr(GError) error = NULL;

  g_option_context_set_summary (context, summary);
  if (description != NULL)
    g_option_context_set_description (context, description);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      *status = fail (EXIT_USAGE, _("%s (see %s --help)"), error->message, (*argv)[0]);
      return FALSE;
    }
  return TRUE;
}

static const char *environment_help =
  N_("Environment:\n"
     "  CCL_SECUTOOLS_API_KEY  the API's bearer key (else SECUTOOLS_API_KEY)\n"
     "  CCL_SECUTOOLS_URL      the API's base URL, e.g. https://jobs.example/api (--url overrides)\n"
     "\n"
     "Exit status: 0 success, 1 failure, 2 usage error.");

/* ---- talking to the API ------------------------------------------------------ */

typedef struct {
  GMainLoop *loop;
  CfDelegateJob *job;
  GError *error;
  gboolean submit;
} Wait;

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Wait *wait = user_data;

  if (wait->submit)
    wait->job = cf_delegate_client_submit_finish (CF_DELEGATE_CLIENT (source), result, &wait->error);
  else
    wait->job = cf_delegate_client_get_finish (CF_DELEGATE_CLIENT (source), result, &wait->error);
  g_main_loop_quit (wait->loop);
}

/* The client for $CCL_SECUTOOLS_URL (or --url) and the key, or NULL after
 * printing why not. */
static CfDelegateClient *
make_client (const Globals *globals, int *status)
{
  const char *key = g_getenv (KEY_ENV);
  const char *url = globals->url != NULL ? globals->url : g_getenv (URL_ENV);
  g_autoptr(GError) error = NULL;
  CfDelegateClient *client;

  if (key == NULL || *key == '\0')
    key = g_getenv (KEY_ENV_FALLBACK);
  if (key == NULL || *key == '\0')
    {
      *status = fail (EXIT_FAILURE_, _("no API key: set %s (or %s)"), KEY_ENV, KEY_ENV_FALLBACK);
      return NULL;
    }
  if (url == NULL || *url == '\0')
    {
      *status = fail (EXIT_FAILURE_, _("no job API URL: set %s or use --url"), URL_ENV);
      return NULL;
    }
  client = cf_delegate_client_new (url, key, NULL, &error);
  if (client == NULL)
    *status = fail (EXIT_FAILURE_, "%s", error->message);
  return client;
}

/* Runs one request to completion; the job, or NULL with *error set. */
static CfDelegateJob *
run_request (CfDelegateClient *client, const CfDelegateRequest *request, const char *job_id,
             GError **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  Wait wait = { 0 };

  g_main_context_push_thread_default (context);
  wait.loop = g_main_loop_new (context, FALSE);
  wait.submit = request != NULL;
  if (request != NULL)
    cf_delegate_client_submit_async (client, request, NULL, on_done, &wait);
  else
    cf_delegate_client_get_async (client, job_id, NULL, on_done, &wait);
  g_main_loop_run (wait.loop);
  g_main_loop_unref (wait.loop);
  g_main_context_pop_thread_default (context);
  if (wait.job == NULL)
    g_propagate_error (error, wait.error);
  return wait.job;
}

static JsonNode *
job_to_json (const CfDelegateJob *job, gboolean full)
{
  g_autoptr(JsonObject) object = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_string_member (object, "id", job->id);
  json_object_set_string_member (object, "status", cf_job_status_to_string (job->status));
  if (full)
    {
      const struct {
        const char *name;
        const char *value;
      } members[] = {
        { "result", job->result }, { "provider", job->provider }, { "cost", job->cost },
        { "error", job->error },
      };

      for (guint i = 0; i < G_N_ELEMENTS (members); i++)
        if (members[i].value != NULL)
          json_object_set_string_member (object, members[i].name, members[i].value);
        else
          json_object_set_null_member (object, members[i].name);
    }
  json_node_set_object (node, object);
  return node;
}

/* ---- reading a task file ------------------------------------------------------ */

/* Reads FILE ("-" = standard input); the task, or NULL after printing why. */
static CfTask *
read_task (const char *file, int *status)
{
  g_autofree char *data = NULL;
  g_autofree char *base = NULL;
  g_autofree char *id = NULL;
  g_autoptr(GError) error = NULL;
  gsize length = 0;
  CfTask *task;

  if (g_str_equal (file, "-"))
    {
      g_autoptr(GIOChannel) channel = g_io_channel_unix_new (STDIN_FILENO);

      g_io_channel_set_encoding (channel, NULL, NULL);
      if (g_io_channel_read_to_end (channel, &data, &length, &error) != G_IO_STATUS_NORMAL)
        {
          *status = fail (EXIT_FAILURE_, _("cannot read standard input: %s"), error->message);
          return NULL;
        }
      id = g_strdup ("stdin");
    }
  else
    {
      if (!g_file_test (file, G_FILE_TEST_IS_REGULAR))
        {
          *status = fail (EXIT_FAILURE_, _("cannot read '%s': %s"), file,
                          g_file_test (file, G_FILE_TEST_EXISTS) ? _("not a regular file")
                                                                 : g_strerror (ENOENT));
          return NULL;
        }
      if (!g_file_get_contents (file, &data, &length, &error))
        {
          *status = fail (EXIT_FAILURE_, "%s", error->message);
          return NULL;
        }
      base = g_path_get_basename (file);
      id = g_str_has_suffix (base, ".md") ? g_strndup (base, strlen (base) - 3) : g_strdup (base);
      /* Messages name the file; an unusual name still gets a verdict. */
      if (!cf_task_id_is_valid (id))
        {
          g_free (id);
          id = g_strdup ("task");
        }
    }
  task = cf_task_parse (id, data, length, &error);
  if (task == NULL)
    *status = fail (EXIT_FAILURE_, "%s", error->message);
  return task;
}

/* <project>/.agent-queue/<place>/<id>.md → "<project>" (its name), else NULL. */
static char *
project_of (const char *file)
{
  g_autofree char *absolute = g_canonicalize_filename (file, NULL);
  g_autofree char *place = g_path_get_dirname (absolute);
  g_autofree char *queue = g_path_get_dirname (place);
  g_autofree char *queue_name = g_path_get_basename (queue);
  g_autofree char *project = NULL;

  if (!g_str_equal (queue_name, QUEUE_DIR))
    return NULL;
  project = g_path_get_dirname (queue);
  return g_path_get_basename (project);
}

/* ---- decide -------------------------------------------------------------------- */

static int
cmd_decide (int argc, char **argv, Globals *globals)
{
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &globals->json, N_("Print one JSON object"), NULL },
    { NULL },
  };
  g_autoptr(CfTask) task = NULL;
  g_autofree char *description = g_strdup_printf ("%s\n\n%s",
    _("Prints the remote provider the task's frontmatter routes it to, or \"local\".\n"
      "The rules are claude-failoverd's own: needs_claude_code, then preferred_ai:\n"
      "claude-code, then allow_delegation (false by default), then a provider named\n"
      "by preferred_ai (gpu, gemini, claude-api); anything else stays local."),
    _("Exit status: 0 decided, 1 the file cannot be read or parsed, 2 usage error."));
  CfDelegateRoute route;
  int status = EXIT_OK;

  if (!parse_options (&argc, &argv, _("FILE|-"), _("Where would claude-failoverd run this task?"),
                      description, entries, &status))
    return status;
  if (argc != 2)
    return fail (EXIT_USAGE, _("decide needs one task file (or - for standard input)"));
  task = read_task (argv[1], &status);
  if (task == NULL)
    return status;
  route = cf_delegate_route_task (task);
  if (globals->json)
    {
      g_autoptr(JsonObject) object = json_object_new ();
      g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);

      json_object_set_string_member (object, "route", route.provider != NULL ? "remote" : "local");
      if (route.provider != NULL)
        json_object_set_string_member (object, "provider", route.provider);
      else
        json_object_set_null_member (object, "provider");
      json_object_set_string_member (object, "reason", cf_delegate_reason_to_string (route.reason));
      json_object_set_string_member (object, "explanation",
                                     cf_delegate_reason_describe (route.reason));
      json_node_set_object (node, object);
      print_json (node);
    }
  else
    g_print ("%s\n", route.provider != NULL ? route.provider : "local");
  return EXIT_OK;
}

/* ---- submit -------------------------------------------------------------------- */

static int
cmd_submit (int argc, char **argv, Globals *globals)
{
  g_autofree char *provider = NULL;
  g_autofree char *priority = NULL;
  g_autofree char *prompt = NULL;
  g_autofree char *prompt_file = NULL;
  g_autofree char *project = NULL;
  g_autofree char *task_id = NULL;
  const GOptionEntry entries[] = {
    { "provider", 0, 0, G_OPTION_ARG_STRING, &provider,
      N_("Remote provider (default: the task file's route)"), N_("NAME") },
    { "priority", 0, 0, G_OPTION_ARG_STRING, &priority,
      N_("critical, high, default or low (default: the task file's, else default)"), N_("P") },
    { "prompt", 0, 0, G_OPTION_ARG_STRING, &prompt, N_("The prompt text"), N_("TEXT") },
    { "prompt-file", 0, 0, G_OPTION_ARG_FILENAME, &prompt_file,
      N_("Read the prompt from FILE (- = standard input)"), N_("FILE") },
    { "project", 0, 0, G_OPTION_ARG_STRING, &project,
      N_("Project name (default: the task file's project)"), N_("NAME") },
    { "task", 0, 0, G_OPTION_ARG_STRING, &task_id,
      N_("Task id (default: the task file's name)"), N_("ID") },
    { "url", 0, 0, G_OPTION_ARG_STRING, &globals->url, N_("The job API's base URL"), N_("URL") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &globals->json, N_("Print the reply as JSON"), NULL },
    { NULL },
  };
  g_autofree char *description = g_strdup_printf ("%s\n\n%s",
    _("Sends a job to the API (POST {url}/jobs) and prints its id. With TASK_FILE,\n"
      "the provider, priority, prompt, project and task come from the file (as the\n"
      "daemon would send them); options override them. A task the router keeps\n"
      "local is not sent unless --provider names where it goes."),
    _(environment_help));
  g_autoptr(CfTask) task = NULL;
  g_autoptr(CfDelegateClient) client = NULL;
  g_autoptr(CfDelegateJob) job = NULL;
  g_autoptr(GError) error = NULL;
  CfDelegateRequest request;
  CfPriority known_priority;
  int status = EXIT_OK;

  if (!parse_options (&argc, &argv, _("[TASK_FILE|-]"), _("Submit a job to the remote job API"),
                      description, entries, &status))
    return status;
  if (argc > 2)
    return fail (EXIT_USAGE, _("submit takes at most one task file"));
  if (prompt != NULL && prompt_file != NULL)
    return fail (EXIT_USAGE, _("--prompt and --prompt-file exclude each other"));

  if (argc == 2)
    {
      CfDelegateRoute route;

      task = read_task (argv[1], &status);
      if (task == NULL)
        return status;
      route = cf_delegate_route_task (task);
      if (provider == NULL && route.provider == NULL)
        return fail (EXIT_FAILURE_, _("%s stays local (%s): not submitted; --provider sends it anyway"),
                     argv[1], cf_delegate_reason_describe (route.reason));
      if (provider == NULL)
        provider = g_strdup (route.provider);
      if (priority == NULL)
        priority = g_strdup (cf_priority_to_string (task->priority));
      if (prompt == NULL && prompt_file == NULL)
        prompt = cf_delegate_prompt_for_task (task);
      if (project == NULL && !g_str_equal (argv[1], "-"))
        project = project_of (argv[1]);
      if (task_id == NULL && !g_str_equal (argv[1], "-"))
        task_id = g_strdup (task->id);
    }
  if (prompt_file != NULL)
    {
      gsize length = 0;

      if (g_str_equal (prompt_file, "-"))
        {
          g_autoptr(GIOChannel) channel = g_io_channel_unix_new (STDIN_FILENO);

          if (g_io_channel_read_to_end (channel, &prompt, &length, &error) != G_IO_STATUS_NORMAL)
            return fail (EXIT_FAILURE_, _("cannot read standard input: %s"), error->message);
        }
      else if (!g_file_get_contents (prompt_file, &prompt, &length, &error))
        return fail (EXIT_FAILURE_, "%s", error->message);
      if (memchr (prompt, '\0', length) != NULL || !g_utf8_validate (prompt, (gssize) length, NULL))
        return fail (EXIT_FAILURE_, _("the prompt is not UTF-8 text"));
    }
  if (priority == NULL)
    priority = g_strdup ("default");

  if (provider == NULL || prompt == NULL || project == NULL || task_id == NULL)
    return fail (EXIT_USAGE, _("submit needs --provider, --prompt (or --prompt-file), --project "
                               "and --task, or a task file"));
  if (!cf_delegate_provider_is_valid (provider))
    return fail (EXIT_USAGE, _("'%s' is not a provider name (letters, digits, '.', '_', '-')"),
                 provider);
  if (!cf_priority_from_string (priority, &known_priority))
    return fail (EXIT_USAGE, _("'%s' is not a priority (critical, high, default or low)"), priority);
  if (!g_utf8_validate (prompt, -1, NULL) || !g_utf8_validate (project, -1, NULL) ||
      !g_utf8_validate (task_id, -1, NULL))
    return fail (EXIT_USAGE, _("the prompt, project and task must be UTF-8 text"));
  if (*prompt == '\0' || *project == '\0' || *task_id == '\0')
    return fail (EXIT_USAGE, _("the prompt, project and task must not be empty"));

  client = make_client (globals, &status);
  if (client == NULL)
    return status;
  request.provider = provider;
  request.priority = priority;
  request.prompt = prompt;
  request.project = project;
  request.task = task_id;
  job = run_request (client, &request, NULL, &error);
  if (job == NULL)
    return fail (EXIT_FAILURE_, "%s", error->message);
  if (globals->json)
    {
      g_autoptr(JsonNode) node = job_to_json (job, FALSE);
      print_json (node);
    }
  else
    g_print ("%s\n", job->id);
  return EXIT_OK;
}

/* ---- get and result ----------------------------------------------------------- */

static int
fetch (int argc, char **argv, Globals *globals, gboolean result_only)
{
  const GOptionEntry entries[] = {
    { "url", 0, 0, G_OPTION_ARG_STRING, &globals->url, N_("The job API's base URL"), N_("URL") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &globals->json, N_("Print the job as JSON"), NULL },
    { NULL },
  };
  g_autofree char *description = NULL;
  g_autoptr(CfDelegateClient) client = NULL;
  g_autoptr(CfDelegateJob) job = NULL;
  g_autoptr(GError) error = NULL;
  int status = EXIT_OK;

  if (result_only)
    description = g_strdup_printf ("%s\n\n%s",
      _("Prints the result of a completed job. A failed job prints its error and\n"
        "exits 1; so does a job that is still queued or running."),
      _(environment_help));
  else
    description = g_strdup_printf ("%s\n\n%s",
      _("Prints a job's status (GET {url}/jobs/JOB_ID): id, status, provider, cost,\n"
        "and its error when it failed."),
      _(environment_help));
  if (!parse_options (&argc, &argv, _("JOB_ID"),
                      result_only ? _("Print a completed job's result") : _("Show a job"),
                      description, entries, &status))
    return status;
  if (argc != 2)
    return fail (EXIT_USAGE, _("%s needs one job id"), result_only ? "result" : "get");
  if (!cf_delegate_job_id_is_valid (argv[1]))
    return fail (EXIT_USAGE, _("'%s' is not a job id"), argv[1]);
  client = make_client (globals, &status);
  if (client == NULL)
    return status;
  job = run_request (client, NULL, argv[1], &error);
  if (job == NULL)
    return fail (EXIT_FAILURE_, "%s", error->message);

  if (globals->json)
    {
      g_autoptr(JsonNode) node = job_to_json (job, TRUE);
      print_json (node);
    }
  else if (!result_only)
    {
      g_print ("%s: %s", job->id, cf_job_status_to_string (job->status));
      if (job->provider != NULL)
        g_print (_(", provider %s"), job->provider);
      if (job->cost != NULL)
        g_print (_(", cost %s"), job->cost);
      g_print ("\n");
      if (job->error != NULL)
        {
          g_autofree char *line = cf_delegate_one_line (job->error, 2000);
          g_print (_("error: %s\n"), line);
        }
    }
  if (!result_only)
    return EXIT_OK;

  if (job->status == CF_JOB_STATUS_FAILED)
    return fail (EXIT_FAILURE_, _("job %s failed: %s"), job->id,
                 job->error != NULL ? job->error : _("no error given"));
  if (job->status != CF_JOB_STATUS_COMPLETED)
    return fail (EXIT_FAILURE_, _("job %s is %s: no result yet"), job->id,
                 cf_job_status_to_string (job->status));
  if (!globals->json && job->result != NULL)
    {
      gsize n = strlen (job->result);
      fwrite (job->result, 1, n, stdout);
      if (n > 0 && job->result[n - 1] != '\n')
        fputc ('\n', stdout);
    }
  return EXIT_OK;
}

static int
cmd_get (int argc, char **argv, Globals *globals)
{
  return fetch (argc, argv, globals, FALSE);
}

static int
cmd_result (int argc, char **argv, Globals *globals)
{
  return fetch (argc, argv, globals, TRUE);
}

/* ---- main ----------------------------------------------------------------------- */

typedef struct {
  const char *name;
  int (*run) (int argc, char **argv, Globals *globals);
  const char *summary;
} Command;

static const Command commands[] = {
  { "submit", cmd_submit, N_("Send a job: [TASK_FILE|-] [--provider P] [--prompt T] …") },
  { "get", cmd_get, N_("Show a job's status: JOB_ID") },
  { "result", cmd_result, N_("Print a completed job's result: JOB_ID") },
  { "decide", cmd_decide, N_("Where the daemon would run a task: FILE|-") },
};

static void
print_usage (FILE *out)
{
  fprintf (out, "%s\n\n%s\n", _("Usage: ccl-delegate [--json] [--url URL] COMMAND [ARGS...]"),
           _("Commands:"));
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-8s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (out, "\n%s\n\n%s\n", _("Options:\n"
                                  "  --json         machine-readable output\n"
                                  "  --url URL      the job API's base URL\n"
                                  "  --help         show this help (COMMAND --help for a command)\n"
                                  "  --version      show the version"),
           _(environment_help));
}

int
main (int argc, char **argv)
{
  Globals globals = { 0 };
  int first = 1;
  int status;

  cf_i18n_init ();

  /* Global options come before the command word. */
  for (; first < argc && argv[first][0] == '-'; first++)
    {
      if (g_str_equal (argv[first], "--json"))
        globals.json = TRUE;
      else if (g_str_equal (argv[first], "--url") && first + 1 < argc)
        globals.url = g_strdup (argv[++first]);
      else if (g_str_has_prefix (argv[first], "--url="))
        globals.url = g_strdup (argv[first] + strlen ("--url="));
      else if (g_str_equal (argv[first], "--help") || g_str_equal (argv[first], "-h"))
        {
          print_usage (stdout);
          return EXIT_OK;
        }
      else if (g_str_equal (argv[first], "--version"))
        {
          g_print ("ccl-delegate %s\n", PACKAGE_VERSION);
          return EXIT_OK;
        }
      else
        return fail (EXIT_USAGE, _("unknown option '%s' (see --help)"), argv[first]);
    }
  if (first >= argc)
    {
      print_usage (stderr);
      return EXIT_USAGE;
    }

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[first], commands[i].name))
      {
        g_autofree char *prgname = g_strdup_printf ("%s %s", PROGRAM, commands[i].name);

        g_set_prgname (prgname);
        status = commands[i].run (argc - first, argv + first, &globals);
        g_free (globals.url);
        return status;
      }
  g_free (globals.url);
  return fail (EXIT_USAGE, _("unknown command '%s' (see --help)"), argv[first]);
}
