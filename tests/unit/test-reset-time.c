/* SPDX-License-Identifier: MIT */
#include "cf-reset-time.h"

typedef struct {
  const char *text;
  const char *now;             /* ISO 8601 with offset */
  const char *local_zone;      /* tz identifier; NULL = UTC (the API's default) */
  const char *expected;        /* "%Y-%m-%dT%H:%M:%S%:z", or NULL for no reset time */
} ResetCase;

#define NOW "2026-07-15T12:00:00Z"

static const ResetCase cases[] = {
  /* Times of day, no zone: the local zone applies. */
  { "8pm", NOW, "UTC", "2026-07-15T20:00:00+00:00" },
  { "resets 8pm", NOW, "UTC", "2026-07-15T20:00:00+00:00" },
  { "resets 9pm", NOW, "Europe/Paris", "2026-07-15T21:00:00+02:00" },
  { "at 11:30pm", NOW, "UTC", "2026-07-15T23:30:00+00:00" },
  { "resets at 11:30pm", NOW, NULL, "2026-07-15T23:30:00+00:00" },
  { "11:30 PM", NOW, "UTC", "2026-07-15T23:30:00+00:00" },
  { "9 a.m.", NOW, "UTC", "2026-07-16T09:00:00+00:00" },
  { "2\xe2\x80\xafPM", NOW, "UTC", "2026-07-15T14:00:00+00:00" },
  { "2\xc2\xa0pm", NOW, "UTC", "2026-07-15T14:00:00+00:00" },
  { "14:00", NOW, "UTC", "2026-07-15T14:00:00+00:00" },
  { "resets 07:05", NOW, "UTC", "2026-07-16T07:05:00+00:00" },
  { "9AM", NOW, "UTC", "2026-07-16T09:00:00+00:00" },
  /* Already past today → tomorrow; within the minute of slack → today. */
  { "resets 9am", "2026-07-15T10:00:00Z", "UTC", "2026-07-16T09:00:00+00:00" },
  { "resets 10am", "2026-07-15T10:00:45Z", "UTC", "2026-07-15T10:00:00+00:00" },
  { "resets 10am", "2026-07-15T10:01:01Z", "UTC", "2026-07-16T10:00:00+00:00" },
  { "resets 11:59pm", "2026-12-31T23:59:30Z", "UTC", "2026-12-31T23:59:00+00:00" },
  { "resets 1am", "2026-12-31T23:59:30Z", "UTC", "2027-01-01T01:00:00+00:00" },
  /* 12am is midnight, 12pm is noon. */
  { "12am", NOW, "UTC", "2026-07-16T00:00:00+00:00" },
  { "12pm", "2026-07-15T11:00:00Z", "UTC", "2026-07-15T12:00:00+00:00" },
  { "12:30am", NOW, "UTC", "2026-07-16T00:30:00+00:00" },
  { "12:30pm", NOW, "UTC", "2026-07-15T12:30:00+00:00" },
  /* Named zones win over the local zone. */
  { "9am (America/Chicago)", NOW, "Europe/Berlin", "2026-07-15T09:00:00-05:00" },
  { "Your limit will reset at 9am (America/Chicago).", "2026-07-15T15:00:00Z", "UTC", "2026-07-16T09:00:00-05:00" },
  { "resets 2pm (Pacific/Auckland)", NOW, "UTC", "2026-07-16T14:00:00+12:00" },
  { " · resets 2pm (Pacific/Auckland) · /upgrade to Max", NOW, "UTC", "2026-07-16T14:00:00+12:00" },
  { "resets 10am (Asia/Seoul)", NOW, "UTC", "2026-07-16T10:00:00+09:00" },
  { "resets 11:30pm (Europe/Berlin)", NOW, "UTC", "2026-07-15T23:30:00+02:00" },
  { "resets 8pm (America/New_York)", NOW, "UTC", "2026-07-15T20:00:00-04:00" },
  { "resets 4pm ( America/Los_Angeles )", NOW, "UTC", "2026-07-15T16:00:00-07:00" },
  { "resets 9pm UTC", NOW, "Asia/Tokyo", "2026-07-15T21:00:00+00:00" },
  /* Unknown or malformed zones fall back to the local zone and still parse. */
  { "resets 4pm (Mars/Olympus_Mons)", NOW, "Asia/Tokyo", "2026-07-16T16:00:00+09:00" },
  { "resets 4pm (\xe2\x80\xa6)", NOW, "Asia/Tokyo", "2026-07-16T16:00:00+09:00" },
  { "resets 4pm (/etc/passwd)", NOW, "UTC", "2026-07-15T16:00:00+00:00" },
  { "resets 4pm (../../etc/localtime)", NOW, "UTC", "2026-07-15T16:00:00+00:00" },
  { "resets 4pm (EST5EDT,M3.2.0,M11.1.0)", NOW, "UTC", "2026-07-15T16:00:00+00:00" },
  { "resets 4pm (America/", NOW, "UTC", "2026-07-15T16:00:00+00:00" },
  /* Dates: this year, or next year once past. */
  { "Jul 31, 2am (UTC)", NOW, "Asia/Tokyo", "2026-07-31T02:00:00+00:00" },
  { "resets Jul 31, 2am (UTC)", "2026-08-01T00:00:00Z", "UTC", "2027-07-31T02:00:00+00:00" },
  { "Jul 31 at 2am", NOW, "Europe/Berlin", "2026-07-31T02:00:00+02:00" },
  { "resets Feb 17 at 2pm (Asia/Seoul)", NOW, "UTC", "2027-02-17T14:00:00+09:00" },
  { "July 31st, 2:15pm", NOW, "UTC", "2026-07-31T14:15:00+00:00" },
  { "Sept 3, 9am", NOW, "UTC", "2026-09-03T09:00:00+00:00" },
  { "Jul 15, 11:59am", NOW, "UTC", "2026-07-15T11:59:00+00:00" },
  { "Jul 15, 11:58am", NOW, "UTC", "2027-07-15T11:58:00+00:00" },
  { "Feb 29, 3pm", NOW, "UTC", "2028-02-29T15:00:00+00:00" },
  { "Jul 31, 2027, 2am", NOW, "UTC", "2027-07-31T02:00:00+00:00" },
  { "Jan 1, 2020, 2am", NOW, "UTC", "2020-01-01T02:00:00+00:00" },
  { "Aug 2 (Asia/Kolkata)", NOW, "UTC", "2026-08-02T00:00:00+05:30" },
  { "Feb 30, 3pm", NOW, "UTC", NULL },
  /* Relative. */
  { "in 45 minutes", NOW, "UTC", "2026-07-15T12:45:00+00:00" },
  { "in 2 hours", NOW, "Europe/Berlin", "2026-07-15T16:00:00+02:00" },
  { "in 1h 30m", NOW, "UTC", "2026-07-15T13:30:00+00:00" },
  { "in 1h30m", NOW, "UTC", "2026-07-15T13:30:00+00:00" },
  { "in 1 hour and 5 minutes", NOW, "UTC", "2026-07-15T13:05:00+00:00" },
  { "in an hour", NOW, "UTC", "2026-07-15T13:00:00+00:00" },
  { "in 3 days", NOW, "UTC", "2026-07-18T12:00:00+00:00" },
  { "in 90 secs", NOW, "UTC", "2026-07-15T12:01:30+00:00" },
  { "try again in 10 min (UTC)", NOW, "Asia/Tokyo", "2026-07-15T12:10:00+00:00" },
  { "in 999999 days", NOW, "UTC", NULL },
  /* Epochs are absolute instants, shown in the local zone. */
  { "Claude AI usage limit reached|1760004000", NOW, "UTC", "2025-10-09T10:00:00+00:00" },
  { "|1784116800", NOW, "America/New_York", "2026-07-15T08:00:00-04:00" },
  { "| 1784116800000", NOW, "UTC", "2026-07-15T12:00:00+00:00" },
  /* DST: America/New_York springs forward 2026-03-08 02:00, falls back 2026-11-01 02:00. */
  { "resets 9am", "2026-03-07T15:00:00Z", "America/New_York", "2026-03-08T09:00:00-04:00" },
  { "resets 9am (America/New_York)", "2026-03-07T15:00:00Z", "UTC", "2026-03-08T09:00:00-04:00" },
  { "resets 9am", "2026-10-31T14:00:00Z", "America/New_York", "2026-11-01T09:00:00-05:00" },
  { "resets 2:30am", "2026-03-08T06:00:00Z", "America/New_York", "2026-03-08T03:00:00-04:00" },
  { "resets 1:30am", "2026-11-01T04:00:00Z", "America/New_York", "2026-11-01T01:30:00-04:00" },
  { "resets 1:30am", "2026-11-01T05:45:00Z", "America/New_York", "2026-11-01T01:30:00-05:00" },
  { "resets 1:30am", "2026-11-01T06:45:00Z", "America/New_York", "2026-11-02T01:30:00-05:00" },
  { "resets 8am (Europe/Berlin)", "2026-03-28T12:00:00Z", "UTC", "2026-03-29T08:00:00+02:00" },
  { "resets 2:30am (Europe/Berlin)", "2026-03-28T23:00:00Z", "UTC", "2026-03-29T03:00:00+02:00" },
  { "resets 2:30am (Europe/Berlin)", "2026-10-24T23:00:00Z", "UTC", "2026-10-25T02:30:00+02:00" },
  { "Mar 8, 9am (America/New_York)", "2026-03-01T00:00:00Z", "UTC", "2026-03-08T09:00:00-04:00" },
  /* No time at all. */
  { "", NOW, "UTC", NULL },
  { "5-hour limit reached", NOW, "UTC", NULL },
  { "You've used 98% of your weekly limit", NOW, "UTC", NULL },
  { "Claude Code v2.0.14", NOW, "UTC", NULL },
  { "(12s · ↑ 1.2k tokens)", NOW, "UTC", NULL },
  { "13pm", NOW, "UTC", NULL },
  { "0am", NOW, "UTC", NULL },
  { "9amazing", NOW, "UTC", NULL },
  { "24:00", NOW, "UTC", NULL },
  { "12:75pm", NOW, "UTC", NULL },
  { "123pm", NOW, "UTC", NULL },
  { "in 2026", NOW, "UTC", NULL },
  { "|12345", NOW, "UTC", NULL },
  { "v2.1:30", NOW, "UTC", NULL },
};

static void
test_reset_time_table (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const ResetCase *c = &cases[i];
      g_autoptr(GDateTime) now = g_date_time_new_from_iso8601 (c->now, NULL);
      g_autoptr(GTimeZone) zone = c->local_zone ? g_time_zone_new_identifier (c->local_zone) : NULL;
      g_autoptr(GDateTime) got = NULL;
      g_autofree char *formatted = NULL;

      g_test_message ("case %u: %s @ %s [%s]", i, c->text, c->now,
                      c->local_zone ? c->local_zone : "(null)");
      g_assert_nonnull (now);
      g_assert_true (c->local_zone == NULL || zone != NULL);

      got = cf_reset_time_parse (c->text, g_date_time_to_unix (now), zone);
      formatted = got ? g_date_time_format (got, "%Y-%m-%dT%H:%M:%S%:z") : NULL;
      g_assert_cmpstr (formatted, ==, c->expected);
    }
}

/* The result is the next matching instant: never more than the slack in the
 * past, never more than a day ahead for a bare time of day, in every zone. */
static void
test_reset_time_next_instant (void)
{
  static const char *const zones[] = {
    "UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Chatham",
    "Asia/Kolkata",
  };
  static const char *const texts[] = { "12am", "1:30am", "2:30am", "3am", "9am", "12pm", "11:59pm" };
  g_autoptr(GDateTime) start = g_date_time_new_from_iso8601 ("2026-01-01T00:00:00Z", NULL);
  gint64 start_unix = g_date_time_to_unix (start);

  for (guint z = 0; z < G_N_ELEMENTS (zones); z++)
    {
      g_autoptr(GTimeZone) zone = g_time_zone_new_identifier (zones[z]);

      g_assert_nonnull (zone);
      /* Every 7h13m for a year crosses each DST change at many times of day. */
      for (gint64 now = start_unix; now < start_unix + 366 * 86400; now += 7 * 3600 + 13 * 60)
        for (guint t = 0; t < G_N_ELEMENTS (texts); t++)
          {
            g_autoptr(GDateTime) got = cf_reset_time_parse (texts[t], now, zone);
            gint64 delta;

            g_assert_nonnull (got);
            delta = g_date_time_to_unix (got) - now;
            if (delta < -60 || delta > 25 * 3600)
              g_error ("%s in %s at %" G_GINT64_FORMAT ": %+" G_GINT64_FORMAT " s",
                       texts[t], zones[z], now, delta);
          }
    }
}

static void
test_reset_time_zone_of_result (void)
{
  g_autoptr(GTimeZone) tokyo = g_time_zone_new_identifier ("Asia/Tokyo");
  g_autoptr(GDateTime) named = cf_reset_time_parse ("2pm (Pacific/Auckland)", 1784116800, tokyo);
  g_autoptr(GDateTime) local = cf_reset_time_parse ("2pm", 1784116800, tokyo);
  g_autoptr(GDateTime) utc = cf_reset_time_parse ("2pm", 1784116800, NULL);

  g_assert_cmpstr (g_date_time_get_timezone_abbreviation (named), ==, "NZST");
  g_assert_cmpstr (g_date_time_get_timezone_abbreviation (local), ==, "JST");
  g_assert_cmpint (g_date_time_get_utc_offset (utc), ==, 0);
}

static void
test_reset_time_out_of_range_now (void)
{
  g_assert_null (cf_reset_time_parse ("9am", G_MAXINT64, NULL));
  g_assert_null (cf_reset_time_parse ("in 5 minutes", G_MININT64, NULL));
  g_assert_null (cf_reset_time_parse ("Dec 31, 11pm", G_GINT64_CONSTANT (253402300000), NULL));
  g_assert_null (cf_reset_time_parse ("|99999999999999", 0, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reset-time/table", test_reset_time_table);
  g_test_add_func ("/reset-time/next-instant", test_reset_time_next_instant);
  g_test_add_func ("/reset-time/zone-of-result", test_reset_time_zone_of_result);
  g_test_add_func ("/reset-time/out-of-range-now", test_reset_time_out_of_range_now);
  return g_test_run ();
}
