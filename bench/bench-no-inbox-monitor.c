/* SPDX-License-Identifier: MIT
 *
 * LD_PRELOAD shim for the benchmarks only: g_file_monitor_directory() fails
 * for every task inbox (a directory ending in "/.agent-queue/inbox"), so
 * claude-failoverd falls back to its periodic full scan (every
 * lifecycle.interval, see arm_full_timer() in src/daemon/queue/cf-inbox.c): the
 * daemon then finds new tasks by polling, like its Go predecessor did every
 * 30 s. bench/bench-dispatch.py --poll-samples uses it to measure that
 * polling in the same run as the GFileMonitor path. Every other monitor is
 * left alone. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <gio/gio.h>

typedef GFileMonitor *(*MonitorDirectoryFunc) (GFile *, GFileMonitorFlags, GCancellable *,
                                               GError **);

GFileMonitor *
g_file_monitor_directory (GFile *file, GFileMonitorFlags flags, GCancellable *cancellable,
                          GError **error)
{
  static MonitorDirectoryFunc real = NULL;
  g_autofree char *path = g_file_get_path (file);

  if (path != NULL && g_str_has_suffix (path, "/.agent-queue/inbox"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "inbox monitoring disabled by the benchmark (polling mode)");
      return NULL;
    }
  if (real == NULL)
    real = (MonitorDirectoryFunc) dlsym (RTLD_NEXT, "g_file_monitor_directory");
  return real (file, flags, cancellable, error);
}
