/* SPDX-License-Identifier: MIT */
/* CfPolkit on a private dbus-daemon, with this process playing all three
 * parts: a service whose method "Do" is authorised through CfPolkit, a
 * fake org.freedesktop.PolicyKit1 authority whose verdicts (and delays) the
 * tests choose, and a client calling "Do". */
#include <string.h>
#include <unistd.h>

#include "cf-event-source.h"
#include "cf-polkit.h"
#include "cf-test-util.h"

#define WAIT_MS 10000
#define TEST_PATH "/org/example/Test"
#define TEST_INTERFACE "org.example.Test"
#define ACTION_A "org.example.action-a"
#define ACTION_B "org.example.action-b"

typedef enum {
  AUTHORITY_ALLOW,
  AUTHORITY_DENY,
  AUTHORITY_CHALLENGE,
  AUTHORITY_FAIL,            /* an error reply */
  AUTHORITY_HOLD,            /* no reply until the test sends one */
  AUTHORITY_ALLOW_ACTION_A,  /* yes for ACTION_A only */
} AuthorityMode;

typedef struct {
  sd_bus_message *message;   /* held CheckAuthorization, NULL once answered */
  char *kind;
  char *name;
  char *action;
  guint32 flags;
} Check;

typedef struct {
  gboolean done;
  gboolean ok;
  char *error_name;
  char *error_message;
} Result;

typedef struct {
  char *tmpdir;
  GSubprocess *bus_daemon;
  char *address;
  sd_event *event;
  GSource *source;
  sd_bus *service;
  sd_bus *authority;
  sd_bus *client;
  sd_bus_slot *service_slot;
  sd_bus_slot *authority_slot;
  CfPolkit *polkit;
  AuthorityMode mode;
  GPtrArray *checks;         /* Check*, as the authority received them */
  gboolean inside_authorize;
  guint callbacks;
  guint pings;
} Fixture;

static void
check_free (Check *check)
{
  sd_bus_message_unref (check->message);
  g_free (check->kind);
  g_free (check->name);
  g_free (check->action);
  g_free (check);
}

static void
result_clear (Result *result)
{
  g_clear_pointer (&result->error_name, g_free);
  g_clear_pointer (&result->error_message, g_free);
  result->done = result->ok = FALSE;
}

/* ---- the fake polkit authority -------------------------------------- */

static int
reply_verdict (sd_bus_message *message, gboolean allowed, gboolean challenge)
{
  g_autoptr(sd_bus_message) reply = NULL;
  int r;

  r = sd_bus_message_new_method_return (message, &reply);
  g_assert_cmpint (r, >=, 0);
  g_assert_cmpint (sd_bus_message_append (reply, "(bba{ss})", allowed, challenge, 0), >=, 0);
  return sd_bus_send (NULL, reply, NULL);
}

static int
authority_check (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  Fixture *f = userdata;
  Check *check = g_new0 (Check, 1);
  const char *kind, *key, *name = NULL, *action, *cancel;
  int r;

  g_assert_cmpint (sd_bus_message_enter_container (message, 'r', "sa{sv}"), >=, 0);
  g_assert_cmpint (sd_bus_message_read (message, "s", &kind), >=, 0);
  g_assert_cmpint (sd_bus_message_enter_container (message, 'a', "{sv}"), >=, 0);
  while ((r = sd_bus_message_enter_container (message, 'e', "sv")) > 0)
    {
      g_assert_cmpint (sd_bus_message_read (message, "s", &key), >=, 0);
      if (g_str_equal (key, "name"))
        g_assert_cmpint (sd_bus_message_read (message, "v", "s", &name), >=, 0);
      else
        g_assert_cmpint (sd_bus_message_skip (message, "v"), >=, 0);
      g_assert_cmpint (sd_bus_message_exit_container (message), >=, 0);
    }
  g_assert_cmpint (r, >=, 0);
  g_assert_cmpint (sd_bus_message_exit_container (message), >=, 0);
  g_assert_cmpint (sd_bus_message_exit_container (message), >=, 0);
  g_assert_cmpint (sd_bus_message_read (message, "s", &action), >=, 0);
  g_assert_cmpint (sd_bus_message_skip (message, "a{ss}"), >=, 0);
  g_assert_cmpint (sd_bus_message_read (message, "us", &check->flags, &cancel), >=, 0);
  g_assert_cmpstr (cancel, ==, "");

  check->kind = g_strdup (kind);
  check->name = g_strdup (name);
  check->action = g_strdup (action);
  g_ptr_array_add (f->checks, check);

  switch (f->mode)
    {
    case AUTHORITY_ALLOW:
      return reply_verdict (message, TRUE, FALSE);
    case AUTHORITY_DENY:
      return reply_verdict (message, FALSE, FALSE);
    case AUTHORITY_CHALLENGE:
      return reply_verdict (message, FALSE, TRUE);
    case AUTHORITY_ALLOW_ACTION_A:
      return reply_verdict (message, g_str_equal (action, ACTION_A), FALSE);
    case AUTHORITY_FAIL:
      return sd_bus_error_set (error, "org.freedesktop.PolicyKit1.Error.Failed",
                               "the authority is on fire");
    case AUTHORITY_HOLD:
      check->message = sd_bus_message_ref (message);
      return 1;
    }
  g_assert_not_reached ();
}

static const sd_bus_vtable authority_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_METHOD ("CheckAuthorization", "(sa{sv})sa{ss}us", "(bba{ss})", authority_check, 0),
  SD_BUS_VTABLE_END,
};

/* ---- the service -------------------------------------------------------- */

static void
on_verdict (sd_bus_message *call, gboolean allowed, const sd_bus_error *error, gpointer user_data)
{
  Fixture *f = user_data;

  g_assert_false (f->inside_authorize);
  f->callbacks++;
  if (allowed)
    {
      g_assert_null (error);
      g_assert_cmpint (sd_bus_reply_method_return (call, "s", "done"), >=, 0);
    }
  else
    {
      g_assert_nonnull (error);
      g_assert_true (sd_bus_error_is_set (error));
      g_assert_cmpint (sd_bus_reply_method_error (call, error), >=, 0);
    }
}

static int
service_do (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  Fixture *f = userdata;
  const char *action;

  g_assert_cmpint (sd_bus_message_read (message, "s", &action), >=, 0);
  f->inside_authorize = TRUE;
  cf_polkit_authorize (f->polkit, message, *action != '\0' ? action : NULL, on_verdict, f);
  f->inside_authorize = FALSE;
  return 1;
}

static int
service_ping (sd_bus_message *message, void *userdata, sd_bus_error *error)
{
  Fixture *f = userdata;

  f->pings++;
  return sd_bus_reply_method_return (message, "");
}

static const sd_bus_vtable service_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_METHOD ("Do", "s", "s", service_do, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD ("Ping", "", "", service_ping, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_VTABLE_END,
};

/* ---- the client ---------------------------------------------------------- */

static int
on_client_reply (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Result *result = userdata;
  const sd_bus_error *error = sd_bus_message_get_error (reply);

  g_assert_false (result->done);
  result->done = TRUE;
  result->ok = error == NULL;
  if (error != NULL)
    {
      result->error_name = g_strdup (error->name);
      result->error_message = g_strdup (error->message);
    }
  return 0;
}

static void
call_do (Fixture *f, const char *method, const char *action, gboolean interactive, Result *result)
{
  g_autoptr(sd_bus_message) call = NULL;
  const char *service_name = NULL;

  g_assert_cmpint (sd_bus_get_unique_name (f->service, &service_name), >=, 0);
  g_assert_cmpint (sd_bus_message_new_method_call (f->client, &call, service_name, TEST_PATH,
                                                   TEST_INTERFACE, method), >=, 0);
  if (action != NULL)
    g_assert_cmpint (sd_bus_message_append (call, "s", action), >=, 0);
  g_assert_cmpint (sd_bus_message_set_allow_interactive_authorization (call, interactive), >=, 0);
  g_assert_cmpint (sd_bus_call_async (f->client, NULL, call, on_client_reply, result, 0), >=, 0);
}

static gboolean
result_done (gpointer fixture, gconstpointer data)
{
  return ((const Result *) data)->done;
}

static gboolean
all_done (gpointer fixture, gconstpointer data)
{
  const GArray *results = data;

  for (guint i = 0; i < results->len; i++)
    if (!g_array_index (results, Result, i).done)
      return FALSE;
  return TRUE;
}

static gboolean
has_pending (gpointer fixture, gconstpointer data)
{
  return cf_polkit_get_n_pending (((Fixture *) fixture)->polkit) > 0;
}

static gboolean
n_checks_reached (gpointer fixture, gconstpointer data)
{
  return ((Fixture *) fixture)->checks->len >= GPOINTER_TO_UINT (data);
}

/* One call, waited for. */
static void
do_call (Fixture *f, const char *action, gboolean interactive, Result *result)
{
  result_clear (result);
  call_do (f, "Do", action == NULL ? "" : action, interactive, result);
  g_assert_true (cf_test_run_until (f, result_done, result, WAIT_MS));
}

/* ---- fixture ------------------------------------------------------------- */

static sd_bus *
connect_to (const char *address)
{
  g_autoptr(sd_bus) bus = NULL;

  g_assert_cmpint (sd_bus_new (&bus), >=, 0);
  g_assert_cmpint (sd_bus_set_address (bus, address), >=, 0);
  g_assert_cmpint (sd_bus_set_bus_client (bus, TRUE), >=, 0);
  g_assert_cmpint (sd_bus_start (bus), >=, 0);
  return g_steal_pointer (&bus);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *config = NULL;
  g_autofree char *config_path = NULL;

  if (g_find_program_in_path ("dbus-daemon") == NULL)
    {
      g_test_skip ("dbus-daemon is not installed");
      return;
    }
  f->tmpdir = cf_test_make_tmpdir ("cf-polkit-XXXXXX");
  config = g_strdup_printf ("<busconfig><type>session</type>"
                            "<listen>unix:dir=%s</listen><auth>EXTERNAL</auth>"
                            "<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
                            "<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>",
                            f->tmpdir);
  config_path = g_build_filename (f->tmpdir, "bus.conf", NULL);
  cf_test_write_file (config_path, config);
  f->bus_daemon = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                    &error, "dbus-daemon",
                                    "--config-file", config_path, "--nofork", "--print-address",
                                    NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (f->bus_daemon));
  f->address = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->address);

  g_assert_cmpint (sd_event_new (&f->event), >=, 0);
  f->source = cf_event_source_new (f->event);
  g_source_attach (f->source, NULL);

  f->service = connect_to (f->address);
  f->authority = connect_to (f->address);
  f->client = connect_to (f->address);
  g_assert_cmpint (sd_bus_add_object_vtable (f->service, &f->service_slot, TEST_PATH, TEST_INTERFACE,
                                             service_vtable, f), >=, 0);
  g_assert_cmpint (sd_bus_add_object_vtable (f->authority, &f->authority_slot,
                                             "/org/freedesktop/PolicyKit1/Authority",
                                             "org.freedesktop.PolicyKit1.Authority",
                                             authority_vtable, f), >=, 0);
  g_assert_cmpint (sd_bus_request_name (f->authority, "org.freedesktop.PolicyKit1", 0), >=, 0);
  g_assert_cmpint (sd_bus_attach_event (f->service, f->event, 0), >=, 0);
  g_assert_cmpint (sd_bus_attach_event (f->authority, f->event, 0), >=, 0);
  g_assert_cmpint (sd_bus_attach_event (f->client, f->event, 0), >=, 0);
  f->checks = g_ptr_array_new_with_free_func ((GDestroyNotify) check_free);
  /* This process is root or the service's own user: trust nobody here. */
  f->polkit = cf_polkit_new (f->service, CF_POLKIT_FLAGS_NONE);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  if (f->tmpdir == NULL)
    return;
  g_clear_object (&f->polkit);
  g_clear_pointer (&f->checks, g_ptr_array_unref);
  f->service_slot = sd_bus_slot_unref (f->service_slot);
  f->authority_slot = sd_bus_slot_unref (f->authority_slot);
  f->client = sd_bus_flush_close_unref (f->client);
  f->authority = sd_bus_flush_close_unref (f->authority);
  f->service = sd_bus_flush_close_unref (f->service);
  g_source_destroy (f->source);
  g_clear_pointer (&f->source, g_source_unref);
  f->event = sd_event_unref (f->event);
  g_subprocess_force_exit (f->bus_daemon);
  g_subprocess_wait (f->bus_daemon, NULL, NULL);
  g_clear_object (&f->bus_daemon);
  g_free (f->address);
  cf_test_remove_tree (f->tmpdir);
  g_free (f->tmpdir);
}

static void
replace_polkit (Fixture *f, CfPolkitFlags flags)
{
  g_clear_object (&f->polkit);
  f->polkit = cf_polkit_new (f->service, flags);
}

/* ---- tests ----------------------------------------------------------------- */

static void
test_allowed_and_subject (Fixture *f, gconstpointer data)
{
  Result result = { 0 };
  const char *client_name = NULL;

  if (f->tmpdir == NULL)
    return;
  f->mode = AUTHORITY_ALLOW;
  do_call (f, ACTION_A, FALSE, &result);
  g_assert_true (result.ok);
  do_call (f, ACTION_B, TRUE, &result);
  g_assert_true (result.ok);

  g_assert_cmpint (sd_bus_get_unique_name (f->client, &client_name), >=, 0);
  g_assert_cmpuint (f->checks->len, ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      Check *check = g_ptr_array_index (f->checks, i);

      g_assert_cmpstr (check->kind, ==, "system-bus-name");
      g_assert_cmpstr (check->name, ==, client_name);
      g_assert_cmpstr (check->action, ==, i == 0 ? ACTION_A : ACTION_B);
      /* AllowUserInteraction exactly when the caller allowed it. */
      g_assert_cmpuint (check->flags, ==, i == 0 ? 0 : 1);
    }
  g_assert_cmpuint (f->callbacks, ==, 2);
  g_assert_cmpuint (cf_polkit_get_n_pending (f->polkit), ==, 0);
  result_clear (&result);
}

static void
test_denials (Fixture *f, gconstpointer data)
{
  Result result = { 0 };

  if (f->tmpdir == NULL)
    return;
  f->mode = AUTHORITY_DENY;
  do_call (f, ACTION_A, TRUE, &result);
  g_assert_false (result.ok);
  g_assert_cmpstr (result.error_name, ==, SD_BUS_ERROR_ACCESS_DENIED);
  g_assert_cmpstr (result.error_message, ==, "Not authorized to call Do (polkit action " ACTION_A ")");

  f->mode = AUTHORITY_CHALLENGE;
  do_call (f, ACTION_A, FALSE, &result);
  g_assert_cmpstr (result.error_name, ==, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED);
  g_assert_nonnull (strstr (result.error_message, "Authentication is required to call Do"));
  do_call (f, ACTION_A, TRUE, &result);
  g_assert_cmpstr (result.error_name, ==, SD_BUS_ERROR_ACCESS_DENIED);
  g_assert_nonnull (strstr (result.error_message, "no polkit authentication agent"));

  f->mode = AUTHORITY_FAIL;
  do_call (f, ACTION_A, FALSE, &result);
  g_assert_cmpstr (result.error_name, ==, SD_BUS_ERROR_ACCESS_DENIED);
  g_assert_cmpstr (result.error_message, ==,
                   "Cannot authorize Do: polkit failed: the authority is on fire");

  /* polkitd gone: denied at once, not after a timeout. */
  g_assert_cmpint (sd_bus_release_name (f->authority, "org.freedesktop.PolicyKit1"), >=, 0);
  do_call (f, ACTION_A, FALSE, &result);
  g_assert_cmpstr (result.error_name, ==, SD_BUS_ERROR_ACCESS_DENIED);
  g_assert_nonnull (strstr (result.error_message, "Cannot authorize Do: polkit is not running"));
  g_assert_cmpuint (f->checks->len, ==, 4);
  g_assert_cmpuint (cf_polkit_get_n_pending (f->polkit), ==, 0);
  result_clear (&result);
}

static void
test_trusted_callers (Fixture *f, gconstpointer data)
{
  Result result = { 0 };

  if (f->tmpdir == NULL)
    return;
  f->mode = AUTHORITY_DENY;
  /* Without trust even our own uid asks polkit; trusted-only calls are refused. */
  do_call (f, NULL, FALSE, &result);
  g_assert_cmpstr (result.error_name, ==, SD_BUS_ERROR_ACCESS_DENIED);
  g_assert_nonnull (strstr (result.error_message, "Only root or uid"));
  g_assert_cmpuint (f->checks->len, ==, 0);

  /* The client runs as root or as our uid: both trusted, polkit not asked. */
  replace_polkit (f, CF_POLKIT_TRUST_PRIVILEGED);
  do_call (f, ACTION_A, FALSE, &result);
  g_assert_true (result.ok);
  do_call (f, NULL, FALSE, &result);
  g_assert_true (result.ok);
  g_assert_cmpuint (f->checks->len, ==, 0);

  /* Trusted callers pass even with polkitd gone. */
  g_assert_cmpint (sd_bus_release_name (f->authority, "org.freedesktop.PolicyKit1"), >=, 0);
  do_call (f, ACTION_B, TRUE, &result);
  g_assert_true (result.ok);
  result_clear (&result);
}

/* Many checks pending at once (as many as one connection may have): none
 * blocks the service or another check, each answer reaches its own caller
 * whatever the order, and one more from the same connection is refused at
 * once without asking polkitd (issue 18, break 5). */
static void
test_concurrent_pending (Fixture *f, gconstpointer data)
{
  const guint n = 8;
  Result over = { 0 };
  g_autoptr(GArray) results = g_array_new (FALSE, TRUE, sizeof (Result));
  Result ping = { 0 };

  if (f->tmpdir == NULL)
    return;
  g_array_set_clear_func (results, (GDestroyNotify) result_clear);
  g_array_set_size (results, n);
  f->mode = AUTHORITY_HOLD;
  for (guint i = 0; i < n; i++)
    call_do (f, "Do", i % 3 == 0 ? ACTION_A : ACTION_B, FALSE, &g_array_index (results, Result, i));
  g_assert_true (cf_test_run_until (f, n_checks_reached, GUINT_TO_POINTER (n), WAIT_MS));
  g_assert_cmpuint (cf_polkit_get_n_pending (f->polkit), ==, n);

  call_do (f, "Ping", NULL, FALSE, &ping);
  g_assert_true (cf_test_run_until (f, result_done, &ping, WAIT_MS));
  g_assert_true (ping.ok);
  for (guint i = 0; i < n; i++)
    g_assert_false (g_array_index (results, Result, i).done);

  call_do (f, "Do", ACTION_A, FALSE, &over);
  g_assert_true (cf_test_run_until (f, result_done, &over, WAIT_MS));
  g_assert_false (over.ok);
  g_assert_cmpstr (over.error_name, ==, SD_BUS_ERROR_LIMITS_EXCEEDED);
  g_assert_nonnull (strstr (over.error_message, "authorizations pending"));
  g_assert_cmpuint (f->checks->len, ==, n);
  g_assert_cmpuint (cf_polkit_get_n_pending (f->polkit), ==, n);
  result_clear (&over);

  /* Answer in reverse order: yes for ACTION_A, no for ACTION_B. */
  for (guint i = n; i-- > 0;)
    {
      Check *check = g_ptr_array_index (f->checks, i);

      g_assert_cmpint (reply_verdict (check->message, g_str_equal (check->action, ACTION_A),
                                      FALSE), >=, 0);
      check->message = sd_bus_message_unref (check->message);
    }
  g_assert_true (cf_test_run_until (f, all_done, results, WAIT_MS));
  for (guint i = 0; i < n; i++)
    {
      Result *result = &g_array_index (results, Result, i);

      g_assert_cmpint (result->ok, ==, i % 3 == 0);
      if (!result->ok)
        g_assert_cmpstr (result->error_name, ==, SD_BUS_ERROR_ACCESS_DENIED);
    }
  g_assert_cmpuint (f->callbacks, ==, n + 1);
  g_assert_cmpuint (cf_polkit_get_n_pending (f->polkit), ==, 0);
  result_clear (&ping);
}

/* Disposing with checks pending answers every caller (denied), and a
 * verdict arriving afterwards touches nothing that is gone. */
static void
test_dispose_with_pending (Fixture *f, gconstpointer data)
{
  const guint n = 8;   /* the most one connection may have pending */
  g_autoptr(GArray) results = g_array_new (FALSE, TRUE, sizeof (Result));
  Result after = { 0 };

  if (f->tmpdir == NULL)
    return;
  g_array_set_clear_func (results, (GDestroyNotify) result_clear);
  g_array_set_size (results, n);
  f->mode = AUTHORITY_HOLD;
  for (guint i = 0; i < n; i++)
    call_do (f, "Do", ACTION_A, FALSE, &g_array_index (results, Result, i));
  g_assert_true (cf_test_run_until (f, n_checks_reached, GUINT_TO_POINTER (n), WAIT_MS));

  g_clear_object (&f->polkit);
  g_assert_cmpuint (f->callbacks, ==, n);
  g_assert_true (cf_test_run_until (f, all_done, results, WAIT_MS));
  for (guint i = 0; i < n; i++)
    {
      Result *result = &g_array_index (results, Result, i);

      g_assert_false (result->ok);
      g_assert_cmpstr (result->error_name, ==, SD_BUS_ERROR_ACCESS_DENIED);
      g_assert_nonnull (strstr (result->error_message, "shutting down"));
    }

  /* The authority answers late: nobody listens any more. */
  for (guint i = 0; i < n; i++)
    {
      Check *check = g_ptr_array_index (f->checks, i);

      g_assert_cmpint (reply_verdict (check->message, TRUE, FALSE), >=, 0);
      check->message = sd_bus_message_unref (check->message);
    }
  call_do (f, "Ping", NULL, FALSE, &after);
  g_assert_true (cf_test_run_until (f, result_done, &after, WAIT_MS));
  g_assert_cmpuint (f->callbacks, ==, n);

  /* Disposed between asking the bus for the caller's uid and the answer. */
  f->polkit = cf_polkit_new (f->service, CF_POLKIT_TRUST_PRIVILEGED);
  result_clear (&after);
  call_do (f, "Do", ACTION_A, FALSE, &after);
  g_assert_true (cf_test_run_until (f, has_pending, NULL, WAIT_MS));
  g_clear_object (&f->polkit);
  g_assert_true (cf_test_run_until (f, result_done, &after, WAIT_MS));
  g_assert_cmpstr (after.error_name, ==, SD_BUS_ERROR_ACCESS_DENIED);
  /* Its uid reply arrives now and finds no check. */
  cf_test_run_for (100);
  g_assert_cmpuint (f->callbacks, ==, n + 1);
  result_clear (&after);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  g_test_add ("/polkit/" name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("allowed-and-subject", test_allowed_and_subject);
  ADD ("denials", test_denials);
  ADD ("trusted-callers", test_trusted_callers);
  ADD ("concurrent-pending", test_concurrent_pending);
  ADD ("dispose-with-pending", test_dispose_with_pending);
#undef ADD
  return g_test_run ();
}
