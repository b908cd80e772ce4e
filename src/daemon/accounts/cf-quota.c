/* SPDX-License-Identifier: MIT */
#include "cf-quota.h"

#include <string.h>

#include "cf-failover-policy.h"
#include "cf-hook-payload.h"
#include "cf-pane.h"
#include "cf-shell.h"

struct _CfQuota {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfTmux *tmux;
  CfHookRouter *hooks;
  GCancellable *cancellable;   /* NULL when stopped */
  GTimeZone *local_zone;

  GHashTable *evidence;        /* session name → Evidence* */
  GHashTable *readings;        /* session name → Reading*: the limit line on screen */
  /* session name → History: the limit that stopped the session's Claude
   * before it was relaunched. A resumed conversation redraws its earlier
   * turns, that limit included: the same line (or a line with the same
   * reset) is history, not evidence against the account it now runs on. */
  GHashTable *history;
  GHashTable *history_logged;  /* sessions whose history line was logged */
  guint timer_id;
  guint outstanding;           /* captures of the poll in progress */
  gint64 cooldown_logged_for;  /* LastSwap time whose cooldown was logged */
  guint64 detections;
};

enum {
  SIGNAL_EXHAUSTED,
  SIGNAL_USAGE_WARNING,
  SIGNAL_ACCOUNT_UNUSABLE,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfQuota, cf_quota, G_TYPE_OBJECT)

typedef struct {
  char *session;
  CfSessionKind kind;
  gboolean blocked;
  gboolean from_hook;
  guint unconfirmed;           /* consecutive polls matching without a reset time */
  gint64 reset_usec;           /* 0 = unknown */
  char *pattern;
  char *snippet;
} Evidence;

/* The reset time read from the limit line a session shows, when first
 * read. A wall-clock or relative reset ("resets 3pm", "in 45 minutes")
 * names a later instant at every reading once it has passed, so while the
 * same line stays on screen its first reading holds: past it, the line is
 * old, not a new limit. */
typedef struct {
  char *snippet;
  gint64 reset_usec;
  gboolean stale_logged;
} Reading;

static void
reading_free (Reading *reading)
{
  g_free (reading->snippet);
  g_free (reading);
}

static void
forget_session (CfQuota *self, const char *name)
{
  g_hash_table_remove (self->evidence, name);
  g_hash_table_remove (self->readings, name);
}

/* The session's state follows its evidence (ARCHITECTURE.md 4.9): blocked
 * while a usage limit holds it, never done or idle; working again (idle for
 * an operator's dedicated session) once the limit is no longer on screen.
 * Claude working again (UserPromptSubmit, a busy pane) is the watcher's. */
static void
set_blocked (CfQuota *self, const char *name, gboolean blocked)
{
  CfSession *session = cf_state_lookup_session (self->state, name);

  if (session == NULL)
    return;
  if (blocked && session->state != CF_SESSION_BLOCKED &&
      (session->kind == CF_SESSION_DEDICATED
         ? session->state != CF_SESSION_DEAD && session->state != CF_SESSION_LAUNCHING
         : cf_session_state_holds_task (session->state) && session->task[0] != '\0'))
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "CF_SESSION", name, "CF_TASK", session->task,
                        "MESSAGE", "%s: %s → blocked (usage limit)", name,
                        cf_session_state_to_string (session->state));
      cf_state_set_session_state (self->state, name, CF_SESSION_BLOCKED);
    }
  else if (!blocked && session->state == CF_SESSION_BLOCKED)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "CF_SESSION", name, "CF_TASK", session->task,
                        "MESSAGE", "%s: blocked → %s (no usage limit any more)", name,
                        session->kind == CF_SESSION_POOL ? "working" : "idle");
      cf_state_set_session_state (self->state, name, session->kind == CF_SESSION_POOL
                                                       ? CF_SESSION_WORKING : CF_SESSION_IDLE);
    }
}

static void
evidence_free (Evidence *evidence)
{
  g_free (evidence->session);
  g_free (evidence->pattern);
  g_free (evidence->snippet);
  g_free (evidence);
}

static Evidence *
ensure_evidence (CfQuota *self, CfSession *session)
{
  Evidence *evidence = g_hash_table_lookup (self->evidence, session->name);

  if (evidence == NULL)
    {
      evidence = g_new0 (Evidence, 1);
      evidence->session = g_strdup (session->name);
      evidence->kind = session->kind;
      g_hash_table_replace (self->evidence, evidence->session, evidence);
    }
  return evidence;
}

static char *
format_reset (gint64 reset_usec)
{
  g_autoptr(GDateTime) when = NULL;

  if (reset_usec <= 0)
    return g_strdup ("unknown");
  when = g_date_time_new_from_unix_utc (reset_usec / G_USEC_PER_SEC);
  return when ? g_date_time_format_iso8601 (when) : g_strdup ("unknown");
}

static void
log_evidence (Evidence *evidence, const char *account, const char *what)
{
  g_autofree char *reset = format_reset (evidence->reset_usec);
  g_autofree char *version = g_strdup_printf ("%d", CF_PANE_PATTERNS_VERSION);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "CF_SESSION", evidence->session,
                    "CF_ACCOUNT", account,
                    "CF_PATTERN", evidence->pattern ? evidence->pattern : "",
                    "CF_PATTERNS_VERSION", version,
                    "CF_SNIPPET", evidence->snippet ? evidence->snippet : "",
                    "CF_RESET_AT", reset,
                    "MESSAGE", "%s: %s (pattern %s, reset %s): %s", evidence->session, what,
                    evidence->pattern ? evidence->pattern : "-", reset,
                    evidence->snippet ? evidence->snippet : "");
}

/* Sessions whose panes count: Claude runs in them, launched with the
 * active account (a dedicated session the operator started has none). */
static gboolean
session_is_candidate (CfQuota *self, CfSession *session)
{
  const char *active = cf_state_get_active_account (self->state);

  if (session->account[0] != '\0' && !g_str_equal (session->account, active))
    return FALSE;
  if (session->kind == CF_SESSION_DEDICATED)
    return session->state != CF_SESSION_DEAD;
  return session->state == CF_SESSION_LAUNCHING || cf_session_state_holds_task (session->state);
}

static gboolean
detection_paused (CfQuota *self)
{
  return self->cancellable == NULL ||
         cf_swap_state_in_progress (cf_state_get_swap_journal (self->state)->step) ||
         cf_state_get_swap_journal (self->state)->partial;
}

static void mark_relaunched (CfQuota *self, const char *name);

/* ---- decision ------------------------------------------------------------ */

static void
evaluate (CfQuota *self)
{
  g_autoptr(GPtrArray) sessions = NULL;
  g_autoptr(GPtrArray) blocked = NULL;
  g_autoptr(GArray) evidence = NULL;
  g_autoptr(GString) evidence_text = NULL;
  g_autoptr(GStrvBuilder) names = NULL;
  g_auto(GStrv) session_names = NULL;
  const char *account;
  CfQuotaInput input = {
    .pool_threshold = self->config->quota_pool_threshold,
    .dedicated_threshold = self->config->quota_dedicated_threshold,
    .cooldown = self->config->quota_reactivate_cooldown_usec,
    .cooldown_told = self->cooldown_logged_for,
  };
  CfQuotaVerdict verdict;

  if (detection_paused (self))
    return;
  account = cf_state_get_active_account (self->state);
  sessions = cf_state_list_sessions (self->state);
  blocked = g_ptr_array_new ();
  evidence = g_array_new (FALSE, TRUE, sizeof (CfQuotaSession));
  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *session = g_ptr_array_index (sessions, i);
      Evidence *found;
      CfQuotaSession entry = { .dedicated = session->kind == CF_SESSION_DEDICATED };

      if (!session_is_candidate (self, session))
        continue;
      found = g_hash_table_lookup (self->evidence, session->name);
      if (found != NULL && found->blocked)
        {
          entry.blocked = TRUE;
          entry.reset = found->reset_usec;
          g_ptr_array_add (blocked, found);
        }
      g_array_append_val (evidence, entry);
    }
  input.last_swap = cf_state_get_swap_journal (self->state)->last_when;
  input.sessions = (const CfQuotaSession *) evidence->data;
  input.n_sessions = evidence->len;
  verdict = cf_quota_policy_decide (&input, g_get_real_time ());
  self->cooldown_logged_for = verdict.cooldown_told;
  if (verdict.action != CF_QUOTA_ACTION_EXHAUSTED)
    return;

  evidence_text = g_string_new (NULL);
  names = g_strv_builder_new ();
  for (guint i = 0; i < blocked->len; i++)
    {
      Evidence *found = g_ptr_array_index (blocked, i);

      log_evidence (found, account, "counts toward the switch");
      g_strv_builder_add (names, found->session);
      g_string_append_printf (evidence_text, "%s%s %s: %s", evidence_text->len ? "; " : "",
                              found->session, found->pattern ? found->pattern : "?",
                              found->snippet ? found->snippet : "");
    }
  session_names = g_strv_builder_end (names);
  self->detections++;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                    "CF_ACCOUNT", account,
                    "MESSAGE", "Account %s is exhausted: %u pool and %u dedicated sessions "
                    "blocked (thresholds %u/%u)", account, verdict.blocked[0],
                    verdict.blocked[1], verdict.need[0], verdict.need[1]);
  /* The switcher takes it from here; these sessions are about to go. What
   * stopped them is their history now: the evidence goes before the
   * switcher relaunches them, and a hook's evidence is often all there is
   * (no reading yet of a line Claude had not drawn). */
  for (guint i = 0; i < blocked->len; i++)
    mark_relaunched (self, ((Evidence *) g_ptr_array_index (blocked, i))->session);
  g_hash_table_remove_all (self->evidence);
  g_signal_emit (self, signals[SIGNAL_EXHAUSTED], 0, account, session_names, verdict.reset,
                 evidence_text->str);
}

/* ---- pane evidence ------------------------------------------------------- */

/* The reset time (µs, 0 = none) of the limit line SESSION shows in
 * VERDICT: its first reading while the same line stays on screen. */
static gint64
read_reset (CfQuota *self, const char *session, const CfPaneVerdict *verdict)
{
  Reading *reading = g_hash_table_lookup (self->readings, session);

  if (!verdict->limit || verdict->reset_at == NULL)
    {
      g_hash_table_remove (self->readings, session);
      return 0;
    }
  if (reading != NULL && g_strcmp0 (reading->snippet, verdict->snippet) == 0)
    return reading->reset_usec;
  reading = g_new0 (Reading, 1);
  reading->snippet = g_strdup (verdict->snippet);
  reading->reset_usec = g_date_time_to_unix (verdict->reset_at) * G_USEC_PER_SEC;
  g_hash_table_replace (self->readings, g_strdup (session), reading);
  return reading->reset_usec;
}

static void observe_current_pane (CfQuota *self, CfSession *session, const CfPaneVerdict *verdict);
static void on_session_changed (CfState *state, CfSession *session, CfQuota *self);

typedef struct {
  GPtrArray *lines;            /* limit lines seen before the relaunch */
  gint64 resets[2];            /* their reset times (µs), 0 = none */
  char *task;                  /* the task whose conversation shows them */
} History;

static void
history_free (History *history)
{
  g_ptr_array_unref (history->lines);
  g_free (history->task);
  g_free (history);
}

/* TRUE when a limit seen in SESSION (its screen line LINE, NULL for a
 * hook, whose text names no reset; its reset RESET µs, 0 = none; SNIPPET
 * for the log) is history of the session's conversation (see
 * CfQuota.history), not a limit of the account it runs on now. */
static gboolean
limit_is_history (CfQuota *self, CfSession *session, const char *line, gint64 reset,
                  const char *snippet)
{
  History *history = g_hash_table_lookup (self->history, session->name);
  CfLimitHistory seen = { 0 };
  gboolean old;

  if (history != NULL)
    {
      seen.lines = (const char *const *) history->lines->pdata;
      seen.n_lines = history->lines->len;
      memcpy (seen.resets, history->resets, sizeof seen.resets);
    }
  old = cf_failover_limit_is_history (history != NULL ? &seen : NULL,
                                      session->state == CF_SESSION_LAUNCHING, line, reset);
  if (old && !g_hash_table_contains (self->history_logged, session->name))
    {
      g_hash_table_add (self->history_logged, g_strdup (session->name));
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "CF_SESSION", session->name,
                        "CF_SNIPPET", snippet ? snippet : "",
                        "MESSAGE", "%s: the limit redrawn with the resumed conversation is "
                        "history, not a limit of account %s: %s", session->name,
                        cf_state_get_active_account (self->state),
                        snippet ? snippet : "");
    }
  return old;
}

static gboolean
pane_limit_is_history (CfQuota *self, CfSession *session, const CfPaneVerdict *verdict)
{
  gint64 reset = 0;

  if (!verdict->limit_match)
    return FALSE;
  if (verdict->reset_at != NULL)
    reset = g_date_time_to_unix (verdict->reset_at) * G_USEC_PER_SEC;
  return limit_is_history (self, session, verdict->snippet, reset, verdict->snippet);
}

static void
observe_pane (CfQuota *self, CfSession *session, const CfPaneVerdict *verdict)
{
  if (pane_limit_is_history (self, session, verdict))
    return;
  observe_current_pane (self, session, verdict);
}

static void
observe_current_pane (CfQuota *self, CfSession *session, const CfPaneVerdict *verdict)
{
  Evidence *evidence = g_hash_table_lookup (self->evidence, session->name);
  const char *account = cf_state_get_active_account (self->state);
  gint64 reset_usec = read_reset (self, session->name, verdict);
  gint64 now = g_get_real_time ();
  CfLimitEvidence seen = {
    .exists = evidence != NULL,
    .blocked = evidence != NULL && evidence->blocked,
    .from_hook = evidence != NULL && evidence->from_hook,
    .unconfirmed = evidence != NULL ? evidence->unconfirmed : 0,
  };
  CfLimitStep step = cf_failover_observe_limit (&seen, verdict->limit, verdict->busy,
                                                reset_usec, now);

  if (verdict->limit_match && !verdict->limit)
    cf_counters_count (cf_state_get_counters (self->state), CF_EVENT_LIMIT_VETOED);
  /* A limit whose reset time has already passed is an old line still on
   * screen, not a limit now (else the account would be out for the whole
   * unknown-reset window, or until the same wall time tomorrow). */
  if (cf_failover_limit_is_stale (verdict->limit, reset_usec, now))
    {
      Reading *reading = g_hash_table_lookup (self->readings, session->name);
      if (reading != NULL && !reading->stale_logged)
        {
          g_autofree char *reset = format_reset (reset_usec);
          reading->stale_logged = TRUE;
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                            "CF_SESSION", session->name,
                            "CF_ACCOUNT", account,
                            "CF_SNIPPET", verdict->snippet ? verdict->snippet : "",
                            "CF_RESET_AT", reset,
                            "MESSAGE", "%s: the usage limit on screen is past its reset time "
                            "(%s): an old line, ignored (%s)", session->name, reset,
                            verdict->snippet ? verdict->snippet : "");
        }
    }
  if (step == CF_LIMIT_STEP_NONE)
    return;
  if (step == CF_LIMIT_STEP_CLEAR)
    {
      if (evidence->blocked || evidence->unconfirmed > 0)
        log_evidence (evidence, account, "no limit on screen any more: suspicion cleared");
      g_hash_table_remove (self->evidence, session->name);
      set_blocked (self, session->name, FALSE);
      return;
    }
  evidence = ensure_evidence (self, session);
  g_free (evidence->pattern);
  evidence->pattern = g_strdup (verdict->pattern);
  g_free (evidence->snippet);
  evidence->snippet = g_strdup (verdict->snippet);
  switch (step)
    {
    case CF_LIMIT_STEP_BLOCK:
      evidence->reset_usec = reset_usec;
      evidence->unconfirmed = 0;
      if (!evidence->blocked)
        {
          evidence->blocked = TRUE;
          cf_counters_count (cf_state_get_counters (self->state), CF_EVENT_LIMIT_BY_PANE);
          log_evidence (evidence, account, "usage limit on screen");
        }
      set_blocked (self, session->name, TRUE);
      return;
    case CF_LIMIT_STEP_CONFIRM:
      evidence->unconfirmed++;
      evidence->blocked = TRUE;
      cf_counters_count (cf_state_get_counters (self->state), CF_EVENT_LIMIT_BY_PANE);
      log_evidence (evidence, account, "usage limit on screen, confirmed by a second poll");
      set_blocked (self, session->name, TRUE);
      return;
    case CF_LIMIT_STEP_SUSPECT:
      evidence->unconfirmed++;
      log_evidence (evidence, account, "usage limit on screen without a reset time: "
                    "waiting for the next poll to confirm");
      return;
    case CF_LIMIT_STEP_KEEP:
    case CF_LIMIT_STEP_NONE:
    case CF_LIMIT_STEP_CLEAR:
    default:
      return;
    }
}

typedef struct {
  CfQuota *self;
  char *session;
  CfPaneVerdict verdict;
  gboolean from_hook;          /* capture asked by a hook: only the reset time matters */
} Probe;

static void
probe_free (Probe *probe)
{
  g_object_unref (probe->self);
  g_free (probe->session);
  cf_pane_verdict_clear (&probe->verdict);
  g_free (probe);
}

static void
probe_done (Probe *probe)
{
  CfQuota *self = probe->self;

  if (!probe->from_hook)
    {
      g_assert (self->outstanding > 0);
      if (--self->outstanding == 0)
        evaluate (self);
    }
  else
    evaluate (self);
  probe_free (probe);
}

static void
on_dedicated_info (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *probe = user_data;
  CfQuota *self = probe->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(CfTmuxSessionInfo) info = cf_tmux_session_info_finish (CF_TMUX (source), result, &error);
  CfSession *session;

  if (self->cancellable != NULL && (session = cf_state_lookup_session (self->state, probe->session)) != NULL)
    {
      /* At the shell, an old banner is history, not a running Claude. */
      if (info != NULL && cf_tmux_session_info_claude_exited (info))
        forget_session (self, probe->session);
      else if (info != NULL)
        observe_pane (self, session, &probe->verdict);
    }
  probe_done (probe);
}

static void
on_capture (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *probe = user_data;
  CfQuota *self = probe->self;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = cf_tmux_capture_finish (CF_TMUX (source), result, &error);
  CfSession *session;
  CfPaneContext context = {
    .now_unix = g_get_real_time () / G_USEC_PER_SEC,
    .local_zone = self->local_zone,
    .tail_lines = self->config->quota_tail_lines,
  };

  session = self->cancellable != NULL ? cf_state_lookup_session (self->state, probe->session) : NULL;
  if (text == NULL || session == NULL)
    {
      if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("quota: cannot capture %s: %s", probe->session, error->message);
      probe_done (probe);
      return;
    }
  cf_pane_classify (text, strlen (text), &context, &probe->verdict);
  cf_hook_router_note_pane (self->hooks, probe->session, &probe->verdict);
  if (!probe->from_hook && probe->verdict.warning && !probe->verdict.limit_match &&
      !probe->verdict.server_error && probe->verdict.snippet != NULL)
    g_signal_emit (self, signals[SIGNAL_USAGE_WARNING], 0, probe->session,
                   probe->verdict.snippet);
  if (probe->from_hook)
    {
      Evidence *evidence = g_hash_table_lookup (self->evidence, probe->session);
      gint64 reset_usec = read_reset (self, probe->session, &probe->verdict);

      if (evidence != NULL && cf_failover_reset_to_keep (reset_usec, g_get_real_time ()) > 0)
        {
          evidence->reset_usec = reset_usec;
          g_free (evidence->snippet);
          evidence->snippet = g_strdup (probe->verdict.snippet);
        }
      probe_done (probe);
      return;
    }
  if (session->kind == CF_SESSION_DEDICATED && probe->verdict.limit)
    {
      cf_tmux_session_info_async (self->tmux, probe->session, self->cancellable,
                                  on_dedicated_info, probe);
      return;
    }
  observe_pane (self, session, &probe->verdict);
  probe_done (probe);
}

static void
capture (CfQuota *self, const char *session, gboolean from_hook)
{
  Probe *probe = g_new0 (Probe, 1);

  probe->self = g_object_ref (self);
  probe->session = g_strdup (session);
  probe->from_hook = from_hook;
  if (!from_hook)
    self->outstanding++;
  cf_tmux_capture_async (self->tmux, session, 0, self->cancellable, on_capture, probe);
}

static gboolean
on_tick (gpointer user_data)
{
  CfQuota *self = user_data;
  g_autoptr(GPtrArray) sessions = NULL;

  if (detection_paused (self) || self->outstanding > 0 || !cf_tmux_is_connected (self->tmux))
    return G_SOURCE_CONTINUE;
  sessions = cf_state_list_sessions (self->state);
  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *session = g_ptr_array_index (sessions, i);

      if (session_is_candidate (self, session))
        capture (self, session->name, FALSE);
      else
        forget_session (self, session->name);
    }
  return G_SOURCE_CONTINUE;
}

/* ---- hook evidence ------------------------------------------------------- */

static void
on_hook (CfHookRouter *hooks, const char *name, CfHookPayload *payload, CfQuota *self)
{
  CfSession *session = cf_state_lookup_session (self->state, name);
  Evidence *evidence;

  if (session == NULL || self->cancellable == NULL)
    return;
  switch (payload->event)
    {
    case CF_HOOK_EVENT_STOP_FAILURE:
      if (cf_hook_payload_account_problem (payload) != NULL)
        {
          /* Not a limit: no reset will cure it (ARCHITECTURE.md 4.9). The
           * account the session runs on, whether active or still draining. */
          const char *problem = cf_hook_payload_account_problem (payload);
          g_autofree char *account = g_strdup (session->account[0] != '\0'
                                                 ? session->account
                                                 : cf_state_get_active_account (self->state));

          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                            "CF_SESSION", name, "CF_ACCOUNT", account,
                            "MESSAGE", "%s: StopFailure %s: account %s is unusable (%s)", name,
                            problem, account,
                            payload->last_assistant_message ? payload->last_assistant_message : "");
          g_signal_emit (self, signals[SIGNAL_ACCOUNT_UNUSABLE], 0, account, problem);
          return;
        }
      if (cf_hook_payload_is_throttle (payload))
        g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                          "CF_SESSION", name,
                          "CF_ACCOUNT", cf_state_get_active_account (self->state),
                          "MESSAGE", "%s: a 429 that is not a usage limit (a throttle: %s): "
                          "no switch", name,
                          payload->last_assistant_message ? payload->last_assistant_message
                          : payload->verdict.reason ? payload->verdict.reason : "");
      if (!cf_hook_payload_is_rate_limit (payload) || !session_is_candidate (self, session) ||
          detection_paused (self))
        return;
      {
        /* The limit that stopped the conversation before a switch may be
         * reported by its hook only after the switch (the pane saw it
         * first): history, not evidence against the new account. */
        gint64 now = g_get_real_time ();
        g_autoptr(GDateTime) reset_at =
          cf_hook_payload_reset_at (payload, now / G_USEC_PER_SEC, self->local_zone);
        g_autofree char *snippet = g_strdup_printf ("StopFailure error=%s", payload->error);

        if (limit_is_history (self, session, NULL,
                              reset_at ? g_date_time_to_unix (reset_at) * G_USEC_PER_SEC : 0,
                              snippet))
          return;
      }
      evidence = ensure_evidence (self, session);
      if (!evidence->blocked)
        cf_counters_count (cf_state_get_counters (self->state), CF_EVENT_LIMIT_BY_HOOK);
      evidence->blocked = TRUE;
      evidence->from_hook = TRUE;
      evidence->unconfirmed = 0;
      g_free (evidence->pattern);
      evidence->pattern = g_strdup ("hook-stop-failure");
      g_free (evidence->snippet);
      evidence->snippet = g_strdup_printf ("StopFailure error=%s", payload->error);
      {
        /* The switch is decided now, often before Claude draws the line:
         * the message's reset is the primary's return time and what the
         * resumed conversation will redraw (History). */
        gint64 now = g_get_real_time ();
        g_autoptr(GDateTime) reset_at =
          cf_hook_payload_reset_at (payload, now / G_USEC_PER_SEC, self->local_zone);
        gint64 reset_usec = reset_at ? g_date_time_to_unix (reset_at) * G_USEC_PER_SEC : 0;

        if (cf_failover_reset_to_keep (reset_usec, now) > 0)
          evidence->reset_usec = reset_usec;
      }
      log_evidence (evidence, cf_state_get_active_account (self->state),
                    "StopFailure hook reports a usage limit");
      set_blocked (self, name, TRUE);
      /* Decide now (the hook is precise). Only when its message named no
       * reset does a quick capture come first, for the reset the pane may
       * show: a capture waits behind a busy tmux server. */
      if (evidence->reset_usec == 0 && cf_tmux_is_connected (self->tmux))
        capture (self, name, TRUE);
      else
        evaluate (self);
      return;

    case CF_HOOK_EVENT_USER_PROMPT_SUBMIT:
    case CF_HOOK_EVENT_STOP:
    case CF_HOOK_EVENT_SESSION_START:
      /* Claude works again in that session. */
      forget_session (self, name);
      return;

    default:
      return;
    }
}

/* ---- lifecycle ----------------------------------------------------------- */

static void
arm_timer (CfQuota *self)
{
  g_clear_handle_id (&self->timer_id, g_source_remove);
  if (self->cancellable == NULL)
    return;
  self->timer_id = g_timeout_add (MAX (self->config->quota_interval_usec / 1000, 1), on_tick, self);
}

void
cf_quota_set_config (CfQuota *self, CfConfig *config)
{
  gboolean interval_changed = self->config->quota_interval_usec != config->quota_interval_usec;

  g_clear_pointer (&self->config, cf_config_unref);
  self->config = cf_config_ref (config);
  if (interval_changed)
    arm_timer (self);
}

void
cf_quota_start (CfQuota *self)
{
  if (self->cancellable != NULL)
    return;
  self->cancellable = g_cancellable_new ();
  g_signal_connect_object (self->hooks, "hook", G_CALLBACK (on_hook), self, 0);
  g_signal_connect_object (self->state, "session-changed", G_CALLBACK (on_session_changed), self,
                           0);
  arm_timer (self);
}

void
cf_quota_stop (CfQuota *self)
{
  if (self->cancellable == NULL)
    return;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_signal_handlers_disconnect_by_data (self->hooks, self);
  g_signal_handlers_disconnect_by_data (self->state, self);
  g_clear_handle_id (&self->timer_id, g_source_remove);
}

void
cf_quota_note_history (CfQuota *self, const char *name, const char *screen)
{
  History *history = g_hash_table_lookup (self->history, name);
  CfPaneContext context = {
    .now_unix = g_get_real_time () / G_USEC_PER_SEC,
    .local_zone = self->local_zone,
    .tail_lines = 50,
  };
  g_auto(CfPaneVerdict) verdict = { 0 };

  cf_pane_classify (screen, (gsize) -1, &context, &verdict);
  if (!verdict.limit_match || verdict.snippet == NULL)
    return;
  if (history == NULL)
    {
      CfSession *session = cf_state_lookup_session (self->state, name);

      history = g_new0 (History, 1);
      history->lines = g_ptr_array_new_with_free_func (g_free);
      history->task = g_strdup (session != NULL ? session->task : "");
      g_hash_table_replace (self->history, g_strdup (name), history);
    }
  g_ptr_array_add (history->lines, g_strdup (verdict.snippet));
  if (verdict.reset_at != NULL)
    {
      gint64 reset = g_date_time_to_unix (verdict.reset_at) * G_USEC_PER_SEC;
      history->resets[history->resets[0] == 0 ? 0 : 1] = reset;
    }
}

void
cf_quota_note_launch_limit (CfQuota *self, const char *name, const char *screen)
{
  CfSession *session = cf_state_lookup_session (self->state, name);
  CfPaneContext context = {
    .now_unix = g_get_real_time () / G_USEC_PER_SEC,
    .local_zone = self->local_zone,
    .tail_lines = self->config->quota_tail_lines,
  };
  g_auto(CfPaneVerdict) verdict = { 0 };

  if (session == NULL || self->cancellable == NULL || detection_paused (self) ||
      !session_is_candidate (self, session))
    return;
  cf_pane_classify (screen, (gsize) -1, &context, &verdict);
  if (!verdict.limit)
    return;
  observe_pane (self, session, &verdict);
  evaluate (self);
}

/* Claude in NAME is about to be relaunched (resumed after a switch, or a
 * new launch): what stopped it becomes its history. */
static void
mark_relaunched (CfQuota *self, const char *name)
{
  Evidence *evidence = g_hash_table_lookup (self->evidence, name);
  Reading *reading = g_hash_table_lookup (self->readings, name);
  CfSession *session;
  History *history;

  g_hash_table_remove (self->history_logged, name);
  if (evidence == NULL && reading == NULL)
    return;
  history = g_new0 (History, 1);
  history->lines = g_ptr_array_new_with_free_func (g_free);
  if (evidence != NULL && evidence->snippet != NULL)
    g_ptr_array_add (history->lines, g_strdup (evidence->snippet));
  if (reading != NULL && reading->snippet != NULL)
    g_ptr_array_add (history->lines, g_strdup (reading->snippet));
  history->resets[0] = evidence != NULL ? evidence->reset_usec : 0;
  history->resets[1] = reading != NULL ? reading->reset_usec : 0;
  session = cf_state_lookup_session (self->state, name);
  history->task = g_strdup (session != NULL ? session->task : "");
  g_hash_table_replace (self->history, g_strdup (name), history);
}

void
cf_quota_reset (CfQuota *self)
{
  g_autoptr(GPtrArray) sessions = cf_state_list_sessions (self->state);

  /* Every session is relaunched or resumed by the switch that calls this. */
  for (guint i = 0; i < sessions->len; i++)
    mark_relaunched (self, ((CfSession *) g_ptr_array_index (sessions, i))->name);
  g_hash_table_remove_all (self->evidence);
  g_hash_table_remove_all (self->readings);
}

static void
on_session_changed (CfState *state, CfSession *session, CfQuota *self)
{
  History *history;

  if (session->state != CF_SESSION_LAUNCHING)
    return;
  /* A resume goes on with the same task, and its conversation redraws what
   * the switch recorded (mark_relaunched, from evaluate or cf_quota_reset);
   * a launch of another task starts on a clean screen: no history. */
  history = g_hash_table_lookup (self->history, session->name);
  if (history != NULL && g_strcmp0 (history->task, session->task) != 0)
    g_hash_table_remove (self->history, session->name);
  forget_session (self, session->name);
}

void
cf_quota_poll_now (CfQuota *self)
{
  on_tick (self);
}

guint64
cf_quota_get_detections (CfQuota *self)
{
  return self->detections;
}

static void
cf_quota_dispose (GObject *object)
{
  CfQuota *self = CF_QUOTA (object);

  cf_quota_stop (self);
  G_OBJECT_CLASS (cf_quota_parent_class)->dispose (object);
}

static void
cf_quota_finalize (GObject *object)
{
  CfQuota *self = CF_QUOTA (object);

  g_hash_table_unref (self->evidence);
  g_hash_table_unref (self->readings);
  g_hash_table_unref (self->history);
  g_hash_table_unref (self->history_logged);
  g_clear_pointer (&self->local_zone, g_time_zone_unref);
  g_clear_pointer (&self->config, cf_config_unref);
  g_clear_object (&self->state);
  g_clear_object (&self->tmux);
  g_clear_object (&self->hooks);
  G_OBJECT_CLASS (cf_quota_parent_class)->finalize (object);
}

static void
cf_quota_class_init (CfQuotaClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cf_quota_dispose;
  object_class->finalize = cf_quota_finalize;
  /* (gchararray session, gchararray line): a usage warning on screen, read
   * by the usage tracker. */
  signals[SIGNAL_USAGE_WARNING] =
    g_signal_new ("usage-warning", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_EXHAUSTED] =
    g_signal_new ("exhausted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_STRV, G_TYPE_INT64,
                  G_TYPE_STRING);
  /* (account, problem): a StopFailure said the account cannot be used. */
  signals[SIGNAL_ACCOUNT_UNUSABLE] =
    g_signal_new ("account-unusable", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
cf_quota_init (CfQuota *self)
{
  self->evidence = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) evidence_free);
  self->readings = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) reading_free);
  self->history = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) history_free);
  self->history_logged = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->local_zone = g_time_zone_new_local ();
}

CfQuota *
cf_quota_new (CfConfig *config, CfState *state, CfTmux *tmux, CfHookRouter *hooks)
{
  CfQuota *self = g_object_new (CF_TYPE_QUOTA, NULL);

  self->config = cf_config_ref (config);
  self->state = g_object_ref (state);
  self->tmux = g_object_ref (tmux);
  self->hooks = g_object_ref (hooks);
  return self;
}
