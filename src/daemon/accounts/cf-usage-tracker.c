/* SPDX-License-Identifier: MIT */
#include "cf-usage-tracker.h"

#include "cf-statusline.h"

/* A limit's reset further away than this is the weekly window's. */
#define FIVE_HOURS_USEC ((gint64) 5 * 3600 * G_USEC_PER_SEC)
/* A statusline reading younger than this wins over a warning on screen,
 * which may be an old line still visible. */
#define STATUSLINE_PRECEDENCE_USEC ((gint64) 15 * 60 * G_USEC_PER_SEC)

struct _CfUsageTracker {
  GObject parent_instance;

  CfConfig *config;
  CfState *state;
  CfHookRouter *hooks;
  CfQuota *quota;
  guint64 reports;
  guint64 dropped;
  guint expiry_id;             /* the next window reset */
  gint64 expiry_at;
  GTimeZone *local_zone;
};

G_DEFINE_FINAL_TYPE (CfUsageTracker, cf_usage_tracker, G_TYPE_OBJECT)

const char *
cf_usage_tracker_account_for (CfUsageTracker *self, const char *session_name,
                              const char *config_dir)
{
  CfSession *session;

  if (config_dir != NULL)
    {
      g_autofree char *wanted = g_canonicalize_filename (config_dir, "/");

      for (guint i = 0; i < self->config->accounts->len; i++)
        {
          CfAccountConfig *account = g_ptr_array_index (self->config->accounts, i);
          g_autofree char *home = g_canonicalize_filename (account->home, "/");

          if (g_str_equal (home, wanted))
            return account->name;
        }
    }
  session = session_name != NULL ? cf_state_lookup_session (self->state, session_name) : NULL;
  if (session != NULL && session->account[0] != '\0' &&
      cf_config_find_account (self->config, session->account) != NULL)
    return session->account;
  return NULL;
}

static gboolean on_expiry (gpointer user_data);

/* At each window's reset the window is forgotten, so that Usage says so
 * (PropertiesChanged) on time, not at the next reading. */
static void
arm_expiry (CfUsageTracker *self, gint64 next, gint64 now)
{
  if (next == self->expiry_at && self->expiry_id != 0)
    return;
  g_clear_handle_id (&self->expiry_id, g_source_remove);
  self->expiry_at = next;
  if (next > now)
    self->expiry_id = g_timeout_add ((guint) MIN ((next - now) / 1000 + 1, G_MAXINT32),
                                     on_expiry, self);
}

static gboolean
on_expiry (gpointer user_data)
{
  CfUsageTracker *self = user_data;
  gint64 now = g_get_real_time ();

  self->expiry_id = 0;
  arm_expiry (self, cf_state_expire_usage (self->state, now), now);
  return G_SOURCE_REMOVE;
}

static void
on_state_changed (CfState *state, guint what, CfUsageTracker *self)
{
  gint64 now = g_get_real_time ();

  if (what & (CF_STATE_CHANGE_USAGE | CF_STATE_CHANGE_ACCOUNTS))
    arm_expiry (self, cf_state_expire_usage (self->state, now), now);
}

static void
on_statusline (CfHookRouter *hooks, const char *session, CfStatusline *statusline,
               CfUsageTracker *self)
{
  const char *account = cf_usage_tracker_account_for (self, session, statusline->config_dir);
  gint64 now = g_get_real_time ();

  if (account == NULL)
    {
      self->dropped++;
      g_debug ("statusline usage from %s: no configured account", session ? session : "a pane");
      return;
    }
  self->reports++;
  for (guint i = 0; i < CF_USAGE_N_WINDOWS; i++)
    {
      const CfStatuslineWindow *window = &statusline->windows[i];

      cf_state_record_account_usage (self->state, account, (CfUsageWindowKind) i, window->used,
                                     window->resets_at, CF_USAGE_SOURCE_STATUSLINE, now);
    }
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "CF_ACCOUNT", account,
                    "CF_SESSION", session ? session : "",
                    "MESSAGE", "usage of %s: 5h %.1f%%, 7d %.1f%%", account,
                    statusline->windows[CF_USAGE_FIVE_HOUR].used,
                    statusline->windows[CF_USAGE_SEVEN_DAY].used);
}

/* The screen's warning only fills in where the statusline is silent (not
 * installed, or an older Claude Code): the statusline's numbers are the
 * server's, a footer line can be one left from an earlier window. */
static void
on_usage_warning (CfQuota *quota, const char *session_name, const char *line,
                  CfUsageTracker *self)
{
  CfSession *session = cf_state_lookup_session (self->state, session_name);
  const char *account = session != NULL && session->account[0] != '\0'
                        ? session->account : cf_state_get_active_account (self->state);
  CfAccountState *state = cf_state_lookup_account (self->state, account);
  gint64 now = g_get_real_time ();
  CfUsageWindowKind kind;
  CfUsageWindow window;
  double percent;
  gint64 reset;

  if (state == NULL ||
      !cf_usage_parse_warning (line, now / G_USEC_PER_SEC, self->local_zone, &kind, &percent,
                               &reset))
    return;
  window = cf_usage_window_at (&state->usage.windows[kind], now);
  if (window.source == CF_USAGE_SOURCE_STATUSLINE &&
      now - window.updated < STATUSLINE_PRECEDENCE_USEC)
    return;
  if (window.used == percent && (reset == 0 || window.resets_at == reset))
    return;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "CF_ACCOUNT", account, "CF_SESSION", session_name,
                    "MESSAGE", "usage of %s from the screen of %s: %s %.0f%%", account,
                    session_name, cf_usage_window_kind_to_string (kind), percent);
  cf_state_record_account_usage (self->state, account, kind, percent, reset,
                                 CF_USAGE_SOURCE_WARNING, now);
}

static void
on_exhausted (CfQuota *quota, const char *account, GStrv sessions, gint64 reset_at,
              const char *evidence, CfUsageTracker *self)
{
  gint64 now = g_get_real_time ();
  CfUsageWindowKind kind;

  /* Without a reset, which window is full is unknown. */
  if (reset_at <= now)
    return;
  kind = reset_at - now > FIVE_HOURS_USEC ? CF_USAGE_SEVEN_DAY : CF_USAGE_FIVE_HOUR;
  cf_state_record_account_usage (self->state, account, kind, CF_USAGE_PERCENT_MAX, reset_at,
                                 CF_USAGE_SOURCE_LIMIT, now);
}

void
cf_usage_tracker_set_config (CfUsageTracker *self, CfConfig *config)
{
  g_clear_pointer (&self->config, cf_config_unref);
  self->config = cf_config_ref (config);
}

guint64
cf_usage_tracker_get_reports (CfUsageTracker *self)
{
  return self->reports;
}

guint64
cf_usage_tracker_get_dropped (CfUsageTracker *self)
{
  return self->dropped;
}

static void
cf_usage_tracker_dispose (GObject *object)
{
  CfUsageTracker *self = CF_USAGE_TRACKER (object);

  g_clear_handle_id (&self->expiry_id, g_source_remove);
  g_clear_object (&self->hooks);
  g_clear_object (&self->quota);
  g_clear_object (&self->state);
  g_clear_pointer (&self->config, cf_config_unref);
  g_clear_pointer (&self->local_zone, g_time_zone_unref);
  G_OBJECT_CLASS (cf_usage_tracker_parent_class)->dispose (object);
}

static void
cf_usage_tracker_class_init (CfUsageTrackerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cf_usage_tracker_dispose;
}

static void
cf_usage_tracker_init (CfUsageTracker *self)
{
  self->local_zone = g_time_zone_new_local ();
}

CfUsageTracker *
cf_usage_tracker_new (CfConfig *config, CfState *state, CfHookRouter *hooks, CfQuota *quota)
{
  CfUsageTracker *self = g_object_new (CF_TYPE_USAGE_TRACKER, NULL);

  self->config = cf_config_ref (config);
  self->state = g_object_ref (state);
  self->hooks = g_object_ref (hooks);
  g_signal_connect_object (hooks, "statusline", G_CALLBACK (on_statusline), self, 0);
  g_signal_connect_object (state, "changed", G_CALLBACK (on_state_changed), self, 0);
  on_state_changed (state, CF_STATE_CHANGE_USAGE, self);
  if (quota != NULL)
    {
      self->quota = g_object_ref (quota);
      g_signal_connect_object (quota, "exhausted", G_CALLBACK (on_exhausted), self, 0);
      g_signal_connect_object (quota, "usage-warning", G_CALLBACK (on_usage_warning), self, 0);
    }
  return self;
}
