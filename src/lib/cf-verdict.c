/* SPDX-License-Identifier: MIT */
#include "cf-verdict.h"

#include <string.h>

/* What one signal says on its own. */
typedef struct {
  CfSessionVerdictKind kind;   /* UNKNOWN: this signal says nothing */
  gboolean ambiguous_429;      /* a 429 whose text tells neither limit nor throttle */
  gint64 reset_unix;
  const char *reason;
  gboolean needs_input;
} Reading;

/* StopFailure / transcript "error" values (CLAUDE-CODE.md), as static
 * strings for the verdict's reason. */
static const char *const auth_errors[] = {
  "authentication_failed", "oauth_org_not_allowed", "account_on_hold", "verification_required",
  "billing_error", NULL,
};
static const char *const server_errors[] = { "server_error", "overloaded", NULL };
static const char *const other_errors[] = {
  "invalid_request", "model_not_found", "max_output_tokens", "cloud_credential_error", "unknown", NULL,
};
static const char *const needs_input_notifications[] = {
  "permission_prompt", "agent_needs_input", "elicitation_dialog", NULL,
};

static const char *
find_static (const char *const *list, const char *value)
{
  for (guint i = 0; value != NULL && list[i] != NULL; i++)
    if (g_str_equal (list[i], value))
      return list[i];
  return NULL;
}

gboolean
cf_verdict_error_is_auth (const char *error)
{
  return find_static (auth_errors, error) != NULL;
}

const char *
cf_session_verdict_kind_to_string (CfSessionVerdictKind kind)
{
  switch (kind)
    {
    case CF_SESSION_VERDICT_UNKNOWN:
      return "unknown";
    case CF_SESSION_VERDICT_IDLE:
      return "idle";
    case CF_SESSION_VERDICT_WORKING:
      return "working";
    case CF_SESSION_VERDICT_NEEDS_INPUT:
      return "needs-input";
    case CF_SESSION_VERDICT_TURN_FAILED:
      return "turn-failed";
    case CF_SESSION_VERDICT_SERVER_ERROR:
      return "server-error";
    case CF_SESSION_VERDICT_THROTTLE:
      return "throttle";
    case CF_SESSION_VERDICT_USAGE_LIMIT:
      return "usage-limit";
    case CF_SESSION_VERDICT_AUTH:
      return "auth";
    default:
      return "invalid";
    }
}

static gboolean
is_error (CfSessionVerdictKind kind)
{
  return kind >= CF_SESSION_VERDICT_TURN_FAILED;
}

/* The text Claude showed for the failed turn, read with the pane's table. */
static gboolean
read_text (const char *text, gint64 now_unix, GTimeZone *zone, Reading *reading)
{
  g_auto(CfPaneVerdict) verdict = { 0 };
  CfPaneContext context = { .now_unix = now_unix, .local_zone = zone, .tail_lines = 8 };

  if (text == NULL || *text == '\0')
    return FALSE;
  cf_pane_classify (text, (gsize) -1, &context, &verdict);
  if (verdict.limit)
    {
      reading->kind = CF_SESSION_VERDICT_USAGE_LIMIT;
      reading->reason = verdict.pattern;
      reading->reset_unix = verdict.reset_at ? g_date_time_to_unix (verdict.reset_at) : 0;
      return TRUE;
    }
  if (verdict.throttle)
    {
      reading->kind = CF_SESSION_VERDICT_THROTTLE;
      reading->reason = verdict.throttle_pattern;
      return TRUE;
    }
  return FALSE;
}

static void
read_rate_limit (const char *text, gint64 now_unix, GTimeZone *zone, Reading *reading)
{
  if (read_text (text, now_unix, zone, reading))
    return;
  reading->kind = CF_SESSION_VERDICT_THROTTLE;
  reading->ambiguous_429 = TRUE;
  reading->reason = "rate_limit";
}

static void
read_error (const char *error, Reading *reading)
{
  const char *known;

  if ((known = find_static (auth_errors, error)) != NULL)
    {
      reading->kind = CF_SESSION_VERDICT_AUTH;
      reading->reason = known;
    }
  else if ((known = find_static (server_errors, error)) != NULL)
    {
      reading->kind = CF_SESSION_VERDICT_SERVER_ERROR;
      reading->reason = known;
    }
  else
    {
      known = find_static (other_errors, error);
      reading->kind = CF_SESSION_VERDICT_TURN_FAILED;
      reading->reason = known ? known : "unknown";
    }
}

static Reading
read_hook (const CfVerdictHook *hook, gint64 now_unix, GTimeZone *zone)
{
  Reading reading = { 0 };
  const char *event = hook ? hook->event : NULL;

  if (event == NULL)
    return reading;
  if (g_str_equal (event, "StopFailure"))
    {
      if (g_strcmp0 (hook->error, "rate_limit") == 0 || g_strcmp0 (hook->error, "rate_limit_error") == 0)
        read_rate_limit (hook->last_assistant_message, now_unix, zone, &reading);
      else if (!cf_verdict_error_is_auth (hook->error)
               && read_text (hook->last_assistant_message, now_unix, zone, &reading))
        ; /* "unknown" error, but the text says limit or throttle */
      else
        read_error (hook->error, &reading);
    }
  else if (g_str_equal (event, "Stop") || g_str_equal (event, "SessionStart"))
    reading.kind = CF_SESSION_VERDICT_IDLE;
  else if (g_str_equal (event, "Notification"))
    {
      if (find_static (needs_input_notifications, hook->notification_type) != NULL)
        {
          reading.kind = CF_SESSION_VERDICT_NEEDS_INPUT;
          reading.needs_input = TRUE;
        }
      else if (g_strcmp0 (hook->notification_type, "idle_prompt") == 0)
        reading.kind = CF_SESSION_VERDICT_IDLE;
      else if (g_strcmp0 (hook->notification_type, "quota_auto_resume_fired") == 0)
        reading.kind = CF_SESSION_VERDICT_WORKING;
    }
  else if (g_str_equal (event, "UserPromptSubmit") || g_str_equal (event, "PreToolUse")
           || g_str_equal (event, "PostToolUse"))
    reading.kind = CF_SESSION_VERDICT_WORKING;
  return reading;
}

static Reading
read_transcript (const CfTranscriptEntry *entry, gint64 now_unix, GTimeZone *zone)
{
  Reading reading = { 0 };

  if (entry == NULL || !entry->assistant || !entry->is_api_error)
    return reading;
  if (cf_verdict_error_is_auth (entry->error))
    read_error (entry->error, &reading);
  else if (g_strcmp0 (entry->api_error, "usage_limit_reached") == 0)
    {
      if (!read_text (entry->text, now_unix, zone, &reading) || reading.kind != CF_SESSION_VERDICT_USAGE_LIMIT)
        {
          reading.kind = CF_SESSION_VERDICT_USAGE_LIMIT;
          reading.reason = "usage_limit_reached";
        }
      if (entry->resets_at > 0)
        reading.reset_unix = entry->resets_at;
    }
  else if (g_strcmp0 (entry->error, "rate_limit") == 0 || entry->api_error_status == 429)
    read_rate_limit (entry->text, now_unix, zone, &reading);
  else if (find_static (server_errors, entry->error) != NULL
           || (entry->error == NULL && entry->api_error_status >= 500 && entry->api_error_status <= 599))
    {
      reading.kind = CF_SESSION_VERDICT_SERVER_ERROR;
      reading.reason = entry->error ? find_static (server_errors, entry->error) : "server_error";
    }
  else
    read_error (entry->error, &reading);
  return reading;
}

static Reading
read_pane (const CfPaneVerdict *pane)
{
  Reading reading = { 0 };

  if (pane == NULL)
    return reading;
  /* After the reset Claude continued by itself: the limit lines above
   * the spinner are the past. */
  if (pane->busy && g_strcmp0 (pane->auto_continue, "fired") == 0)
    reading.kind = CF_SESSION_VERDICT_WORKING;
  else if (pane->limit)
    {
      reading.kind = CF_SESSION_VERDICT_USAGE_LIMIT;
      reading.reason = pane->pattern;
      reading.reset_unix = pane->reset_at ? g_date_time_to_unix (pane->reset_at) : 0;
      reading.needs_input = pane->needs_input;
    }
  else if (pane->needs_input)
    {
      reading.kind = CF_SESSION_VERDICT_NEEDS_INPUT;
      reading.reason = cf_pane_dialog_to_string (pane->dialog_kind);
      reading.needs_input = TRUE;
    }
  else if (pane->busy)
    reading.kind = CF_SESSION_VERDICT_WORKING;
  else if (pane->throttle)
    {
      reading.kind = CF_SESSION_VERDICT_THROTTLE;
      reading.reason = pane->throttle_pattern;
    }
  else if (pane->server_error)
    {
      reading.kind = CF_SESSION_VERDICT_SERVER_ERROR;
      reading.reason = pane->server_error_pattern;
    }
  else if (pane->ready)
    reading.kind = CF_SESSION_VERDICT_IDLE;
  return reading;
}

static gboolean
supports (const Reading *reading, CfSessionVerdictKind kind)
{
  if (reading->ambiguous_429)
    return kind == CF_SESSION_VERDICT_THROTTLE || kind == CF_SESSION_VERDICT_USAGE_LIMIT;
  return reading->kind == kind;
}

void
cf_session_verdict_fuse (const CfVerdictHook *hook,
                         const CfTranscriptEntry *transcript,
                         const CfPaneVerdict *pane,
                         gint64 now_unix,
                         GTimeZone *zone,
                         CfSessionVerdict *out)
{
  /* In the order they are trusted for the outcome of the last turn. */
  Reading readings[3];
  const guint bits[3] = { CF_VERDICT_SOURCE_HOOK, CF_VERDICT_SOURCE_TRANSCRIPT, CF_VERDICT_SOURCE_PANE };
  const Reading *outcome = NULL;
  const Reading *live = &readings[2];
  Reading result = { 0 };

  g_return_if_fail (out != NULL);
  memset (out, 0, sizeof *out);
  readings[0] = read_hook (hook, now_unix, zone);
  readings[1] = read_transcript (transcript, now_unix, zone);
  readings[2] = read_pane (pane);

  /* A limit that has already reset is over. */
  for (guint i = 0; i < G_N_ELEMENTS (readings); i++)
    if (readings[i].kind == CF_SESSION_VERDICT_USAGE_LIMIT && readings[i].reset_unix > 0
        && readings[i].reset_unix <= now_unix)
      memset (&readings[i], 0, sizeof readings[i]);

  /* The account cannot be used, whatever the turn did. */
  for (guint i = 0; i < G_N_ELEMENTS (readings) && outcome == NULL; i++)
    if (readings[i].kind == CF_SESSION_VERDICT_AUTH)
      outcome = &readings[i];
  for (guint i = 0; i < G_N_ELEMENTS (readings) && outcome == NULL; i++)
    if (is_error (readings[i].kind))
      outcome = &readings[i];

  if (outcome != NULL)
    {
      result = *outcome;
      if (outcome->ambiguous_429)
        {
          /* A 429: a limit only if another signal shows one, else a throttle. */
          for (guint i = 0; i < G_N_ELEMENTS (readings); i++)
            if (readings[i].kind == CF_SESSION_VERDICT_USAGE_LIMIT && !readings[i].ambiguous_429)
              {
                result = readings[i];
                break;
              }
          result.ambiguous_429 = FALSE;
        }
      if (result.kind == CF_SESSION_VERDICT_USAGE_LIMIT)
        for (guint i = 0; i < G_N_ELEMENTS (readings) && result.reset_unix == 0; i++)
          if (readings[i].kind == CF_SESSION_VERDICT_USAGE_LIMIT)
            result.reset_unix = readings[i].reset_unix;
      result.needs_input = result.needs_input || live->needs_input;

      /* What the screen shows now: Claude retrying, continuing, or asking. */
      if (result.kind == CF_SESSION_VERDICT_USAGE_LIMIT)
        {
          if (live->kind == CF_SESSION_VERDICT_WORKING && g_strcmp0 (pane->auto_continue, "fired") == 0)
            result = *live;
        }
      else if (result.kind != CF_SESSION_VERDICT_AUTH
               && (live->kind == CF_SESSION_VERDICT_WORKING || live->kind == CF_SESSION_VERDICT_NEEDS_INPUT))
        result = *live;
    }
  else if (live->kind != CF_SESSION_VERDICT_UNKNOWN)
    result = *live;
  else
    result = readings[0];

  out->kind = result.kind;
  out->reset_unix = result.kind == CF_SESSION_VERDICT_USAGE_LIMIT ? result.reset_unix : 0;
  out->reason = is_error (result.kind) || result.kind == CF_SESSION_VERDICT_NEEDS_INPUT ? result.reason : NULL;
  out->needs_input = result.kind == CF_SESSION_VERDICT_NEEDS_INPUT || result.needs_input;
  for (guint i = 0; i < G_N_ELEMENTS (readings); i++)
    {
      if (out->kind != CF_SESSION_VERDICT_UNKNOWN && supports (&readings[i], out->kind))
        out->sources |= bits[i];
      else if (is_error (readings[i].kind) && is_error (out->kind))
        out->conflicting |= bits[i];
    }
}

const char *
cf_verdict_sources_to_string (guint sources)
{
  static const char *const names[8] = {
    "none", "hook", "transcript", "hook,transcript", "pane", "hook,pane", "transcript,pane",
    "hook,transcript,pane",
  };

  return names[sources & 7];
}

char *
cf_session_verdict_describe (const CfSessionVerdict *verdict)
{
  GString *line = g_string_new (cf_session_verdict_kind_to_string (verdict->kind));

  g_string_append_printf (line, " (sources: %s; conflicting: %s", cf_verdict_sources_to_string (verdict->sources),
                          cf_verdict_sources_to_string (verdict->conflicting));
  if (verdict->reason != NULL)
    g_string_append_printf (line, "; reason: %s", verdict->reason);
  if (verdict->reset_unix > 0)
    {
      g_autoptr(GDateTime) reset = g_date_time_new_from_unix_utc (verdict->reset_unix);
      g_autofree char *text = reset ? g_date_time_format_iso8601 (reset) : NULL;

      if (text != NULL)
        g_string_append_printf (line, "; reset: %s", text);
    }
  if (verdict->needs_input)
    g_string_append (line, "; needs input");
  g_string_append_c (line, ')');
  return g_string_free (line, FALSE);
}
