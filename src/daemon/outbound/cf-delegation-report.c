/* SPDX-License-Identifier: MIT */
/* What delegation shows: the JSON of GET /api/delegated/status and its
 * Prometheus families for /metrics. */
#include "cf-delegation-private.h"

/* ---- reports -------------------------------------------------------------------- */

static void
add_time (JsonBuilder *builder, const char *name, gint64 usec)
{
  json_builder_set_member_name (builder, name);
  if (usec <= 0)
    json_builder_add_null_value (builder);
  else
    {
      g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
      g_autofree char *text = time != NULL ? g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ") : NULL;

      if (text != NULL)
        json_builder_add_string_value (builder, text);
      else
        json_builder_add_null_value (builder);
    }
}

static void
add_int (JsonBuilder *builder, const char *name, gint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

static int
compare_jobs (gconstpointer a, gconstpointer b)
{
  const Job *x = *(Job *const *) a;
  const Job *y = *(Job *const *) b;
  int order = strcmp (x->project, y->project);

  return order != 0 ? order : strcmp (x->id, y->id);
}

JsonNode *
cf_delegation_build_status (CfDelegation *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GPtrArray) jobs = g_ptr_array_new ();
  CfDelegationCounts counts;
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (CF_IS_DELEGATION (self), NULL);

  cf_delegation_get_counts (self, &counts);
  g_hash_table_iter_init (&iter, self->jobs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (jobs, value);
  g_ptr_array_sort (jobs, compare_jobs);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "enabled");
  json_builder_add_boolean_value (builder, self->enabled);
  json_builder_set_member_name (builder, "url");
  if (self->client != NULL)
    json_builder_add_string_value (builder, cf_delegate_client_get_display_url (self->client));
  else
    json_builder_add_null_value (builder);
  add_int (builder, "reap_interval_ms", self->config->delegation_reap_interval_usec / 1000);
  add_int (builder, "active", counts.active);
  add_int (builder, "submitting", counts.submitting);
  add_int (builder, "submitted", (gint64) counts.submitted);
  add_int (builder, "completed", (gint64) counts.completed);
  add_int (builder, "failed", (gint64) counts.failed);
  add_int (builder, "fallbacks", (gint64) counts.fallbacks);
  add_time (builder, "last_reap", self->last_reap);
  json_builder_set_member_name (builder, "jobs");
  json_builder_begin_array (builder);
  for (guint i = 0; i < jobs->len; i++)
    {
      const Job *job = g_ptr_array_index (jobs, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "project");
      json_builder_add_string_value (builder, job->project);
      json_builder_set_member_name (builder, "task");
      json_builder_add_string_value (builder, job->id);
      json_builder_set_member_name (builder, "job_id");
      json_builder_add_string_value (builder, job->job_id);
      json_builder_set_member_name (builder, "provider");
      json_builder_add_string_value (builder, job->provider);
      json_builder_set_member_name (builder, "status");
      if (job->status_known)
        json_builder_add_string_value (builder, cf_job_status_to_string (job->status));
      else
        json_builder_add_null_value (builder);
      add_time (builder, "submitted_at", job->submitted_at);
      json_builder_set_member_name (builder, "last_error");
      if (job->last_error != NULL)
        json_builder_add_string_value (builder, job->last_error);
      else
        json_builder_add_null_value (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static void
family (GString *out, const char *name, const char *type, const char *help)
{
  g_string_append_printf (out, "# HELP claude_failover_%s %s\n# TYPE claude_failover_%s %s\n",
                          name, help, name, type);
}

void
cf_delegation_render_metrics (CfDelegation *self, GString *out)
{
  CfDelegationCounts counts;

  g_return_if_fail (CF_IS_DELEGATION (self));

  cf_delegation_get_counts (self, &counts);
  family (out, "delegation_jobs_active", "gauge",
          "Delegated tasks whose remote job is being followed.");
  g_string_append_printf (out, "claude_failover_delegation_jobs_active %u\n", counts.active);
  family (out, "delegation_submissions_in_flight", "gauge",
          "Submissions to the job API in progress.");
  g_string_append_printf (out, "claude_failover_delegation_submissions_in_flight %u\n",
                          counts.submitting);
  family (out, "delegation_jobs_finished_total", "counter",
          "Delegated tasks finished since start, by outcome.");
  g_string_append_printf (out,
                          "claude_failover_delegation_jobs_finished_total{outcome=\"completed\"} %"
                          G_GUINT64_FORMAT "\n"
                          "claude_failover_delegation_jobs_finished_total{outcome=\"failed\"} %"
                          G_GUINT64_FORMAT "\n",
                          counts.completed, counts.failed);
  family (out, "delegation_fallbacks_total", "counter",
          "Tasks given back to a local session after a failed submission, since start.");
  g_string_append_printf (out, "claude_failover_delegation_fallbacks_total %" G_GUINT64_FORMAT "\n",
                          counts.fallbacks);
}
