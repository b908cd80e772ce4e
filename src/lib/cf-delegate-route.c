/* SPDX-License-Identifier: MIT */
#include "cf-delegate-route.h"

#include <glib/gi18n.h>

static CfDelegateRoute
local (CfDelegateReason reason)
{
  return (CfDelegateRoute) { .reason = reason, .provider = NULL };
}

CfDelegateRoute
cf_delegate_route (const CfDelegateFields *fields)
{
  g_return_val_if_fail (fields != NULL, local (CF_DELEGATE_REASON_NOT_ALLOWED));

  if (fields->needs_claude_code)
    return local (CF_DELEGATE_REASON_NEEDS_CLAUDE_CODE);
  if (fields->preferred_ai == CF_PREFERRED_AI_CLAUDE_CODE)
    return local (CF_DELEGATE_REASON_PREFERS_CLAUDE_CODE);
  if (!fields->allow_delegation)
    return local (CF_DELEGATE_REASON_NOT_ALLOWED);

  switch (fields->preferred_ai)
    {
    case CF_PREFERRED_AI_GPU:
    case CF_PREFERRED_AI_GEMINI:
    case CF_PREFERRED_AI_CLAUDE_API:
      return (CfDelegateRoute) { .reason = CF_DELEGATE_REASON_PROVIDER,
                                 .provider = cf_preferred_ai_to_string (fields->preferred_ai) };
    case CF_PREFERRED_AI_AUTO:
      return local (CF_DELEGATE_REASON_NO_PROVIDER);
    case CF_PREFERRED_AI_CLAUDE_CODE:
    case CF_PREFERRED_AI_OTHER:
    default:
      /* Also any value outside the enumeration: never sent anywhere. */
      return local (CF_DELEGATE_REASON_UNKNOWN_PROVIDER);
    }
}

CfDelegateRoute
cf_delegate_route_task (const CfTask *task)
{
  CfDelegateFields fields;

  g_return_val_if_fail (task != NULL, local (CF_DELEGATE_REASON_NOT_ALLOWED));

  fields.needs_claude_code = task->needs_claude_code;
  fields.preferred_ai = task->preferred_ai;
  fields.allow_delegation = task->allow_delegation;
  return cf_delegate_route (&fields);
}

char *
cf_delegate_prompt_for_task (const CfTask *task)
{
  g_return_val_if_fail (task != NULL, NULL);

  if (task->title_from_frontmatter && *task->body != '\0')
    return g_strdup_printf ("%s\n\n%s", task->title, task->body);
  if (task->title_from_frontmatter)
    return g_strdup (task->title);
  return g_strdup (task->body);
}

static const struct {
  const char *name;
  const char *description;
} reasons[] = {
  [CF_DELEGATE_REASON_NEEDS_CLAUDE_CODE] = { "needs-claude-code", N_("needs_claude_code is true") },
  [CF_DELEGATE_REASON_PREFERS_CLAUDE_CODE] = { "prefers-claude-code",
                                               N_("preferred_ai is claude-code") },
  [CF_DELEGATE_REASON_NOT_ALLOWED] = { "not-allowed",
                                       N_("allow_delegation is false (the default)") },
  [CF_DELEGATE_REASON_PROVIDER] = { "provider", N_("preferred_ai names a remote provider") },
  [CF_DELEGATE_REASON_NO_PROVIDER] = { "no-provider",
                                       N_("preferred_ai names no remote provider (auto)") },
  [CF_DELEGATE_REASON_UNKNOWN_PROVIDER] = { "unknown-provider",
                                            N_("preferred_ai is not a provider this version knows") },
};

const char *
cf_delegate_reason_to_string (CfDelegateReason reason)
{
  if ((guint) reason >= G_N_ELEMENTS (reasons))
    return "unknown-provider";
  return reasons[reason].name;
}

const char *
cf_delegate_reason_describe (CfDelegateReason reason)
{
  if ((guint) reason >= G_N_ELEMENTS (reasons))
    reason = CF_DELEGATE_REASON_UNKNOWN_PROVIDER;
  return _(reasons[reason].description);
}
