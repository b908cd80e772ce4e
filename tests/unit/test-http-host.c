/* SPDX-License-Identifier: MIT */
#include <glib.h>

#include "cf-http-host.h"

typedef struct {
  const char *host;
  gboolean loopback;
} HostCase;

static const HostCase host_cases[] = {
  { "localhost", TRUE },
  { "LocalHost", TRUE },
  { "localhost:8377", TRUE },
  { "localhost.", TRUE },
  { "localhost.:80", TRUE },
  { "cockpit.localhost", TRUE },
  { "a.b-c.localhost:1", TRUE },
  { "127.0.0.1", TRUE },
  { "127.0.0.1:8377", TRUE },
  { "127.255.255.254:65535", TRUE },
  { "127.1.2.3", TRUE },
  { "[::1]", TRUE },
  { "[::1]:8377", TRUE },

  { NULL, FALSE },
  { "", FALSE },
  { ":8377", FALSE },
  { "evil.example", FALSE },
  { "evil.example:8377", FALSE },
  { "localhost.evil.example", FALSE },
  { "evillocalhost", FALSE },
  { ".localhost", FALSE },
  { "a..localhost", FALSE },
  { "a.localhost..", FALSE },
  { "a b.localhost", FALSE },
  { "localhost:", FALSE },
  { "localhost:65536", FALSE },
  { "localhost:123456", FALSE },
  { "localhost:80:80", FALSE },
  { "localhost:8a", FALSE },
  { "localhost:-1", FALSE },
  { "user@localhost", FALSE },
  { "128.0.0.1", FALSE },
  { "10.0.0.1", FALSE },
  { "0.0.0.0", FALSE },
  { "127.0.0.1.evil.example", FALSE },
  { "127.0.0.256", FALSE },
  { "127.0.0", FALSE },
  { "127.0.0.1.", FALSE },
  { "127.0.0.0001", FALSE },
  { "127.1", FALSE },
  { "2130706433", FALSE },
  { "0x7f.0.0.1", FALSE },
  { "[::1", FALSE },
  { "::1", FALSE },
  { "[::2]", FALSE },
  { "[::]", FALSE },
  { "[::1]x", FALSE },
  { "[::1]:", FALSE },
  { "[::1]:99999", FALSE },
  { "[0:0:0:0:0:0:0:2]", FALSE },
  { "[::ffff:10.0.0.1]", FALSE },
  { "127.0.0.1\n", FALSE },
  { "localhost\r", FALSE },
};

static void
test_host_table (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (host_cases); i++)
    {
      gboolean got = cf_http_host_is_loopback (host_cases[i].host);

      if (got != host_cases[i].loopback)
        g_error ("Host '%s': expected %s, got %s", host_cases[i].host,
                 host_cases[i].loopback ? "loopback" : "refused",
                 got ? "loopback" : "refused");
    }
}

typedef struct {
  const char *host;
  const char *local_address;
  gboolean acceptable;
} AcceptableCase;

static const AcceptableCase acceptable_cases[] = {
  { "localhost:8377", NULL, TRUE },
  { "127.0.0.1", "192.0.2.7", TRUE },
  { "192.0.2.7", "192.0.2.7", TRUE },
  { "192.0.2.7:8377", "192.0.2.7", TRUE },
  { "[2001:db8::1]:8377", "2001:db8::1", TRUE },
  { "[2001:DB8::1]", "2001:db8::1", TRUE },

  { "192.0.2.7", NULL, FALSE },
  { "192.0.2.7", "", FALSE },
  { "192.0.2.70", "192.0.2.7", FALSE },
  { "192.0.2.", "192.0.2.7", FALSE },
  { "192.0.2.7:", "192.0.2.7", FALSE },
  { "192.0.2.7:x", "192.0.2.7", FALSE },
  { "evil.example", "192.0.2.7", FALSE },
  { "evil.example", "evil.example", FALSE },
  { "[2001:db8::1]", "2001:db8::2", FALSE },
  { "2001:db8::1", "2001:db8::1", FALSE },
  { "[192.0.2.7]", "192.0.2.7", FALSE },
  { "[2001:db8::1", "2001:db8::1", FALSE },
  { NULL, "192.0.2.7", FALSE },
};

static void
test_acceptable_table (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (acceptable_cases); i++)
    {
      const AcceptableCase *c = &acceptable_cases[i];
      gboolean got = cf_http_host_is_acceptable (c->host, c->local_address);

      if (got != c->acceptable)
        g_error ("Host '%s' on '%s': expected %s, got %s", c->host, c->local_address,
                 c->acceptable ? "acceptable" : "refused", got ? "acceptable" : "refused");
    }
}

static void
test_host_too_long (void)
{
  g_autoptr(GString) name = g_string_new (NULL);

  while (name->len < 300)
    g_string_append (name, "a.");
  g_string_append (name, "localhost");
  g_assert_false (cf_http_host_is_loopback (name->str));
  g_assert_true (cf_http_host_is_loopback (name->str + name->len - 41));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http-host/table", test_host_table);
  g_test_add_func ("/http-host/too-long", test_host_too_long);
  g_test_add_func ("/http-host/acceptable", test_acceptable_table);
  return g_test_run ();
}
