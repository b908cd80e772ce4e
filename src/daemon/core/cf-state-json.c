/* SPDX-License-Identifier: MIT */
/* The state file's format (ARCHITECTURE.md 4.3): CfState to JSON and back.
 * Reading checks everything (the file may be anything) and changes the
 * state only when the whole document was read. */
#include "cf-state-json.h"

#include <string.h>
#include <json-glib/json-glib.h>

#include "cf-json.h"
#include "cf-state-private.h"

/* The state file nests three deep (root, "sessions", a session). */
#define STATE_MAX_DEPTH 8

static const char *const counter_names[] = {
  "tasks_dispatched", "tasks_completed", "tasks_failed", "tasks_delegated",
};
G_STATIC_ASSERT (G_N_ELEMENTS (counter_names) == CF_COUNTER_COUNT);

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
  json_builder_add_string_value (builder, cf_swap_state_to_string (self->swap.step));
  json_builder_set_member_name (builder, "from");
  json_builder_add_string_value (builder, self->swap.from);
  json_builder_set_member_name (builder, "to");
  json_builder_add_string_value (builder, self->swap.to);
  json_builder_set_member_name (builder, "reason");
  json_builder_add_string_value (builder, self->swap.reason);
  json_builder_set_member_name (builder, "partial");
  json_builder_add_boolean_value (builder, self->swap.partial);
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "last_swap");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "when");
  json_builder_add_int_value (builder, self->swap.last_when);
  json_builder_set_member_name (builder, "from");
  json_builder_add_string_value (builder, self->swap.last_from);
  json_builder_set_member_name (builder, "to");
  json_builder_add_string_value (builder, self->swap.last_to);
  json_builder_set_member_name (builder, "reason");
  json_builder_add_string_value (builder, self->swap.last_reason);
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "return_at");
  json_builder_add_int_value (builder, self->swap.return_at);
  json_builder_set_member_name (builder, "dispatch_paused");
  json_builder_add_boolean_value (builder, self->dispatch_paused);
  json_builder_set_member_name (builder, "all_exhausted_until");
  json_builder_add_int_value (builder, self->all_exhausted_until);

  json_builder_set_member_name (builder, "counters");
  json_builder_begin_object (builder);
  for (guint i = 0; i < CF_COUNTER_COUNT; i++)
    {
      json_builder_set_member_name (builder, counter_names[i]);
      json_builder_add_int_value (builder, (gint64) cf_counters_get_lifetime (self->counters, i));
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
  CfSessionKind session_kind;
  CfSessionState session_state;

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
  if (!cf_session_kind_from_string (kind, &session_kind))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "session '%s' has an unknown kind", name);
      return NULL;
    }
  session = cf_state_session_new (name, session_kind);
  if (!cf_session_state_from_string (state, &session_state))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "session '%s' has an unknown state", name);
      cf_state_session_free (session);
      return NULL;
    }
  session->state = session_state;
  if (!read_string (object, "project", &session->project, error) ||
      !read_string (object, "task", &session->task, error) ||
      !read_string (object, "account", &session->account, error) ||
      !read_int (object, "since", &session->since, error) ||
      !read_int (object, "last_fail", &session->last_fail, error) ||
      !read_string (object, "resume_uuid", &session->resume_uuid, error))
    {
      cf_state_session_free (session);
      return NULL;
    }
  return session;
}

gboolean
cf_state_from_json (CfState *self, const char *json, gssize length, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(CfState) scratch = cf_state_new ();
  JsonObject *root, *swap, *last, *counters;
  guint64 totals[CF_COUNTER_COUNT] = { 0 };
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
          !read_string (swap, "from", &scratch->swap.from, &local_error) ||
          !read_string (swap, "to", &scratch->swap.to, &local_error) ||
          !read_string (swap, "reason", &scratch->swap.reason, &local_error) ||
          !read_bool (swap, "partial", &scratch->swap.partial, &local_error))
        goto fail;
      if (step != NULL && !cf_swap_state_from_string (step, &scratch->swap.step))
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
      (!read_int (last, "when", &scratch->swap.last_when, &local_error) ||
       !read_string (last, "from", &scratch->swap.last_from, &local_error) ||
       !read_string (last, "to", &scratch->swap.last_to, &local_error) ||
       !read_string (last, "reason", &scratch->swap.last_reason, &local_error)))
    goto fail;

  if (!read_int (root, "return_at", &scratch->swap.return_at, &local_error) ||
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
      totals[i] = value < 0 ? 0 : (guint64) value;
    }

  /* Commit: swap the scratch content into SELF; SCRATCH frees the old. */
  cf_state_reset_content (self);
  {
    GHashTable *sessions = self->sessions;
    GPtrArray *accounts = self->accounts;
    self->sessions = scratch->sessions;
    self->accounts = scratch->accounts;
    scratch->sessions = sessions;
    scratch->accounts = accounts;
  }
  self->active_account = g_steal_pointer (&scratch->active_account);
  {
    CfSwapJournal journal = self->swap;
    self->swap = scratch->swap;
    scratch->swap = journal;
  }
  self->dispatch_paused = scratch->dispatch_paused;
  self->all_exhausted_until = scratch->all_exhausted_until;
  cf_counters_load_lifetime (self->counters, totals);
  return TRUE;

fail:
  g_propagate_error (error, local_error);
  return FALSE;
}
