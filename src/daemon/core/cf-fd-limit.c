/* SPDX-License-Identifier: MIT */
#include "cf-fd-limit.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

static struct rlimit original;
static gboolean raised;

void
cf_fd_limit_raise (void)
{
  struct rlimit wanted;

  if (getrlimit (RLIMIT_NOFILE, &original) != 0 || original.rlim_cur >= original.rlim_max)
    return;
  wanted = original;
  wanted.rlim_cur = original.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &wanted) != 0)
    {
      int saved_errno = errno;

      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "MESSAGE", "Cannot raise the open-file limit from %llu to %llu: %s",
                        (unsigned long long) original.rlim_cur,
                        (unsigned long long) original.rlim_max, g_strerror (saved_errno));
      return;
    }
  raised = TRUE;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "MESSAGE", "Open-file limit raised from %llu to %llu",
                    (unsigned long long) original.rlim_cur,
                    (unsigned long long) original.rlim_max);
}

void
cf_fd_limit_restore_in_child (void)
{
  if (raised)
    setrlimit (RLIMIT_NOFILE, &original);
}
