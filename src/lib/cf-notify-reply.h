/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What the notifier keeps of an HTTP reply body from the Telegram Bot API or
 * Resend, pure. Any bytes are read; nothing is trusted:
 *
 *   {"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5",
 *    "parameters":{"retry_after":5}}                                  (Telegram)
 *   {"statusCode":422,"message":"Invalid `to` field","name":"validation_error"}
 *                                                                     (Resend)
 *
 * The body is parsed as JSON only when it is at most CF_NOTIFY_REPLY_MAX
 * bytes of UTF-8 without NUL, one RFC 8259 value nested at most
 * CF_NOTIFY_REPLY_MAX_DEPTH deep (json-glib recurses once per level). */

#define CF_NOTIFY_REPLY_MAX (64 * 1024)
#define CF_NOTIFY_REPLY_MAX_DEPTH 32
/* Characters of the body kept as the detail when it has no JSON reason. */
#define CF_NOTIFY_REPLY_SNIPPET 200

typedef struct {
  /* The first string among "description" (Telegram), "message" (Resend)
   * and "error" of a JSON object; else the start of the body (at most
   * CF_NOTIFY_REPLY_SNIPPET characters) when it is UTF-8; else NULL.
   * Always valid UTF-8 without NUL when set; not yet scrubbed of secrets. */
  char *detail;
  /* Telegram's "parameters": {"retry_after": N} as milliseconds, N a whole
   * number of seconds from 0 to G_MAXUINT32; -1 when absent or unusable. */
  gint64 retry_after_ms;
} CfNotifyReply;

/* Reads the SIZE bytes of DATA (need not be NUL-terminated; NULL when SIZE
 * is 0) into *OUT, which the caller clears with cf_notify_reply_clear. */
void cf_notify_reply_read (const char *data, gsize size, CfNotifyReply *out);
void cf_notify_reply_clear (CfNotifyReply *reply);

G_END_DECLS
