/* SPDX-License-Identifier: MIT */
#include "cf-hook-router.h"

#include "cf-statusline.h"
#include "cf-text.h"
#include "cf-transcript.h"
#include "cf-verdict.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct _CfHookRouter {
  GObject parent_instance;

  CfState *state;
  CfTmux *tmux;
  GCancellable *cancellable;
  GTimeZone *local_zone;
  GHashTable *sessions;        /* session name → SessionSignals* */
  guint64 routed;
};

/* What the daemon knows of a session besides its hooks: its transcript and
 * its newest pane verdict (issue 16: one verdict from three signals). */
typedef struct {
  char *path;                  /* transcript_path of its newest hook, or NULL */
  CfTranscriptCursor cursor;
  CfPaneVerdict pane;          /* the quota's newest capture; owned strings dropped */
  gboolean have_pane;
  gboolean reading;            /* a transcript read is in flight */
  GQueue pending;              /* CfHookPayload*, routed in order once it is done */
} SessionSignals;

static void
session_signals_free (SessionSignals *known)
{
  g_free (known->path);
  cf_pane_verdict_clear (&known->pane);
  g_queue_clear_full (&known->pending, (GDestroyNotify) cf_hook_payload_free);
  g_free (known);
}

enum {
  SIGNAL_HOOK,
  SIGNAL_STATUSLINE,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfHookRouter, cf_hook_router, G_TYPE_OBJECT)

gboolean
cf_hook_router_pane_is_valid (const char *pane)
{
  if (pane == NULL || pane[0] != '%' || pane[1] == '\0' || strlen (pane) > 16)
    return FALSE;
  for (const char *p = pane + 1; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

static void
emit_hook (CfHookRouter *self, const char *session_name, CfHookPayload *payload)
{
  CfSession *session = cf_state_lookup_session (self->state, session_name);

  if (session == NULL)
    {
      g_debug ("hook %s from session %s, which is not ours: ignored",
               payload->event_name, session_name);
      return;
    }
  if (payload->event == CF_HOOK_EVENT_SESSION_START && payload->session_id != NULL)
    cf_state_set_session_text (self->state, session_name, CF_SESSION_TEXT_RESUME_UUID,
                               payload->session_id);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "CF_SESSION", session_name,
                    "MESSAGE", "hook %s from %s", payload->event_name, session_name);
  self->routed++;
  g_signal_emit (self, signals[SIGNAL_HOOK], 0, session_name, payload);
}

/* One verdict from the hook, the transcript lines appended for this turn
 * (ENTRY, or NULL) and the newest pane verdict, attached to PAYLOAD for
 * everyone who acts on the hook, and logged once. A busy pane is left out:
 * the capture predates the end of the turn the hook reports. */
static void
decide (CfHookRouter *self, const char *session_name, CfHookPayload *payload, const CfTranscriptEntry *entry)
{
  SessionSignals *known = g_hash_table_lookup (self->sessions, session_name);
  CfSession *session = cf_state_lookup_session (self->state, session_name);
  g_autofree char *described = NULL;

  if (session == NULL)
    return;
  cf_hook_payload_decide (payload, entry, known != NULL && known->have_pane ? &known->pane : NULL,
                          g_get_real_time () / G_USEC_PER_SEC, self->local_zone);
  described = cf_hook_payload_describe_decision (payload);
  g_log_structured (G_LOG_DOMAIN,
                    payload->event == CF_HOOK_EVENT_STOP_FAILURE ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_INFO,
                    "CF_SESSION", session_name,
                    "CF_TASK", session->task,
                    "CF_ACCOUNT", session->account[0] != '\0' ? session->account
                                                               : cf_state_get_active_account (self->state),
                    "CF_VERDICT", cf_session_verdict_kind_to_string (payload->verdict.kind),
                    "CF_VERDICT_SOURCES", cf_verdict_sources_to_string (payload->verdict.sources),
                    "CF_VERDICT_CONFLICTING", cf_verdict_sources_to_string (payload->verdict.conflicting),
                    "CF_VERDICT_REASON", payload->verdict.reason ? payload->verdict.reason : "",
                    "MESSAGE", "%s: %s", session_name, described);
}

/* ---- the transcript, read in a worker thread ----------------------------- */

typedef struct {
  char *path;
  CfTranscriptCursor cursor;   /* in: where the last pass ended; out: this one */
  CfTranscriptEntry newest;    /* the newest main-conversation assistant line read */
  char *problem;               /* why nothing could be read, or NULL */
} ReadJob;

static void
read_job_free (ReadJob *job)
{
  g_free (job->path);
  cf_transcript_entry_clear (&job->newest);
  g_free (job->problem);
  g_free (job);
}

static void
read_transcript_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  ReadJob *job = task_data;
  g_autofree char *buffer = NULL;
  struct stat st;
  guint64 size, start;
  gsize want, got = 0;
  int fd;

  /* Not a symlink, not a FIFO (O_NONBLOCK: opening one cannot hang). */
  fd = open (job->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      job->problem = g_strdup (g_strerror (errno));
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      job->problem = g_strdup ("not a regular file");
      close (fd);
      g_task_return_boolean (task, TRUE);
      return;
    }
  size = (guint64) st.st_size;
  /* Shorter than where the last pass ended: a new file. */
  if (size < job->cursor.offset)
    memset (&job->cursor, 0, sizeof job->cursor);
  start = job->cursor.offset;
  /* More than a pass appended: the newest bytes matter, from a line's start. */
  if (size - start > CF_TRANSCRIPT_READ_MAX)
    {
      start = size - CF_TRANSCRIPT_READ_MAX;
      job->cursor.offset = start;
      job->cursor.skipping = TRUE;
    }
  want = (gsize) (size - start);
  buffer = g_malloc (MAX (want, 1));
  while (got < want)
    {
      ssize_t n = pread (fd, buffer + got, want - got, (off_t) (start + got));

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      got += (gsize) n;
    }
  close (fd);
  cf_transcript_cursor_feed (&job->cursor, buffer, got, &job->newest);
  g_task_return_boolean (task, TRUE);
}

static void process (CfHookRouter *self, const char *session_name, CfHookPayload *payload);

static void
drain (CfHookRouter *self, const char *session_name)
{
  SessionSignals *known;

  while ((known = g_hash_table_lookup (self->sessions, session_name)) != NULL && !known->reading &&
         !g_queue_is_empty (&known->pending))
    process (self, session_name, g_queue_pop_head (&known->pending));
}

/* Claude Code 2.1.332 runs the StopFailure hook before it appends the
 * turn's API-error line to the transcript: until that line is there, the
 * read is tried again after these delays (ms), about a second in all. */
static const guint retry_delays_ms[] = { 100, 200, 300, 400 };

typedef struct {
  CfHookRouter *self;
  char *session;
  guint attempt;
  CfTranscriptEntry newest;    /* the newest assistant line of all the attempts */
} ReadCall;

static void
read_call_free (ReadCall *call)
{
  g_object_unref (call->self);
  g_free (call->session);
  cf_transcript_entry_clear (&call->newest);
  g_free (call);
}

static void on_transcript_read (GObject *source, GAsyncResult *result, gpointer user_data);

static void
start_read (ReadCall *call, SessionSignals *known)
{
  g_autoptr(GTask) task = NULL;
  ReadJob *job = g_new0 (ReadJob, 1);

  job->path = g_strdup (known->path);
  job->cursor = known->cursor;
  known->reading = TRUE;
  task = g_task_new (call->self, NULL, on_transcript_read, call);
  g_task_set_source_tag (task, start_read);
  g_task_set_task_data (task, job, (GDestroyNotify) read_job_free);
  g_task_run_in_thread (task, read_transcript_thread);
}

static gboolean
on_retry (gpointer user_data)
{
  ReadCall *call = user_data;
  CfHookRouter *self = call->self;
  SessionSignals *known = g_hash_table_lookup (self->sessions, call->session);

  if (known == NULL || known->path == NULL || self->cancellable == NULL ||
      g_cancellable_is_cancelled (self->cancellable))
    {
      read_call_free (call);
      return G_SOURCE_REMOVE;
    }
  start_read (call, known);
  return G_SOURCE_REMOVE;
}

static void
on_transcript_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ReadCall *call = user_data;
  CfHookRouter *self = call->self;
  ReadJob *job = g_task_get_task_data (G_TASK (result));
  SessionSignals *known = g_hash_table_lookup (self->sessions, call->session);
  g_autoptr(CfHookPayload) payload = NULL;
  CfHookPayload *head;

  if (known == NULL || self->cancellable == NULL || g_cancellable_is_cancelled (self->cancellable))
    {
      read_call_free (call);
      return;
    }
  known->reading = FALSE;
  if (g_strcmp0 (known->path, job->path) == 0)
    known->cursor = job->cursor;
  if (job->newest.assistant)
    {
      cf_transcript_entry_clear (&call->newest);
      call->newest = job->newest;
      memset (&job->newest, 0, sizeof job->newest);
    }
  if (job->problem != NULL)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                      "CF_SESSION", call->session,
                      "MESSAGE", "%s: transcript not read (%s): that signal is missing",
                      call->session, job->problem);
  head = g_queue_peek_head (&known->pending);
  if (head != NULL && head->event == CF_HOOK_EVENT_STOP_FAILURE && job->problem == NULL &&
      !call->newest.is_api_error && call->attempt < G_N_ELEMENTS (retry_delays_ms) &&
      g_strcmp0 (known->path, job->path) == 0)
    {
      /* Still reading: the hooks behind it keep waiting. */
      known->reading = TRUE;
      g_timeout_add (retry_delays_ms[call->attempt++], on_retry, call);
      return;
    }
  payload = g_queue_pop_head (&known->pending);
  if (payload != NULL)
    {
      decide (self, call->session, payload, call->newest.assistant ? &call->newest : NULL);
      emit_hook (self, call->session, payload);
    }
  drain (self, call->session);
  read_call_free (call);
}

static gboolean
transcript_path_is_plausible (const char *path)
{
  return path != NULL && g_path_is_absolute (path) && g_str_has_suffix (path, ".jsonl") &&
         strlen (path) < 4096;
}

/* Hooks of one session are routed in the order they came: while its
 * transcript is read, later ones wait behind the one being decided. */
static void
process (CfHookRouter *self, const char *session_name, CfHookPayload *payload)
{
  SessionSignals *known;

  known = g_hash_table_lookup (self->sessions, session_name);
  if (cf_state_lookup_session (self->state, session_name) == NULL)
    {
      /* Gone: what was known of it goes too. */
      if (known != NULL && !known->reading)
        g_hash_table_remove (self->sessions, session_name);
      emit_hook (self, session_name, payload); /* logs and drops it */
      cf_hook_payload_free (payload);
      return;
    }
  if (known == NULL)
    {
      known = g_new0 (SessionSignals, 1);
      g_queue_init (&known->pending);
      g_hash_table_insert (self->sessions, g_strdup (session_name), known);
    }
  if (known->reading)
    {
      g_queue_push_tail (&known->pending, payload);
      return;
    }
  if (transcript_path_is_plausible (payload->transcript_path) &&
      g_strcmp0 (known->path, payload->transcript_path) != 0)
    {
      g_free (known->path);
      known->path = g_strdup (payload->transcript_path);
      memset (&known->cursor, 0, sizeof known->cursor);
    }
  if ((payload->event == CF_HOOK_EVENT_STOP || payload->event == CF_HOOK_EVENT_STOP_FAILURE) &&
      known->path != NULL)
    {
      ReadCall *call = g_new0 (ReadCall, 1);

      call->self = g_object_ref (self);
      call->session = g_strdup (session_name);
      g_queue_push_head (&known->pending, payload);
      start_read (call, known);
      return;
    }
  if (payload->event == CF_HOOK_EVENT_STOP || payload->event == CF_HOOK_EVENT_STOP_FAILURE)
    decide (self, session_name, payload, NULL);
  emit_hook (self, session_name, payload);
  cf_hook_payload_free (payload);
}

/* Takes PAYLOAD. */
static void
deliver (CfHookRouter *self, const char *session_name, CfHookPayload *payload)
{
  process (self, session_name, payload);
}

void
cf_hook_router_note_pane (CfHookRouter *self, const char *session_name, const CfPaneVerdict *verdict)
{
  SessionSignals *known;

  g_return_if_fail (CF_IS_HOOK_ROUTER (self) && session_name != NULL && verdict != NULL);
  if (cf_state_lookup_session (self->state, session_name) == NULL)
    return;
  known = g_hash_table_lookup (self->sessions, session_name);
  if (known == NULL)
    {
      known = g_new0 (SessionSignals, 1);
      g_queue_init (&known->pending);
      g_hash_table_insert (self->sessions, g_strdup (session_name), known);
    }
  cf_pane_verdict_clear (&known->pane);
  known->pane = *verdict;
  /* The fusion reads flags and static strings only. */
  known->pane.reset_at = verdict->reset_at ? g_date_time_ref (verdict->reset_at) : NULL;
  known->pane.resume_uuid = NULL;
  known->pane.snippet = NULL;
  known->pane.dialog = NULL;
  known->have_pane = TRUE;
}

/* A statusline report goes out even from a pane that is not ours: usage
 * is account-wide, and the report names its account home. */
static void
deliver_statusline (CfHookRouter *self, const char *session_name, CfStatusline *statusline)
{
  if (session_name != NULL && cf_state_lookup_session (self->state, session_name) == NULL)
    session_name = NULL;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "CF_SESSION", session_name ? session_name : "",
                    "MESSAGE", "statusline usage from %s",
                    session_name ? session_name : "a pane that is not ours");
  self->routed++;
  g_signal_emit (self, signals[SIGNAL_STATUSLINE], 0, session_name, statusline);
}

typedef struct {
  CfHookRouter *self;
  char *pane;
  CfHookPayload *payload;      /* or: */
  CfStatusline *statusline;
} Lookup;

static void
lookup_free (Lookup *lookup)
{
  g_object_unref (lookup->self);
  g_free (lookup->pane);
  cf_hook_payload_free (lookup->payload);
  cf_statusline_free (lookup->statusline);
  g_free (lookup);
}

static void
on_pane_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Lookup *lookup = user_data;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = cf_tmux_command_finish (CF_TMUX (source), result, &error);

  if (lines == NULL || lines[0] == NULL || lines[0][0] == '\0')
    {
      g_debug ("hook %s: pane %s not found: %s",
               lookup->payload ? lookup->payload->event_name : CF_STATUSLINE_EVENT,
               lookup->pane, error ? error->message : "no session");
      if (lookup->statusline != NULL)
        deliver_statusline (lookup->self, NULL, lookup->statusline);
      lookup_free (lookup);
      return;
    }
  if (cf_state_lookup_session (lookup->self->state, lines[0]) != NULL)
    cf_state_set_session_text (lookup->self->state, lines[0], CF_SESSION_TEXT_PANE, lookup->pane);
  if (lookup->statusline != NULL)
    deliver_statusline (lookup->self, lines[0], lookup->statusline);
  else
    deliver (lookup->self, lines[0], g_steal_pointer (&lookup->payload));
  lookup_free (lookup);
}

/* The StatusLine report of `claude-failoverctl statusline`: from a pane,
 * or from outside tmux with the account home ("config_dir") alone. */
static gboolean
report_statusline (CfHookRouter *self, const char *pane, const char *payload_json, GError **error)
{
  g_autoptr(CfStatusline) statusline = NULL;
  g_autoptr(GError) local_error = NULL;
  CfSession *session;
  g_autofree char *command = NULL;
  Lookup *lookup;

  if (!cf_statusline_parse (payload_json, strlen (payload_json), &statusline, &local_error))
    {
      g_set_error_literal (error, CF_HOOK_ERROR, CF_HOOK_ERROR_SYNTAX, local_error->message);
      return FALSE;
    }
  if (pane[0] == '\0')
    {
      if (statusline->config_dir == NULL)
        {
          g_set_error_literal (error, CF_HOOK_ERROR, CF_HOOK_ERROR_INVALID_EVENT,
                               _("a StatusLine report needs a tmux pane or a config_dir"));
          return FALSE;
        }
      deliver_statusline (self, NULL, statusline);
      return TRUE;
    }
  session = cf_state_find_session_by_pane (self->state, pane);
  if (session != NULL)
    {
      deliver_statusline (self, session->name, statusline);
      return TRUE;
    }
  lookup = g_new0 (Lookup, 1);
  lookup->self = g_object_ref (self);
  lookup->pane = g_strdup (pane);
  lookup->statusline = g_steal_pointer (&statusline);
  command = g_strdup_printf ("display-message -p -t %s \"#{session_name}\"", pane);
  cf_tmux_command_async (self->tmux, command, self->cancellable, on_pane_resolved, lookup);
  return TRUE;
}

gboolean
cf_hook_router_report (CfHookRouter *self, const char *event, const char *pane, const char *payload_json,
                 GError **error)
{
  g_autoptr(CfHookPayload) payload = NULL;
  CfSession *session;
  g_autofree char *command = NULL;
  Lookup *lookup;

  if (g_strcmp0 (event, CF_STATUSLINE_EVENT) == 0 &&
      (pane[0] == '\0' || cf_hook_router_pane_is_valid (pane)))
    return report_statusline (self, pane, payload_json, error);
  if (!cf_hook_router_pane_is_valid (pane))
    {
      g_autofree char *shown = cf_text_for_message (pane);

      g_set_error (error, CF_HOOK_ERROR, CF_HOOK_ERROR_INVALID_EVENT,
                   _("'%s' is not a tmux pane id (expected %%N, from $TMUX_PANE)"), shown);
      return FALSE;
    }
  if (!cf_hook_payload_parse (event, payload_json, strlen (payload_json), &payload, error))
    return FALSE;

  session = cf_state_find_session_by_pane (self->state, pane);
  if (session != NULL)
    {
      deliver (self, session->name, g_steal_pointer (&payload));
      return TRUE;
    }

  /* Not known yet (a session created since the last reconciliation): ask
   * tmux. A pane id target is exact, unlike a session name. */
  lookup = g_new0 (Lookup, 1);
  lookup->self = g_object_ref (self);
  lookup->pane = g_strdup (pane);
  lookup->payload = g_steal_pointer (&payload);
  command = g_strdup_printf ("display-message -p -t %s \"#{session_name}\"", pane);
  cf_tmux_command_async (self->tmux, command, self->cancellable, on_pane_resolved, lookup);
  return TRUE;
}

guint64
cf_hook_router_get_routed (CfHookRouter *self)
{
  return self->routed;
}

static void
cf_hook_router_dispose (GObject *object)
{
  CfHookRouter *self = CF_HOOK_ROUTER (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->state);
  g_clear_object (&self->tmux);
  g_hash_table_remove_all (self->sessions);
  G_OBJECT_CLASS (cf_hook_router_parent_class)->dispose (object);
}

static void
cf_hook_router_finalize (GObject *object)
{
  CfHookRouter *self = CF_HOOK_ROUTER (object);

  g_hash_table_unref (self->sessions);
  g_time_zone_unref (self->local_zone);
  G_OBJECT_CLASS (cf_hook_router_parent_class)->finalize (object);
}

static void
cf_hook_router_class_init (CfHookRouterClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cf_hook_router_dispose;
  G_OBJECT_CLASS (klass)->finalize = cf_hook_router_finalize;
  signals[SIGNAL_HOOK] =
    g_signal_new ("hook", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_POINTER);
  /* (gchararray session or NULL when the pane is not ours, gpointer CfStatusline*) */
  signals[SIGNAL_STATUSLINE] =
    g_signal_new ("statusline", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_POINTER);
}

static void
cf_hook_router_init (CfHookRouter *self)
{
  self->cancellable = g_cancellable_new ();
  self->local_zone = g_time_zone_new_local ();
  self->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) session_signals_free);
}

CfHookRouter *
cf_hook_router_new (CfState *state, CfTmux *tmux)
{
  CfHookRouter *self = g_object_new (CF_TYPE_HOOK_ROUTER, NULL);

  self->state = g_object_ref (state);
  self->tmux = g_object_ref (tmux);
  return self;
}
