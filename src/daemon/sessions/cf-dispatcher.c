/* SPDX-License-Identifier: MIT */
/* CfDispatcher: the object, its public calls (start, stop, kick, resume,
 * abort), and choosing work: which idle pool session takes which queued
 * task (priority, fairness, age: cf-schedule.h), projects.max_parallel,
 * cooldowns, lifecycle.start_stagger, and the tasks that wait (a project's
 * queue lock held elsewhere, depends_on not met). A launch itself runs in
 * cf-dispatcher-launch.c. */
#include "cf-dispatcher.h"
#include "cf-dispatcher-private.h"

#include "cf-pane.h"
#include "cf-schedule.h"

G_DEFINE_FINAL_TYPE (CfDispatcher, cf_dispatcher, G_TYPE_OBJECT)

guint cf_dispatcher_signals[N_SIGNALS];

/* How often tasks waiting for their dependencies are looked at again when
 * no task of their project finished meanwhile (a dependency settled by
 * hand, in another process). */
#define CF_DISPATCHER_WAITING_MS 5000

/* ---- tasks that wait: a locked queue, depends_on ------------------------ */

static gboolean
on_locked_out_expired (gpointer user_data)
{
  CfDispatcher *self = user_data;

  self->locked_out_id = 0;
  cf_dispatcher_arm_locked_out_timer (self);
  cf_dispatcher_kick (self);
  return G_SOURCE_REMOVE;
}

/* One timer, for the earliest project whose wait ends. */
void
cf_dispatcher_arm_locked_out_timer (CfDispatcher *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 earliest = G_MAXINT64;
  GHashTableIter iter;
  gpointer value;

  g_clear_handle_id (&self->locked_out_id, g_source_remove);
  if (self->cancellable == NULL)
    return;
  g_hash_table_iter_init (&iter, self->locked_out);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (*(gint64 *) value > now)
      earliest = MIN (earliest, *(gint64 *) value);
  if (earliest != G_MAXINT64)
    self->locked_out_id = g_timeout_add ((guint) ((earliest - now) / 1000 + 1),
                                         on_locked_out_expired, self);
}

static gboolean
is_locked_out (CfDispatcher *self, const char *project)
{
  gint64 *until = g_hash_table_lookup (self->locked_out, project);

  return until != NULL && g_get_monotonic_time () < *until;
}

static gboolean
on_waiting_recheck (gpointer user_data)
{
  CfDispatcher *self = user_data;

  self->waiting_id = 0;
  g_hash_table_remove_all (self->waiting);
  cf_dispatcher_kick (self);
  return G_SOURCE_REMOVE;
}

void
cf_dispatcher_arm_waiting_timer (CfDispatcher *self)
{
  if (self->waiting_id == 0 && self->cancellable != NULL)
    self->waiting_id = g_timeout_add (CF_DISPATCHER_WAITING_MS, on_waiting_recheck, self);
}

/* A task of PROJECT finished: the tasks of that project that wait for
 * their dependencies are looked at again. */
static void
on_task_finished (CfTaskEvents *events, const char *project, const char *task, const char *session,
                  const char *outcome, CfDispatcher *self)
{
  g_autofree char *prefix = g_strconcat (project, "\n", NULL);
  GHashTableIter iter;
  gpointer key;
  gboolean removed = FALSE;

  g_hash_table_iter_init (&iter, self->waiting);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (g_str_has_prefix (key, prefix))
      {
        g_hash_table_iter_remove (&iter);
        removed = TRUE;
      }
  if (removed)
    cf_dispatcher_kick (self);
}

/* ---- choosing work ---------------------------------------------------- */

static gboolean
session_is_free (CfDispatcher *self, CfSession *session)
{
  return session->kind == CF_SESSION_POOL &&
         session->state == CF_SESSION_IDLE &&
         cf_config_is_pool_session (self->config, session->name) &&
         !g_hash_table_contains (self->launches, session->name);
}

static gboolean
task_in_flight (CfDispatcher *self, const char *project, const char *task_id)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->launches);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Launch *launch = value;
      if (g_str_equal (launch->project, project) && g_str_equal (launch->task_id, task_id))
        return TRUE;
    }
  return cf_state_find_session_by_task (self->state, project, task_id) != NULL;
}

/* The ids of the tasks being launched or worked on (any project): with a
 * long queue, a pending task whose id is not in this small set needs no
 * task_in_flight() walk over every launch and session. */
/* Tasks launching or worked on, per project (projects.max_parallel). */
static GHashTable *
running_per_project (CfDispatcher *self, GPtrArray *sessions)
{
  GHashTable *running = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->launches);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Launch *launch = value;
      g_hash_table_replace (running, g_strdup (launch->project),
                            GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (running, launch->project)) + 1));
    }
  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *session = g_ptr_array_index (sessions, i);

      if (session->task[0] == '\0' || session->project[0] == '\0' ||
          g_hash_table_contains (self->launches, session->name))
        continue;
      g_hash_table_replace (running, g_strdup (session->project),
                            GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (running, session->project)) + 1));
    }
  return running;
}

static GHashTable *
ids_in_flight (CfDispatcher *self, GPtrArray *sessions)
{
  /* Copies: the dispatch loop still asks after launches have changed the
   * sessions' strings. */
  GHashTable *ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->launches);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_hash_table_add (ids, g_strdup (((Launch *) value)->task_id));
  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *session = g_ptr_array_index (sessions, i);
      if (session->task[0] != '\0')
        g_hash_table_add (ids, g_strdup (session->task));
    }
  return ids;
}

static void
start_launch (CfDispatcher *self, CfSession *session, CfInboxTask *task)
{
  const char *account = cf_state_get_active_account (self->state);
  const CfAccountConfig *configured = cf_config_find_account (self->config, account);
  Launch *launch;

  if (configured == NULL)
    return;
  launch = g_new0 (Launch, 1);
  launch->self = g_object_ref (self);
  launch->session = g_strdup (session->name);
  launch->project = g_strdup (task->project);
  launch->cwd = g_strdup (task->project);
  launch->task_id = g_strdup (task->id);
  launch->account = g_strdup (account);
  launch->home = g_strdup (configured->home);
  launch->uuid = g_uuid_string_random ();
  launch->cancellable = g_cancellable_new ();
  g_signal_connect_object (self->cancellable, "cancelled",
                           G_CALLBACK (g_cancellable_cancel), launch->cancellable,
                           G_CONNECT_SWAPPED);
  launch->stage = STAGE_CHECK_SESSION;
  g_hash_table_replace (self->launches, launch->session, launch);
  /* Served from the moment a session takes its task: the other free
   * sessions of this round go to the projects served longer ago, not all
   * to this one. */
  g_hash_table_replace (self->last_served, g_strdup (launch->project),
                        GSIZE_TO_POINTER (++self->served_seq));

  cf_inbox_forget (self->inbox, task->project, task->id);
  cf_state_set_session_text (self->state, session->name, CF_SESSION_TEXT_ACCOUNT, account);
  cf_state_set_session_state_and_work (self->state, session->name, CF_SESSION_LAUNCHING,
                                       task->project, task->id);
  cf_dispatcher_launch_step (launch);
}

static CfScheduleItem
schedule_item (const CfInboxTask *task)
{
  return (CfScheduleItem) {
    .project = task->project, .task_id = task->id, .priority = task->priority,
    .queued_at = task->queued_at, .attempts = task->attempts,
    .last_attempt_end = task->last_attempt_end,
  };
}

typedef struct {
  CfDispatcher *self;
  GHashTable *busy_ids;        /* ids_in_flight() */
  GHashTable *running;         /* project → GUINT count launching or working (max_parallel) */
  gint64 now;
  gint64 next_ready;           /* earliest end of a cooldown seen, 0 = none */
} Candidates;

/* A task may go to a session now: its cooldown has passed, delegation does
 * not want it, and no session has it already. */
static gboolean
dispatchable (const CfInboxTask *task, gpointer user_data)
{
  Candidates *c = user_data;
  CfDispatcher *self = c->self;
  CfScheduleItem item = schedule_item (task);

  if (!cf_schedule_item_ready (&item, self->config->cooldown_schedule, c->now))
    {
      gint64 at = cf_schedule_item_ready_at (&item, self->config->cooldown_schedule);

      if (c->next_ready == 0 || at < c->next_ready)
        c->next_ready = at;
      return FALSE;
    }
  if (self->task_filter != NULL && cf_task_filter_skip_task (self->task_filter, task))
    return FALSE;
  if (is_locked_out (self, task->project))
    return FALSE;
  if (self->config->projects_max_parallel > 0 &&
      GPOINTER_TO_UINT (g_hash_table_lookup (c->running, task->project)) >=
      self->config->projects_max_parallel)
    return FALSE;
  if (g_hash_table_size (self->waiting) > 0)
    {
      g_autofree char *key = g_strdup_printf ("%s\n%s", task->project, task->id);
      if (g_hash_table_contains (self->waiting, key))
        return FALSE;
    }
  return !g_hash_table_contains (c->busy_ids, task->id) ||
         !task_in_flight (self, task->project, task->id);
}

/* ---- lifecycle.start_stagger --------------------------------------------- */

static gboolean dispatch_now (gpointer user_data);

/* TRUE when the next staggered launch must wait: the round is put off
 * until the gap has passed. */
static gboolean
stagger_wait (CfDispatcher *self)
{
  gint64 gap = self->config->lifecycle_start_stagger_usec;
  gint64 elapsed = g_get_monotonic_time () - self->last_staggered_start;

  if (!self->staggering || gap <= 0 || self->last_staggered_start == 0 || elapsed >= gap)
    return FALSE;
  self->kick_id = g_timeout_add ((guint) ((gap - elapsed) / 1000 + 1), dispatch_now, self);
  return TRUE;
}

/* After a launch: TRUE when the round must stop there, the next launch
 * coming start_stagger later. */
static gboolean
stagger_started (CfDispatcher *self)
{
  gint64 gap = self->config->lifecycle_start_stagger_usec;

  if (!self->staggering || gap <= 0)
    return FALSE;
  self->last_staggered_start = g_get_monotonic_time ();
  self->kick_id = g_timeout_add ((guint) (gap / 1000 + 1), dispatch_now, self);
  return TRUE;
}

static gboolean
on_cooldown_over (gpointer user_data)
{
  CfDispatcher *self = user_data;

  self->cooldown_id = 0;
  self->cooldown_at = 0;
  cf_dispatcher_kick (self);
  return G_SOURCE_REMOVE;
}

/* A task waiting for its cooldown is dispatched when the cooldown ends,
 * not at the next unrelated event: one timer, for the earliest end seen. */
static void
arm_cooldown_timer (CfDispatcher *self, gint64 at, gint64 now)
{
  gint64 delay_ms;

  if (at <= 0 || (self->cooldown_id != 0 && self->cooldown_at <= at))
    return;
  g_clear_handle_id (&self->cooldown_id, g_source_remove);
  /* +1 ms: the timer must not fire a hair before the cooldown's end. */
  delay_ms = MAX ((at - now) / 1000 + 1, 1);
  self->cooldown_at = at;
  self->cooldown_id = g_timeout_add ((guint) MIN (delay_ms, G_MAXINT32), on_cooldown_over, self);
}

static gboolean
dispatch_now (gpointer user_data)
{
  CfDispatcher *self = user_data;
  g_autoptr(GPtrArray) sessions = NULL;
  g_autoptr(GPtrArray) heads = NULL;
  g_autoptr(GArray) items = NULL;
  g_autoptr(GHashTable) busy_ids = NULL;
  g_autoptr(GHashTable) running = NULL;
  Candidates candidates = { .self = self, .now = g_get_real_time () };
  guint free_sessions = 0;
  guint launched = 0;

  self->kick_id = 0;
  if (self->cancellable == NULL || cf_state_get_dispatch_pause (self->state).paused ||
      cf_swap_state_in_progress (cf_state_get_swap_journal (self->state)->step) ||
      !cf_tmux_is_connected (self->tmux) ||
      cf_config_find_account (self->config, cf_state_get_active_account (self->state)) == NULL)
    return G_SOURCE_REMOVE;

  if (stagger_wait (self))
    return G_SOURCE_REMOVE;

  /* Most kicks find every session busy: then the queue is not even looked
   * at, and the main loop stays free for D-Bus and HTTP. */
  sessions = cf_state_list_sessions (self->state);
  for (guint i = 0; i < sessions->len; i++)
    if (session_is_free (self, g_ptr_array_index (sessions, i)))
      free_sessions++;
  if (free_sessions == 0)
    {
      self->staggering = FALSE;
      return G_SOURCE_REMOVE;
    }

  /* The best task overall is the best of some project's first dispatchable
   * task (cf_schedule_pick orders tasks of one project as the inbox queues
   * them), so only those are compared: one per project, whatever the
   * length of the queue (10 000 tasks, say). */
  busy_ids = ids_in_flight (self, sessions);
  candidates.busy_ids = busy_ids;
  running = running_per_project (self, sessions);
  candidates.running = running;
  heads = cf_inbox_list_heads (self->inbox, NULL, dispatchable, &candidates);
  items = g_array_sized_new (FALSE, FALSE, sizeof (CfScheduleItem), heads->len);
  for (guint i = 0; i < sessions->len && heads->len > 0; i++)
    {
      CfSession *session = g_ptr_array_index (sessions, i);
      g_autoptr(GPtrArray) next = NULL;
      CfInboxTask *task;
      gint pick;

      if (!session_is_free (self, session))
        continue;
      g_array_set_size (items, 0);
      for (guint j = 0; j < heads->len; j++)
        {
          CfScheduleItem item = schedule_item (g_ptr_array_index (heads, j));
          g_array_append_val (items, item);
        }
      pick = cf_schedule_pick ((CfScheduleItem *) items->data, items->len, self->last_served,
                               self->config->cooldown_schedule, candidates.now);
      if (pick < 0)
        break;
      /* The launch takes the task out of the inbox's listing: the project's
       * next dispatchable task takes its place among the candidates. */
      task = g_ptr_array_index (heads, pick);
      g_hash_table_replace (running, g_strdup (task->project),
                            GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (running, task->project)) + 1));
      start_launch (self, session, task);
      launched++;
      if (stagger_started (self))
        break;
      next = cf_inbox_list_heads (self->inbox, task->project, dispatchable, &candidates);
      g_ptr_array_remove_index_fast (heads, pick);
      if (next->len > 0)
        g_ptr_array_add (heads, g_ptr_array_steal_index (next, 0));
    }
  arm_cooldown_timer (self, candidates.next_ready, candidates.now);
  if (launched == 0)
    self->staggering = FALSE;
  return G_SOURCE_REMOVE;
}

void
cf_dispatcher_set_task_filter (CfDispatcher *self, CfTaskFilter *filter)
{
  g_return_if_fail (CF_IS_DISPATCHER (self));
  g_return_if_fail (filter == NULL || CF_IS_TASK_FILTER (filter));
  g_set_object (&self->task_filter, filter);
  cf_dispatcher_kick (self);
}

void
cf_dispatcher_kick (CfDispatcher *self)
{
  if (self->kick_id == 0 && self->cancellable != NULL)
    self->kick_id = g_idle_add (dispatch_now, self);
}

gboolean
cf_dispatcher_is_launching (CfDispatcher *self, const char *session)
{
  return g_hash_table_contains (self->launches, session);
}

static void
on_session_changed (CfState *state, CfSession *session, CfDispatcher *self)
{
  Launch *launch = g_hash_table_lookup (self->launches, session->name);

  if (launch != NULL && session->state == CF_SESSION_DEAD)
    {
      launch->session_died = TRUE;
      g_cancellable_cancel (launch->cancellable);
      return;
    }
  /* A freed session takes the next task at once, not at the next poll. */
  if (session->state == CF_SESSION_IDLE)
    cf_dispatcher_kick (self);
}

static void
on_state_changed (CfState *state, guint what, CfDispatcher *self)
{
  if (!(what & (CF_STATE_CHANGE_DISPATCH_PAUSED | CF_STATE_CHANGE_SWAP_STATE)))
    return;
  /* Dispatch opens again (a switch ended, a pause was lifted): the free
   * sessions start one by one, so that dozens never open at once. */
  if (!cf_state_get_dispatch_pause (state).paused &&
      !cf_swap_state_in_progress (cf_state_get_swap_journal (state)->step))
    self->staggering = TRUE;
  cf_dispatcher_kick (self);
}

static void
on_hook (CfHookRouter *hooks, const char *session, CfHookPayload *payload, CfDispatcher *self)
{
  Launch *launch = g_hash_table_lookup (self->launches, session);

  if (launch != NULL && payload->event == CF_HOOK_EVENT_USER_PROMPT_SUBMIT &&
      launch->stage == STAGE_CONFIRM)
    launch->confirmed = TRUE;
}

void
cf_dispatcher_start (CfDispatcher *self)
{
  g_return_if_fail (self->cancellable == NULL);
  self->cancellable = g_cancellable_new ();
  g_signal_connect_object (self->inbox, "tasks-available", G_CALLBACK (cf_dispatcher_kick), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->state, "session-changed", G_CALLBACK (on_session_changed), self,
                           0);
  g_signal_connect_object (self->state, "changed", G_CALLBACK (on_state_changed), self, 0);
  g_signal_connect_object (self->hooks, "hook", G_CALLBACK (on_hook), self, 0);
  g_signal_connect_object (self->task_events, "task-finished", G_CALLBACK (on_task_finished), self,
                           0);
  /* dispatch_now waits for tmux: a task that came while the control
   * connection was down (a restart under load) starts once it is up, not
   * at some later unrelated kick. */
  g_signal_connect_object (self->tmux, "connected", G_CALLBACK (cf_dispatcher_kick), self,
                           G_CONNECT_SWAPPED);
  cf_dispatcher_kick (self);
}

void
cf_dispatcher_stop (CfDispatcher *self)
{
  if (self->cancellable == NULL)
    return;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->kick_id, g_source_remove);
  g_clear_handle_id (&self->cooldown_id, g_source_remove);
  self->cooldown_at = 0;
  g_clear_handle_id (&self->locked_out_id, g_source_remove);
  g_clear_handle_id (&self->waiting_id, g_source_remove);
  g_signal_handlers_disconnect_by_data (self->inbox, self);
  g_signal_handlers_disconnect_by_func (self->state, on_session_changed, self);
  g_signal_handlers_disconnect_by_func (self->state, on_state_changed, self);
  g_signal_handlers_disconnect_by_data (self->hooks, self);
  g_signal_handlers_disconnect_by_func (self->task_events, on_task_finished, self);
  g_signal_handlers_disconnect_by_func (self->tmux, cf_dispatcher_kick, self);
}

void
cf_dispatcher_set_account_prep (CfDispatcher *self, CfAccountPrep *prep)
{
  g_set_object (&self->account_prep, prep);
  g_hash_table_remove_all (self->prepared);
}

void
cf_dispatcher_set_config (CfDispatcher *self, CfConfig *config)
{
  g_hash_table_remove_all (self->prepared);
  g_clear_pointer (&self->config, cf_config_unref);
  self->config = cf_config_ref (config);
  cf_dispatcher_kick (self);
}

static void
cf_dispatcher_dispose (GObject *object)
{
  CfDispatcher *self = CF_DISPATCHER (object);

  cf_dispatcher_stop (self);
  g_clear_pointer (&self->launches, g_hash_table_unref);
  g_clear_pointer (&self->last_served, g_hash_table_unref);
  g_clear_pointer (&self->prepared, g_hash_table_unref);
  g_clear_object (&self->account_prep);
  g_clear_object (&self->task_filter);
  g_clear_pointer (&self->locked_out, g_hash_table_unref);
  g_clear_pointer (&self->waiting, g_hash_table_unref);
  g_clear_object (&self->inbox);
  g_clear_object (&self->hooks);
  g_clear_object (&self->tmux);
  g_clear_object (&self->state);
  g_clear_object (&self->task_events);
  g_clear_pointer (&self->config, cf_config_unref);
  G_OBJECT_CLASS (cf_dispatcher_parent_class)->dispose (object);
}

static void
cf_dispatcher_class_init (CfDispatcherClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cf_dispatcher_dispose;
  /* (session, project, task, account, why): a switch's resume found no
   * conversation; the task started over. */
  cf_dispatcher_signals[SIGNAL_RESUME_FAILED] =
    g_signal_new ("resume-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 5, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
                  G_TYPE_STRING, G_TYPE_STRING);
  /* (session, screen): Claude's prompt is ready, nothing pasted yet; a
   * resumed conversation's earlier turns are on that screen. */
  cf_dispatcher_signals[SIGNAL_PROMPT_READY] =
    g_signal_new ("prompt-ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /* (session, screen): a launch ends because Claude shows a usage limit. */
  cf_dispatcher_signals[SIGNAL_LAUNCH_LIMITED] =
    g_signal_new ("launch-limited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /* (session, project, task, how): the submission of a task's prompt is
   * confirmed (how: "spinner" or "UserPromptSubmit hook"), just before the
   * session is marked working. */
  cf_dispatcher_signals[SIGNAL_TURN_STARTED] =
    g_signal_new ("turn-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
                  G_TYPE_STRING);
}

static void
cf_dispatcher_init (CfDispatcher *self)
{
  self->launches = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) cf_dispatcher_launch_free);
  self->last_served = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->prepared = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->locked_out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->waiting = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

CfDispatcher *
cf_dispatcher_new (CfConfig *config, CfState *state, CfTaskEvents *task_events, CfTmux *tmux,
                   CfInbox *inbox, CfHookRouter *hooks)
{
  CfDispatcher *self = g_object_new (CF_TYPE_DISPATCHER, NULL);

  self->config = cf_config_ref (config);
  self->state = g_object_ref (state);
  self->task_events = g_object_ref (task_events);
  self->tmux = g_object_ref (tmux);
  self->inbox = g_object_ref (inbox);
  self->hooks = g_object_ref (hooks);
  return self;
}

gboolean
cf_dispatcher_resume (CfDispatcher *self, const char *name, const char *account)
{
  CfSession *session = cf_state_lookup_session (self->state, name);
  const CfAccountConfig *configured = cf_config_find_account (self->config, account);
  Launch *launch;

  if (session == NULL || configured == NULL || self->cancellable == NULL ||
      session->kind != CF_SESSION_POOL || session->task[0] == '\0' ||
      session->project[0] == '\0' || !cf_uuid_is_valid (session->resume_uuid) ||
      g_hash_table_contains (self->launches, name))
    return FALSE;
  launch = g_new0 (Launch, 1);
  launch->self = g_object_ref (self);
  launch->session = g_strdup (name);
  launch->project = g_strdup (session->project);
  launch->cwd = g_strdup (session->project);
  launch->task_id = g_strdup (session->task);
  launch->account = g_strdup (account);
  launch->home = g_strdup (configured->home);
  launch->uuid = g_strdup (session->resume_uuid);
  launch->resuming = TRUE;
  launch->claimed = TRUE;      /* in active/ already: a failure returns it */
  launch->cancellable = g_cancellable_new ();
  g_signal_connect_object (self->cancellable, "cancelled",
                           G_CALLBACK (g_cancellable_cancel), launch->cancellable,
                           G_CONNECT_SWAPPED);
  launch->stage = STAGE_CHECK_SESSION;
  g_hash_table_replace (self->launches, launch->session, launch);
  cf_state_set_session_text (self->state, name, CF_SESSION_TEXT_ACCOUNT, account);
  cf_state_set_session_state (self->state, name, CF_SESSION_LAUNCHING);
  cf_dispatcher_launch_step (launch);
  return TRUE;
}

void
cf_dispatcher_abort_launches (CfDispatcher *self, const char *reason)
{
  g_autoptr(GList) launches = g_hash_table_get_values (self->launches);

  /* A step in flight holds its launch: each ends at its next step (a
   * claim in its worker thread first completes, so the task is returned
   * from where it really is). One parked on a timer ends now. */
  for (GList *l = launches; l != NULL; l = l->next)
    {
      Launch *launch = l->data;

      if (launch->abort_reason != NULL)
        continue;
      launch->abort_reason = g_strdup (reason);
      if (launch->timer_id != 0)
        {
          g_clear_handle_id (&launch->timer_id, g_source_remove);
          cf_dispatcher_launch_step (launch);
        }
    }
}
