/* SPDX-License-Identifier: MIT
 *
 * GetStatus caller for bench/bench-scale.py: calls GetStatus back to back on
 * one connection to the bus at ADDRESS, reads each reply in full, and
 * appends one line per call to OUT: "<epoch seconds at the start> <latency
 * in microseconds>". Stops after --calls N calls, or when STOP_FILE exists
 * (checked every 64 calls) when --calls is 0. A C client, so that the
 * numbers are the daemon's and the bus's, not a Python binding's.
 *
 *   bench-getstatus ADDRESS OUT [--calls N] [--stop-file FILE] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib.h>
#include <systemd/sd-bus.h>

#include "cf-names.h"

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *stop_file = NULL;
  int calls = 0;
  sd_bus *bus = NULL;
  FILE *out;
  int r;
  GOptionEntry entries[] = {
    { "calls", 0, 0, G_OPTION_ARG_INT, &calls, "Calls to make (0: until the stop file)", "N" },
    { "stop-file", 0, 0, G_OPTION_ARG_FILENAME, &stop_file, "Stop once FILE exists", "FILE" },
    { NULL },
  };

  context = g_option_context_new ("ADDRESS OUT");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 3 || calls < 0
      || (calls == 0 && stop_file == NULL))
    {
      g_printerr ("bench-getstatus: %s\n",
                  error ? error->message : "usage: ADDRESS OUT [--calls N | --stop-file FILE]");
      return 2;
    }
  if ((r = sd_bus_new (&bus)) < 0 || (r = sd_bus_set_address (bus, argv[1])) < 0
      || (r = sd_bus_set_bus_client (bus, 1)) < 0 || (r = sd_bus_start (bus)) < 0)
    {
      g_printerr ("bench-getstatus: %s: %s\n", argv[1], g_strerror (-r));
      return 1;
    }
  out = fopen (argv[2], "w");
  if (out == NULL)
    {
      g_printerr ("bench-getstatus: %s: %s\n", argv[2], g_strerror (errno));
      return 1;
    }
  for (int i = 0; calls == 0 || i < calls; i++)
    {
      sd_bus_message *reply = NULL;
      sd_bus_error bus_error = SD_BUS_ERROR_NULL;
      gint64 wall = g_get_real_time ();
      gint64 t0 = g_get_monotonic_time ();

      if (calls == 0 && i % 64 == 0 && access (stop_file, F_OK) == 0)
        break;
      r = sd_bus_call_method (bus, CF_BUS_NAME, CF_OBJECT_PATH, CF_INTERFACE, "GetStatus",
                              &bus_error, &reply, "");
      if (r >= 0)
        r = sd_bus_message_skip (reply, "a{sv}");   /* read it all, as a client would */
      if (r < 0)
        {
          g_printerr ("bench-getstatus: GetStatus: %s\n",
                      bus_error.message ? bus_error.message : g_strerror (-r));
          return 1;
        }
      fprintf (out, "%.6f %" G_GINT64_FORMAT "\n", wall / 1e6, g_get_monotonic_time () - t0);
      sd_bus_message_unref (reply);
      sd_bus_error_free (&bus_error);
    }
  if (fclose (out) != 0)
    return 1;
  sd_bus_flush_close_unref (bus);
  return 0;
}
