/* SPDX-License-Identifier: MIT */
/* cf_notify_reply_read: what the notifier keeps of a Telegram or Resend
 * error reply, for every kind of body a broken or hostile server can send. */
#include <glib.h>
#include <string.h>

#include "cf-notify-reply.h"

typedef struct {
  const char *name;
  const char *body;
  gssize size;                 /* -1: strlen (body) */
  const char *detail;          /* exact, or NULL */
  gint64 retry_after_ms;
} Case;

static const Case cases[] = {
  { "telegram-429",
    "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 5\","
    "\"parameters\":{\"retry_after\":5}}", -1, "Too Many Requests: retry after 5", 5000 },
  { "telegram-400", "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}",
    -1, "Bad Request: chat not found", -1 },
  { "resend-422", "{\"statusCode\":422,\"message\":\"Invalid `to` field\",\"name\":\"validation_error\"}",
    -1, "Invalid `to` field", -1 },
  { "error-member", "{\"error\":\"boom\"}", -1, "boom", -1 },
  { "description-wins", "{\"error\":\"e\",\"message\":\"m\",\"description\":\"d\"}", -1, "d", -1 },
  { "non-string-description-skipped", "{\"description\":42,\"message\":\"m\"}", -1, "m", -1 },
  { "empty-string-skipped", "{\"description\":\"\",\"message\":\"m\"}", -1, "m", -1 },
  { "object-without-reason", "{\"ok\":false}", -1, "{\"ok\":false}", -1 },
  { "retry-after-zero", "{\"parameters\":{\"retry_after\":0}}", -1,
    "{\"parameters\":{\"retry_after\":0}}", 0 },
  { "retry-after-negative", "{\"description\":\"x\",\"parameters\":{\"retry_after\":-5}}", -1, "x", -1 },
  { "retry-after-huge", "{\"description\":\"x\",\"parameters\":{\"retry_after\":4294967296}}", -1,
    "x", -1 },
  { "retry-after-max", "{\"description\":\"x\",\"parameters\":{\"retry_after\":4294967295}}", -1,
    "x", G_GINT64_CONSTANT (4294967295000) },
  { "retry-after-beyond-int64", "{\"description\":\"x\",\"parameters\":{\"retry_after\":99999999999999999999}}",
    -1, "x", -1 },
  { "retry-after-string", "{\"description\":\"x\",\"parameters\":{\"retry_after\":\"5\"}}", -1, "x", -1 },
  { "retry-after-double", "{\"description\":\"x\",\"parameters\":{\"retry_after\":1.5}}", -1, "x", -1 },
  { "parameters-array", "{\"description\":\"x\",\"parameters\":[5]}", -1, "x", -1 },
  { "top-level-array", "[\"description\"]", -1, "[\"description\"]", -1 },
  { "html", "<html><body>502 Bad Gateway</body></html>", -1,
    "<html><body>502 Bad Gateway</body></html>", -1 },
  { "empty", "", 0, NULL, -1 },
  { "latin1", "caf\xe9 cr\xe8me", -1, NULL, -1 },
  { "nul-inside", "{\"description\":\"a\"}\0junk", 25, NULL, -1 },
  /* json-glib either refuses a lone surrogate or hands back bytes that are
   * not UTF-8: the reply is shown as it came, never those bytes. */
  { "lone-surrogate-description", "{\"description\":\"\\udc00\"}", -1,
    "{\"description\":\"\\udc00\"}", -1 },
  /* \u0000 ends json-glib's C string: the text before it is kept. */
  { "nul-escape", "{\"description\":\"ab\\u0000cd\"}", -1, "ab", -1 },
  /* json-glib also reads comments and trailing data; the reply is not JSON. */
  { "comment", "{\"description\":\"d\"} // c", -1, "{\"description\":\"d\"} // c", -1 },
  { "trailing-comma", "{\"description\":\"d\",}", -1, "{\"description\":\"d\",}", -1 },
  { "single-quotes", "{'description':'d'}", -1, "{'description':'d'}", -1 },
  { "duplicate-key-last-wins", "{\"description\":\"a\",\"description\":\"b\"}", -1, "b", -1 },
};

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  gsize size = c->size < 0 ? strlen (c->body) : (gsize) c->size;
  /* An exact-size copy so a read past the end is caught under ASan. */
  g_autofree char *copy = size > 0 ? g_memdup2 (c->body, size) : NULL;
  CfNotifyReply reply;

  cf_notify_reply_read (copy, size, &reply);
  g_assert_cmpstr (reply.detail, ==, c->detail);
  g_assert_cmpint (reply.retry_after_ms, ==, c->retry_after_ms);
  cf_notify_reply_clear (&reply);
  g_assert_null (reply.detail);
}

/* 64 KiB of '[': json-glib would recurse once per bracket. */
static void
test_deep_nesting (void)
{
  gsize size = CF_NOTIFY_REPLY_MAX;
  g_autofree char *body = g_malloc (size);
  CfNotifyReply reply;

  memset (body, '[', size);
  cf_notify_reply_read (body, size, &reply);
  /* Not JSON that can be read: the start of the body is the detail. */
  g_assert_cmpuint (g_utf8_strlen (reply.detail, -1), ==, CF_NOTIFY_REPLY_SNIPPET);
  g_assert_cmpint (reply.retry_after_ms, ==, -1);
  cf_notify_reply_clear (&reply);

  /* Just within the bound, the reason is read. */
  {
    GString *text = g_string_new ("{\"description\":\"deep\",\"x\":");
    for (guint i = 0; i < CF_NOTIFY_REPLY_MAX_DEPTH - 1; i++)
      g_string_append_c (text, '[');
    for (guint i = 0; i < CF_NOTIFY_REPLY_MAX_DEPTH - 1; i++)
      g_string_append_c (text, ']');
    g_string_append_c (text, '}');
    cf_notify_reply_read (text->str, text->len, &reply);
    g_assert_cmpstr (reply.detail, ==, "deep");
    cf_notify_reply_clear (&reply);
    g_string_free (text, TRUE);
  }
}

/* Larger than CF_NOTIFY_REPLY_MAX: not parsed, only its start is kept. */
static void
test_too_large (void)
{
  GString *text = g_string_new ("{\"description\":\"big\",\"pad\":\"");
  CfNotifyReply reply;

  while (text->len <= CF_NOTIFY_REPLY_MAX)
    g_string_append (text, "xxxxxxxxxxxxxxxx");
  g_string_append (text, "\"}");
  cf_notify_reply_read (text->str, text->len, &reply);
  g_assert_true (g_str_has_prefix (reply.detail, "{\"description\":\"big\""));
  g_assert_cmpuint (g_utf8_strlen (reply.detail, -1), ==, CF_NOTIFY_REPLY_SNIPPET);
  cf_notify_reply_clear (&reply);
  g_string_free (text, TRUE);
}

/* The snippet is cut on a character, never through one. */
static void
test_snippet_utf8_cut (void)
{
  GString *text = g_string_new (NULL);
  CfNotifyReply reply;

  for (guint i = 0; i < CF_NOTIFY_REPLY_SNIPPET + 10; i++)
    g_string_append (text, "é");
  cf_notify_reply_read (text->str, text->len, &reply);
  g_assert_true (g_utf8_validate (reply.detail, -1, NULL));
  g_assert_cmpuint (g_utf8_strlen (reply.detail, -1), ==, CF_NOTIFY_REPLY_SNIPPET);
  cf_notify_reply_clear (&reply);

  /* A body that ends in the middle of a character: the whole ones are kept. */
  cf_notify_reply_read ("ab\xc3", 3, &reply);
  g_assert_cmpstr (reply.detail, ==, "ab");
  cf_notify_reply_clear (&reply);
  g_string_free (text, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/notify-reply/read/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_case);
    }
  g_test_add_func ("/notify-reply/deep-nesting", test_deep_nesting);
  g_test_add_func ("/notify-reply/too-large", test_too_large);
  g_test_add_func ("/notify-reply/snippet-utf8-cut", test_snippet_utf8_cut);
  return g_test_run ();
}
