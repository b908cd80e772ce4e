/* SPDX-License-Identifier: MIT */
#include "cf-http-host.h"

#include <string.h>

#define MAX_HOST_LENGTH 255

static gboolean
is_port (const char *p, const char *end)
{
  guint value = 0;

  if (p == end || end - p > 5)
    return FALSE;
  for (; p < end; p++)
    {
      if (!g_ascii_isdigit (*p))
        return FALSE;
      value = value * 10 + (guint) (*p - '0');
    }
  return value <= 65535;
}

/* Four decimal parts of at most three digits, each <= 255, the first 127. */
static gboolean
is_ipv4_loopback (const char *p, const char *end)
{
  for (guint part = 0; part < 4; part++)
    {
      guint value = 0, digits = 0;

      for (; p < end && g_ascii_isdigit (*p); p++, digits++)
        value = value * 10 + (guint) (*p - '0');
      if (digits == 0 || digits > 3 || value > 255 || (part == 0 && value != 127))
        return FALSE;
      if (part < 3)
        {
          if (p >= end || *p != '.')
            return FALSE;
          p++;
        }
    }
  return p == end;
}

static gboolean
is_localhost_name (const char *p, const char *end)
{
  static const char suffix[] = "localhost";
  gsize length = (gsize) (end - p);
  gsize suffix_length = sizeof suffix - 1;

  if (length > 0 && end[-1] == '.')
    {
      end--;
      length--;
    }
  if (length < suffix_length || g_ascii_strncasecmp (end - suffix_length, suffix, suffix_length) != 0)
    return FALSE;
  if (length == suffix_length)
    return TRUE;
  /* "<label>.localhost": a dot before the suffix and sane labels before it. */
  if (end[-(gssize) suffix_length - 1] != '.' || length == suffix_length + 1)
    return FALSE;
  for (const char *q = p; q < end - suffix_length - 1; q++)
    if (!(g_ascii_isalnum (*q) || *q == '-' || *q == '.' || *q == '_') ||
        (*q == '.' && (q == p || q[-1] == '.')))
      return FALSE;
  return end[-(gssize) suffix_length - 2] != '.';
}

gboolean
cf_http_host_is_loopback (const char *host)
{
  const char *end, *colon;
  gsize length;

  if (host == NULL)
    return FALSE;
  length = strnlen (host, MAX_HOST_LENGTH + 1);
  if (length == 0 || length > MAX_HOST_LENGTH)
    return FALSE;
  end = host + length;

  if (host[0] == '[')
    {
      const char *close = memchr (host, ']', length);

      if (close == NULL || (close + 1 != end && (close[1] != ':' || !is_port (close + 2, end))))
        return FALSE;
      return close - host == 4 && memcmp (host, "[::1]", 5) == 0;
    }

  colon = memchr (host, ':', length);
  if (colon != NULL)
    {
      if (!is_port (colon + 1, end))
        return FALSE;
      end = colon;
    }
  return is_ipv4_loopback (host, end) || is_localhost_name (host, end);
}

gboolean
cf_http_host_is_acceptable (const char *host, const char *local_address)
{
  const char *end, *name_end, *colon;
  gsize length, address_length;

  if (cf_http_host_is_loopback (host))
    return TRUE;
  if (host == NULL || local_address == NULL || *local_address == '\0' ||
      local_address[strspn (local_address, "0123456789abcdefABCDEF:.")] != '\0')
    return FALSE;
  length = strnlen (host, MAX_HOST_LENGTH + 1);
  if (length == 0 || length > MAX_HOST_LENGTH)
    return FALSE;
  end = host + length;
  address_length = strlen (local_address);

  if (host[0] == '[')
    {
      const char *close = memchr (host, ']', length);

      if (close == NULL || (close + 1 != end && (close[1] != ':' || !is_port (close + 2, end))))
        return FALSE;
      return (gsize) (close - host - 1) == address_length &&
             strchr (local_address, ':') != NULL &&
             g_ascii_strncasecmp (host + 1, local_address, address_length) == 0;
    }
  colon = memchr (host, ':', length);
  name_end = end;
  if (colon != NULL)
    {
      if (!is_port (colon + 1, end))
        return FALSE;
      name_end = colon;
    }
  return (gsize) (name_end - host) == address_length &&
         strchr (local_address, ':') == NULL &&
         memcmp (host, local_address, address_length) == 0;
}
