/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cf-http-dashboard.h"
#include "cf-http-events.h"
#include "cf-test-util.h"

/* GET /events and GET / served by an in-process SoupServer; the clients are
 * plain sockets read without blocking between main-loop turns. */

typedef struct {
  SoupServer *server;
  guint port;
  CfState *state;
  CfTaskEvents *task_events;
  CfHttpEvents *events;
  gboolean dashboard;
} Fixture;

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
        gpointer user_data)
{
  Fixture *f = user_data;

  if (g_str_equal (path, "/events"))
    cf_http_events_serve (f->events, msg);
  else
    cf_http_dashboard_serve_page (msg, f->dashboard);
}

static void
start (Fixture *f, guint max_clients, gsize buffer_limit, guint heartbeat_ms)
{
  g_autoptr(GError) error = NULL;
  CfHttpEventsOptions options = { max_clients, buffer_limit, heartbeat_ms };
  GSList *uris;

  f->state = cf_state_new ();
  f->task_events = cf_task_events_new (cf_state_get_counters (f->state));
  f->events = cf_http_events_new (f->state, f->task_events, &options);
  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, handle, f, NULL);
  g_assert_true (soup_server_listen_local (f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (f->server);
  f->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->events, cf_http_events_free);
  if (f->server != NULL)
    soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  cf_test_run_for (20);
  g_clear_object (&f->state);
  g_clear_object (&f->task_events);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  memset (f, 0, sizeof *f);
  f->dashboard = TRUE;
}

/* A connected socket that has sent "GET PATH"; RCVBUF > 0 shrinks its
 * receive buffer first. */
static int
connect_get (Fixture *f, const char *path, int rcvbuf)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (f->port),
                              .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  g_autofree char *request = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  if (rcvbuf > 0)
    g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), ==, 0);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (write (fd, request, strlen (request)), ==, (gssize) strlen (request));
  return fd;
}

/* Appends what FD has to OUT without blocking; FALSE once it reached EOF. */
static gboolean
drain (int fd, GString *out)
{
  char buffer[65536];

  for (;;)
    {
      gssize n = recv (fd, buffer, sizeof buffer, MSG_DONTWAIT);

      if (n > 0)
        g_string_append_len (out, buffer, n);
      else if (n == 0)
        return FALSE;
      else
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    }
}

static gboolean
n_clients_is (gpointer fixture, gconstpointer n)
{
  return cf_http_events_get_n_clients (((Fixture *) fixture)->events) == GPOINTER_TO_UINT (n);
}

/* Runs the loop, reading FD, until OUT holds NEEDLE (or TIMEOUT_MS). */
static gboolean
read_until (int fd, GString *out, const char *needle, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (strstr (out->str, needle) == NULL)
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      drain (fd, out);
      g_usleep (1000);
    }
  return TRUE;
}

static void
test_framing (Fixture *f, gconstpointer data)
{
  g_autoptr(GString) got = g_string_new (NULL);
  int fd;

  start (f, 4, 65536, 60000);
  fd = connect_get (f, "/events", 0);
  g_assert_true (cf_test_run_until (f, n_clients_is, GUINT_TO_POINTER (1), 2000));
  g_assert_true (read_until (fd, got, ": claude-failover events\n\n", 2000));
  g_assert_true (g_str_has_prefix (got->str, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (got->str, "\r\nContent-Type: text/event-stream; charset=utf-8\r\n"));
  g_assert_nonnull (strstr (got->str, "\r\nCache-Control: no-store\r\n"));

  g_signal_emit_by_name (f->task_events, "task-dispatched", "/p/web", "t-1", "ccl-auto-0", "sonnet",
                         "main");
  g_signal_emit_by_name (f->task_events, "task-finished", "/p/web", "t-1", "ccl-auto-0", "done");
  g_assert_true (read_until (fd, got, "event: TaskFinished", 2000));
  g_assert_true (read_until (fd, got, "\"done\"}\n\n", 2000));
  g_assert_nonnull (strstr (got->str,
      "\r\n\r\n: claude-failover events\n\n"
      "event: TaskDispatched\n"
      "data: {\"project\":\"/p/web\",\"task_id\":\"t-1\",\"session\":\"ccl-auto-0\","
      "\"model\":\"sonnet\",\"account\":\"main\"}\n\n"
      "event: TaskFinished\n"
      "data: {\"project\":\"/p/web\",\"task_id\":\"t-1\",\"session\":\"ccl-auto-0\","
      "\"outcome\":\"done\"}\n\n"));

  /* The client leaves: it is forgotten. */
  close (fd);
  g_assert_true (cf_test_run_until (f, n_clients_is, GUINT_TO_POINTER (0), 2000));
}

static void
test_heartbeat (Fixture *f, gconstpointer data)
{
  g_autoptr(GString) got = g_string_new (NULL);
  int fd;

  start (f, 4, 65536, 50);
  fd = connect_get (f, "/events", 0);
  g_assert_true (read_until (fd, got, ": heartbeat\n\n: heartbeat\n\n", 2000));
  close (fd);
}

static void
test_client_cap (Fixture *f, gconstpointer data)
{
  g_autoptr(GString) third = g_string_new (NULL);
  g_autoptr(GString) fourth = g_string_new (NULL);
  int a, b, c, d;

  start (f, 2, 65536, 60000);
  a = connect_get (f, "/events", 0);
  b = connect_get (f, "/events", 0);
  g_assert_true (cf_test_run_until (f, n_clients_is, GUINT_TO_POINTER (2), 2000));
  c = connect_get (f, "/events", 0);
  g_assert_true (read_until (c, third, "too many event stream clients", 2000));
  g_assert_true (g_str_has_prefix (third->str, "HTTP/1.1 503"));
  g_assert_nonnull (strstr (third->str, "Retry-After: 10\r\n"));
  g_assert_cmpuint (cf_http_events_get_n_clients (f->events), ==, 2);

  close (a);
  g_assert_true (cf_test_run_until (f, n_clients_is, GUINT_TO_POINTER (1), 2000));
  d = connect_get (f, "/events", 0);
  g_assert_true (read_until (d, fourth, "HTTP/1.1 200 OK", 2000));
  g_assert_true (cf_test_run_until (f, n_clients_is, GUINT_TO_POINTER (2), 2000));
  close (b);
  close (c);
  close (d);
}

/* A client that never reads is cut off at the buffer limit; one that reads
 * gets every event. */
static void
test_slow_reader_dropped (Fixture *f, gconstpointer data)
{
  g_autoptr(GString) fast_got = g_string_new (NULL);
  g_autoptr(GString) slow_got = g_string_new (NULL);
  g_autofree char *last = NULL;
  guint sent = 0;
  int slow, fast;

  start (f, 4, 16384, 60000);
  slow = connect_get (f, "/events", 4096);
  fast = connect_get (f, "/events", 0);
  g_assert_true (cf_test_run_until (f, n_clients_is, GUINT_TO_POINTER (2), 2000));

  while (cf_http_events_get_n_dropped (f->events) == 0 && sent < 200000)
    {
      g_autofree char *task = g_strdup_printf ("task-%06u", sent++);

      g_signal_emit_by_name (f->task_events, "task-finished", "/p/web", task, "ccl-auto-0", "done");
      while (g_main_context_iteration (NULL, FALSE))
        ;
      drain (fast, fast_got);
    }
  g_test_message ("slow reader dropped after %u events", sent);
  g_assert_cmpuint (cf_http_events_get_n_dropped (f->events), ==, 1);
  g_assert_cmpuint (cf_http_events_get_n_clients (f->events), ==, 1);
  /* Bounded: dropped long before the kernel buffers and ours were flooded. */
  g_assert_cmpuint (sent, <, 5000);

  g_signal_emit_by_name (f->task_events, "task-finished", "/p/web", "the-last", "ccl-auto-0",
                         "done");
  g_assert_true (read_until (fast, fast_got, "\"task_id\":\"the-last\"", 5000));
  for (guint i = 0; i < sent; i++)
    {
      g_autofree char *needle = g_strdup_printf ("\"task_id\":\"task-%06u\"", i);

      if (strstr (fast_got->str, needle) == NULL)
        g_error ("the reading client missed %s", needle);
    }
  /* The slow one's connection was closed: what was sent, then EOF. */
  {
    gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
    gboolean open = TRUE;

    while (open && g_get_monotonic_time () < end)
      {
        g_main_context_iteration (NULL, FALSE);
        open = drain (slow, slow_got);
        g_usleep (1000);
      }
    g_assert_false (open);
  }
  close (slow);
  close (fast);
}

static void
test_dashboard_page (Fixture *f, gconstpointer data)
{
  g_autoptr(GString) page = g_string_new (NULL);
  g_autoptr(GString) off = g_string_new (NULL);
  g_autoptr(GRegex) external = g_regex_new ("(src|href)\\s*=|https?://|@import|url\\(",
                                            G_REGEX_CASELESS, 0, NULL);
  const char *body;
  int fd;

  start (f, 4, 65536, 60000);
  fd = connect_get (f, "/", 0);
  g_assert_true (read_until (fd, page, "</html>", 2000));
  close (fd);
  g_assert_true (g_str_has_prefix (page->str, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (page->str, "Content-Type: text/html; charset=utf-8\r\n"));
  g_assert_nonnull (strstr (page->str, "Content-Security-Policy: default-src 'none'"));
  body = strstr (page->str, "\r\n\r\n");
  g_assert_nonnull (body);
  g_assert_nonnull (strstr (body, "new EventSource(\"/events\")"));
  /* Self-contained: nothing is loaded from elsewhere. */
  g_assert_false (g_regex_match (external, body, 0, NULL));

  f->dashboard = FALSE;
  fd = connect_get (f, "/", 0);
  g_assert_true (read_until (fd, off, "http.dashboard: false", 2000));
  close (fd);
  g_assert_true (g_str_has_prefix (off->str, "HTTP/1.1 404"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/http-events/framing", test_framing);
  ADD ("/http-events/heartbeat", test_heartbeat);
  ADD ("/http-events/client-cap", test_client_cap);
  ADD ("/http-events/slow-reader-dropped", test_slow_reader_dropped);
  ADD ("/http-events/dashboard-page", test_dashboard_page);
  return g_test_run ();
}
