/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* claude-failoverctl's side of the D-Bus contract (ARCHITECTURE.md 4.4):
 * connecting, calling the Manager, explaining its errors in one line, and
 * decoding GetStatus and ListTasks. */

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus, sd_bus_flush_close_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)

/* What a call is about, for the error line. Every field may be NULL. */
typedef struct {
  const char *command;         /* the command word, prefixes the error line */
  const char *action;          /* polkit action guarding the method */
  const char *project;
  const char *task;
  const char *session;
  const char *account;
} CfCtlCallInfo;

typedef enum {
  CF_CTL_CALL_DEFAULT = 0,
  /* Changes the daemon's state: lets a polkit agent ask for a password
   * when standard input is a terminal. */
  CF_CTL_CALL_MUTATING = 1 << 0,
  /* Never starts the daemon by bus activation, gives up after 1 s, prints
   * nothing on failure (shell completion). */
  CF_CTL_CALL_QUIET = 1 << 1,
} CfCtlCallFlags;

/* The system bus ($DBUS_SYSTEM_BUS_ADDRESS), or NULL after printing why
 * not (unless QUIET). */
sd_bus *cf_ctl_bus_open (const char *command, gboolean quiet);

/* A method call on the Manager object, to be filled with the arguments. */
int cf_ctl_new_call (sd_bus *bus, const char *member, CfCtlCallFlags flags,
                     sd_bus_message **call);

/* How long a call with FLAGS may take, in µs (0 = sd-bus' default). */
uint64_t cf_ctl_call_timeout (CfCtlCallFlags flags);

/* Sends CALL and waits for the reply. FALSE after printing the error line
 * (unless QUIET). */
gboolean cf_ctl_call (sd_bus *bus, sd_bus_message *call, const CfCtlCallInfo *info,
                      CfCtlCallFlags flags, sd_bus_message **reply);

/* cf_ctl_new_call + append TYPES + cf_ctl_call. */
gboolean cf_ctl_call_simple (sd_bus *bus, const char *member, const CfCtlCallInfo *info,
                             CfCtlCallFlags flags, sd_bus_message **reply,
                             const char *types, ...);

/* The one line that explains ERROR (or -R when ERROR is not set) for the
 * call MEMBER described by INFO, without the "program: command: " prefix. */
char *cf_ctl_explain_error (const char *member, const CfCtlCallInfo *info,
                            const sd_bus_error *error, int r);

/* ---- GetStatus ---------------------------------------------------------- */

typedef struct {
  char *name;
  char *home;
  gboolean available;
  guint64 exhausted_until;
} CfCtlAccount;

typedef struct {
  char *name, *kind, *state, *project, *task, *account;
  guint64 since;
} CfCtlSession;

/* One row of Usage (a(sdtdtst)). */
typedef struct {
  char *account;
  double five_hour;            /* %, < 0 = unknown */
  guint64 five_hour_reset;     /* µs epoch, 0 = unknown */
  double seven_day;
  guint64 seven_day_reset;
  char *problem;
  guint64 updated;
} CfCtlAccountUsage;

typedef struct {
  char *version;
  char *active_account;
  GPtrArray *accounts;         /* CfCtlAccount* */
  char *swap_state;
  gboolean partial_swap;
  guint64 last_swap_when;
  char *last_swap_from, *last_swap_to;
  guint64 return_at;
  gboolean dispatch_paused;
  char *dispatch_paused_reason; /* "operator", "accounts-exhausted", "" (or NULL: older daemon) */
  guint64 dispatch_resumes_at;  /* µs epoch, 0 = none */
  GPtrArray *sessions;         /* CfCtlSession* */
  guint32 pending_tasks;
  guint64 dispatched, completed, failed, delegated;
  GPtrArray *usage;            /* CfCtlAccountUsage*; empty from a daemon without Usage */
} CfCtlStatus;

void cf_ctl_status_free (CfCtlStatus *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CfCtlStatus, cf_ctl_status_free)

/* Reads one Accounts value (a(ssbt)) into ACCOUNTS. */
int cf_ctl_read_accounts (sd_bus_message *m, GPtrArray *accounts);
GPtrArray *cf_ctl_accounts_new (void);

/* GetStatus, decoded; NULL after printing the error (unless QUIET). */
CfCtlStatus *cf_ctl_fetch_status (sd_bus *bus, const char *command, CfCtlCallFlags flags);

/* ---- ListTasks ---------------------------------------------------------- */

typedef struct {
  char *project;               /* the project directory */
  char *id;
  char *state;                 /* inbox, active, done, failed */
  char *session;
  char *title;
  guint64 mtime;
} CfCtlTask;

/* ListTasks, decoded (CfCtlTask*); NULL after printing the error (unless
 * QUIET). */
GPtrArray *cf_ctl_fetch_tasks (sd_bus *bus, const char *command, CfCtlCallFlags flags);

/* How each project directory of TASKS is shown to a person: project →
 * its base name, or the whole path when another project of TASKS has the
 * same base name. */
GHashTable *cf_ctl_project_labels (GPtrArray *tasks);

G_END_DECLS
