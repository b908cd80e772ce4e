/* SPDX-License-Identifier: MIT */
/* Replays every file of a corpus directory (or the files named) through the
 * libFuzzer entry point, so fuzz targets run as ordinary tests on any compiler. */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
replay_path (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, &error);
      const char *name;
      int count = 0;

      if (dir == NULL)
        {
          fprintf (stderr, "replay: %s\n", error->message);
          return -1;
        }
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          int r = replay_path (child);
          if (r < 0)
            return r;
          count += r;
        }
      return count;
    }

  if (!g_file_get_contents (path, &contents, &length, &error))
    {
      fprintf (stderr, "replay: %s\n", error->message);
      return -1;
    }
  LLVMFuzzerTestOneInput ((const uint8_t *) contents, length);
  return 1;
}

int
main (int argc, char **argv)
{
  int total = 0;

  if (argc < 2)
    {
      fprintf (stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
      return 2;
    }
  for (int i = 1; i < argc; i++)
    {
      int r = replay_path (argv[i]);
      if (r < 0)
        return 1;
      total += r;
    }
  if (total == 0)
    {
      fprintf (stderr, "replay: empty corpus\n");
      return 1;
    }
  printf ("replayed %d inputs\n", total);
  return 0;
}
