/* SPDX-License-Identifier: MIT */
/* The state model: sessions, accounts, the swap journal, the dispatch
 * pause, and the signals that tell of their changes. Persisting it is
 * cf-state-store.c's job, its file format cf-state-json.c's. */
#include "cf-state-private.h"

enum {
  SIGNAL_CHANGED,
  SIGNAL_CONTENT_CHANGED,
  SIGNAL_SESSION_CHANGED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfState, cf_state, G_TYPE_OBJECT)

void
cf_state_session_free (CfSession *session)
{
  g_free (session->name);
  g_free (session->project);
  g_free (session->task);
  g_free (session->account);
  g_free (session->resume_uuid);
  g_free (session->pane_id);
  g_free (session);
}

CfSession *
cf_state_session_new (const char *name, CfSessionKind kind)
{
  CfSession *session = g_new0 (CfSession, 1);

  session->name = g_strdup (name);
  session->kind = kind;
  session->state = CF_SESSION_DEAD;
  session->project = g_strdup ("");
  session->task = g_strdup ("");
  session->account = g_strdup ("");
  session->resume_uuid = g_strdup ("");
  session->pane_id = g_strdup ("");
  session->since = g_get_real_time ();
  return session;
}

void
cf_state_account_free (CfAccountState *account)
{
  g_free (account->name);
  g_free (account->problem);
  g_free (account);
}

/* Replaces *FIELD with VALUE (NULL = ""); TRUE when it changed. */
static gboolean
replace_string (char **field, const char *value)
{
  if (value == NULL)
    value = "";
  if (*field != NULL && g_str_equal (*field, value))
    return FALSE;
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

/* A change the state file records: the store hears of it before anyone
 * hears "changed" (a handler may wait for it to be on disk). */
static void
emit_content_changed (CfState *self)
{
  g_signal_emit (self, signals[SIGNAL_CONTENT_CHANGED], 0);
}

static void
emit_changed (CfState *self, CfStateChange what)
{
  emit_content_changed (self);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, (guint) what);
}

static void
emit_session_changed (CfState *self, CfSession *session)
{
  g_signal_emit (self, signals[SIGNAL_SESSION_CHANGED], 0, session);
  emit_changed (self, CF_STATE_CHANGE_SESSIONS);
}

/* ---- sessions ---------------------------------------------------------- */

static gint
compare_sessions (gconstpointer a, gconstpointer b)
{
  const CfSession *sa = *(CfSession *const *) a;
  const CfSession *sb = *(CfSession *const *) b;

  return g_strcmp0 (sa->name, sb->name);
}

GPtrArray *
cf_state_list_sessions (CfState *self)
{
  GPtrArray *list = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, value);
  g_ptr_array_sort (list, compare_sessions);
  return list;
}

CfSession *
cf_state_lookup_session (CfState *self, const char *name)
{
  return g_hash_table_lookup (self->sessions, name);
}

CfSession *
cf_state_ensure_session (CfState *self, const char *name, CfSessionKind kind)
{
  CfSession *session = g_hash_table_lookup (self->sessions, name);

  if (session != NULL)
    {
      if (session->kind != kind)
        {
          session->kind = kind;
          emit_session_changed (self, session);
        }
      return session;
    }
  session = cf_state_session_new (name, kind);
  g_hash_table_replace (self->sessions, session->name, session);
  emit_session_changed (self, session);
  return session;
}

void
cf_state_remove_session (CfState *self, const char *name)
{
  if (g_hash_table_remove (self->sessions, name))
    emit_changed (self, CF_STATE_CHANGE_SESSIONS);
}

void
cf_state_set_session_state (CfState *self, const char *name, CfSessionState state)
{
  CfSession *session = g_hash_table_lookup (self->sessions, name);

  g_return_if_fail (session != NULL);
  if (session->state == state)
    return;
  session->state = state;
  session->since = g_get_real_time ();
  emit_session_changed (self, session);
}

void
cf_state_set_session_work (CfState *self, const char *name, const char *project,
                           const char *task)
{
  CfSession *session = g_hash_table_lookup (self->sessions, name);
  gboolean changed;

  g_return_if_fail (session != NULL);
  changed = replace_string (&session->project, project);
  changed |= replace_string (&session->task, task);
  if (changed)
    emit_session_changed (self, session);
}

void
cf_state_set_session_state_and_work (CfState *self, const char *name, CfSessionState state,
                                     const char *project, const char *task)
{
  CfSession *session = g_hash_table_lookup (self->sessions, name);
  gboolean changed;

  g_return_if_fail (session != NULL);
  changed = replace_string (&session->project, project);
  changed |= replace_string (&session->task, task);
  if (session->state != state)
    {
      session->state = state;
      session->since = g_get_real_time ();
      changed = TRUE;
    }
  if (changed)
    emit_session_changed (self, session);
}

void
cf_state_set_session_text (CfState *self, const char *name, CfSessionText field,
                           const char *value)
{
  CfSession *session = g_hash_table_lookup (self->sessions, name);

  g_return_if_fail (session != NULL);
  switch (field)
    {
    case CF_SESSION_TEXT_ACCOUNT:
      if (replace_string (&session->account, value))
        emit_session_changed (self, session);
      break;
    case CF_SESSION_TEXT_RESUME_UUID:
      /* Not a D-Bus property: persisted, but no SessionChanged. */
      if (replace_string (&session->resume_uuid, value))
        emit_content_changed (self);
      break;
    case CF_SESSION_TEXT_PANE:
      replace_string (&session->pane_id, value);
      break;
    default:
      g_return_if_reached ();
    }
}

void
cf_state_mark_session_failed (CfState *self, const char *name, gint64 when)
{
  CfSession *session = g_hash_table_lookup (self->sessions, name);

  g_return_if_fail (session != NULL);
  session->last_fail = when;
  emit_content_changed (self);
}

CfSession *
cf_state_find_session_by_pane (CfState *self, const char *pane_id)
{
  GHashTableIter iter;
  gpointer value;

  if (pane_id == NULL || *pane_id == '\0')
    return NULL;
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_str_equal (((CfSession *) value)->pane_id, pane_id))
      return value;
  return NULL;
}

CfSession *
cf_state_find_session_by_task (CfState *self, const char *project, const char *task)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      CfSession *s = value;
      if ((s->state == CF_SESSION_LAUNCHING || cf_session_state_holds_task (s->state)) &&
          g_str_equal (s->project, project) && g_str_equal (s->task, task))
        return s;
    }
  return NULL;
}

/* ---- accounts and swap --------------------------------------------------- */

void
cf_state_sync_accounts (CfState *self, const char *const *names)
{
  g_autoptr(GPtrArray) next =
    g_ptr_array_new_with_free_func ((GDestroyNotify) cf_state_account_free);
  gboolean changed = FALSE;
  gboolean active_known = FALSE;

  g_return_if_fail (names != NULL && names[0] != NULL);
  for (guint i = 0; names[i] != NULL; i++)
    {
      CfAccountState *account = g_new0 (CfAccountState, 1);
      account->name = g_strdup (names[i]);
      cf_usage_init (&account->usage);
      for (guint j = 0; j < self->accounts->len; j++)
        {
          CfAccountState *old = g_ptr_array_index (self->accounts, j);
          if (g_str_equal (old->name, names[i]))
            {
              account->exhausted_until = old->exhausted_until;
              account->usage = old->usage;
              account->problem = g_strdup (old->problem);
            }
        }
      g_ptr_array_add (next, account);
      if (g_strcmp0 (self->active_account, names[i]) == 0)
        active_known = TRUE;
    }

  if (next->len != self->accounts->len)
    changed = TRUE;
  for (guint i = 0; !changed && i < next->len; i++)
    {
      CfAccountState *a = g_ptr_array_index (next, i);
      CfAccountState *b = g_ptr_array_index (self->accounts, i);
      changed = !g_str_equal (a->name, b->name) || a->exhausted_until != b->exhausted_until;
    }
  if (changed)
    {
      g_ptr_array_set_size (self->accounts, 0);
      for (guint i = 0; i < next->len; i++)
        g_ptr_array_add (self->accounts, g_ptr_array_index (next, i));
      g_ptr_array_set_free_func (next, NULL);
      emit_changed (self, CF_STATE_CHANGE_ACCOUNTS);
    }
  if (!active_known)
    cf_state_set_active_account (self, names[0]);
}

GPtrArray *
cf_state_list_accounts (CfState *self)
{
  return g_ptr_array_ref (self->accounts);
}

const char *
cf_state_get_active_account (CfState *self)
{
  return self->active_account ? self->active_account : "";
}

void
cf_state_set_active_account (CfState *self, const char *name)
{
  if (replace_string (&self->active_account, name))
    emit_changed (self, CF_STATE_CHANGE_ACTIVE_ACCOUNT);
}

void
cf_state_set_account_exhausted_until (CfState *self, const char *name, gint64 until)
{
  for (guint i = 0; i < self->accounts->len; i++)
    {
      CfAccountState *account = g_ptr_array_index (self->accounts, i);
      if (g_str_equal (account->name, name) && account->exhausted_until != until)
        {
          account->exhausted_until = until;
          emit_changed (self, CF_STATE_CHANGE_ACCOUNTS);
        }
    }
}

CfAccountState *
cf_state_lookup_account (CfState *self, const char *name)
{
  for (guint i = 0; i < self->accounts->len; i++)
    {
      CfAccountState *account = g_ptr_array_index (self->accounts, i);
      if (g_strcmp0 (account->name, name) == 0)
        return account;
    }
  return NULL;
}

void
cf_state_record_account_usage (CfState *self, const char *name, CfUsageWindowKind kind,
                               double used, gint64 resets_at, CfUsageSource source, gint64 when)
{
  CfAccountState *account = cf_state_lookup_account (self, name);

  if (account != NULL && cf_usage_record (&account->usage, kind, used, resets_at, source, when))
    emit_changed (self, CF_STATE_CHANGE_USAGE);
}

gint64
cf_state_expire_usage (CfState *self, gint64 now)
{
  gboolean changed = FALSE;
  gint64 next = 0;

  for (guint i = 0; i < self->accounts->len; i++)
    {
      CfAccountState *account = g_ptr_array_index (self->accounts, i);
      gint64 change;

      for (guint w = 0; w < CF_USAGE_N_WINDOWS; w++)
        {
          CfUsageWindow aged = cf_usage_window_at (&account->usage.windows[w], now);

          if (aged.used != account->usage.windows[w].used ||
              aged.resets_at != account->usage.windows[w].resets_at)
            {
              account->usage.windows[w] = aged;
              changed = TRUE;
            }
        }
      change = cf_usage_next_change (&account->usage, now);
      if (change > 0 && (next == 0 || change < next))
        next = change;
    }
  if (changed)
    emit_changed (self, CF_STATE_CHANGE_USAGE);
  return next;
}

void
cf_state_set_account_problem (CfState *self, const char *name, const char *problem)
{
  CfAccountState *account = cf_state_lookup_account (self, name);

  if (account == NULL || g_strcmp0 (account->problem ? account->problem : "",
                                     problem ? problem : "") == 0)
    return;
  replace_string (&account->problem, problem);
  emit_changed (self, CF_STATE_CHANGE_USAGE);
}

const CfSwapJournal *
cf_state_get_swap_journal (CfState *self)
{
  return &self->swap;
}

void
cf_state_set_swap_journal (CfState *self, CfSwapFields fields, const CfSwapJournal *values)
{
  CfSwapJournal *swap = &self->swap;

  if (fields & CF_SWAP_SET_STEP)
    {
      gboolean changed = swap->step != values->step;

      swap->step = values->step;
      changed |= replace_string (&swap->from, values->from);
      changed |= replace_string (&swap->to, values->to);
      if (changed)
        emit_changed (self, CF_STATE_CHANGE_SWAP_STATE);
    }
  if ((fields & CF_SWAP_SET_REASON) && replace_string (&swap->reason, values->reason))
    emit_changed (self, CF_STATE_CHANGE_SWAP_STATE);
  if ((fields & CF_SWAP_SET_PARTIAL) && swap->partial != !!values->partial)
    {
      swap->partial = !!values->partial;
      emit_changed (self, CF_STATE_CHANGE_PARTIAL_SWAP);
    }
  if (fields & CF_SWAP_SET_LAST)
    {
      gboolean changed = swap->last_when != values->last_when;

      swap->last_when = values->last_when;
      changed |= replace_string (&swap->last_from, values->last_from);
      changed |= replace_string (&swap->last_to, values->last_to);
      changed |= replace_string (&swap->last_reason, swap->reason);
      if (changed)
        emit_changed (self, CF_STATE_CHANGE_LAST_SWAP);
    }
  if ((fields & CF_SWAP_SET_RETURN_AT) && swap->return_at != values->return_at)
    {
      swap->return_at = values->return_at;
      emit_changed (self, CF_STATE_CHANGE_RETURN_AT);
    }
}

CfDispatchPause
cf_state_get_dispatch_pause (CfState *self)
{
  return (CfDispatchPause) {
    .paused = self->dispatch_paused || self->all_exhausted_until != 0,
    .operator_paused = self->dispatch_paused,
    .all_exhausted_until = self->all_exhausted_until,
  };
}

void
cf_state_set_dispatch_pause (CfState *self, gboolean operator_paused, gint64 until)
{
  /* As ever: an unchanged UNTIL, even negative, is no change. */
  gboolean changed = self->dispatch_paused != !!operator_paused ||
                     self->all_exhausted_until != until;

  if (!changed)
    return;
  self->dispatch_paused = !!operator_paused;
  self->all_exhausted_until = MAX (until, 0);
  emit_changed (self, CF_STATE_CHANGE_DISPATCH_PAUSED);
}

CfDaemonFacts
cf_state_get_daemon_facts (CfState *self)
{
  return (CfDaemonFacts) {
    .pending_tasks = self->pending_tasks,
    .claude_version = self->claude_version != NULL ? self->claude_version : "",
  };
}

void
cf_state_set_daemon_facts (CfState *self, guint pending_tasks, const char *claude_version)
{
  CfStateChange what = 0;

  if (claude_version == NULL)
    claude_version = "";
  if (self->pending_tasks != pending_tasks)
    {
      self->pending_tasks = pending_tasks;
      what |= CF_STATE_CHANGE_PENDING_TASKS;
    }
  if (g_strcmp0 (self->claude_version != NULL ? self->claude_version : "", claude_version) != 0)
    {
      g_free (self->claude_version);
      self->claude_version = g_strdup (claude_version);
      what |= CF_STATE_CHANGE_CLAUDE_VERSION;
    }
  /* Derived from the inboxes and asked of the program at start and Reload,
   * not persisted: no save needed. */
  if (what != 0)
    g_signal_emit (self, signals[SIGNAL_CHANGED], 0, (guint) what);
}

static void
on_totals_changed (CfState *self)
{
  emit_changed (self, CF_STATE_CHANGE_COUNTERS);
}

CfCounters *
cf_state_get_counters (CfState *self)
{
  return self->counters;
}

/* ---- GObject ------------------------------------------------------------ */

static void
swap_journal_clear (CfSwapJournal *swap)
{
  g_free (swap->from);
  g_free (swap->to);
  g_free (swap->reason);
  g_free (swap->last_from);
  g_free (swap->last_to);
  g_free (swap->last_reason);
  *swap = (CfSwapJournal) {
    .step = CF_SWAP_NORMAL,
    .from = g_strdup (""),
    .to = g_strdup (""),
    .reason = g_strdup (""),
    .last_from = g_strdup (""),
    .last_to = g_strdup (""),
    .last_reason = g_strdup (""),
  };
}

void
cf_state_reset_content (CfState *self)
{
  g_hash_table_remove_all (self->sessions);
  g_ptr_array_set_size (self->accounts, 0);
  g_clear_pointer (&self->active_account, g_free);
  swap_journal_clear (&self->swap);
  self->dispatch_paused = FALSE;
  self->all_exhausted_until = 0;
  cf_counters_load_lifetime (self->counters, (const guint64[CF_COUNTER_COUNT]) { 0 });
}

static void
cf_state_finalize (GObject *object)
{
  CfState *self = CF_STATE (object);

  cf_state_reset_content (self);
  g_free (self->swap.from);
  g_free (self->swap.to);
  g_free (self->swap.reason);
  g_free (self->swap.last_from);
  g_free (self->swap.last_to);
  g_free (self->swap.last_reason);
  g_free (self->claude_version);
  g_hash_table_unref (self->sessions);
  g_ptr_array_unref (self->accounts);
  g_object_unref (self->counters);
  G_OBJECT_CLASS (cf_state_parent_class)->finalize (object);
}

static void
cf_state_class_init (CfStateClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cf_state_finalize;

  /* changed (guint CfStateChange flags) */
  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  /* content-changed: a change that the state file records */
  signals[SIGNAL_CONTENT_CHANGED] =
    g_signal_new ("content-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* session-changed (CfSession *session): state, project or task changed */
  signals[SIGNAL_SESSION_CHANGED] =
    g_signal_new ("session-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
cf_state_init (CfState *self)
{
  self->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) cf_state_session_free);
  self->accounts = g_ptr_array_new_with_free_func ((GDestroyNotify) cf_state_account_free);
  self->counters = cf_counters_new ();
  g_signal_connect_object (self->counters, "totals-changed", G_CALLBACK (on_totals_changed),
                           self, G_CONNECT_SWAPPED);
  swap_journal_clear (&self->swap);
}

CfState *
cf_state_new (void)
{
  return g_object_new (CF_TYPE_STATE, NULL);
}

