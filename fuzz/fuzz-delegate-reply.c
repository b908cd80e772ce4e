/* SPDX-License-Identifier: MIT */
/* libFuzzer target for what the job API and the disk hand the delegation
 * code: any bytes either read as a job reply (and as a marker) whose fields
 * keep their documented guarantees, or fail with one CF_DELEGATE_ERROR line;
 * never crash, never recurse without bound. A reply that reads also makes a
 * footer (UTF-8, naming the job), and a marker that reads writes JSON that
 * reads back to the same marker. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-delegate-json.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_error (const GError *error, gint code)
{
  g_assert_nonnull (error);
  g_assert_true (error->domain == CF_DELEGATE_ERROR);
  g_assert_cmpint (error->code, ==, code);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_null (strchr (error->message, '\n'));
}

static void
check_job (const CfDelegateJob *job)
{
  g_autofree char *footer = NULL;
  g_autofree char *line = NULL;

  g_assert_true (cf_delegate_job_id_is_valid (job->id));
  g_assert_cmpuint (job->status, <=, CF_JOB_STATUS_FAILED);
  g_assert_true (job->provider == NULL || cf_delegate_provider_is_valid (job->provider));
  for (const char *const *s = (const char *const[]) { job->result, job->cost, job->error, NULL };
       *s != NULL; s++)
    g_assert_true (g_utf8_validate (*s, -1, NULL));
  footer = cf_delegate_footer (job, "gpu", 0);
  g_assert_true (g_utf8_validate (footer, -1, NULL));
  g_assert_nonnull (strstr (footer, job->id));
  line = cf_delegate_one_line (job->error != NULL ? job->error : job->id, 200);
  g_assert_null (strchr (line, '\n'));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* A copy of exactly the input's bytes, so ASan sees any read past it. */
  g_autofree char *copy = size > 0 ? g_memdup2 (data, size) : g_strdup ("");
  g_autoptr(GError) error = NULL;
  g_autoptr(CfDelegateJob) job = cf_delegate_job_parse (copy, size, &error);
  g_autoptr(CfDelegateMarker) marker = NULL;

  if (job != NULL)
    {
      g_assert_no_error (error);
      check_job (job);
    }
  else
    check_error (error, CF_DELEGATE_ERROR_BAD_REPLY);
  g_clear_error (&error);

  marker = cf_delegate_marker_parse (copy, size, &error);
  if (marker != NULL)
    {
      g_autofree char *json = cf_delegate_marker_to_json (marker);
      g_autoptr(CfDelegateMarker) back = cf_delegate_marker_parse (json, strlen (json), &error);

      g_assert_no_error (error);
      g_assert_cmpstr (back->job_id, ==, marker->job_id);
      g_assert_cmpstr (back->provider, ==, marker->provider);
      /* Whole seconds: the marker keeps no fraction. */
      g_assert_cmpint (back->submitted_at_usec, ==,
                       marker->submitted_at_usec - marker->submitted_at_usec % G_USEC_PER_SEC);
    }
  else
    check_error (error, CF_DELEGATE_ERROR_BAD_MARKER);
  return 0;
}
