/* SPDX-License-Identifier: MIT */
#include "cf-reset-time.h"

#include <string.h>

/* A message read a few seconds after the reset minute still means "now",
 * not "tomorrow". */
#define CF_RESET_SLACK_SECONDS 60
/* Relative resets come in minutes and hours; anything past this is noise
 * (and would overflow GDateTime arithmetic long before gint64). */
#define CF_RESET_MAX_RELATIVE_SECONDS (G_GINT64_CONSTANT (400) * 86400)
/* tz database identifiers are short ("America/Argentina/ComodRivadavia" is
 * the longest); a longer parenthesised text is prose, not a zone. */
#define CF_RESET_MAX_ZONE_LENGTH 64
/* Feb 29 may be up to eight years away (1896 → 1904). */
#define CF_RESET_MAX_YEAR_SEARCH 8
/* GDateTime covers years 1..9999; a "now" outside that has no calendar. */
#define CF_RESET_MIN_UNIX G_GINT64_CONSTANT (-62135596800)
#define CF_RESET_MAX_UNIX G_GINT64_CONSTANT (253402300799)

typedef struct {
  gboolean has_date;
  gboolean has_year;
  gboolean has_time;
  int year;
  int month;
  int day;
  int hour;
  int minute;
  GTimeZone *zone;             /* owned; NULL = the caller's local zone */
} CfWallTime;

static void
cf_wall_time_clear (CfWallTime *wall)
{
  g_clear_pointer (&wall->zone, g_time_zone_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CfWallTime, cf_wall_time_clear)

/* Claude Code formats times with Intl, which may put a no-break space (U+00A0)
 * or a narrow no-break space (U+202F) between "9" and "PM". */
static const char *
skip_spaces (const char *p)
{
  for (;;)
    {
      if (*p == ' ' || *p == '\t')
        p++;
      else if ((guchar) p[0] == 0xC2 && (guchar) p[1] == 0xA0)
        p += 2;
      else if ((guchar) p[0] == 0xE2 && (guchar) p[1] == 0x80 && (guchar) p[2] == 0xAF)
        p += 3;
      else
        return p;
    }
}

static gboolean
at_word_start (const char *text, const char *p)
{
  return p == text || !g_ascii_isalnum (p[-1]);
}

/* Reads 1..MAX_DIGITS decimal digits; fails when more digits follow, so
 * "123" is never read as the hour "12". */
static gboolean
parse_number (const char **pp, guint max_digits, gint64 *out)
{
  const char *p = *pp;
  gint64 value = 0;
  guint n = 0;

  while (g_ascii_isdigit (*p))
    {
      if (++n > max_digits)
        return FALSE;
      value = value * 10 + (*p - '0');
      p++;
    }
  if (n == 0)
    return FALSE;
  *pp = p;
  *out = value;
  return TRUE;
}

static gsize
letters_length (const char *p)
{
  gsize n = 0;

  while (g_ascii_isalpha (p[n]))
    n++;
  return n;
}

static gboolean
word_is (const char *p, gsize length, const char *word)
{
  return length == strlen (word) && g_ascii_strncasecmp (p, word, length) == 0;
}

static gboolean
word_in (const char *p, gsize length, const char *const *words)
{
  for (guint i = 0; words[i] != NULL; i++)
    if (word_is (p, length, words[i]))
      return TRUE;
  return FALSE;
}

/* Returns 1..12, or 0 when P.. (LENGTH letters) names no month. */
static int
month_from_word (const char *p, gsize length)
{
  static const char *const names[] = {
    "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december",
  };

  if (length < 3)
    return 0;
  if (word_is (p, length, "sept"))
    return 9;
  for (int i = 0; i < 12; i++)
    if (length == 3 ? g_ascii_strncasecmp (p, names[i], 3) == 0
                    : word_is (p, length, names[i]))
      return i + 1;
  return 0;
}

/* GLib forgets a zone with its last reference and reads the tz file again
 * next time (~180 µs, most of a classification); the daemon meets the same
 * few zones on every poll, so they stay loaded, unknown names included.
 * Bounded, because pane text chooses the names. */
#define CF_RESET_ZONE_CACHE_MAX 128

static GTimeZone *
lookup_zone (const char *identifier)
{
  G_LOCK_DEFINE_STATIC (zone_cache);
  static GHashTable *zone_cache = NULL;
  gpointer cached = NULL;
  GTimeZone *zone;

  G_LOCK (zone_cache);
  /* Lives as long as the process, like GLib's own UTC zone. */
  if (zone_cache == NULL)
    zone_cache = g_hash_table_new (g_str_hash, g_str_equal);
  if (g_hash_table_lookup_extended (zone_cache, identifier, NULL, &cached))
    {
      G_UNLOCK (zone_cache);
      return cached ? g_time_zone_ref (cached) : NULL;
    }
  G_UNLOCK (zone_cache);

  zone = g_time_zone_new_identifier (identifier);

  G_LOCK (zone_cache);
  if (g_hash_table_size (zone_cache) < CF_RESET_ZONE_CACHE_MAX
      && !g_hash_table_contains (zone_cache, identifier))
    g_hash_table_insert (zone_cache, g_strdup (identifier), zone ? g_time_zone_ref (zone) : NULL);
  G_UNLOCK (zone_cache);
  return zone;
}

/* Rejects anything that is not shaped like a tz database name before it
 * reaches GLib, which would also read absolute paths and POSIX TZ rules. */
static GTimeZone *
zone_from_identifier (const char *start, gsize length)
{
  g_autofree char *identifier = NULL;

  if (length == 0 || length > CF_RESET_MAX_ZONE_LENGTH || !g_ascii_isalpha (start[0])
      || start[length - 1] == '/')
    return NULL;
  for (gsize i = 0; i < length; i++)
    {
      char c = start[i];

      if (!g_ascii_isalnum (c) && c != '/' && c != '_' && c != '-' && c != '+')
        return NULL;
      if (c == '/' && start[i + 1] == '/')
        return NULL;
    }
  identifier = g_strndup (start, length);
  return lookup_zone (identifier);
}

/* "(Europe/Berlin)" or a bare "UTC"/"GMT" after the time.  An unknown name
 * leaves ZONE NULL: the caller's local zone applies, as for no zone at all. */
static const char *
parse_zone (const char *p, GTimeZone **zone)
{
  const char *q = skip_spaces (p);

  if (*q == '(')
    {
      const char *open = skip_spaces (q + 1);
      const char *close = open;

      while (*close != '\0' && *close != ')' && close - open <= CF_RESET_MAX_ZONE_LENGTH)
        close++;
      if (*close == ')')
        {
          const char *end = close;

          while (end > open && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
          *zone = zone_from_identifier (open, end - open);
          return close + 1;
        }
      return p;
    }

  {
    gsize n = letters_length (q);

    if (word_is (q, n, "UTC") || word_is (q, n, "GMT"))
      {
        *zone = g_time_zone_new_utc ();
        return q + n;
      }
  }
  return p;
}

/* "am", "pm", "a.m.", "p.m." → 0 for am, 12 for pm; -1 when absent. */
static int
parse_meridiem (const char **pp)
{
  const char *p = skip_spaces (*pp);
  int offset;

  if (*p == 'a' || *p == 'A')
    offset = 0;
  else if (*p == 'p' || *p == 'P')
    offset = 12;
  else
    return -1;
  p++;
  if (*p == '.')
    p++;
  if (*p != 'm' && *p != 'M')
    return -1;
  p++;
  if (*p == '.')
    p++;
  if (g_ascii_isalpha (*p))
    return -1;
  *pp = p;
  return offset;
}

/* "9am", "11:30pm", "12 AM", "14:00" (24-hour needs the colon, so that
 * "5-hour" or "98%" never read as times). */
static gboolean
parse_clock (const char *text, const char **pp, int *hour, int *minute)
{
  const char *p = *pp;
  gint64 h, m = 0;
  gboolean has_minutes = FALSE;
  int meridiem;

  /* "v2.1:30" and "10.5:00" are versions and numbers, not clocks. */
  if (!g_ascii_isdigit (*p) || !at_word_start (text, p)
      || (p > text && (p[-1] == '.' || p[-1] == ':')) || !parse_number (&p, 2, &h))
    return FALSE;
  if (*p == ':' && g_ascii_isdigit (p[1]))
    {
      p++;
      if (!g_ascii_isdigit (p[0]) || !g_ascii_isdigit (p[1]) || g_ascii_isdigit (p[2]))
        return FALSE;
      m = (p[0] - '0') * 10 + (p[1] - '0');
      p += 2;
      has_minutes = TRUE;
      if (m > 59)
        return FALSE;
      if (p[0] == ':' && g_ascii_isdigit (p[1]) && g_ascii_isdigit (p[2]))
        p += 3;
    }

  meridiem = parse_meridiem (&p);
  if (meridiem >= 0)
    {
      if (h < 1 || h > 12)
        return FALSE;
      h = (h % 12) + meridiem;
    }
  else if (!has_minutes || h > 23 || g_ascii_isalnum (*p))
    return FALSE;

  *hour = (int) h;
  *minute = (int) m;
  *pp = p;
  return TRUE;
}

/* "Jul 31", "July 31st, 2027", then an optional ", at" before the time. */
static gboolean
parse_date (const char *text, const char **pp, CfWallTime *wall)
{
  const char *p = *pp;
  gsize n = letters_length (p);
  int month;
  gint64 day, year;

  if (!at_word_start (text, p) || (month = month_from_word (p, n)) == 0)
    return FALSE;
  p += n;
  if (*p == '.')
    p++;
  if (skip_spaces (p) == p)
    return FALSE;
  p = skip_spaces (p);
  if (!parse_number (&p, 2, &day) || day < 1 || day > 31)
    return FALSE;
  n = letters_length (p);
  if (word_in (p, n, (const char *const[]) { "st", "nd", "rd", "th", NULL }))
    p += n;
  else if (n > 0)
    return FALSE;
  /* "Jul 3:30pm" is not a date followed by a time. */
  if (*p == ':')
    return FALSE;

  wall->has_date = TRUE;
  wall->month = month;
  wall->day = (int) day;

  {
    const char *q = skip_spaces (*p == ',' ? p + 1 : p);
    const char *year_end = q;
    const char *after_year;

    /* "Jul 31, 2026" names a year; "Jul 31, 12:30" or "Jul 31 10am" do not. */
    if (parse_number (&year_end, 4, &year) && year_end - q == 4 && year >= 1970
        && *year_end != ':' && (after_year = year_end, parse_meridiem (&after_year) < 0))
      {
        wall->has_year = TRUE;
        wall->year = (int) year;
        p = year_end;
      }
  }

  {
    const char *q = skip_spaces (*p == ',' ? p + 1 : p);
    gsize m = letters_length (q);

    if (word_is (q, m, "at"))
      q = skip_spaces (q + m);
    if (parse_clock (text, &q, &wall->hour, &wall->minute))
      {
        wall->has_time = TRUE;
        p = q;
      }
  }

  *pp = p;
  return TRUE;
}

/* "in 45 minutes", "in 2 hours", "in 1h 30m", "in an hour". */
static gboolean
parse_relative (const char *text, const char **pp, gint64 *seconds)
{
  static const char *const second_words[] = { "s", "sec", "secs", "second", "seconds", NULL };
  static const char *const minute_words[] = { "m", "min", "mins", "minute", "minutes", NULL };
  static const char *const hour_words[] = { "h", "hr", "hrs", "hour", "hours", NULL };
  static const char *const day_words[] = { "d", "day", "days", NULL };
  const char *p = *pp;
  gint64 total = 0;
  guint components = 0;
  gsize n = letters_length (p);

  if (!at_word_start (text, p) || !word_is (p, n, "in"))
    return FALSE;
  p += n;

  for (;;)
    {
      const char *q = skip_spaces (p);
      gint64 count, unit;

      if (components > 0)
        {
          gsize m;

          if (*q == ',')
            q = skip_spaces (q + 1);
          m = letters_length (q);
          if (word_is (q, m, "and"))
            q = skip_spaces (q + m);
        }

      n = letters_length (q);
      if (components == 0 && (word_is (q, n, "a") || word_is (q, n, "an")))
        {
          count = 1;
          q = skip_spaces (q + n);
        }
      else if (!parse_number (&q, 6, &count))
        break;

      q = skip_spaces (q);
      n = letters_length (q);
      if (word_in (q, n, second_words))
        unit = 1;
      else if (word_in (q, n, minute_words))
        unit = 60;
      else if (word_in (q, n, hour_words))
        unit = 3600;
      else if (word_in (q, n, day_words))
        unit = 86400;
      else
        break;

      total += count * unit;
      if (total > CF_RESET_MAX_RELATIVE_SECONDS)
        return FALSE;
      components++;
      p = q + n;
    }

  if (components == 0)
    return FALSE;
  *seconds = total;
  *pp = p;
  return TRUE;
}

/* "|1760004000" as printed by Claude Code 1.x; 13 digits are milliseconds. */
static gboolean
parse_epoch (const char **pp, gint64 *unix_seconds)
{
  const char *p = *pp;
  const char *digits;
  gint64 value;

  if (*p != '|')
    return FALSE;
  digits = skip_spaces (p + 1);
  p = digits;
  if (!parse_number (&p, 13, &value) || p - digits < 9)
    return FALSE;
  if (p - digits == 13)
    value /= 1000;
  *unix_seconds = value;
  *pp = p;
  return TRUE;
}

static gboolean
same_wall_minute (GDateTime *instant, int year, int month, int day, int hour, int minute)
{
  return g_date_time_get_year (instant) == year && g_date_time_get_month (instant) == month
         && g_date_time_get_day_of_month (instant) == day
         && g_date_time_get_hour (instant) == hour && g_date_time_get_minute (instant) == minute;
}

/* GLib resolves a wall time that occurs twice (the repeated hour when DST
 * ends) to the later instant; the next reset is the earlier one when that
 * one is still ahead. */
static GDateTime *
earliest_instance (GTimeZone *zone, int year, int month, int day, int hour, int minute,
                   gint64 not_before)
{
  static const gint64 dst_shifts[] = { 3600, 1800, 7200 };
  g_autoptr(GDateTime) candidate = g_date_time_new (zone, year, month, day, hour, minute, 0);

  if (candidate == NULL)
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (dst_shifts); i++)
    {
      gint64 earlier_unix = g_date_time_to_unix (candidate) - dst_shifts[i];
      g_autoptr(GDateTime) earlier_utc = g_date_time_new_from_unix_utc (earlier_unix);
      g_autoptr(GDateTime) earlier = earlier_utc ? g_date_time_to_timezone (earlier_utc, zone) : NULL;

      if (earlier != NULL && earlier_unix >= not_before
          && same_wall_minute (earlier, year, month, day, hour, minute))
        return g_steal_pointer (&earlier);
    }
  return g_steal_pointer (&candidate);
}

static GDateTime *
resolve_wall_time (const CfWallTime *wall, gint64 now_unix, GTimeZone *zone)
{
  g_autoptr(GDateTime) now_utc = g_date_time_new_from_unix_utc (now_unix);
  g_autoptr(GDateTime) now_local = NULL;
  g_autoptr(GDateTime) midday = NULL;
  gint64 not_before = now_unix - CF_RESET_SLACK_SECONDS;
  int hour = wall->has_time ? wall->hour : 0;
  int minute = wall->has_time ? wall->minute : 0;

  if (now_utc == NULL)
    return NULL;
  now_local = g_date_time_to_timezone (now_utc, zone);
  if (now_local == NULL)
    return NULL;

  if (wall->has_date && wall->has_year)
    {
      if (!g_date_valid_dmy (wall->day, wall->month, wall->year))
        return NULL;
      return earliest_instance (zone, wall->year, wall->month, wall->day, hour, minute,
                                G_MININT64);
    }

  if (wall->has_date)
    {
      int first_year = g_date_time_get_year (now_local);

      for (int year = first_year; year <= first_year + CF_RESET_MAX_YEAR_SEARCH; year++)
        {
          g_autoptr(GDateTime) candidate = NULL;

          if (!g_date_valid_dmy (wall->day, wall->month, year))
            continue;
          candidate = earliest_instance (zone, year, wall->month, wall->day, hour, minute,
                                         not_before);
          if (candidate != NULL && g_date_time_to_unix (candidate) >= not_before)
            return g_steal_pointer (&candidate);
        }
      return NULL;
    }

  /* Calendar days, not 24-hour steps: "9am" tomorrow is 23 or 25 hours away
   * across a DST change.  Two days cover a wall time skipped by DST. */
  midday = g_date_time_new (zone, g_date_time_get_year (now_local),
                            g_date_time_get_month (now_local),
                            g_date_time_get_day_of_month (now_local), 12, 0, 0);
  if (midday == NULL)
    return NULL;
  for (int days = 0; days <= 2; days++)
    {
      g_autoptr(GDateTime) day = g_date_time_add_days (midday, days);
      g_autoptr(GDateTime) candidate = NULL;

      if (day == NULL)
        return NULL;
      candidate = earliest_instance (zone, g_date_time_get_year (day),
                                     g_date_time_get_month (day),
                                     g_date_time_get_day_of_month (day), hour, minute,
                                     not_before);
      if (candidate != NULL && g_date_time_to_unix (candidate) >= not_before)
        return g_steal_pointer (&candidate);
    }
  return NULL;
}

static GDateTime *
instant_in_zone (gint64 unix_seconds, GTimeZone *zone)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (unix_seconds);

  return utc ? g_date_time_to_timezone (utc, zone) : NULL;
}

/* Tries each form at P; TRUE when one matched (RESULT may still be NULL when
 * the text named an impossible date). */
static gboolean
parse_at (const char *text, const char *p, gint64 now_unix, GTimeZone *local_zone,
          GDateTime **result)
{
  g_auto(CfWallTime) wall = { 0 };
  const char *q = p;
  gint64 value;

  if (parse_epoch (&q, &value))
    {
      *result = instant_in_zone (value, local_zone);
      return TRUE;
    }

  q = p;
  if (parse_relative (text, &q, &value))
    {
      parse_zone (q, &wall.zone);
      *result = instant_in_zone (now_unix + value, wall.zone ? wall.zone : local_zone);
      return TRUE;
    }

  q = p;
  if (parse_date (text, &q, &wall) || parse_clock (text, &q, &wall.hour, &wall.minute))
    {
      if (!wall.has_date)
        wall.has_time = TRUE;
      parse_zone (q, &wall.zone);
      *result = resolve_wall_time (&wall, now_unix, wall.zone ? wall.zone : local_zone);
      return TRUE;
    }

  return FALSE;
}

GDateTime *
cf_reset_time_parse (const char *text,
                     gint64 now_unix,
                     GTimeZone *local_zone)
{
  g_autoptr(GTimeZone) utc = NULL;

  g_return_val_if_fail (text != NULL, NULL);

  if (now_unix < CF_RESET_MIN_UNIX || now_unix > CF_RESET_MAX_UNIX)
    return NULL;
  if (local_zone == NULL)
    local_zone = utc = g_time_zone_new_utc ();

  for (const char *p = text; *p != '\0'; p++)
    {
      GDateTime *result = NULL;

      if (parse_at (text, p, now_unix, local_zone, &result))
        return result;
    }
  return NULL;
}
