/* SPDX-License-Identifier: MIT */
/* GetStatus latency while polkit checks are pending (ARCHITECTURE.md §7:
 * GetStatus p99 < 5 ms; issue #5: 1 000 calls while checks pend; since issue 18
 * one uid may hold at most 16).
 *
 * Runs against a claude-failoverd already on the bus named by
 * DBUS_SYSTEM_BUS_ADDRESS (bench/bench-bus-polkit.py sets one up), and
 * plays polkitd itself: it owns org.freedesktop.PolicyKit1 and holds every
 * CheckAuthorization without answering. Then:
 *   1. baseline: CALLS GetStatus round trips, one at a time, nothing pending;
 *   2. a child running as an unprivileged user sends PENDING PauseDispatch
 *      calls at once; the daemon asks "polkitd" about each one, and the
 *      benchmark waits until it holds all PENDING questions;
 *   3. CALLS GetStatus round trips again, with every check still pending;
 *   4. the held checks are answered "no": each PauseDispatch must fail with
 *      AccessDenied, none earlier than the end of step 3, and DispatchPaused
 *      must still be false.
 * Needs root (the child changes user). Prints one table; exit 1 when
 * --assert-p99-ms is missed or a check above fails, 77 when it cannot run. */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cf-event-source.h"
#include "cf-names.h"

#define SKIP 77
#define WAIT_USEC (30 * G_USEC_PER_SEC)

static GPtrArray *held;          /* sd_bus_message*: CheckAuthorization not answered */

static int
hold_check (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  g_ptr_array_add (held, sd_bus_message_ref (message));
  return 1;
}

static const sd_bus_vtable authority_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_METHOD ("CheckAuthorization", "(sa{sv})sa{ss}us", "(bba{ss})", hold_check, 0),
  SD_BUS_VTABLE_END,
};

static int
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

typedef struct {
  double p50, p90, p99, max, mean;
} Stats;

static Stats
stats_of (GArray *samples)
{
  Stats s = { 0 };
  double sum = 0;

  g_array_sort (samples, compare_gint64);
  for (guint i = 0; i < samples->len; i++)
    sum += g_array_index (samples, gint64, i);
  /* nearest-rank percentiles, in ms */
#define RANK(p) (g_array_index (samples, gint64, MIN (samples->len - 1, \
                   (guint) ((p) * samples->len + 0.999999) - 1)) / 1000.0)
  s.p50 = RANK (0.50);
  s.p90 = RANK (0.90);
  s.p99 = RANK (0.99);
#undef RANK
  s.max = g_array_index (samples, gint64, samples->len - 1) / 1000.0;
  s.mean = sum / samples->len / 1000.0;
  return s;
}

/* CALLS GetStatus round trips on BUS, each one timed. */
static GArray *
time_get_status (sd_bus *bus, guint calls)
{
  GArray *samples = g_array_sized_new (FALSE, FALSE, sizeof (gint64), calls);

  for (guint i = 0; i < calls; i++)
    {
      g_autoptr(sd_bus_message) reply = NULL;
      sd_bus_error error = SD_BUS_ERROR_NULL;
      gint64 t0 = g_get_monotonic_time (), elapsed;
      int r;

      r = sd_bus_call_method (bus, CF_BUS_NAME, CF_OBJECT_PATH, CF_INTERFACE, "GetStatus",
                              &error, &reply, "");
      elapsed = g_get_monotonic_time () - t0;
      if (r < 0)
        {
          g_printerr ("GetStatus failed: %s\n", error.message ? error.message : g_strerror (-r));
          exit (1);
        }
      /* Read the whole snapshot, as a client would. */
      r = sd_bus_message_skip (reply, "a{sv}");
      if (r < 0)
        {
          g_printerr ("GetStatus reply unreadable: %s\n", g_strerror (-r));
          exit (1);
        }
      g_array_append_val (samples, elapsed);
      sd_bus_error_free (&error);
    }
  return samples;
}

/* ---- the unprivileged caller (child process) -------------------------- */

typedef struct {
  guint replies;
  guint denied;
  gint64 first_reply;          /* monotonic µs */
} CallerReport;

static CallerReport report;

static int
on_pause_reply (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  const sd_bus_error *error = sd_bus_message_get_error (reply);

  if (report.replies++ == 0)
    report.first_reply = g_get_monotonic_time ();
  if (error != NULL && g_strcmp0 (error->name, SD_BUS_ERROR_ACCESS_DENIED) == 0)
    report.denied++;
  else
    g_printerr ("caller: unexpected answer %s: %s\n", error ? error->name : "(success)",
                error && error->message ? error->message : "");
  return 0;
}

/* The daemon keeps at most this many checks pending per caller connection
 * (MAX_PENDING_PER_SENDER in src/daemon/control/cf-polkit.c) and 16 per uid: the
 * caller spreads its calls over connections. */
#define CALLS_PER_CONNECTION 8

static G_NORETURN void
run_caller (const struct passwd *user, guint pending, int report_fd, int ready_fd)
{
  guint n_buses = (pending + CALLS_PER_CONNECTION - 1) / CALLS_PER_CONNECTION;
  g_autofree sd_bus **buses = g_new0 (sd_bus *, n_buses);
  gint64 deadline;
  int r = 0;

  if (setgroups (0, NULL) < 0 || setgid (user->pw_gid) < 0 || setuid (user->pw_uid) < 0)
    {
      g_printerr ("caller: cannot become %s: %s\n", user->pw_name, g_strerror (errno));
      _exit (1);
    }
  for (guint b = 0; b < n_buses; b++)
    {
      r = sd_bus_open_system (&buses[b]);
      if (r < 0)
        {
          g_printerr ("caller: cannot connect: %s\n", g_strerror (-r));
          _exit (1);
        }
    }
  for (guint i = 0; i < pending; i++)
    {
      g_autoptr(sd_bus_message) call = NULL;
      sd_bus *bus = buses[i / CALLS_PER_CONNECTION];

      r = sd_bus_message_new_method_call (bus, &call, CF_BUS_NAME, CF_OBJECT_PATH, CF_INTERFACE,
                                          "PauseDispatch");
      if (r >= 0)
        r = sd_bus_call_async (bus, NULL, call, on_pause_reply, NULL, 2 * WAIT_USEC);
      if (r < 0)
        {
          g_printerr ("caller: cannot send PauseDispatch: %s\n", g_strerror (-r));
          _exit (1);
        }
    }
  for (guint b = 0; b < n_buses && r >= 0; b++)
    r = sd_bus_flush (buses[b]);
  (void) write (ready_fd, "s", 1);
  deadline = g_get_monotonic_time () + 4 * WAIT_USEC;
  while (r >= 0 && report.replies < pending && g_get_monotonic_time () < deadline)
    {
      gboolean progress = FALSE;

      for (guint b = 0; b < n_buses && r >= 0; b++)
        {
          r = sd_bus_process (buses[b], NULL);
          progress |= r > 0;
        }
      if (r >= 0 && !progress)
        g_usleep (1000);   /* a forked test caller, not the daemon */
    }
  (void) write (report_fd, &report, sizeof report);
  _exit (0);
}

/* ---- main ------------------------------------------------------------- */

static void
process_until_held (sd_bus *bus, guint n)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_USEC;

  while (held->len < n)
    {
      int r = sd_bus_process (bus, NULL);

      if (r < 0)
        {
          g_printerr ("authority connection: %s\n", g_strerror (-r));
          exit (1);
        }
      if (r > 0)
        continue;
      if (g_get_monotonic_time () > deadline)
        {
          g_printerr ("only %u of %u polkit checks arrived within %llds\n", held->len, n,
                      (long long) (WAIT_USEC / G_USEC_PER_SEC));
          exit (1);
        }
      (void) sd_bus_wait (bus, 100 * 1000);
    }
}

static gboolean
read_fully (int fd, void *buffer, gsize size, gint64 timeout_usec)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  gsize got = 0;

  while (got < size)
    {
      ssize_t n;

      if (poll (&p, 1, (int) (timeout_usec / 1000)) <= 0)
        return FALSE;
      n = read (fd, (char *) buffer + got, size - got);
      if (n <= 0)
        return FALSE;
      got += n;
    }
  return TRUE;
}

static void
print_row (const char *label, const Stats *s)
{
  g_print ("| %s | %.3f | %.3f | %.3f | %.3f | %.3f |\n", label, s->mean, s->p50, s->p90, s->p99,
           s->max);
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(sd_bus) authority = NULL;
  g_autoptr(sd_bus) client = NULL;
  g_autoptr(sd_bus_slot) slot = NULL;
  g_autoptr(GArray) baseline = NULL;
  g_autoptr(GArray) loaded = NULL;
  g_autofree char *caller_name = g_strdup ("nobody");
  int calls = 1000, pending = 16, paused = -1;
  double assert_p99_ms = 0;
  const struct passwd *caller;
  int report_pipe[2], ready_pipe[2];
  CallerReport child_report = { 0 };
  gint64 measured_end;
  Stats base, load;
  gboolean ok = TRUE;
  char ready, label[64];
  pid_t child;
  int status, r;
  GOptionEntry entries[] = {
    { "calls", 0, 0, G_OPTION_ARG_INT, &calls, "GetStatus calls per phase (1000)", "N" },
    { "pending", 0, 0, G_OPTION_ARG_INT, &pending, "polkit checks held pending (16, the most one uid may have)", "N" },
    { "caller", 0, 0, G_OPTION_ARG_STRING, &caller_name, "unprivileged caller (nobody)", "USER" },
    { "assert-p99-ms", 0, 0, G_OPTION_ARG_DOUBLE, &assert_p99_ms,
      "fail unless GetStatus p99 with checks pending is below MS", "MS" },
    { NULL },
  };

  context = g_option_context_new (NULL);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || calls < 1 || pending < 1)
    {
      g_printerr ("%s\n", error ? error->message : "--calls and --pending must be positive");
      return 2;
    }
  if (getuid () != 0)
    {
      g_printerr ("SKIP: needs root (the pending callers run as %s)\n", caller_name);
      return SKIP;
    }
  caller = getpwnam (caller_name);
  if (caller == NULL || caller->pw_uid == 0)
    {
      g_printerr ("SKIP: no unprivileged user %s\n", caller_name);
      return SKIP;
    }
  held = g_ptr_array_new_with_free_func ((GDestroyNotify) sd_bus_message_unref);

  r = sd_bus_open_system (&authority);
  if (r >= 0)
    r = sd_bus_add_object_vtable (authority, &slot, "/org/freedesktop/PolicyKit1/Authority",
                                  "org.freedesktop.PolicyKit1.Authority", authority_vtable, NULL);
  if (r >= 0)
    r = sd_bus_request_name (authority, "org.freedesktop.PolicyKit1", 0);
  if (r >= 0)
    r = sd_bus_open_system (&client);
  if (r < 0)
    {
      g_printerr ("cannot set up on the bus %s: %s\n", g_getenv ("DBUS_SYSTEM_BUS_ADDRESS"),
                  g_strerror (-r));
      return 1;
    }

  g_array_unref (time_get_status (client, MIN (calls, 100)));   /* warm-up */
  baseline = time_get_status (client, calls);

  if (pipe (report_pipe) < 0 || pipe (ready_pipe) < 0)
    return 1;
  child = fork ();
  if (child < 0)
    return 1;
  if (child == 0)
    {
      close (report_pipe[0]);
      close (ready_pipe[0]);
      run_caller (caller, pending, report_pipe[1], ready_pipe[1]);
    }
  close (report_pipe[1]);
  close (ready_pipe[1]);
  if (!read_fully (ready_pipe[0], &ready, 1, WAIT_USEC))
    {
      g_printerr ("the caller process did not start\n");
      return 1;
    }
  process_until_held (authority, pending);

  loaded = time_get_status (client, calls);
  measured_end = g_get_monotonic_time ();

  for (guint i = 0; i < held->len; i++)
    {
      r = sd_bus_reply_method_return (g_ptr_array_index (held, i), "(bba{ss})", FALSE, FALSE, 0);
      if (r < 0)
        g_printerr ("cannot answer a check: %s\n", g_strerror (-r));
    }
  (void) sd_bus_flush (authority);
  if (!read_fully (report_pipe[0], &child_report, sizeof child_report, 2 * WAIT_USEC))
    {
      g_printerr ("no report from the caller process\n");
      ok = FALSE;
    }
  (void) waitpid (child, &status, 0);
  r = sd_bus_get_property_trivial (client, CF_BUS_NAME, CF_OBJECT_PATH, CF_INTERFACE,
                                   "DispatchPaused", NULL, 'b', &paused);

  base = stats_of (baseline);
  load = stats_of (loaded);
  g_print ("bench-bus-polkit: %d GetStatus calls per phase; %d PauseDispatch calls from %s "
           "pending on polkit during the second\n\n", calls, pending, caller_name);
  g_print ("| GetStatus round trip (ms) | mean | p50 | p90 | p99 | max |\n"
           "|---|---:|---:|---:|---:|---:|\n");
  print_row ("nothing pending", &base);
  g_snprintf (label, sizeof label, "%d polkit checks pending", pending);
  print_row (label, &load);
  g_print ("\nratio p99 pending/baseline %.2f; checks held %u; caller answers %u of %d, "
           "%u AccessDenied, first one %.1f ms after the measurement ended\n",
           base.p99 > 0 ? load.p99 / base.p99 : 0.0, held->len, child_report.replies, pending,
           child_report.denied, (child_report.first_reply - measured_end) / 1000.0);

  if (child_report.replies != (guint) pending || child_report.denied != (guint) pending)
    {
      g_printerr ("FAIL: %u of %d pending calls were denied\n", child_report.denied, pending);
      ok = FALSE;
    }
  if (child_report.replies > 0 && child_report.first_reply < measured_end)
    {
      g_printerr ("FAIL: a pending call was answered during the measurement\n");
      ok = FALSE;
    }
  if (r < 0 || paused != 0)
    {
      g_printerr ("FAIL: DispatchPaused is %s after the denials\n", r < 0 ? "unreadable" : "true");
      ok = FALSE;
    }
  if (assert_p99_ms > 0)
    {
      if (load.p99 < assert_p99_ms)
        g_print ("PASS: p99 %.3f ms < %.1f ms with %d checks pending\n", load.p99, assert_p99_ms,
                 pending);
      else
        {
          g_printerr ("FAIL: p99 %.3f ms >= %.1f ms with %d checks pending\n", load.p99,
                      assert_p99_ms, pending);
          ok = FALSE;
        }
    }
  g_ptr_array_unref (held);
  return ok ? 0 : 1;
}
