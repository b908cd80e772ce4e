/* SPDX-License-Identifier: MIT */
#include <glib.h>

#include "cf-duration.h"

#define SEC G_USEC_PER_SEC
#define MIN_ ((gint64) 60 * SEC)
#define HOUR ((gint64) 3600 * SEC)

typedef struct {
  const char *text;
  gboolean ok;
  gint64 usec;
} ParseCase;

static const ParseCase parse_cases[] = {
  { "500ms", TRUE, 500 * 1000 },
  { "30s", TRUE, 30 * SEC },
  { "5m", TRUE, 5 * MIN_ },
  { "2h", TRUE, 2 * HOUR },
  { "1h30m", TRUE, HOUR + 30 * MIN_ },
  { "1h30m15s", TRUE, HOUR + 30 * MIN_ + 15 * SEC },
  { "1h30m15s250ms", TRUE, HOUR + 30 * MIN_ + 15 * SEC + 250 * 1000 },
  { "1s500ms", TRUE, SEC + 500 * 1000 },
  { "1m0s", TRUE, MIN_ },
  { "1h0m0s", TRUE, HOUR },      /* what Go's Duration.String() writes */
  { "90m", TRUE, 90 * MIN_ },
  { "250us", TRUE, 250 },
  { "1ms1us", TRUE, 1001 },
  { "0", TRUE, 0 },
  { "0s", TRUE, 0 },
  { "0ms", TRUE, 0 },
  { "300", TRUE, 300 * SEC },     /* bare integers are seconds */
  { "007s", TRUE, 7 * SEC },
  { "9223372036854s", TRUE, G_GINT64_CONSTANT (9223372036854) * SEC },
  { "9223372036854775807us", TRUE, G_MAXINT64 },

  { "", FALSE, 0 },
  { "-5s", FALSE, 0 },
  { "-1", FALSE, 0 },
  { "+5s", FALSE, 0 },
  { "s", FALSE, 0 },
  { "ms", FALSE, 0 },
  { "5", TRUE, 5 * SEC },
  { "5x", FALSE, 0 },
  { "5d", FALSE, 0 },
  { "5 s", FALSE, 0 },
  { " 5s", FALSE, 0 },
  { "5s ", FALSE, 0 },
  { "1.5h", FALSE, 0 },
  { "5S", FALSE, 0 },
  { "5sec", FALSE, 0 },
  { "5m5", FALSE, 0 },          /* trailing bare number after a unit */
  { "1s1s", FALSE, 0 },         /* repeated unit */
  { "1m1h", FALSE, 0 },         /* out of order */
  { "1s1m", FALSE, 0 },
  { "1ms1s", FALSE, 0 },
  { "1us1ms", FALSE, 0 },
  { "1h1h", FALSE, 0 },
  { "9223372036855s", FALSE, 0 },           /* overflows microseconds */
  { "9223372036855", FALSE, 0 },            /* bare seconds overflow */
  { "9223372036854775808us", FALSE, 0 },
  { "99999999999999999999999s", FALSE, 0 }, /* overflows the number itself */
  { "2562047788h54s775ms807us", TRUE, G_MAXINT64 },
  { "2562047788h54s775ms808us", FALSE, 0 },  /* overflow in the sum */
  { "2562047789h", FALSE, 0 },               /* overflow in one component */
};

static void
test_parse_table (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (parse_cases); i++)
    {
      const ParseCase *c = &parse_cases[i];
      gint64 usec = -42;
      gboolean ok = cf_duration_parse (c->text, &usec);

      g_test_message ("\"%s\"", c->text);
      g_assert_cmpint (ok, ==, c->ok);
      if (c->ok)
        g_assert_cmpint (usec, ==, c->usec);
      else
        g_assert_cmpint (usec, ==, -42);
    }
}

static void
test_parse_null (void)
{
  gint64 usec;

  g_assert_false (cf_duration_parse (NULL, &usec));
  /* The output is optional: callers may only want to validate. */
  g_assert_true (cf_duration_parse ("5m", NULL));
}

typedef struct {
  gint64 usec;
  const char *text;
} FormatCase;

static const FormatCase format_cases[] = {
  { 0, "0s" },
  { 1, "1us" },
  { 500 * 1000, "500ms" },
  { 30 * SEC, "30s" },
  { 5 * MIN_, "5m" },
  { 2 * HOUR, "2h" },
  { HOUR + 30 * MIN_, "1h30m" },
  { HOUR + 30 * MIN_ + 15 * SEC, "1h30m15s" },
  { SEC + 500 * 1000, "1s500ms" },
  { 100 * HOUR, "100h" },
  { 1001, "1ms1us" },
  { -30 * SEC, "-30s" },
  { G_MAXINT64, "2562047788h54s775ms807us" },
  { G_MININT64, "-2562047788h54s775ms808us" },
};

static void
test_format_table (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (format_cases); i++)
    {
      g_autofree char *text = cf_duration_format (format_cases[i].usec);
      g_assert_cmpstr (text, ==, format_cases[i].text);
    }
}

static void
test_round_trip (void)
{
  static const gint64 values[] = {
    0, 1, 999, 1000, 1001, 999999, SEC, 59 * SEC, MIN_, HOUR - 1, HOUR,
    25 * HOUR + 1, G_MAXINT64 - 1, G_MAXINT64,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autofree char *text = cf_duration_format (values[i]);
      gint64 back = -1;

      g_assert_true (cf_duration_parse (text, &back));
      g_assert_cmpint (back, ==, values[i]);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/duration/parse/table", test_parse_table);
  g_test_add_func ("/duration/parse/null", test_parse_null);
  g_test_add_func ("/duration/format/table", test_format_table);
  g_test_add_func ("/duration/round-trip", test_round_trip);
  return g_test_run ();
}
