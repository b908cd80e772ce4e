/* SPDX-License-Identifier: MIT */
#include <glib.h>

#include "cf-sse.h"

static void
test_events (void)
{
  static const struct {
    const char *name;
    const char *data;
    const char *expected;
  } cases[] = {
    { "TaskDispatched", "{\"project\":\"/p\"}", "event: TaskDispatched\ndata: {\"project\":\"/p\"}\n\n" },
    { "X", "", "event: X\ndata: \n\n" },
    { "X", NULL, "event: X\ndata: \n\n" },
    /* Every line ending starts a new data: line; nothing ends the event early. */
    { "X", "a\nb", "event: X\ndata: a\ndata: b\n\n" },
    { "X", "a\r\nb\rc\n\nevent: Fake", "event: X\ndata: a\ndata: b\ndata: c\ndata: \ndata: event: Fake\n\n" },
    { "X", "end\n", "event: X\ndata: end\ndata: \n\n" },
    { "Bad\nName\r", "d", "event: Bad Name \ndata: d\n\n" },
    { NULL, "d", "event: message\ndata: d\n\n" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = cf_sse_event (cases[i].name, cases[i].data);

      g_assert_cmpstr (got, ==, cases[i].expected);
    }
}

static void
test_comments (void)
{
  g_autofree char *a = cf_sse_comment ("heartbeat");
  g_autofree char *b = cf_sse_comment ("two\nlines\r");
  g_autofree char *c = cf_sse_comment (NULL);

  g_assert_cmpstr (a, ==, ": heartbeat\n\n");
  g_assert_cmpstr (b, ==, ": two lines \n\n");
  g_assert_cmpstr (c, ==, ": \n\n");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sse/events", test_events);
  g_test_add_func ("/sse/comments", test_comments);
  return g_test_run ();
}
