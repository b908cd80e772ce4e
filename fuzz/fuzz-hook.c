/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the hook payload parser: any bytes either parse into
 * a payload whose fields keep their documented guarantees, or fail with one
 * CF_HOOK_ERROR line; never crash, never recurse without bound. Input layout:
 * the first line is the event argument (an empty line means none: the event
 * comes from the payload), the rest is the hook input.
 * The same JSON also goes through what install-hooks does with settings.json:
 * what the exact check accepts, json-glib reads, and cf_json_to_string ()
 * writes text that is accepted again and rewrites to itself. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-hook-payload.h"
#include "cf-json.h"
#include "cf-pane.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_string (const char *text)
{
  if (text != NULL)
    g_assert_true (g_utf8_validate (text, -1, NULL));
}

static void
check_payload (const CfHookPayload *payload, const char *event_argument)
{
  g_assert_nonnull (payload->event_name);
  g_assert_true (cf_hook_event_name_is_valid (payload->event_name));
  if (event_argument != NULL)
    g_assert_cmpstr (payload->event_name, ==, event_argument);
  g_assert_cmpint (payload->event, ==, cf_hook_event_from_string (payload->event_name));
  g_assert_true (payload->session_id == NULL || cf_uuid_is_valid (payload->session_id));
  check_string (payload->transcript_path);
  check_string (payload->cwd);
  check_string (payload->hook_event_name);
  check_string (payload->error);
  check_string (payload->source);
  check_string (payload->message);
  check_string (payload->prompt);
  if (payload->prompt != NULL)
    g_assert_cmpuint (strlen (payload->prompt), <=, CF_HOOK_PROMPT_MAX);
  g_assert_true (!payload->prompt_truncated || payload->prompt != NULL);
  check_string (payload->last_assistant_message);
  if (payload->last_assistant_message != NULL)
    g_assert_cmpuint (strlen (payload->last_assistant_message), <=, CF_HOOK_PROMPT_MAX);
  if (cf_hook_payload_is_rate_limit (payload))
    {
      g_assert_cmpint (payload->event, ==, CF_HOOK_EVENT_STOP_FAILURE);
      g_assert_nonnull (payload->error);
    }
}

static char *
rewrite (const char *text, gsize length)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();

  if (!json_parser_load_from_data (parser, text, (gssize) length, NULL))
    return NULL;
  return cf_json_to_string (json_parser_get_root (parser));
}

static void
check_rewrite (const char *json, gsize length)
{
  g_autofree char *once = NULL;
  g_autofree char *twice = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_utf8_validate_len (json, length, NULL) ||
      !cf_json_check_syntax (json, length, CF_HOOK_MAX_DEPTH, CF_JSON_CHECK_EXACT, NULL))
    return;
  /* json-glib still refuses \u escapes of lone surrogates. */
  once = rewrite (json, length);
  if (once == NULL)
    return;
  g_assert_true (g_utf8_validate (once, -1, NULL));
  if (!cf_json_check_syntax (once, strlen (once), CF_HOOK_MAX_DEPTH, CF_JSON_CHECK_EXACT, &error))
    g_error ("rewritten JSON refused: %s\n%s", error->message, once);
  twice = rewrite (once, strlen (once));
  g_assert_nonnull (twice);
  g_assert_cmpstr (once, ==, twice);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const uint8_t *newline = memchr (data, '\n', size);
  g_autofree char *event = NULL;
  g_autofree char *json = NULL;
  g_autoptr(CfHookPayload) payload = NULL;
  g_autoptr(GError) error = NULL;
  gsize json_size;

  if (newline == NULL)
    return 0;
  if (newline > data)
    event = g_strndup ((const char *) data, (gsize) (newline - data));
  json_size = size - (gsize) (newline - data) - 1;
  /* A copy of exactly the payload's bytes, so ASan sees any read past it. */
  json = json_size > 0 ? g_memdup2 (newline + 1, json_size) : g_strdup ("");

  if (cf_hook_payload_parse (event, json, json_size, &payload, &error))
    {
      g_assert_no_error (error);
      g_assert_nonnull (payload);
      check_payload (payload, event);
    }
  else
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == CF_HOOK_ERROR);
      g_assert_null (payload);
      g_assert_null (strchr (error->message, '\n'));
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
  check_rewrite (json, json_size);
  return 0;
}
