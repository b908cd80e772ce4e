/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the reset-time parser.  Input layout: bytes 0..7 are
 * "now" (little-endian; when bit 0 of byte 8 is set, only the low 32 bits
 * shift 2026-07-15T12:00:00Z, so most inputs have a realistic now), byte 8
 * also picks the local zone; the rest is the text.  Checks: no crash, and a
 * result never lies in the past when the text holds no epoch and no year. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-reset-time.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define HEADER_SIZE 9
#define BASE_NOW G_GINT64_CONSTANT (1784116800)

static const char *const zones[] = {
  NULL, "UTC", "America/New_York", "Europe/Berlin", "Pacific/Auckland", "Australia/Lord_Howe",
  "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns", "Antarctica/Troll",
};

/* Epochs ("|1760004000") and explicit years ("Jul 31, 2027") are absolute
 * and may be past; both need four digits in a row. */
static gboolean
may_be_absolute (const char *text)
{
  guint run = 0;

  if (strchr (text, '|') != NULL)
    return TRUE;
  for (const char *p = text; *p != '\0'; p++)
    {
      run = g_ascii_isdigit (*p) ? run + 1 : 0;
      if (run >= 4)
        return TRUE;
    }
  return FALSE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GTimeZone) zone = NULL;
  g_autoptr(GDateTime) result = NULL;
  g_autofree char *text = NULL;
  gint64 now;
  guint8 flags;

  if (size < HEADER_SIZE)
    return 0;
  memcpy (&now, data, sizeof now);
  flags = data[8];
  if (flags & 1)
    now = BASE_NOW + (gint32) (now & 0xFFFFFFFF);
  if (zones[(flags >> 1) % G_N_ELEMENTS (zones)] != NULL)
    zone = g_time_zone_new_identifier (zones[(flags >> 1) % G_N_ELEMENTS (zones)]);

  text = g_strndup ((const char *) data + HEADER_SIZE, size - HEADER_SIZE);
  result = cf_reset_time_parse (text, now, zone);
  if (result != NULL)
    {
      gint64 at = g_date_time_to_unix (result);
      g_autofree char *formatted = g_date_time_format (result, "%Y-%m-%dT%H:%M:%S%:z");

      g_assert_nonnull (formatted);
      if (!may_be_absolute (text))
        {
          g_assert_cmpint (at, >=, now - 60);
          /* Dates search at most eight years ahead (Feb 29). */
          g_assert_cmpint (at, <=, now + G_GINT64_CONSTANT (9) * 366 * 86400);
        }
    }
  return 0;
}
