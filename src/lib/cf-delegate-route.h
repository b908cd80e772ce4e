/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "cf-task.h"

G_BEGIN_DECLS

/* Where a task runs: a local Claude Code session, or the remote job API
 * (ARCHITECTURE.md 4.8). Pure: the daemon's delegation manager and
 * `ccl-delegate decide` both call this, so they can never disagree.
 *
 * The first rule that applies decides:
 *
 *   1. needs_claude_code: true          → local
 *   2. preferred_ai: claude-code        → local
 *   3. allow_delegation: false (default)→ local
 *   4. preferred_ai: gpu | gemini | claude-api → remote, that provider
 *   5. anything else                    → local: preferred_ai "auto" (or
 *      absent) names no provider, and a value this version does not know
 *      is never sent anywhere. A task leaves the machine only when its
 *      author allowed it and named where it goes. */

typedef enum {
  CF_DELEGATE_REASON_NEEDS_CLAUDE_CODE,   /* 1 */
  CF_DELEGATE_REASON_PREFERS_CLAUDE_CODE, /* 2 */
  CF_DELEGATE_REASON_NOT_ALLOWED,         /* 3 */
  CF_DELEGATE_REASON_PROVIDER,            /* 4: the only remote outcome */
  CF_DELEGATE_REASON_NO_PROVIDER,         /* 5: auto or absent */
  CF_DELEGATE_REASON_UNKNOWN_PROVIDER,    /* 5: a value this version does not know */
} CfDelegateReason;

/* The frontmatter fields routing reads (cf-task.h). */
typedef struct {
  gboolean needs_claude_code;
  CfPreferredAi preferred_ai;
  gboolean allow_delegation;
} CfDelegateFields;

typedef struct {
  CfDelegateReason reason;
  /* The remote provider ("gpu", "gemini", "claude-api"), a static string;
   * NULL = a local session. Non-NULL exactly when reason is PROVIDER. */
  const char *provider;
} CfDelegateRoute;

CfDelegateRoute cf_delegate_route (const CfDelegateFields *fields);
CfDelegateRoute cf_delegate_route_task (const CfTask *task);

/* The prompt a remote job gets for TASK: the body, after the frontmatter's
 * title and a blank line when the title came from there (a title taken from
 * the body's first heading is already in it). Newly allocated. */
char *cf_delegate_prompt_for_task (const CfTask *task);

/* "needs-claude-code", "prefers-claude-code", "not-allowed", "provider",
 * "no-provider", "unknown-provider": stable, for JSON output and logs. */
const char *cf_delegate_reason_to_string (CfDelegateReason reason);
/* One translated sentence for people, e.g. "allow_delegation is false". */
const char *cf_delegate_reason_describe (CfDelegateReason reason);

G_END_DECLS
