/* SPDX-License-Identifier: MIT */
/* libFuzzer target for delegation routing: any task file that parses gets a
 * route that obeys ARCHITECTURE.md 4.8 — remote only when delegation is
 * allowed, Claude Code is neither needed nor preferred, and a known remote
 * provider is named, and then exactly that provider — and the route of the
 * parsed fields is the route of the task. The first byte also drives the
 * fields directly, out-of-range values included. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-delegate-route.h"
#include "cf-task.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_route (const CfDelegateFields *fields, CfDelegateRoute route)
{
  gboolean known_provider = fields->preferred_ai == CF_PREFERRED_AI_GPU ||
                            fields->preferred_ai == CF_PREFERRED_AI_GEMINI ||
                            fields->preferred_ai == CF_PREFERRED_AI_CLAUDE_API;
  gboolean remote = !fields->needs_claude_code &&
                    fields->preferred_ai != CF_PREFERRED_AI_CLAUDE_CODE &&
                    fields->allow_delegation && known_provider;

  g_assert_true ((route.provider != NULL) == remote);
  g_assert_true ((route.reason == CF_DELEGATE_REASON_PROVIDER) == remote);
  if (remote)
    g_assert_cmpstr (route.provider, ==, cf_preferred_ai_to_string (fields->preferred_ai));
  if (fields->needs_claude_code)
    g_assert_cmpint (route.reason, ==, CF_DELEGATE_REASON_NEEDS_CLAUDE_CODE);
  g_assert_nonnull (cf_delegate_reason_to_string (route.reason));
  g_assert_nonnull (cf_delegate_reason_describe (route.reason));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(CfTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *copy = size > 0 ? g_memdup2 (data, size) : NULL;

  if (size > 0)
    {
      CfDelegateFields fields = {
        .needs_claude_code = data[0] & 1,
        .allow_delegation = (data[0] >> 1) & 1,
        .preferred_ai = (CfPreferredAi) (data[0] >> 2),
      };
      check_route (&fields, cf_delegate_route (&fields));
    }

  task = cf_task_parse ("fuzz", copy != NULL ? copy : "", size, &error);
  if (task != NULL)
    {
      CfDelegateFields fields = {
        .needs_claude_code = task->needs_claude_code,
        .preferred_ai = task->preferred_ai,
        .allow_delegation = task->allow_delegation,
      };
      CfDelegateRoute route = cf_delegate_route_task (task);
      CfDelegateRoute again = cf_delegate_route (&fields);

      check_route (&fields, route);
      g_assert_cmpint (route.reason, ==, again.reason);
      g_assert_true (route.provider == again.provider);
    }
  else
    g_assert_nonnull (error);
  return 0;
}
