/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the state file the daemon reads on start (it may be
 * truncated, garbage or written by another version): any bytes either load
 * into a state that writes JSON which loads back to the same JSON, or fail
 * with an error and leave the state as it was; never crash, never recurse
 * without bound. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-state-json.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* What was in memory before the file is read. */
static const char before[] =
  "{\"version\":1,\"active_account\":\"a\",\"accounts\":[{\"name\":\"a\",\"exhausted_until\":0}],"
  "\"sessions\":[{\"name\":\"p1\",\"kind\":\"pool\",\"state\":\"idle\"}],"
  "\"counters\":{\"tasks_dispatched\":3}}";

static void
quiet (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* A copy of exactly the input's bytes, so ASan sees any read past it. */
  g_autofree char *copy = size > 0 ? g_memdup2 (data, size) : g_strdup ("");
  g_autoptr(CfState) state = cf_state_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *json_before = NULL;
  g_autofree char *json_after = NULL;
  static gboolean once;

  if (!once)
    {
      g_log_set_default_handler (quiet, NULL);
      once = TRUE;
    }
  g_assert_true (cf_state_from_json (state, before, -1, &error));
  json_before = cf_state_to_json (state);

  if (cf_state_from_json (state, copy, (gssize) size, &error))
    {
      g_autoptr(CfState) again = cf_state_new ();
      g_autofree char *json_again = NULL;

      g_assert_no_error (error);
      json_after = cf_state_to_json (state);
      g_assert_true (g_utf8_validate (json_after, -1, NULL));
      g_assert_true (cf_state_from_json (again, json_after, -1, &error));
      g_assert_no_error (error);
      json_again = cf_state_to_json (again);
      g_assert_cmpstr (json_again, ==, json_after);
    }
  else
    {
      g_assert_nonnull (error);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      json_after = cf_state_to_json (state);
      g_assert_cmpstr (json_after, ==, json_before);
    }
  return 0;
}
