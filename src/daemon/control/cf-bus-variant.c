/* SPDX-License-Identifier: MIT */
#include "cf-bus-variant.h"

#include <errno.h>
#include <string.h>

static int
append_basic (sd_bus_message *message, char type, GVariant *value)
{
  switch (type)
    {
    case 'b':
      {
        int v = g_variant_get_boolean (value);   /* sd-bus booleans are int */
        return sd_bus_message_append_basic (message, type, &v);
      }
    case 'y':
    case 'n':
    case 'q':
    case 'i':
    case 'u':
    case 'x':
    case 't':
    case 'd':
      /* A fixed-size GVariant holds its value in machine byte order,
       * aligned: exactly what sd-bus reads for these types. */
      return sd_bus_message_append_basic (message, type, g_variant_get_data (value));
    case 's':
    case 'o':
    case 'g':
      return sd_bus_message_append_basic (message, type, g_variant_get_string (value, NULL));
    default:
      return -EINVAL;
    }
}

static int
append_children (sd_bus_message *message, GVariant *value)
{
  gsize n = g_variant_n_children (value);
  int r;

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (value, i);

      r = cf_bus_message_append_variant (message, child);
      if (r < 0)
        return r;
    }
  return 0;
}

int
cf_bus_message_append_variant (sd_bus_message *message, GVariant *value)
{
  const char *type = g_variant_get_type_string (value);
  g_autofree char *contents = NULL;
  char container;
  int r;

  switch (type[0])
    {
    case 'v':
      {
        g_autoptr(GVariant) inner = g_variant_get_variant (value);

        contents = g_strdup (g_variant_get_type_string (inner));
        r = sd_bus_message_open_container (message, 'v', contents);
        if (r < 0)
          return r;
        r = cf_bus_message_append_variant (message, inner);
        if (r < 0)
          return r;
        return sd_bus_message_close_container (message);
      }
    case 'a':
      container = 'a';
      contents = g_strdup (type + 1);
      break;
    case '(':
      container = 'r';
      contents = g_strndup (type + 1, strlen (type) - 2);
      break;
    case '{':
      container = 'e';
      contents = g_strndup (type + 1, strlen (type) - 2);
      break;
    case 'm':
    case 'h':
      return -EINVAL;
    default:
      return append_basic (message, type[0], value);
    }

  r = sd_bus_message_open_container (message, container, contents);
  if (r < 0)
    return r;
  r = append_children (message, value);
  if (r < 0)
    return r;
  return sd_bus_message_close_container (message);
}
