/* SPDX-License-Identifier: MIT */
#include "cf-state.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "cf-json.h"

/* The state file nests three deep (root, "sessions", a session). */
#define STATE_MAX_DEPTH 8
/* A state file holds tens of sessions: kilobytes. Anything near this is not
 * one of ours. */
#define STATE_FILE_MAX_BYTES (16 * 1024 * 1024)

struct _CfState {
  GObject parent_instance;

  char *path;
  GHashTable *sessions;        /* name → CfSession* */
  GPtrArray *accounts;         /* CfAccountState*, configured order */
  char *active_account;

  CfSwapState swap_step;
  char *swap_from;
  char *swap_to;
  char *swap_reason;
  gboolean partial_swap;
  gint64 last_swap_when;
  char *last_swap_from;
  char *last_swap_to;
  char *last_swap_reason;      /* the journal's reason when the switch completed */
  gint64 return_at;
  gboolean dispatch_paused;    /* by the operator */
  gint64 all_exhausted_until;  /* every account out: dispatch paused until then, 0 = no */
  guint pending_tasks;
  char *claude_version;         /* `claude --version`, "" = unknown; not persisted */
  guint64 counters[CF_COUNTER_COUNT];          /* lifetime totals, persisted */
  guint64 counters_at_start[CF_COUNTER_COUNT]; /* totals when loaded */
  guint64 events[CF_EVENT_COUNT];              /* since start, not persisted */
  char *write_error;           /* last write's failure, NULL when it worked */

  gboolean dirty;
  gboolean write_in_flight;
  guint64 write_count;
  guint64 change_serial;       /* bumped by every persisted change */
  guint64 written_serial;      /* change_serial of the content on disk */
  guint64 in_flight_serial;    /* change_serial of the write in flight */
  GPtrArray *flush_waiters;    /* GTask*, each with its target serial */
  guint debounce_ms;
  guint debounce_id;
  guint periodic_id;
};

enum {
  SIGNAL_CHANGED,
  SIGNAL_SESSION_CHANGED,
  SIGNAL_TASK_DISPATCHED,
  SIGNAL_TASK_FINISHED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CfState, cf_state, G_TYPE_OBJECT)

static const char *const session_kind_names[] = { "pool", "dedicated" };
static const char *const session_state_names[] = {
  "idle", "launching", "working", "stalled", "failed", "dead", "blocked", "needs-input",
};
G_STATIC_ASSERT (G_N_ELEMENTS (session_state_names) == CF_SESSION_STATE_LAST + 1);
static const char *const swap_state_names[] = {
  "normal", "saving", "switching", "resuming", "fallback",
};
static const char *const counter_names[] = {
  "tasks_dispatched", "tasks_completed", "tasks_failed", "tasks_delegated",
};

static gboolean
lookup_name (const char *const *names, guint n, const char *text, guint *out)
{
  for (guint i = 0; text != NULL && i < n; i++)
    if (g_str_equal (names[i], text))
      {
        *out = i;
        return TRUE;
      }
  return FALSE;
}

const char *
cf_session_kind_to_string (CfSessionKind kind)
{
  g_return_val_if_fail ((guint) kind < G_N_ELEMENTS (session_kind_names), "pool");
  return session_kind_names[kind];
}

const char *
cf_session_state_to_string (CfSessionState state)
{
  g_return_val_if_fail ((guint) state < G_N_ELEMENTS (session_state_names), "dead");
  return session_state_names[state];
}

gboolean
cf_session_state_from_string (const char *text, CfSessionState *out)
{
  guint i;

  if (!lookup_name (session_state_names, G_N_ELEMENTS (session_state_names), text, &i))
    return FALSE;
  *out = i;
  return TRUE;
}

gboolean
cf_session_state_holds_task (CfSessionState state)
{
  return state == CF_SESSION_WORKING || state == CF_SESSION_STALLED ||
         state == CF_SESSION_BLOCKED || state == CF_SESSION_NEEDS_INPUT;
}

const char *
cf_swap_state_to_string (CfSwapState state)
{
  g_return_val_if_fail ((guint) state < G_N_ELEMENTS (swap_state_names), "normal");
  return swap_state_names[state];
}

gboolean
cf_swap_state_from_string (const char *text, CfSwapState *out)
{
  guint i;

  if (!lookup_name (swap_state_names, G_N_ELEMENTS (swap_state_names), text, &i))
    return FALSE;
  *out = i;
  return TRUE;
}

static void
session_free (CfSession *session)
{
  g_free (session->name);
  g_free (session->project);
  g_free (session->task);
  g_free (session->account);
  g_free (session->resume_uuid);
  g_free (session->pane_id);
  g_free (session);
}

static CfSession *
session_new (const char *name, CfSessionKind kind)
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

static void
account_state_free (CfAccountState *account)
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

static void schedule_save (CfState *self);

static void
emit_changed (CfState *self, CfStateChange what)
{
  self->dirty = TRUE;
  self->change_serial++;
  schedule_save (self);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, (guint) what);
}

static void
emit_session_changed (CfState *self, CfSession *session)
{
  g_signal_emit (self, signals[SIGNAL_SESSION_CHANGED], 0, session);
  emit_changed (self, CF_STATE_CHANGE_SESSIONS);
}

/* ---- JSON ---------------------------------------------------------------- */

/* "usage": {"five_hour": {"used", "resets_at", "updated", "source"}, "seven_day": {…}};
 * a window never read is left out. */
static void
usage_to_json (JsonBuilder *builder, const CfUsage *usage)
{
  json_builder_set_member_name (builder, "usage");
  json_builder_begin_object (builder);
  for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
    {
      const CfUsageWindow *window = &usage->windows[i];

      if (window->updated == 0)
        continue;
      json_builder_set_member_name (builder, cf_usage_window_kind_to_string (i));
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "used");
      json_builder_add_double_value (builder, window->used);
      json_builder_set_member_name (builder, "resets_at");
      json_builder_add_int_value (builder, window->resets_at);
      json_builder_set_member_name (builder, "updated");
      json_builder_add_int_value (builder, window->updated);
      json_builder_set_member_name (builder, "source");
      json_builder_add_string_value (builder, cf_usage_source_to_string (window->source));
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);
}

char *
cf_state_to_json (CfState *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) sessions = cf_state_list_sessions (self);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, CF_STATE_VERSION);
  json_builder_set_member_name (builder, "active_account");
  json_builder_add_string_value (builder, self->active_account ? self->active_account : "");

  json_builder_set_member_name (builder, "accounts");
  json_builder_begin_array (builder);
  for (guint i = 0; i < self->accounts->len; i++)
    {
      CfAccountState *account = g_ptr_array_index (self->accounts, i);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, account->name);
      json_builder_set_member_name (builder, "exhausted_until");
      json_builder_add_int_value (builder, account->exhausted_until);
      json_builder_set_member_name (builder, "problem");
      json_builder_add_string_value (builder, account->problem ? account->problem : "");
      usage_to_json (builder, &account->usage);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "sessions");
  json_builder_begin_array (builder);
  for (guint i = 0; i < sessions->len; i++)
    {
      CfSession *s = g_ptr_array_index (sessions, i);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, s->name);
      json_builder_set_member_name (builder, "kind");
      json_builder_add_string_value (builder, cf_session_kind_to_string (s->kind));
      json_builder_set_member_name (builder, "state");
      json_builder_add_string_value (builder, cf_session_state_to_string (s->state));
      json_builder_set_member_name (builder, "project");
      json_builder_add_string_value (builder, s->project);
      json_builder_set_member_name (builder, "task");
      json_builder_add_string_value (builder, s->task);
      json_builder_set_member_name (builder, "account");
      json_builder_add_string_value (builder, s->account);
      json_builder_set_member_name (builder, "since");
      json_builder_add_int_value (builder, s->since);
      json_builder_set_member_name (builder, "last_fail");
      json_builder_add_int_value (builder, s->last_fail);
      json_builder_set_member_name (builder, "resume_uuid");
      json_builder_add_string_value (builder, s->resume_uuid);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "swap");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "step");
  json_builder_add_string_value (builder, cf_swap_state_to_string (self->swap_step));
  json_builder_set_member_name (builder, "from");
  json_builder_add_string_value (builder, self->swap_from ? self->swap_from : "");
  json_builder_set_member_name (builder, "to");
  json_builder_add_string_value (builder, self->swap_to ? self->swap_to : "");
  json_builder_set_member_name (builder, "reason");
  json_builder_add_string_value (builder, self->swap_reason ? self->swap_reason : "");
  json_builder_set_member_name (builder, "partial");
  json_builder_add_boolean_value (builder, self->partial_swap);
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "last_swap");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "when");
  json_builder_add_int_value (builder, self->last_swap_when);
  json_builder_set_member_name (builder, "from");
  json_builder_add_string_value (builder, self->last_swap_from ? self->last_swap_from : "");
  json_builder_set_member_name (builder, "to");
  json_builder_add_string_value (builder, self->last_swap_to ? self->last_swap_to : "");
  json_builder_set_member_name (builder, "reason");
  json_builder_add_string_value (builder, self->last_swap_reason ? self->last_swap_reason : "");
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "return_at");
  json_builder_add_int_value (builder, self->return_at);
  json_builder_set_member_name (builder, "dispatch_paused");
  json_builder_add_boolean_value (builder, self->dispatch_paused);
  json_builder_set_member_name (builder, "all_exhausted_until");
  json_builder_add_int_value (builder, self->all_exhausted_until);

  json_builder_set_member_name (builder, "counters");
  json_builder_begin_object (builder);
  for (guint i = 0; i < CF_COUNTER_COUNT; i++)
    {
      json_builder_set_member_name (builder, counter_names[i]);
      json_builder_add_int_value (builder, (gint64) self->counters[i]);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  return cf_json_generate (generator, NULL);
}

/* Typed member readers: a member of the wrong type is an error, an absent
 * member keeps the default (files from older versions lack newer fields). */
static gboolean
read_string (JsonObject *object, const char *member, char **out, GError **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "member '%s' is not a string", member);
      return FALSE;
    }
  g_free (*out);
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
read_int (JsonObject *object, const char *member, gint64 *out, GError **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "member '%s' is not an integer", member);
      return FALSE;
    }
  *out = json_node_get_int (node);
  return TRUE;
}

/* An integer is a number too: a percentage may be written either way. */
static gboolean
read_number (JsonObject *object, const char *member, double *out, GError **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL)
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
    *out = (double) json_node_get_int (node);
  else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_DOUBLE)
    *out = json_node_get_double (node);
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "member '%s' is not a number", member);
      return FALSE;
    }
  return TRUE;
}

/* Files written before usage was tracked have no "usage": all unknown. */
static gboolean
usage_from_json (JsonObject *account, CfUsage *usage, GError **error)
{
  JsonNode *node = json_object_get_member (account, "usage");
  JsonObject *object;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "usage is not an object");
      return FALSE;
    }
  object = json_node_get_object (node);
  for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
    {
      JsonNode *window_node = json_object_get_member (object, cf_usage_window_kind_to_string (i));
      CfUsageWindow *window = &usage->windows[i];
      g_autofree char *source = NULL;

      if (window_node == NULL)
        continue;
      if (!JSON_NODE_HOLDS_OBJECT (window_node))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               "a usage window is not an object");
          return FALSE;
        }
      if (!read_number (json_node_get_object (window_node), "used", &window->used, error) ||
          !read_int (json_node_get_object (window_node), "resets_at", &window->resets_at, error) ||
          !read_int (json_node_get_object (window_node), "updated", &window->updated, error) ||
          !read_string (json_node_get_object (window_node), "source", &source, error))
        return FALSE;
      if (!(window->used >= 0 && window->used <= CF_USAGE_PERCENT_MAX))
        window->used = -1;
      window->resets_at = MAX (window->resets_at, 0);
      window->updated = MAX (window->updated, 0);
      window->source = cf_usage_source_from_string (source);
    }
  return TRUE;
}

static gboolean
read_bool (JsonObject *object, const char *member, gboolean *out, GError **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "member '%s' is not a boolean", member);
      return FALSE;
    }
  *out = json_node_get_boolean (node);
  return TRUE;
}

static JsonObject *
get_object (JsonObject *object, const char *member, GError **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "member '%s' is not an object", member);
      return NULL;
    }
  return json_node_get_object (node);
}

static JsonArray *
get_array (JsonObject *object, const char *member, GError **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "member '%s' is not an array", member);
      return NULL;
    }
  return json_node_get_array (node);
}

static CfSession *
session_from_json (JsonNode *node, GError **error)
{
  g_autofree char *name = NULL;
  g_autofree char *kind = NULL;
  g_autofree char *state = NULL;
  CfSession *session;
  JsonObject *object;
  guint index;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "a session is not an object");
      return NULL;
    }
  object = json_node_get_object (node);
  if (!read_string (object, "name", &name, error) ||
      !read_string (object, "kind", &kind, error) ||
      !read_string (object, "state", &state, error))
    return NULL;
  if (name == NULL || *name == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "a session has no name");
      return NULL;
    }
  if (!lookup_name (session_kind_names, G_N_ELEMENTS (session_kind_names), kind, &index))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "session '%s' has an unknown kind", name);
      return NULL;
    }
  session = session_new (name, index);
  if (!lookup_name (session_state_names, G_N_ELEMENTS (session_state_names), state, &index))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "session '%s' has an unknown state", name);
      session_free (session);
      return NULL;
    }
  session->state = index;
  if (!read_string (object, "project", &session->project, error) ||
      !read_string (object, "task", &session->task, error) ||
      !read_string (object, "account", &session->account, error) ||
      !read_int (object, "since", &session->since, error) ||
      !read_int (object, "last_fail", &session->last_fail, error) ||
      !read_string (object, "resume_uuid", &session->resume_uuid, error))
    {
      session_free (session);
      return NULL;
    }
  return session;
}

static void
reset_content (CfState *self)
{
  g_hash_table_remove_all (self->sessions);
  g_ptr_array_set_size (self->accounts, 0);
  g_clear_pointer (&self->active_account, g_free);
  self->swap_step = CF_SWAP_NORMAL;
  g_clear_pointer (&self->swap_from, g_free);
  g_clear_pointer (&self->swap_to, g_free);
  g_clear_pointer (&self->swap_reason, g_free);
  self->partial_swap = FALSE;
  self->last_swap_when = 0;
  g_clear_pointer (&self->last_swap_from, g_free);
  g_clear_pointer (&self->last_swap_reason, g_free);
  g_clear_pointer (&self->last_swap_to, g_free);
  self->return_at = 0;
  self->dispatch_paused = FALSE;
  self->all_exhausted_until = 0;
  memset (self->counters, 0, sizeof self->counters);
  memset (self->counters_at_start, 0, sizeof self->counters_at_start);
}

gboolean
cf_state_from_json (CfState *self, const char *json, gssize length, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(CfState) scratch = cf_state_new (NULL);
  JsonObject *root, *swap, *last, *counters;
  JsonArray *array;
  gint64 version = 0;
  g_autofree char *step = NULL;
  GError *local_error = NULL;
  const char *invalid = NULL;

  /* The file may be anything: json-glib recurses once per nesting level (a
   * file of '[' overflows the stack) and turns \u escapes of lone
   * surrogates into bytes that are not UTF-8. Only exact, shallow JSON. */
  if (length < 0)
    length = json != NULL ? (gssize) strlen (json) : 0;
  if (length > 0 && memchr (json, '\0', (gsize) length) != NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "the document contains a NUL byte");
      return FALSE;
    }
  if (length > 0 && !g_utf8_validate_len (json, (gsize) length, &invalid))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "the document is not UTF-8 (at byte offset %" G_GSIZE_FORMAT ")",
                   (gsize) (invalid - json));
      return FALSE;
    }
  if (!cf_json_check_syntax (length > 0 ? json : "", (gsize) length, STATE_MAX_DEPTH,
                             CF_JSON_CHECK_EXACT, &local_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the document is not JSON: %s",
                   local_error->message);
      g_clear_error (&local_error);
      return FALSE;
    }
  if (!json_parser_load_from_data (parser, json, length, error))
    return FALSE;
  if (json_parser_get_root (parser) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "the document is not a JSON object");
      return FALSE;
    }
  root = json_node_get_object (json_parser_get_root (parser));
  if (!read_int (root, "version", &version, error))
    return FALSE;
  if (version < 1 || version > CF_STATE_VERSION)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "unsupported state version %" G_GINT64_FORMAT, version);
      return FALSE;
    }

  /* Parse into a scratch store so a half-read file never leaves SELF mixed. */
  if (!read_string (root, "active_account", &scratch->active_account, error))
    return FALSE;

  array = get_array (root, "accounts", &local_error);
  if (local_error != NULL)
    goto fail;
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      CfAccountState *account;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error_literal (&local_error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               "an account is not an object");
          goto fail;
        }
      account = g_new0 (CfAccountState, 1);
      g_ptr_array_add (scratch->accounts, account);
      cf_usage_init (&account->usage);
      if (!read_string (json_node_get_object (node), "name", &account->name, &local_error) ||
          !read_int (json_node_get_object (node), "exhausted_until", &account->exhausted_until,
                     &local_error) ||
          !read_string (json_node_get_object (node), "problem", &account->problem,
                        &local_error) ||
          !usage_from_json (json_node_get_object (node), &account->usage, &local_error))
        goto fail;
      if (account->name == NULL)
        {
          g_set_error_literal (&local_error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               "an account has no name");
          goto fail;
        }
    }

  array = get_array (root, "sessions", &local_error);
  if (local_error != NULL)
    goto fail;
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      CfSession *session = session_from_json (json_array_get_element (array, i), &local_error);
      if (session == NULL)
        goto fail;
      g_hash_table_replace (scratch->sessions, session->name, session);
    }

  swap = get_object (root, "swap", &local_error);
  if (local_error != NULL)
    goto fail;
  if (swap != NULL)
    {
      if (!read_string (swap, "step", &step, &local_error) ||
          !read_string (swap, "from", &scratch->swap_from, &local_error) ||
          !read_string (swap, "to", &scratch->swap_to, &local_error) ||
          !read_string (swap, "reason", &scratch->swap_reason, &local_error) ||
          !read_bool (swap, "partial", &scratch->partial_swap, &local_error))
        goto fail;
      if (step != NULL && !cf_swap_state_from_string (step, &scratch->swap_step))
        {
          g_set_error (&local_error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "unknown swap step '%s'", step);
          goto fail;
        }
    }

  last = get_object (root, "last_swap", &local_error);
  if (local_error != NULL)
    goto fail;
  if (last != NULL &&
      (!read_int (last, "when", &scratch->last_swap_when, &local_error) ||
       !read_string (last, "from", &scratch->last_swap_from, &local_error) ||
       !read_string (last, "to", &scratch->last_swap_to, &local_error) ||
       !read_string (last, "reason", &scratch->last_swap_reason, &local_error)))
    goto fail;

  if (!read_int (root, "return_at", &scratch->return_at, &local_error) ||
      !read_bool (root, "dispatch_paused", &scratch->dispatch_paused, &local_error) ||
      !read_int (root, "all_exhausted_until", &scratch->all_exhausted_until, &local_error))
    goto fail;

  counters = get_object (root, "counters", &local_error);
  if (local_error != NULL)
    goto fail;
  for (guint i = 0; counters != NULL && i < CF_COUNTER_COUNT; i++)
    {
      gint64 value = 0;
      if (!read_int (counters, counter_names[i], &value, &local_error))
        goto fail;
      scratch->counters[i] = value < 0 ? 0 : (guint64) value;
    }

  /* Commit: swap the scratch content into SELF; SCRATCH frees the old. */
  reset_content (self);
  {
    GHashTable *sessions = self->sessions;
    GPtrArray *accounts = self->accounts;
    self->sessions = scratch->sessions;
    self->accounts = scratch->accounts;
    scratch->sessions = sessions;
    scratch->accounts = accounts;
  }
  self->active_account = g_steal_pointer (&scratch->active_account);
  self->swap_step = scratch->swap_step;
  self->swap_from = g_steal_pointer (&scratch->swap_from);
  self->swap_to = g_steal_pointer (&scratch->swap_to);
  self->swap_reason = g_steal_pointer (&scratch->swap_reason);
  self->partial_swap = scratch->partial_swap;
  self->last_swap_when = scratch->last_swap_when;
  self->last_swap_from = g_steal_pointer (&scratch->last_swap_from);
  self->last_swap_to = g_steal_pointer (&scratch->last_swap_to);
  self->last_swap_reason = g_steal_pointer (&scratch->last_swap_reason);
  self->return_at = scratch->return_at;
  self->dispatch_paused = scratch->dispatch_paused;
  self->all_exhausted_until = scratch->all_exhausted_until;
  memcpy (self->counters, scratch->counters, sizeof self->counters);
  memcpy (self->counters_at_start, scratch->counters, sizeof self->counters);
  return TRUE;

fail:
  g_propagate_error (error, local_error);
  return FALSE;
}

/* ---- persistence ------------------------------------------------------- */

static gboolean
write_file (const char *path, const char *contents, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "cannot create %s: %s", dir, g_strerror (saved_errno));
      return FALSE;
    }
  return g_file_set_contents_full (path, contents, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                   0600, error);
}

static void
set_write_error (CfState *self, const char *message)
{
  if (g_strcmp0 (self->write_error, message) == 0)
    return;
  /* Logged when it changes, not at every retry (a full disk retries often). */
  if (message == NULL)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "CF_STATE_FILE", self->path,
                      "MESSAGE", "State file %s written again", self->path);
  else
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "CF_STATE_FILE", self->path,
                      "MESSAGE", "Cannot write state file %s: %s", self->path, message);
  g_free (self->write_error);
  self->write_error = g_strdup (message);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, (guint) CF_STATE_CHANGE_PERSISTENCE);
}

/* PATH.corrupt-<seconds since the epoch>, or PATH.corrupt-<seconds>.<n> when
 * that name is taken (a second corrupt file within the same second): a copy
 * kept for the operator is never overwritten. */
static char *
quarantine_path (const char *path)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  char *aside = g_strdup_printf ("%s.corrupt-%" G_GINT64_FORMAT, path, now);
  GStatBuf buf;

  for (guint n = 2; g_lstat (aside, &buf) == 0 && n < 10000; n++)
    {
      g_free (aside);
      aside = g_strdup_printf ("%s.corrupt-%" G_GINT64_FORMAT ".%u", path, now, n);
    }
  return aside;
}

gboolean
cf_state_load (CfState *self, char **quarantined_to, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize length = 0;
  GStatBuf st;
  gboolean stat_ok;

  g_return_val_if_fail (CF_IS_STATE (self), FALSE);
  if (quarantined_to != NULL)
    *quarantined_to = NULL;
  if (self->path == NULL)
    return TRUE;

  /* Not read at all: a FIFO would block the start, a huge file eat memory. */
  stat_ok = g_stat (self->path, &st) == 0;
  if (stat_ok && !S_ISREG (st.st_mode))
    g_set_error_literal (&local_error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "not a regular file");
  else if (stat_ok && st.st_size > STATE_FILE_MAX_BYTES)
    g_set_error (&local_error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "%lld bytes, more than a state file can be (%d)", (long long) st.st_size,
                 STATE_FILE_MAX_BYTES);
  else if (!g_file_get_contents (self->path, &contents, &length, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  if (local_error != NULL || !cf_state_from_json (self, contents, length, &local_error))
    {
      g_autofree char *aside = quarantine_path (self->path);
      if (g_rename (self->path, aside) < 0)
        {
          int saved_errno = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "state file %s is corrupt (%s) and cannot be moved aside: %s",
                       self->path, local_error->message, g_strerror (saved_errno));
          return FALSE;
        }
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "CF_STATE_FILE", self->path,
                        "MESSAGE", "State file %s is corrupt (%s); moved aside to %s, starting clean",
                        self->path, local_error->message, aside);
      reset_content (self);
      if (quarantined_to != NULL)
        *quarantined_to = g_steal_pointer (&aside);
      self->dirty = TRUE;
    }
  return TRUE;
}

gboolean
cf_state_save_sync (CfState *self, GError **error)
{
  g_autofree char *json = NULL;

  g_return_val_if_fail (CF_IS_STATE (self), FALSE);
  if (self->path == NULL)
    return TRUE;
  json = cf_state_to_json (self);
  if (!write_file (self->path, json, error))
    return FALSE;
  self->dirty = FALSE;
  self->write_count++;
  self->written_serial = self->change_serial;
  set_write_error (self, NULL);
  return TRUE;
}

typedef struct {
  char *path;
  char *json;
} WriteJob;

static void
write_job_free (WriteJob *job)
{
  g_free (job->path);
  g_free (job->json);
  g_free (job);
}

static void
write_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WriteJob *job = task_data;
  GError *error = NULL;

  if (write_file (job->path, job->json, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void save_now (CfState *self);

/* Completes the flush waiters whose content is on disk; with ERROR, all of
 * those still waiting fail. */
static void
complete_waiters (CfState *self, const GError *error)
{
  for (guint i = 0; i < self->flush_waiters->len; )
    {
      GTask *task = g_ptr_array_index (self->flush_waiters, i);
      guint64 target = *(guint64 *) g_task_get_task_data (task);

      if (error == NULL && target > self->written_serial)
        {
          i++;
          continue;
        }
      g_ptr_array_steal_index (self->flush_waiters, i);
      if (error != NULL)
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
}

static void
write_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CfState *self = CF_STATE (source);
  g_autoptr(GError) error = NULL;

  self->write_in_flight = FALSE;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      /* Stay dirty: the periodic flush retries (e.g. after disk full). */
      self->dirty = TRUE;
      set_write_error (self, error->message);
      complete_waiters (self, error);
      return;
    }
  self->write_count++;
  self->written_serial = self->in_flight_serial;
  set_write_error (self, NULL);
  complete_waiters (self, NULL);
  if (self->dirty && self->flush_waiters->len > 0)
    save_now (self);
  else if (self->dirty)
    schedule_save (self);
}

static void
save_now (CfState *self)
{
  g_autoptr(GTask) task = NULL;
  WriteJob *job;

  if (self->path == NULL || self->write_in_flight || !self->dirty)
    return;
  job = g_new0 (WriteJob, 1);
  job->path = g_strdup (self->path);
  job->json = cf_state_to_json (self);
  self->dirty = FALSE;
  self->write_in_flight = TRUE;
  self->in_flight_serial = self->change_serial;
  task = g_task_new (self, NULL, write_done, NULL);
  g_task_set_source_tag (task, save_now);
  g_task_set_task_data (task, job, (GDestroyNotify) write_job_free);
  g_task_run_in_thread (task, write_in_thread);
}

static gboolean
debounce_fired (gpointer user_data)
{
  CfState *self = user_data;

  self->debounce_id = 0;
  save_now (self);
  return G_SOURCE_REMOVE;
}

static gboolean
periodic_fired (gpointer user_data)
{
  save_now (user_data);
  return G_SOURCE_CONTINUE;
}

static void
schedule_save (CfState *self)
{
  /* Not reset by later changes: a change is on disk within debounce_ms
   * (plus one write) however busy the daemon is. */
  if (self->debounce_ms == 0 || self->debounce_id != 0 || self->write_in_flight)
    return;
  self->debounce_id = g_timeout_add (self->debounce_ms, debounce_fired, self);
}

void
cf_state_enable_autosave (CfState *self, guint debounce_ms, guint period_ms)
{
  g_return_if_fail (CF_IS_STATE (self));
  self->debounce_ms = MAX (debounce_ms, 1);
  g_clear_handle_id (&self->periodic_id, g_source_remove);
  if (period_ms > 0)
    self->periodic_id = g_timeout_add (period_ms, periodic_fired, self);
  if (self->dirty)
    schedule_save (self);
}

void
cf_state_flush_async (CfState *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                      gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  guint64 *target = g_new (guint64, 1);

  g_task_set_source_tag (task, cf_state_flush_async);
  *target = self->change_serial;
  g_task_set_task_data (task, target, g_free);
  if (self->path == NULL || *target <= self->written_serial)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_ptr_array_add (self->flush_waiters, g_steal_pointer (&task));
  /* Now, not after the debounce: the caller waits on it. */
  g_clear_handle_id (&self->debounce_id, g_source_remove);
  save_now (self);
}

gboolean
cf_state_flush_finish (CfState *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
cf_state_is_dirty (CfState *self)
{
  return self->dirty || self->write_in_flight;
}

guint64
cf_state_get_write_count (CfState *self)
{
  return self->write_count;
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
  session = session_new (name, kind);
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
cf_state_set_session_account (CfState *self, const char *name, const char *account)
{
  CfSession *session = g_hash_table_lookup (self->sessions, name);

  g_return_if_fail (session != NULL);
  if (replace_string (&session->account, account))
    emit_session_changed (self, session);
}

void
cf_state_set_session_resume_uuid (CfState *self, const char *name, const char *uuid)
{
  CfSession *session = g_hash_table_lookup (self->sessions, name);

  g_return_if_fail (session != NULL);
  /* Not a D-Bus property: persisted, but no SessionChanged. */
  if (replace_string (&session->resume_uuid, uuid))
    {
      self->dirty = TRUE;
      schedule_save (self);
    }
}

void
cf_state_mark_session_failed (CfState *self, const char *name, gint64 when)
{
  CfSession *session = g_hash_table_lookup (self->sessions, name);

  g_return_if_fail (session != NULL);
  session->last_fail = when;
  self->dirty = TRUE;
  schedule_save (self);
}

void
cf_state_set_session_pane (CfState *self, const char *name, const char *pane_id)
{
  CfSession *session = g_hash_table_lookup (self->sessions, name);

  g_return_if_fail (session != NULL);
  replace_string (&session->pane_id, pane_id);
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

void
cf_state_task_dispatched (CfState *self, const char *project, const char *task,
                          const char *session, const char *model, const char *account)
{
  self->counters[CF_COUNTER_DISPATCHED]++;
  g_signal_emit (self, signals[SIGNAL_TASK_DISPATCHED], 0, project, task, session, model, account);
  emit_changed (self, CF_STATE_CHANGE_COUNTERS);
}

static const char *const outcome_names[] = {
  [CF_EVENT_TASK_DONE] = "done",
  [CF_EVENT_TASK_FAILED] = "failed",
  [CF_EVENT_TASK_REQUEUED] = "requeued",
  [CF_EVENT_TASK_TIMEOUT] = "timeout",
  [CF_EVENT_TASK_CANCELLED] = "cancelled",
  [CF_EVENT_TASK_DELEGATED_DONE] = "delegated-done",
  [CF_EVENT_TASK_DELEGATED_FAILED] = "delegated-failed",
};

void
cf_state_task_finished (CfState *self, const char *project, const char *task,
                        const char *session, const char *outcome)
{
  guint event;

  if (lookup_name (outcome_names, G_N_ELEMENTS (outcome_names), outcome, &event))
    self->events[event]++;
  if (g_str_equal (outcome, "done") || g_str_equal (outcome, "delegated-done"))
    self->counters[CF_COUNTER_COMPLETED]++;
  else if (g_str_equal (outcome, "failed") || g_str_equal (outcome, "delegated-failed"))
    self->counters[CF_COUNTER_FAILED]++;
  g_signal_emit (self, signals[SIGNAL_TASK_FINISHED], 0, project, task, session, outcome);
  emit_changed (self, CF_STATE_CHANGE_COUNTERS);
}

/* ---- accounts and swap --------------------------------------------------- */

void
cf_state_sync_accounts (CfState *self, const char *const *names)
{
  g_autoptr(GPtrArray) next = g_ptr_array_new_with_free_func ((GDestroyNotify) account_state_free);
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

CfSwapState
cf_state_get_swap_state (CfState *self)
{
  return self->swap_step;
}

void
cf_state_set_swap_journal (CfState *self, CfSwapState step, const char *from, const char *to)
{
  gboolean changed = self->swap_step != step;

  self->swap_step = step;
  changed |= replace_string (&self->swap_from, from);
  changed |= replace_string (&self->swap_to, to);
  if (changed)
    emit_changed (self, CF_STATE_CHANGE_SWAP_STATE);
}

gboolean
cf_swap_state_in_progress (CfSwapState state)
{
  return state == CF_SWAP_SAVING || state == CF_SWAP_SWITCHING || state == CF_SWAP_RESUMING;
}

const char *
cf_state_get_swap_reason (CfState *self)
{
  return self->swap_reason ? self->swap_reason : "";
}

void
cf_state_set_swap_reason (CfState *self, const char *reason)
{
  if (replace_string (&self->swap_reason, reason))
    emit_changed (self, CF_STATE_CHANGE_SWAP_STATE);
}

const char *
cf_state_get_swap_from (CfState *self)
{
  return self->swap_from ? self->swap_from : "";
}

const char *
cf_state_get_swap_to (CfState *self)
{
  return self->swap_to ? self->swap_to : "";
}

gboolean
cf_state_get_partial_swap (CfState *self)
{
  return self->partial_swap;
}

void
cf_state_set_partial_swap (CfState *self, gboolean partial)
{
  if (self->partial_swap == !!partial)
    return;
  self->partial_swap = !!partial;
  emit_changed (self, CF_STATE_CHANGE_PARTIAL_SWAP);
}

void
cf_state_get_last_swap (CfState *self, gint64 *when, const char **from, const char **to)
{
  *when = self->last_swap_when;
  *from = self->last_swap_from ? self->last_swap_from : "";
  *to = self->last_swap_to ? self->last_swap_to : "";
}

void
cf_state_set_last_swap (CfState *self, gint64 when, const char *from, const char *to)
{
  gboolean changed = self->last_swap_when != when;

  self->last_swap_when = when;
  changed |= replace_string (&self->last_swap_from, from);
  changed |= replace_string (&self->last_swap_to, to);
  changed |= replace_string (&self->last_swap_reason, self->swap_reason);
  if (changed)
    emit_changed (self, CF_STATE_CHANGE_LAST_SWAP);
}

const char *
cf_state_get_last_swap_reason (CfState *self)
{
  return self->last_swap_reason ? self->last_swap_reason : "";
}

gint64
cf_state_get_return_at (CfState *self)
{
  return self->return_at;
}

void
cf_state_set_return_at (CfState *self, gint64 when)
{
  if (self->return_at == when)
    return;
  self->return_at = when;
  emit_changed (self, CF_STATE_CHANGE_RETURN_AT);
}

gboolean
cf_state_get_dispatch_paused (CfState *self)
{
  return self->dispatch_paused || self->all_exhausted_until != 0;
}

gboolean
cf_state_get_operator_paused (CfState *self)
{
  return self->dispatch_paused;
}

void
cf_state_set_dispatch_paused (CfState *self, gboolean paused)
{
  if (self->dispatch_paused == !!paused)
    return;
  self->dispatch_paused = !!paused;
  emit_changed (self, CF_STATE_CHANGE_DISPATCH_PAUSED);
}

gint64
cf_state_get_all_exhausted_until (CfState *self)
{
  return self->all_exhausted_until;
}

void
cf_state_set_all_exhausted_until (CfState *self, gint64 until)
{
  if (self->all_exhausted_until == until)
    return;
  self->all_exhausted_until = MAX (until, 0);
  emit_changed (self, CF_STATE_CHANGE_DISPATCH_PAUSED);
}

guint
cf_state_get_pending_tasks (CfState *self)
{
  return self->pending_tasks;
}

void
cf_state_set_pending_tasks (CfState *self, guint count)
{
  if (self->pending_tasks == count)
    return;
  self->pending_tasks = count;
  /* Derived from the inboxes, not persisted: no save needed. */
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, (guint) CF_STATE_CHANGE_PENDING_TASKS);
}

const char *
cf_state_get_claude_version (CfState *self)
{
  return self->claude_version != NULL ? self->claude_version : "";
}

void
cf_state_set_claude_version (CfState *self, const char *version)
{
  if (g_strcmp0 (cf_state_get_claude_version (self), version != NULL ? version : "") == 0)
    return;
  g_free (self->claude_version);
  self->claude_version = g_strdup (version);
  /* Asked of the program at start and Reload, not persisted: no save needed. */
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, (guint) CF_STATE_CHANGE_CLAUDE_VERSION);
}

guint64
cf_state_get_counter (CfState *self, CfCounter counter)
{
  g_return_val_if_fail ((guint) counter < CF_COUNTER_COUNT, 0);
  return self->counters[counter] - self->counters_at_start[counter];
}

void
cf_state_increment_counter (CfState *self, CfCounter counter)
{
  g_return_if_fail ((guint) counter < CF_COUNTER_COUNT);
  self->counters[counter]++;
  emit_changed (self, CF_STATE_CHANGE_COUNTERS);
}

void
cf_state_count_event (CfState *self, CfEvent event)
{
  g_return_if_fail ((guint) event < CF_EVENT_COUNT);
  self->events[event]++;
}

guint64
cf_state_get_event_count (CfState *self, CfEvent event)
{
  g_return_val_if_fail ((guint) event < CF_EVENT_COUNT, 0);
  return self->events[event];
}

const char *
cf_state_get_write_error (CfState *self)
{
  return self->write_error;
}

/* ---- GObject ------------------------------------------------------------ */

static void
cf_state_finalize (GObject *object)
{
  CfState *self = CF_STATE (object);

  g_clear_handle_id (&self->debounce_id, g_source_remove);
  g_clear_handle_id (&self->periodic_id, g_source_remove);
  g_ptr_array_unref (self->flush_waiters);
  reset_content (self);
  g_free (self->write_error);
  g_free (self->claude_version);
  g_hash_table_unref (self->sessions);
  g_ptr_array_unref (self->accounts);
  g_free (self->path);
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
  /* session-changed (CfSession *session): state, project or task changed */
  signals[SIGNAL_SESSION_CHANGED] =
    g_signal_new ("session-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_TASK_DISPATCHED] =
    g_signal_new ("task-dispatched", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 5, G_TYPE_STRING, G_TYPE_STRING,
                  G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_TASK_FINISHED] =
    g_signal_new ("task-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_STRING,
                  G_TYPE_STRING, G_TYPE_STRING);
}

static void
cf_state_init (CfState *self)
{
  self->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) session_free);
  self->accounts = g_ptr_array_new_with_free_func ((GDestroyNotify) account_state_free);
  self->flush_waiters = g_ptr_array_new ();
}

CfState *
cf_state_new (const char *path)
{
  CfState *self = g_object_new (CF_TYPE_STATE, NULL);

  self->path = g_strdup (path);
  return self;
}
