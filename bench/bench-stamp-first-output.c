/* SPDX-License-Identifier: MIT
 *
 * Used through `tmux pipe-pane -O` by bench/bench-scale.py (the C twin of
 * bench/stamp-first-output.py, cheap enough to start one per pane of 50):
 * writes the time (epoch seconds) of the first output byte of a pane, the
 * echo of the first keystroke, to ARGV[1] (atomically), then drains the
 * pane's output until tmux closes the pipe. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  char buffer[65536];
  char tmp[4096];
  int first = 1;
  ssize_t n;

  if (argc != 2 || snprintf (tmp, sizeof tmp, "%s.tmp", argv[1]) >= (int) sizeof tmp)
    return 2;
  while ((n = read (0, buffer, sizeof buffer)) > 0)
    {
      if (first)
        {
          struct timespec now;
          FILE *f;

          clock_gettime (CLOCK_REALTIME, &now);
          first = 0;
          f = fopen (tmp, "w");
          if (f == NULL)
            continue;
          fprintf (f, "%lld.%09ld", (long long) now.tv_sec, now.tv_nsec);
          if (fclose (f) == 0)
            rename (tmp, argv[1]);
        }
    }
  return 0;
}
