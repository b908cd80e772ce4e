/* SPDX-License-Identifier: MIT */
/* libFuzzer target for what a Telegram or Resend server (or anything on the
 * way) answers the notifier: any bytes read into a reply whose detail is
 * absent or UTF-8 without NUL, and whose retry delay is -1 or whole seconds
 * within the documented range; never crash, never recurse without bound. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-notify-reply.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* A copy of exactly the input's bytes, so ASan sees any read past it. */
  g_autofree char *copy = size > 0 ? g_memdup2 (data, size) : NULL;
  CfNotifyReply reply;

  cf_notify_reply_read (copy, size, &reply);
  if (reply.detail != NULL)
    {
      g_assert_true (g_utf8_validate (reply.detail, -1, NULL));
      g_assert_cmpuint (strlen (reply.detail), >, 0);
      /* Either a JSON string of the body or its first characters. */
      g_assert_true (size > CF_NOTIFY_REPLY_MAX ||
                     strlen (reply.detail) <= size);
    }
  g_assert_true (reply.retry_after_ms == -1 ||
                 (reply.retry_after_ms >= 0 && reply.retry_after_ms % 1000 == 0 &&
                  reply.retry_after_ms <= (gint64) G_MAXUINT32 * 1000));
  cf_notify_reply_clear (&reply);
  return 0;
}
