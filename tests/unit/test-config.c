/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cf-config.h"
#include "cf-duration.h"

#define HOME "/home/op"
#define SRC "test.yaml"
#define SEC ((gint64) G_USEC_PER_SEC)

/* Two lines that make a configuration valid, so each case adds one fault. */
#define ACCOUNTS "accounts:\n  - {name: main, home: ~/.claude-main}\n"

static CfConfig *
load (const char *yaml, GError **error)
{
  return cf_config_load_data (yaml, -1, SRC, HOME, error);
}

/* --- Errors ------------------------------------------------------------------ */

typedef struct {
  const char *yaml;
  gssize length;               /* -1: NUL-terminated */
  CfConfigError code;
  const char *message;         /* exact */
} ErrorCase;

static const ErrorCase error_cases[] = {
  /* usage thresholds (ARCHITECTURE.md 4.9) */
  { ACCOUNTS "quota: {switch_at: 101}\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":3:9: quota.switch_at: must be a percentage from 0 to 100" },
  { ACCOUNTS "quota: {warn_at: -1}\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":3:9: quota.warn_at: must not be negative" },
  { ACCOUNTS "quota: {switch_at: 90, switch_back_below: 90}\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":3:24: quota.switch_back_below: must be less than quota.switch_at (90)" },
  { ACCOUNTS "quota: {switch_at: 70}\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":3:9: quota.switch_at: must be greater than quota.switch_back_below (80), or 0 (off)" },
  { "accounts:\n  - {name: main, home: ~/.claude-main, switch_at: 50}\n", -1,
    CF_CONFIG_ERROR_VALUE,
    SRC ":2:40: accounts[0].switch_at: must be greater than quota.switch_back_below (80), or 0 (off)" },
  { "accounts:\n  - {name: main, home: ~/.claude-main, switch_at: 200}\n", -1,
    CF_CONFIG_ERROR_VALUE,
    SRC ":2:40: accounts[0].switch_at: must be a percentage from 0 to 100" },
  /* unknown keys, with and without a suggestion */
  { ACCOUNTS "state_fil: /x\n", -1, CF_CONFIG_ERROR_UNKNOWN_KEY,
    SRC ":3:1: state_fil: unknown key, did you mean 'state_file'?" },
  { ACCOUNTS "pool:\n  autonomous:\n    prefx: x-\n", -1, CF_CONFIG_ERROR_UNKNOWN_KEY,
    SRC ":5:5: pool.autonomous.prefx: unknown key, did you mean 'prefix'?" },
  { ACCOUNTS "Accounts: []\n", -1, CF_CONFIG_ERROR_UNKNOWN_KEY,
    SRC ":3:1: Accounts: unknown key, did you mean 'accounts'?" },
  { ACCOUNTS "tmux:\n  banana: 1\n", -1, CF_CONFIG_ERROR_UNKNOWN_KEY,
    SRC ":4:3: tmux.banana: unknown key (known keys: socket, claude_command, nice)" },
  { ACCOUNTS "dispatcher:\n  models: {urgent: opus}\n", -1, CF_CONFIG_ERROR_UNKNOWN_KEY,
    SRC ":4:12: dispatcher.models.urgent: unknown key (known keys: critical, high, default, low)" },
  { "accounts:\n  - {name: main, home: /h, homedir: /x}\n", -1, CF_CONFIG_ERROR_UNKNOWN_KEY,
    SRC ":2:28: accounts[0].homedir: unknown key (known keys: name, home, switch_at)" },
  { ACCOUNTS "\"a\\nb\": 1\n", -1, CF_CONFIG_ERROR_UNKNOWN_KEY,
    SRC ":3:1: a\\nb: unknown key (known keys: state_file, runtime_dir, tmux, accounts, "
    "claude_link, prepare_accounts, shared_state, pool, projects, dispatcher, watcher, "
    "lifecycle, quota, janitor, notifications, delegation, http)" },

  /* the renamed key is accepted but never suggested */
  { ACCOUNTS "dispatcher:\n  projects_dri: /p\n", -1, CF_CONFIG_ERROR_UNKNOWN_KEY,
    SRC ":4:3: dispatcher.projects_dri: unknown key (known keys: idle_timeout, prompt_timeout, "
    "needs_input_timeout, max_dispatch_per_task, cooldown_schedule, models, message_template)" },
  { ACCOUNTS "http:\n  listen_address_for_the_loopback_status_api_that_is_much_too_long_for_a_typo: x\n",
    -1, CF_CONFIG_ERROR_UNKNOWN_KEY,
    SRC ":4:3: http.listen_address_for_the_loopback_status_api_that_is_much_too_…: "
    "unknown key (known keys: listen, dashboard)" },

  /* wrong types */
  { ACCOUNTS "pool: [1, 2]\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":3:1: pool: must be a mapping, not a list" },
  { ACCOUNTS "watcher: 30s\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":3:1: watcher: must be a mapping, not a single value" },
  { ACCOUNTS "projects:\n  extra: /srv/x\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":4:3: projects.extra: must be a list, not a single value" },
  { ACCOUNTS "shared_state:\n  entries: {a: b}\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":4:3: shared_state.entries: must be a list, not a mapping" },
  { ACCOUNTS "state_file: [a]\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":3:1: state_file: must be a single value, not a list" },
  { ACCOUNTS "tmux:\n  socket: {a: b}\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":4:3: tmux.socket: must be a single value, not a mapping" },
  { "accounts: {name: a}\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":1:1: accounts: must be a list, not a mapping" },
  { "accounts:\n  - main\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":2:5: accounts[0]: must be a mapping, not a single value" },
  { ACCOUNTS "? [a]\n: b\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":3:3: keys must be single values, not lists or mappings" },
  { ACCOUNTS "dispatcher:\n  cooldown_schedule: [[1]]\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":4:23: dispatcher.cooldown_schedule[0]: must be a single value, not a list" },

  /* bad values */
  { ACCOUNTS "watcher:\n  interval: 5 minutes\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: watcher.interval: '5 minutes' is not a duration (e.g. 500ms, 30s, 5m, 1h30m)" },
  { ACCOUNTS "dispatcher:\n  idle_timeout: 1m1h\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: dispatcher.idle_timeout: '1m1h' is not a duration (e.g. 500ms, 30s, 5m, 1h30m)" },
  { ACCOUNTS "dispatcher:\n  prompt_timeout: 10s10s\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: dispatcher.prompt_timeout: '10s10s' is not a duration (e.g. 500ms, 30s, 5m, 1h30m)" },
  { ACCOUNTS "delegation:\n  reap_interval: 99999999999999999999h\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: delegation.reap_interval: '99999999999999999999h' is not a duration (e.g. 500ms, 30s, 5m, 1h30m)" },
  { ACCOUNTS "quota:\n  interval: -5s\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: quota.interval: must not be negative" },
  { ACCOUNTS "lifecycle: {interval: 0s}\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":3:13: lifecycle.interval: must be greater than zero" },
  { ACCOUNTS "janitor:\n  stale_signal_age: 0\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: janitor.stale_signal_age: must be greater than zero" },
  { ACCOUNTS "janitor:\n  interval: 721h\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: janitor.interval: must not exceed 720h" },
  { ACCOUNTS "watcher:\n  interval:\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: watcher.interval: must not be empty" },
  { ACCOUNTS "quota:\n  tail_lines: three\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: quota.tail_lines: 'three' is not a whole number" },
  { ACCOUNTS "quota:\n  tail_lines: 0x10\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: quota.tail_lines: '0x10' is not a whole number" },
  { ACCOUNTS "pool:\n  autonomous:\n    max: -1\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":5:5: pool.autonomous.max: must not be negative" },
  { ACCOUNTS "pool:\n  autonomous:\n    max: 4294967296\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":5:5: pool.autonomous.max: is too large (at most 4294967295)" },
  { ACCOUNTS "prepare_accounts: maybe\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":3:1: prepare_accounts: 'maybe' is not a boolean (expected true, false, yes or no)" },
  { ACCOUNTS "prepare_accounts:\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":3:1: prepare_accounts: '' is not a boolean (expected true, false, yes or no)" },
  { ACCOUNTS "prepare_accounts: [true]\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":3:1: prepare_accounts: must be a single value, not a list" },
  { ACCOUNTS "quota:\n  tail_lines: 0\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: quota.tail_lines: must be at least 1" },
  { ACCOUNTS "quota:\n  pool_threshold: 0\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: quota.pool_threshold: must be at least 1" },
  { ACCOUNTS "quota:\n  dedicated_threshold: 0\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: quota.dedicated_threshold: must be at least 1" },
  { ACCOUNTS "dispatcher:\n  max_dispatch_per_task: 0\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: dispatcher.max_dispatch_per_task: must be at least 1" },
  { ACCOUNTS "dispatcher:\n  cooldown_schedule: [0, -5]\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:26: dispatcher.cooldown_schedule[1]: must not be negative" },
  { ACCOUNTS "dispatcher:\n  cooldown_schedule: [0, soon]\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:26: dispatcher.cooldown_schedule[1]: 'soon' is not a number of seconds or a duration" },
  { ACCOUNTS "dispatcher:\n  cooldown_schedule: [1500ms]\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:23: dispatcher.cooldown_schedule[0]: '1500ms' is not a whole number of seconds" },
  { ACCOUNTS "dispatcher:\n  cooldown_schedule: [0, \"\"]\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:26: dispatcher.cooldown_schedule[1]: must not be empty" },
  { ACCOUNTS "dispatcher:\n  cooldown_schedule: [2592001]\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:23: dispatcher.cooldown_schedule[0]: must not exceed 720h" },
  { ACCOUNTS "dispatcher:\n  cooldown_schedule: []\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: dispatcher.cooldown_schedule: must list at least one delay" },
  { ACCOUNTS "dispatcher:\n  models: {high: ''}\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:12: dispatcher.models.high: must not be empty" },
  { ACCOUNTS "dispatcher:\n  message_template: \"\"\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: dispatcher.message_template: must not be empty" },
  { ACCOUNTS "tmux:\n  nice: 20\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: tmux.nice: must be between 0 and 19" },
  { ACCOUNTS "tmux:\n  nice: -1\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: tmux.nice: must not be negative" },
  { ACCOUNTS "tmux:\n  claude_command: \"claude\\n--bad\"\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: tmux.claude_command: must not contain control characters" },
  { ACCOUNTS "notifications:\n  telegram_token_env: 'my token'\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: notifications.telegram_token_env: 'my token' is not an environment variable name" },
  { ACCOUNTS "delegation:\n  api_key_env: 1KEY\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: delegation.api_key_env: '1KEY' is not an environment variable name" },
  { ACCOUNTS "notifications:\n  telegram_url: ftp://x\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: notifications.telegram_url: 'ftp://x' is not an http:// or https:// URL" },
  { ACCOUNTS "notifications:\n  resend_url: \"\"\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: notifications.resend_url: must not be empty" },
  { ACCOUNTS "delegation:\n  url: jobs.example\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: delegation.url: 'jobs.example' is not an http:// or https:// URL" },
  { ACCOUNTS "http:\n  listen: localhost\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: http.listen: 'localhost' is not IP:PORT, [IPV6]:PORT or localhost:PORT (use \"\" to disable)" },
  { ACCOUNTS "http:\n  listen: 127.0.0.1:99999\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: http.listen: '127.0.0.1:99999' is not IP:PORT, [IPV6]:PORT or localhost:PORT (use \"\" to disable)" },
  { ACCOUNTS "http:\n  listen: \"::1:8377\"\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: http.listen: '::1:8377' is not IP:PORT, [IPV6]:PORT or localhost:PORT (use \"\" to disable)" },
  { ACCOUNTS "http:\n  listen: example.com:8377\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: http.listen: 'example.com:8377' is not IP:PORT, [IPV6]:PORT or localhost:PORT (use \"\" to disable)" },
  { ACCOUNTS "http:\n  listen: 127.1:8377\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: http.listen: '127.1:8377' is not IP:PORT, [IPV6]:PORT or localhost:PORT (use \"\" to disable)" },
  { ACCOUNTS "http:\n  listen: \"[127.0.0.1]:80\"\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: http.listen: '[127.0.0.1]:80' is not IP:PORT, [IPV6]:PORT or localhost:PORT (use \"\" to disable)" },
  { ACCOUNTS "http:\n  listen: 127.0.0.1:0\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: http.listen: '127.0.0.1:0' is not IP:PORT, [IPV6]:PORT or localhost:PORT (use \"\" to disable)" },
  { ACCOUNTS "http:\n  listen: \"[]:80\"\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: http.listen: '[]:80' is not IP:PORT, [IPV6]:PORT or localhost:PORT (use \"\" to disable)" },
  { ACCOUNTS "http:\n  listen: \" 127.0.0.1:80\"\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: http.listen: ' 127.0.0.1:80' is not IP:PORT, [IPV6]:PORT or localhost:PORT (use \"\" to disable)" },
  { ACCOUNTS "http:\n  listen: 0.0.0.0:8377\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: http.listen: '0.0.0.0:8377' listens on every interface; name one address (127.0.0.1:PORT keeps the API on loopback)" },
  { ACCOUNTS "http:\n  listen: \"[::]:8377\"\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: http.listen: '[::]:8377' listens on every interface; name one address (127.0.0.1:PORT keeps the API on loopback)" },
  { ACCOUNTS "http:\n  listen: \"[0:0::0]:1\"\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: http.listen: '[0:0::0]:1' listens on every interface; name one address (127.0.0.1:PORT keeps the API on loopback)" },
  { ACCOUNTS "shared_state:\n  entries: [a/b]\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:13: shared_state.entries[0]: 'a/b' must be a single file name" },
  { ACCOUNTS "shared_state:\n  entries: [projects, projects]\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:23: shared_state.entries[1]: 'projects' is listed twice" },
  { ACCOUNTS "projects:\n  extra: [/a, /a/]\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:15: projects.extra[1]: '/a' is listed twice" },
  { ACCOUNTS "projects:\n  extra: [relative]\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:11: projects.extra[0]: 'relative' is not an absolute path (start it with / or ~/)" },
  { ACCOUNTS "state_file: state.json\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":3:1: state_file: 'state.json' is not an absolute path (start it with / or ~/)" },
  { ACCOUNTS "state_file:\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":3:1: state_file: must not be empty" },
  { ACCOUNTS "tmux:\n  socket: sock\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: tmux.socket: 'sock' is not an absolute path (start it with / or ~/)" },
  { ACCOUNTS "watcher:\n  done_signal_dir: \"\"\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: watcher.done_signal_dir: must not be empty" },

  /* accounts */
  { "state_file: /x\n", -1, CF_CONFIG_ERROR_MISSING,
    SRC ":1:1: accounts: required key is missing" },
  { "# comment\n\ntmux: {socket: /s}\n", -1, CF_CONFIG_ERROR_MISSING,
    SRC ":3:1: accounts: required key is missing" },
  { "accounts: []\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":1:1: accounts: must list at least one account" },
  { "accounts:\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":1:1: accounts: must list at least one account" },
  { "accounts:\n  - name: main\n", -1, CF_CONFIG_ERROR_MISSING,
    SRC ":2:5: accounts[0].home: required key is missing" },
  { "accounts:\n  - {home: /h}\n", -1, CF_CONFIG_ERROR_MISSING,
    SRC ":2:5: accounts[0].name: required key is missing" },
  { "accounts:\n  - {name: '', home: /h}\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":2:6: accounts[0].name: must not be empty" },
  { "accounts:\n  - {name: main, home: /a}\n  - {name: main, home: /b}\n", -1,
    CF_CONFIG_ERROR_VALUE, SRC ":3:6: accounts[1].name: account 'main' is defined twice" },
  { "accounts:\n  - {name: a, home: /h}\n  - {name: b, home: /h/}\n", -1,
    CF_CONFIG_ERROR_VALUE, SRC ":3:15: accounts[1].home: same home as account 'a'" },
  { "accounts:\n  - {name: a, home: relative/dir}\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":2:15: accounts[0].home: 'relative/dir' is not an absolute path (start it with / or ~/)" },
  { "accounts:\n  - {name: a, home: ~op/x}\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":2:15: accounts[0].home: '~op/x' is not an absolute path (start it with / or ~/)" },
  { "accounts:\n  - {name: a, home: ~/.claude}\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":2:15: accounts[0].home: must differ from claude_link (/home/op/.claude), "
    "which the daemon replaces with a symlink" },

  /* pool and dedicated sessions */
  { ACCOUNTS "pool:\n  autonomous:\n    min: 12\n    max: 10\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":5:5: pool.autonomous.min: must not exceed max (10)" },
  { ACCOUNTS "pool:\n  autonomous:\n    max: 1\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":5:5: pool.autonomous.max: must not be less than min (2)" },
  { ACCOUNTS "pool:\n  autonomous:\n    max: 201\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":5:5: pool.autonomous.max: must be at most 200 (each session is a Claude Code process)" },
  { ACCOUNTS "pool:\n  autonomous: {min: 300, max: 100000}\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:26: pool.autonomous.max: must be at most 200 (each session is a Claude Code process)" },
  { ACCOUNTS "pool:\n  autonomous:\n    min: 201\n    max: 200\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":5:5: pool.autonomous.min: must not exceed max (200)" },
  { ACCOUNTS "pool:\n  autonomous:\n    min: -3\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":5:5: pool.autonomous.min: must not be negative" },
  { ACCOUNTS "projects:\n  allow_other_owners: on\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":4:3: projects.allow_other_owners: 'on' is not a boolean (expected true, false, yes or no)" },
  { ACCOUNTS "projects:\n  isolation: chroot\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: projects.isolation: 'chroot' is not one of shared, worktree" },
  { ACCOUNTS "projects:\n  keep_worktrees: sometimes\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: projects.keep_worktrees: 'sometimes' is not one of always, on-failure, never" },
  { ACCOUNTS "projects:\n  max_parallel: -1\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: projects.max_parallel: must not be negative" },
  { ACCOUNTS "projects:\n  allow_other_owners: 1\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":4:3: projects.allow_other_owners: '1' is not a boolean (expected true, false, yes or no)" },
  { ACCOUNTS "pool:\n  autonomous:\n    start_index: 4294967295\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":5:5: pool.autonomous.start_index: start_index + max must not exceed 4294967295" },
  { ACCOUNTS "pool:\n  autonomous: {prefix: 'ccl.auto.'}\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:16: pool.autonomous.prefix: 'ccl.auto.' may contain only letters, digits, '-' and '_'" },
  { ACCOUNTS "pool:\n  autonomous: {prefix: ''}\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:16: pool.autonomous.prefix: must not be empty" },
  { ACCOUNTS "pool:\n  dedicated:\n    - {name: 'my session'}\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":5:8: pool.dedicated[0].name: 'my session' may contain only letters, digits, '-' and '_'" },
  { ACCOUNTS "pool:\n  dedicated:\n    - project: /p\n", -1, CF_CONFIG_ERROR_MISSING,
    SRC ":5:7: pool.dedicated[0].name: required key is missing" },
  { ACCOUNTS "pool:\n  dedicated:\n    - name: ccl-auto-3\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":5:7: pool.dedicated[0].name: 'ccl-auto-3' is also an autonomous pool session name "
    "('ccl-auto-' 0 to 9)" },
  { ACCOUNTS "pool:\n  dedicated: [web]\n  autonomous: {prefix: w, start_index: 5, max: 1}\n"
    "  dedicated: []\n", -1, CF_CONFIG_ERROR_SYNTAX,
    SRC ":6:3: pool.dedicated: duplicate key (first set at line 4)" },
  { ACCOUNTS "pool:\n  dedicated: [x5]\n  autonomous: {prefix: x, start_index: 5, min: 1, max: 1}\n",
    -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:15: pool.dedicated[0]: 'x5' is also an autonomous pool session name ('x' 5 to 5)" },
  { ACCOUNTS "pool:\n  dedicated: [ccl-web, ccl-web]\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:24: pool.dedicated[1]: dedicated session 'ccl-web' is listed twice" },

  /* the renamed key */
  { ACCOUNTS "projects:\n  dir: /p\ndispatcher:\n  projects_dir: /q\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":6:3: dispatcher.projects_dir: cannot be combined with projects.dir (its new name); "
    "keep only projects.dir" },
  { ACCOUNTS "dispatcher:\n  projects_dir: relative\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: dispatcher.projects_dir: 'relative' is not an absolute path (start it with / or ~/)" },

  /* YAML itself */
  { ACCOUNTS "tmux:\n  socket: /a\n  socket: /b\n", -1, CF_CONFIG_ERROR_SYNTAX,
    SRC ":5:3: tmux.socket: duplicate key (first set at line 4)" },
  { ACCOUNTS "accounts: []\n", -1, CF_CONFIG_ERROR_SYNTAX,
    SRC ":3:1: accounts: duplicate key (first set at line 1)" },
  { "accounts: value: other\n", -1, CF_CONFIG_ERROR_SYNTAX,
    SRC ":1:16: invalid YAML: mapping values are not allowed in this context" },
  { ACCOUNTS "tmux:\n\tsocket: x\n", -1, CF_CONFIG_ERROR_SYNTAX,
    SRC ":4:1: invalid YAML: found character that cannot start any token "
    "(while scanning for the next token started at line 4, column 1)" },
  { ACCOUNTS "tmux: {socket: /a\n", -1, CF_CONFIG_ERROR_SYNTAX,
    SRC ":4:1: invalid YAML: did not find expected ',' or '}' "
    "(while parsing a flow mapping started at line 3, column 7)" },
  { ACCOUNTS "tmux:\n  socket: \"/a\n", -1, CF_CONFIG_ERROR_SYNTAX,
    SRC ":5:1: invalid YAML: found unexpected end of stream "
    "(while scanning a quoted scalar started at line 4, column 11)" },
  { "", -1, CF_CONFIG_ERROR_MISSING,
    SRC ":1:1: accounts: required key is missing (the file is empty)" },
  { "# only a comment\n", -1, CF_CONFIG_ERROR_MISSING,
    SRC ":1:1: accounts: required key is missing (the file is empty)" },
  { "---\n...\n", -1, CF_CONFIG_ERROR_MISSING,
    SRC ":1:1: accounts: required key is missing (the file is empty)" },
  { "- a\n- b\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":1:1: the configuration must be a mapping of keys, not a list" },
  { "\n\nhello\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":3:1: the configuration must be a mapping of keys, not a single value" },
  { "accounts: &acc\n  - {name: a, home: /h}\n", -1, CF_CONFIG_ERROR_SYNTAX,
    SRC ":1:11: YAML anchors and aliases are not supported" },
  { ACCOUNTS "claude_link: *link\n", -1, CF_CONFIG_ERROR_SYNTAX,
    SRC ":3:14: YAML anchors and aliases are not supported" },
  { ACCOUNTS "---\ntmux: {}\n", -1, CF_CONFIG_ERROR_SYNTAX,
    SRC ":3:1: only one YAML document is allowed" },
  { ACCOUNTS "claude_command: \"\xff\"\n", -1, CF_CONFIG_ERROR_SYNTAX,
    SRC ":3:18: invalid UTF-8" },
  { ACCOUNTS "tmux:\n  claude_command: \"é\xc3\"\n", -1, CF_CONFIG_ERROR_SYNTAX,
    SRC ":4:21: invalid UTF-8" },
  { ACCOUNTS "tmux:\n  claude_command: \"a\001\"\n", -1, CF_CONFIG_ERROR_SYNTAX,
    SRC ":4:21: invalid YAML: control characters are not allowed" },
  { ACCOUNTS "\"\": 1\n", -1, CF_CONFIG_ERROR_UNKNOWN_KEY,
    SRC ":3:1: \"\": unknown key (known keys: state_file, runtime_dir, tmux, accounts, "
    "claude_link, prepare_accounts, shared_state, pool, projects, dispatcher, watcher, "
    "lifecycle, quota, janitor, notifications, delegation, http)" },
  { ACCOUNTS "quota:\n  interval: \"-\"\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":4:3: quota.interval: '-' is not a duration (e.g. 500ms, 30s, 5m, 1h30m)" },
  /* notifications.webhooks and http.dashboard (ARCHITECTURE.md 4.9) */
  { ACCOUNTS "notifications:\n  webhooks:\n    - {kind: teams, url: \"http://h/x\"}\n", -1,
    CF_CONFIG_ERROR_VALUE,
    SRC ":5:8: notifications.webhooks[0].kind: 'teams' is not a webhook kind (generic, slack, "
    "discord, ntfy)" },
  { ACCOUNTS "notifications:\n  webhooks:\n    - {kind: slack}\n", -1, CF_CONFIG_ERROR_MISSING,
    SRC ":5:7: notifications.webhooks[0].url: required key is missing" },
  { ACCOUNTS "notifications:\n  webhooks:\n    - {url: \"http://h/x\"}\n", -1,
    CF_CONFIG_ERROR_MISSING, SRC ":5:7: notifications.webhooks[0].kind: required key is missing" },
  { ACCOUNTS "notifications:\n  webhooks:\n    - {kind: ntfy, url: \"ftp://h/x\"}\n", -1,
    CF_CONFIG_ERROR_VALUE,
    SRC ":5:20: notifications.webhooks[0].url: 'ftp://h/x' is not an http:// or https:// URL" },
  { ACCOUNTS "notifications:\n  webhooks:\n    - kind: generic\n      url: \"http://h/x\"\n"
    "      events: [swap, lunch]\n", -1, CF_CONFIG_ERROR_VALUE,
    SRC ":7:22: notifications.webhooks[0].events[1]: 'lunch' is not an event (swap, limit, "
    "usage-warning, needs-input, task-failed, task-done, task-stuck)" },
  { ACCOUNTS "notifications:\n  webhooks:\n    - {kind: generic, url: \"http://h/x\", events: []}\n",
    -1, CF_CONFIG_ERROR_VALUE,
    SRC ":5:42: notifications.webhooks[0].events: must list at least one event (swap, limit, "
    "usage-warning, needs-input, task-failed, task-done, task-stuck)" },
  { ACCOUNTS "notifications:\n  webhooks: {kind: slack}\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":4:3: notifications.webhooks: must be a list, not a mapping" },
  { ACCOUNTS "http:\n  dashboard: maybe\n", -1, CF_CONFIG_ERROR_TYPE,
    SRC ":4:3: http.dashboard: 'maybe' is not a boolean (expected true, false, yes or no)" },
  { "accounts:\0\n", 11, CF_CONFIG_ERROR_SYNTAX,
    SRC ":1:10: contains a NUL byte" },
  { "accounts: " "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[" "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
    -1, CF_CONFIG_ERROR_SYNTAX, SRC ":1:42: nesting is too deep" },
};

static void
test_error_table (void)
{
  /* Report every wrong row, not only the first. */
  g_test_set_nonfatal_assertions ();
  for (gsize i = 0; i < G_N_ELEMENTS (error_cases); i++)
    {
      const ErrorCase *c = &error_cases[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(CfConfig) config = NULL;

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, c->message);
      config = cf_config_load_data (c->yaml, c->length, SRC, HOME, &error);
      g_assert_null (config);
      g_assert_nonnull (error);
      if (error == NULL)
        continue;
      g_assert_cmpstr (error->message, ==, c->message);
      g_assert_error (error, CF_CONFIG_ERROR, (gint) c->code);
      g_assert_null (strchr (error->message, '\n'));
    }
}

/* --- Successful loads -------------------------------------------------------------- */

static void
assert_strv (const char *const *got, const char *const *want)
{
  g_assert_nonnull (got);
  g_assert_cmpuint (g_strv_length ((char **) got), ==, g_strv_length ((char **) want));
  for (guint i = 0; want[i] != NULL; i++)
    g_assert_cmpstr (got[i], ==, want[i]);
}

/* Everything except accounts and dedicated sessions at its ARCHITECTURE.md 4.1 default. */
static void
assert_defaults (const CfConfig *config)
{
  static const char *const entries[] = { "session-env", "file-history", "projects", NULL };
  static const char *const none[] = { NULL };

  g_assert_cmpstr (config->state_file, ==, "/var/lib/claude-failover/state.json");
  g_assert_cmpstr (config->runtime_dir, ==, "/run/claude-failover");
  g_assert_cmpuint (config->tmux_nice, ==, 10);
  g_assert_cmpstr (config->tmux_socket, ==, "");
  g_assert_cmpstr (config->claude_command, ==, "claude");
  g_assert_cmpstr (config->claude_link, ==, HOME "/.claude");
  g_assert_true (config->prepare_accounts);
  g_assert_cmpstr (config->shared_root, ==, HOME "/.claude-shared");
  assert_strv ((const char *const *) config->shared_entries, entries);
  g_assert_cmpstr (config->pool_prefix, ==, "ccl-auto-");
  g_assert_cmpuint (config->pool_start_index, ==, 0);
  g_assert_cmpuint (config->pool_min, ==, 2);
  g_assert_cmpuint (config->pool_max, ==, 10);
  g_assert_cmpstr (config->projects_dir, ==, HOME "/projects");
  assert_strv ((const char *const *) config->projects_extra, none);
  g_assert_cmpint (config->idle_timeout_usec, ==, 60 * 60 * SEC);
  g_assert_cmpint (config->needs_input_timeout_usec, ==, 10 * 60 * SEC);
  g_assert_cmpint (config->prompt_timeout_usec, ==, 30 * SEC);
  g_assert_cmpuint (config->max_dispatch_per_task, ==, 3);
  g_assert_cmpuint (config->cooldown_schedule->len, ==, 3);
  g_assert_cmpuint (g_array_index (config->cooldown_schedule, guint, 0), ==, 0);
  g_assert_cmpuint (g_array_index (config->cooldown_schedule, guint, 1), ==, 300);
  g_assert_cmpuint (g_array_index (config->cooldown_schedule, guint, 2), ==, 900);
  g_assert_cmpstr (config->models[CF_PRIORITY_CRITICAL], ==, "opus");
  g_assert_cmpstr (config->models[CF_PRIORITY_HIGH], ==, "sonnet");
  g_assert_cmpstr (config->models[CF_PRIORITY_DEFAULT], ==, "sonnet");
  g_assert_cmpstr (config->models[CF_PRIORITY_LOW], ==, "sonnet");
  g_assert_cmpstr (config->message_template, ==,
                   "[{task}] {body}\n\nIMPORTANT: Tu dois EXECUTER les actions demandées, "
                   "pas seulement les décrire.");
  g_assert_cmpint (config->watcher_interval_usec, ==, 30 * SEC);
  g_assert_cmpstr (config->done_signal_dir, ==, "/run/claude-failover");
  g_assert_cmpint (config->lifecycle_interval_usec, ==, 15 * SEC);
  g_assert_cmpint (config->quota_interval_usec, ==, 30 * SEC);
  g_assert_cmpuint (config->quota_tail_lines, ==, 3);
  g_assert_cmpuint (config->quota_pool_threshold, ==, 2);
  g_assert_cmpuint (config->quota_dedicated_threshold, ==, 1);
  g_assert_cmpint (config->quota_reactivate_cooldown_usec, ==, 5 * 60 * SEC);
  g_assert_cmpint (config->quota_return_margin_usec, ==, 5 * 60 * SEC);
  g_assert_cmpint (config->quota_switch_at, ==, 95);
  g_assert_cmpint (config->quota_switch_back_below, ==, 80);
  g_assert_cmpint (config->quota_warn_at, ==, 85);
  g_assert_cmpint (config->lifecycle_start_stagger_usec, ==, 2 * SEC);
  g_assert_cmpint (cf_config_account_switch_at (config, "main"), ==, 95);
  g_assert_cmpint (cf_config_account_switch_at (config, "nobody"), ==, 95);
  g_assert_cmpint (config->janitor_interval_usec, ==, 5 * 60 * SEC);
  g_assert_cmpint (config->janitor_stale_signal_age_usec, ==, 60 * 60 * SEC);
  g_assert_cmpstr (config->telegram_token_env, ==, "TELEGRAM_BOT_TOKEN");
  g_assert_cmpstr (config->telegram_chat_id_env, ==, "TELEGRAM_CHAT_ID");
  g_assert_cmpstr (config->resend_api_key_env, ==, "RESEND_API_KEY");
  g_assert_cmpstr (config->notify_email_env, ==, "BETAWATCH_NOTIFY_EMAIL");
  g_assert_cmpstr (config->email_from, ==, "claude-failover <noreply@localhost>");
  g_assert_cmpstr (config->telegram_url, ==, "https://api.telegram.org");
  g_assert_cmpstr (config->resend_url, ==, "https://api.resend.com");
  g_assert_cmpstr (config->delegation_url, ==, "");
  g_assert_cmpstr (config->delegation_api_key_env, ==, "SECUTOOLS_API_KEY");
  g_assert_cmpint (config->delegation_reap_interval_usec, ==, 30 * SEC);
  g_assert_cmpstr (config->http_listen, ==, "127.0.0.1:8377");
  g_assert_true (config->http_dashboard);
  g_assert_cmpuint (config->webhooks->len, ==, 0);
}

static void
test_defaults (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = load (ACCOUNTS, &error);
  const CfAccountConfig *account;

  g_assert_no_error (error);
  g_assert_nonnull (config);
  assert_defaults (config);
  g_assert_cmpstr (config->source, ==, SRC);
  g_assert_cmpuint (config->accounts->len, ==, 1);
  account = g_ptr_array_index (config->accounts, 0);
  g_assert_cmpstr (account->name, ==, "main");
  g_assert_cmpstr (account->home, ==, HOME "/.claude-main");
  g_assert_cmpuint (config->dedicated->len, ==, 0);
  g_assert_nonnull (config->warnings);
  g_assert_cmpuint (g_strv_length (config->warnings), ==, 0);
}

/* YAML nulls for sections and lists mean "nothing set here". */
static void
test_null_sections (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = load (ACCOUNTS
                                     "tmux:\npool:\n  autonomous: ~\n  dedicated: null\n"
                                     "projects:\n  dir: \"\"\n  extra:\n"
                                     "http:\n  listen:\n", &error);
  static const char *const none[] = { NULL };

  g_assert_no_error (error);
  g_assert_cmpstr (config->tmux_socket, ==, "");
  g_assert_cmpstr (config->pool_prefix, ==, "ccl-auto-");
  g_assert_cmpuint (config->dedicated->len, ==, 0);
  g_assert_null (config->projects_dir);
  assert_strv ((const char *const *) config->projects_extra, none);
  g_assert_cmpstr (config->http_listen, ==, "");
}

static char *
example_path (void)
{
  const char *source = g_getenv ("CF_SOURCE_DIR");

  if (source != NULL)
    return g_build_filename (source, "data", "config.example.yaml", NULL);
  return g_build_filename (CF_FIXTURES_DIR, "..", "..", "data", "config.example.yaml", NULL);
}

static void
test_example (void)
{
  g_autofree char *path = example_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = cf_config_load_file (path, HOME, &error);
  const CfAccountConfig *main_account, *backup;
  const CfDedicatedConfig *web;

  g_assert_no_error (error);
  g_assert_nonnull (config);
  assert_defaults (config);
  g_assert_cmpstr (config->source, ==, path);
  g_assert_cmpuint (g_strv_length (config->warnings), ==, 0);

  g_assert_cmpuint (config->accounts->len, ==, 2);
  main_account = g_ptr_array_index (config->accounts, 0);
  backup = g_ptr_array_index (config->accounts, 1);
  g_assert_cmpstr (main_account->name, ==, "main");
  g_assert_cmpstr (main_account->home, ==, HOME "/.claude-main");
  g_assert_cmpstr (backup->name, ==, "backup");
  g_assert_cmpstr (backup->home, ==, HOME "/.claude-backup");

  g_assert_cmpuint (config->dedicated->len, ==, 1);
  web = g_ptr_array_index (config->dedicated, 0);
  g_assert_cmpstr (web->name, ==, "ccl-1-web");
  g_assert_cmpstr (web->project, ==, HOME "/projects/web");
}

/* Every documented key appears in the example, so the example documents them. */
static void
test_example_mentions_every_key (void)
{
  static const char *const keys[] = {
    "state_file:", "runtime_dir:", "tmux:", "socket:", "claude_command:", "nice:", "accounts:",
    "name:", "home:", "claude_link:", "prepare_accounts:", "shared_state:", "root:", "entries:", "pool:",
    "autonomous:", "prefix:", "start_index:", "min:", "max:", "dedicated:", "project:",
    "projects:", "dir:", "extra:", "dispatcher:", "idle_timeout:", "prompt_timeout:", "needs_input_timeout:",
    "max_dispatch_per_task:", "cooldown_schedule:", "models:", "critical:", "high:",
    "default:", "low:", "message_template:", "watcher:", "interval:", "done_signal_dir:",
    "lifecycle:", "quota:", "tail_lines:", "pool_threshold:", "dedicated_threshold:",
    "reactivate_cooldown:", "return_margin:", "janitor:", "stale_signal_age:",
    "switch_at:", "switch_back_below:", "warn_at:", "start_stagger:",
    "notifications:", "telegram_token_env:", "telegram_chat_id_env:", "resend_api_key_env:",
    "notify_email_env:", "email_from:", "telegram_url:", "resend_url:", "delegation:",
    "url:", "api_key_env:", "reap_interval:", "http:", "listen:", "webhooks:", "kind:",
    "events:", "dashboard:",
  };
  g_autofree char *path = example_path ();
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_test_message ("%s", keys[i]);
      g_assert_nonnull (strstr (text, keys[i]));
    }
}

static void
test_webhooks (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = load (ACCOUNTS
                                     "notifications:\n"
                                     "  webhooks:\n"
                                     "    - {kind: slack, url: \"https://hooks.example/T/B/s3cret\"}\n"
                                     "    - kind: ntfy\n"
                                     "      url: http://127.0.0.1:9/topic\n"
                                     "      events: [task-done, limit, task-done]\n"
                                     "http:\n"
                                     "  dashboard: false\n", &error);
  const CfWebhookConfig *slack, *ntfy;

  g_assert_no_error (error);
  g_assert_nonnull (config);
  g_assert_false (config->http_dashboard);
  g_assert_cmpuint (config->webhooks->len, ==, 2);
  slack = g_ptr_array_index (config->webhooks, 0);
  ntfy = g_ptr_array_index (config->webhooks, 1);
  g_assert_cmpint (slack->kind, ==, CF_WEBHOOK_SLACK);
  g_assert_cmpstr (slack->url, ==, "https://hooks.example/T/B/s3cret");
  g_assert_cmpuint (slack->events, ==, CF_WEBHOOK_EVENTS_DEFAULT);
  g_assert_false (slack->events & CF_WEBHOOK_EVENT_TASK_DONE);
  g_assert_cmpint (ntfy->kind, ==, CF_WEBHOOK_NTFY);
  g_assert_cmpuint (ntfy->events, ==, CF_WEBHOOK_EVENT_TASK_DONE | CF_WEBHOOK_EVENT_LIMIT);
}

static void
test_tilde_expansion (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = NULL;
  const CfAccountConfig *account;
  static const char *const extra[] = { HOME "/a", "/c", HOME, NULL };

  /* A trailing slash on the home and on paths is dropped; ".." is resolved lexically. */
  config = cf_config_load_data ("accounts:\n"
                                "  - {name: tilde, home: ~}\n"
                                "  - {name: quoted, home: \"~/q\"}\n"
                                "  - {name: abs, home: /srv/claude/}\n"
                                "claude_link: ~/.claude/\n"
                                "tmux: {socket: ~/tmux.sock}\n"
                                "projects:\n  extra: [~/a, /b/../c, ~]\n"
                                "pool:\n  dedicated:\n    - {name: d, project: ~/projects/d}\n"
                                "    - {name: e}\n",
                                -1, SRC, HOME "/", &error);
  g_assert_no_error (error);
  account = g_ptr_array_index (config->accounts, 0);
  g_assert_cmpstr (account->home, ==, HOME);
  account = g_ptr_array_index (config->accounts, 1);
  g_assert_cmpstr (account->home, ==, HOME "/q");
  account = g_ptr_array_index (config->accounts, 2);
  g_assert_cmpstr (account->home, ==, "/srv/claude");
  g_assert_cmpstr (config->claude_link, ==, HOME "/.claude");
  g_assert_cmpstr (config->tmux_socket, ==, HOME "/tmux.sock");
  assert_strv ((const char *const *) config->projects_extra, extra);
  g_assert_cmpstr (cf_config_find_dedicated (config, "d")->project, ==, HOME "/projects/d");
  g_assert_null (cf_config_find_dedicated (config, "e")->project);
  /* Defaults follow the given home too. */
  g_assert_cmpstr (config->shared_root, ==, HOME "/.claude-shared");
  g_assert_cmpstr (config->projects_dir, ==, HOME "/projects");
}

static void
test_deprecated_projects_dir (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = load (ACCOUNTS "dispatcher:\n  projects_dir: ~/work\n", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (config->projects_dir, ==, HOME "/work");
  g_assert_cmpuint (g_strv_length (config->warnings), ==, 1);
  g_assert_cmpstr (config->warnings[0], ==,
                   SRC ":4:3: dispatcher.projects_dir is deprecated, use projects.dir");
}

static void
test_usage_thresholds (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = load ("accounts:\n"
                                     "  - {name: main, home: ~/.claude-main, switch_at: 90}\n"
                                     "  - {name: spare, home: ~/.claude-spare, switch_at: 0}\n"
                                     "  - {name: third, home: ~/.claude-third}\n"
                                     "quota: {switch_at: 98, switch_back_below: 60, warn_at: 0}\n"
                                     "lifecycle: {start_stagger: 0}\n", &error);
  g_autoptr(CfConfig) off = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (config->quota_switch_at, ==, 98);
  g_assert_cmpint (config->quota_switch_back_below, ==, 60);
  g_assert_cmpint (config->quota_warn_at, ==, 0);
  g_assert_cmpint (config->lifecycle_start_stagger_usec, ==, 0);
  g_assert_cmpint (cf_config_account_switch_at (config, "main"), ==, 90);
  g_assert_cmpint (cf_config_account_switch_at (config, "spare"), ==, 0);
  g_assert_cmpint (cf_config_account_switch_at (config, "third"), ==, 98);

  /* 0 turns proactive switching off, whatever switch_back_below says. */
  off = load (ACCOUNTS "quota: {switch_at: 0, switch_back_below: 100}\n"
              "lifecycle: {start_stagger: 1m}\n", &error);
  g_assert_no_error (error);
  g_assert_cmpint (off->quota_switch_at, ==, 0);
  g_assert_cmpint (off->lifecycle_start_stagger_usec, ==, 60 * SEC);
}

static void
test_durations (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = load (ACCOUNTS
                                     "dispatcher:\n"
                                     "  idle_timeout: 1h30m\n"
                                     "  prompt_timeout: 500ms\n"
                                     "  needs_input_timeout: 2s\n"
                                     "  cooldown_schedule: [0, 5m, \"10\", 1h]\n"
                                     "watcher: {interval: 45}\n"
                                     "lifecycle: {interval: 1m0s}\n"
                                     "quota:\n"
                                     "  interval: 100ms\n"
                                     "  reactivate_cooldown: 0\n"
                                     "  return_margin: 0s\n"
                                     "janitor: {interval: 720h, stale_signal_age: 2h}\n"
                                     "delegation: {reap_interval: '250ms'}\n", &error);
  static const guint cooldown[] = { 0, 300, 10, 3600 };

  g_assert_no_error (error);
  g_assert_cmpint (config->idle_timeout_usec, ==, 90 * 60 * SEC);
  g_assert_cmpint (config->prompt_timeout_usec, ==, 500 * 1000);
  g_assert_cmpint (config->needs_input_timeout_usec, ==, 2 * SEC);
  g_assert_cmpuint (config->cooldown_schedule->len, ==, G_N_ELEMENTS (cooldown));
  for (guint i = 0; i < G_N_ELEMENTS (cooldown); i++)
    g_assert_cmpuint (g_array_index (config->cooldown_schedule, guint, i), ==, cooldown[i]);
  g_assert_cmpint (config->watcher_interval_usec, ==, 45 * SEC);
  g_assert_cmpint (config->lifecycle_interval_usec, ==, 60 * SEC);
  g_assert_cmpint (config->quota_interval_usec, ==, 100 * 1000);
  g_assert_cmpint (config->quota_reactivate_cooldown_usec, ==, 0);
  g_assert_cmpint (config->quota_return_margin_usec, ==, 0);
  g_assert_cmpint (config->janitor_interval_usec, ==, (gint64) 720 * 3600 * SEC);
  g_assert_cmpint (config->janitor_stale_signal_age_usec, ==, 2 * 3600 * SEC);
  g_assert_cmpint (config->delegation_reap_interval_usec, ==, 250 * 1000);
}

static void
test_values (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = load (ACCOUNTS
                                     "pool:\n"
                                     "  autonomous: {prefix: w-, start_index: 5, min: 0, max: 3}\n"
                                     "  dedicated: [ccl-api, {name: w-8}, {name: w-4, project: /p}]\n"
                                     "shared_state: {entries: []}\n"
                                     "dispatcher:\n"
                                     "  models: {critical: opus-4, low: haiku}\n"
                                     "  message_template: \"{body}\\n\\tdone\"\n"
                                     "notifications: {telegram_token_env: '', email_from: me}\n"
                                     "delegation: {url: 'http://127.0.0.1:9/api', api_key_env: KEY_2}\n"
                                     "http: {listen: '[::1]:8377'}\n"
                                     "tmux: {nice: 0}\n", &error);
  static const char *const none[] = { NULL };

  g_assert_no_error (error);
  g_assert_cmpstr (config->pool_prefix, ==, "w-");
  g_assert_cmpuint (config->pool_start_index, ==, 5);
  g_assert_cmpuint (config->pool_min, ==, 0);
  g_assert_cmpuint (config->pool_max, ==, 3);
  g_assert_cmpuint (config->dedicated->len, ==, 3);
  assert_strv ((const char *const *) config->shared_entries, none);
  g_assert_cmpstr (config->models[CF_PRIORITY_CRITICAL], ==, "opus-4");
  g_assert_cmpstr (config->models[CF_PRIORITY_HIGH], ==, "sonnet");
  g_assert_cmpstr (config->models[CF_PRIORITY_LOW], ==, "haiku");
  g_assert_cmpstr (config->message_template, ==, "{body}\n\tdone");
  g_assert_cmpstr (config->telegram_token_env, ==, "");
  g_assert_cmpstr (config->email_from, ==, "me");
  g_assert_cmpstr (config->delegation_url, ==, "http://127.0.0.1:9/api");
  g_assert_cmpstr (config->delegation_api_key_env, ==, "KEY_2");
  g_assert_cmpstr (config->http_listen, ==, "[::1]:8377");
  g_assert_cmpuint (config->tmux_nice, ==, 0);
}

static void
test_allow_other_owners (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) defaults = load (ACCOUNTS, &error);
  g_autoptr(CfConfig) allowed = NULL;
  g_autoptr(CfConfig) refused = NULL;

  g_assert_no_error (error);
  g_assert_false (defaults->projects_allow_other_owners);
  allowed = load (ACCOUNTS "projects: {allow_other_owners: true}\n", &error);
  g_assert_no_error (error);
  g_assert_true (allowed->projects_allow_other_owners);
  refused = load (ACCOUNTS "projects: {allow_other_owners: false}\n", &error);
  g_assert_no_error (error);
  g_assert_false (refused->projects_allow_other_owners);
}

static void
test_project_isolation (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) defaults = load (ACCOUNTS, &error);
  g_autoptr(CfConfig) set = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (defaults->projects_isolation, ==, CF_ISOLATION_SHARED);
  g_assert_cmpuint (defaults->projects_max_parallel, ==, 0);
  g_assert_cmpint (defaults->projects_keep_worktrees, ==, CF_KEEP_WORKTREES_ON_FAILURE);
  set = load (ACCOUNTS "projects: {isolation: worktree, max_parallel: 2, keep_worktrees: never}\n", &error);
  g_assert_no_error (error);
  g_assert_cmpint (set->projects_isolation, ==, CF_ISOLATION_WORKTREE);
  g_assert_cmpuint (set->projects_max_parallel, ==, 2);
  g_assert_cmpint (set->projects_keep_worktrees, ==, CF_KEEP_WORKTREES_NEVER);
  g_clear_pointer (&set, cf_config_unref);
  set = load (ACCOUNTS "projects: {isolation: Shared, keep_worktrees: always}\n", &error);
  g_assert_no_error (error);
  g_assert_cmpint (set->projects_isolation, ==, CF_ISOLATION_SHARED);
  g_assert_cmpint (set->projects_keep_worktrees, ==, CF_KEEP_WORKTREES_ALWAYS);
}

static void
test_booleans (void)
{
  static const struct { const char *text; gboolean want; } cases[] = {
    { "true", TRUE }, { "false", FALSE }, { "yes", TRUE }, { "no", FALSE },
    { "True", TRUE }, { "FALSE", FALSE }, { "'false'", FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *yaml = g_strdup_printf (ACCOUNTS "prepare_accounts: %s\n", cases[i].text);
      g_autoptr(GError) error = NULL;
      g_autoptr(CfConfig) config = load (yaml, &error);

      g_test_message ("prepare_accounts: %s", cases[i].text);
      g_assert_no_error (error);
      g_assert_cmpint (config->prepare_accounts, ==, cases[i].want);
    }
}

static void
test_listen_addresses (void)
{
  static const struct {
    const char *text;
    const char *host;            /* NULL: refused */
    guint port;
  } cases[] = {
    { "127.0.0.1:8377", "127.0.0.1", 8377 },
    { "localhost:80", "127.0.0.1", 80 },
    { "[::1]:65535", "::1", 65535 },
    { "192.0.2.7:9100", "192.0.2.7", 9100 },
    { "[fe80::1]:1", "fe80::1", 1 },
    { "0.0.0.0:1", "0.0.0.0", 1 },       /* parses; the config refuses wildcards */
    { "127.0.0.1:65536", NULL, 0 },
    { "127.0.0.1:", NULL, 0 },
    { ":80", NULL, 0 },
    { "127.0.0.1", NULL, 0 },
    { "::1:80", NULL, 0 },
    { "[::1:80", NULL, 0 },
    { "host.example:80", NULL, 0 },
    { "127.0.0.1:8o", NULL, 0 },
    { "", NULL, 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *host = NULL;
      guint port = 0;
      gboolean ok = cf_config_parse_listen (cases[i].text, &host, &port);

      g_test_message ("%s", cases[i].text);
      g_assert_cmpint (ok, ==, cases[i].host != NULL);
      g_assert_cmpstr (host, ==, cases[i].host);
      g_assert_cmpuint (port, ==, cases[i].port);
    }
  g_assert_false (cf_config_parse_listen (NULL, NULL, NULL));
}

static void
test_non_loopback_listen_is_explicit (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = load (ACCOUNTS "http: {listen: '192.0.2.7:8377'}\n", &error);

  /* A named address other than loopback is the operator's explicit choice. */
  g_assert_no_error (error);
  g_assert_cmpstr (config->http_listen, ==, "192.0.2.7:8377");
}

static void
test_delegation_enabled (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) off = load (ACCOUNTS "delegation: {api_key_env: CF_TEST_DELEGATION_KEY}\n",
                                  &error);
  g_autoptr(CfConfig) on = NULL;

  g_assert_no_error (error);
  on = load (ACCOUNTS "delegation: {url: 'http://127.0.0.1:9', api_key_env: CF_TEST_DELEGATION_KEY}\n",
             &error);
  g_assert_no_error (error);

  g_unsetenv ("CF_TEST_DELEGATION_KEY");
  g_assert_false (cf_config_delegation_enabled (off));
  g_assert_false (cf_config_delegation_enabled (on));
  g_setenv ("CF_TEST_DELEGATION_KEY", "", TRUE);
  g_assert_false (cf_config_delegation_enabled (on));
  g_setenv ("CF_TEST_DELEGATION_KEY", "k", TRUE);
  g_assert_false (cf_config_delegation_enabled (off));
  g_assert_true (cf_config_delegation_enabled (on));
  g_unsetenv ("CF_TEST_DELEGATION_KEY");
}

/* --- Helpers ------------------------------------------------------------------- */

static void
test_lookups (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = load ("accounts:\n"
                                     "  - {name: main, home: /a}\n"
                                     "  - {name: backup, home: /b}\n"
                                     "pool:\n"
                                     "  autonomous: {prefix: ccl-auto-, start_index: 1, max: 10}\n"
                                     "  dedicated: [ccl-auto-11, ccl-1-web]\n", &error);
  static const struct { const char *name; gboolean pool; } names[] = {
    { "ccl-auto-0", FALSE },
    { "ccl-auto-1", TRUE },
    { "ccl-auto-10", TRUE },
    { "ccl-auto-11", FALSE },
    { "ccl-auto-01", FALSE },
    { "ccl-auto-", FALSE },
    { "ccl-auto-1x", FALSE },
    { "ccl-auto-+1", FALSE },
    { "ccl-auto-99999999999999999999", FALSE },
    { "ccl-1-web", FALSE },
    { "ccl-auto-5", TRUE },
    { "", FALSE },
    { NULL, FALSE },
  };

  g_assert_no_error (error);
  g_assert_cmpstr (cf_config_find_account (config, "backup")->home, ==, "/b");
  g_assert_true (cf_config_find_account (config, "main") == g_ptr_array_index (config->accounts, 0));
  g_assert_null (cf_config_find_account (config, "nobody"));
  g_assert_null (cf_config_find_account (config, NULL));

  g_assert_nonnull (cf_config_find_dedicated (config, "ccl-1-web"));
  g_assert_null (cf_config_find_dedicated (config, "ccl-auto-1"));
  g_assert_null (cf_config_find_dedicated (config, NULL));

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_test_message ("%s", names[i].name);
      g_assert_cmpint (cf_config_is_pool_session (config, names[i].name), ==, names[i].pool);
    }

  for (guint i = config->pool_start_index; i < config->pool_start_index + config->pool_max; i++)
    {
      g_autofree char *name = cf_config_pool_session_name (config, i);
      g_assert_true (cf_config_is_pool_session (config, name));
    }
  {
    g_autofree char *name = cf_config_pool_session_name (config, 7);
    g_assert_cmpstr (name, ==, "ccl-auto-7");
  }
}

static void
test_priorities (void)
{
  static const struct { const char *text; CfPriority priority; } names[] = {
    { "critical", CF_PRIORITY_CRITICAL },
    { "high", CF_PRIORITY_HIGH },
    { "default", CF_PRIORITY_DEFAULT },
    { "low", CF_PRIORITY_LOW },
  };
  CfPriority priority;

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_assert_cmpstr (cf_priority_to_string (names[i].priority), ==, names[i].text);
      priority = CF_PRIORITY_COUNT;
      g_assert_true (cf_priority_from_string (names[i].text, &priority));
      g_assert_cmpint (priority, ==, names[i].priority);
    }
  g_assert_true (cf_priority_from_string ("HIGH", &priority));
  g_assert_cmpint (priority, ==, CF_PRIORITY_HIGH);
  g_assert_false (cf_priority_from_string ("urgent", &priority));
  g_assert_false (cf_priority_from_string ("", &priority));
  g_assert_false (cf_priority_from_string (NULL, &priority));
  g_assert_null (cf_priority_to_string (CF_PRIORITY_COUNT));
}

static void
test_ref_counting (void)
{
  g_autoptr(GError) error = NULL;
  CfConfig *config = load (ACCOUNTS, &error);
  CfConfig *second;

  g_assert_no_error (error);
  second = cf_config_ref (config);
  g_assert_true (second == config);
  cf_config_unref (config);
  /* Still alive through the second reference. */
  g_assert_cmpstr (second->pool_prefix, ==, "ccl-auto-");
  cf_config_unref (second);
  cf_config_unref (NULL);
}

/* --- Files --------------------------------------------------------------------- */

static void
test_file_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = NULL;
  g_autofree char *dir = g_dir_make_tmp ("cf-config-XXXXXX", &error);
  g_autofree char *missing = NULL;
  g_autofree char *big = NULL;
  g_autofree char *fifo = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *data = NULL;

  g_assert_no_error (error);
  missing = g_build_filename (dir, "missing.yaml", NULL);
  config = cf_config_load_file (missing, HOME, &error);
  g_assert_null (config);
  g_assert_error (error, CF_CONFIG_ERROR, CF_CONFIG_ERROR_IO);
  expected = g_strdup_printf ("%s: %s", missing, g_strerror (ENOENT));
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);
  g_clear_pointer (&expected, g_free);

  config = cf_config_load_file (dir, HOME, &error);
  g_assert_null (config);
  g_assert_error (error, CF_CONFIG_ERROR, CF_CONFIG_ERROR_IO);
  expected = g_strdup_printf ("%s: %s", dir, g_strerror (EISDIR));
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);

  big = g_build_filename (dir, "big.yaml", NULL);
  data = g_strnfill (1024 * 1024 + 1, '#');
  g_assert_true (g_file_set_contents (big, data, -1, &error));
  config = cf_config_load_file (big, HOME, &error);
  g_assert_null (config);
  g_assert_error (error, CF_CONFIG_ERROR, CF_CONFIG_ERROR_IO);
  g_assert_true (g_str_has_prefix (error->message, big));
  g_clear_error (&error);

  /* A FIFO nobody writes to: refused at once, never waited on. */
  fifo = g_build_filename (dir, "fifo.yaml", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  config = cf_config_load_file (fifo, HOME, &error);
  g_assert_null (config);
  g_assert_error (error, CF_CONFIG_ERROR, CF_CONFIG_ERROR_IO);
  g_clear_pointer (&expected, g_free);
  expected = g_strdup_printf ("%s: not a regular file (a FIFO, socket or device); "
                              "the configuration must be a regular file", fifo);
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);

  config = cf_config_load_file ("/dev/zero", HOME, &error);
  g_assert_null (config);
  g_assert_error (error, CF_CONFIG_ERROR, CF_CONFIG_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "not a regular file"));
  g_clear_error (&error);

  g_assert_cmpint (g_unlink (fifo), ==, 0);
  g_assert_cmpint (g_unlink (big), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

typedef struct {
  const char *file;
  CfConfigError code;
  const char *message;         /* after "<path>:" */
} FixtureCase;

static const FixtureCase fixture_cases[] = {
  { "bad-unknown-key.yaml", CF_CONFIG_ERROR_UNKNOWN_KEY,
    "6:5: pool.autonomous.prefx: unknown key, did you mean 'prefix'?" },
  { "bad-min-max.yaml", CF_CONFIG_ERROR_VALUE,
    "6:5: pool.autonomous.min: must not exceed max (10)" },
  { "bad-pool-max.yaml", CF_CONFIG_ERROR_VALUE,
    "6:5: pool.autonomous.max: must be at most 200 (each session is a Claude Code process)" },
  { "bad-syntax.yaml", CF_CONFIG_ERROR_SYNTAX,
    "4:5: invalid YAML: did not find expected ',' or '}' "
    "(while parsing a flow mapping started at line 3, column 5)" },
  { "bad-duration.yaml", CF_CONFIG_ERROR_VALUE,
    "5:3: quota.interval: '30 seconds' is not a duration (e.g. 500ms, 30s, 5m, 1h30m)" },
  { "bad-missing-accounts.yaml", CF_CONFIG_ERROR_MISSING,
    "2:1: accounts: required key is missing" },
  { "bad-empty.yaml", CF_CONFIG_ERROR_MISSING,
    "1:1: accounts: required key is missing (the file is empty)" },
  { "bad-dedicated-collision.yaml", CF_CONFIG_ERROR_VALUE,
    "7:7: pool.dedicated[1].name: 'ccl-auto-3' is also an autonomous pool session name "
    "('ccl-auto-' 0 to 9)" },
  { "bad-utf8.yaml", CF_CONFIG_ERROR_SYNTAX, "3:15: invalid UTF-8" },
  { "bad-relative-home.yaml", CF_CONFIG_ERROR_VALUE,
    "4:5: accounts[0].home: 'claude-main' is not an absolute path (start it with / or ~/)" },
  { "bad-type.yaml", CF_CONFIG_ERROR_TYPE,
    "5:3: projects.extra: must be a list, not a single value" },
  { "bad-duplicate-account.yaml", CF_CONFIG_ERROR_VALUE,
    "4:6: accounts[1].name: account 'main' is defined twice" },
  { "bad-legacy-and-new.yaml", CF_CONFIG_ERROR_VALUE,
    "7:3: dispatcher.projects_dir: cannot be combined with projects.dir (its new name); "
    "keep only projects.dir" },
};

static void
test_fixtures_bad (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (fixture_cases); i++)
    {
      const FixtureCase *c = &fixture_cases[i];
      g_autofree char *path = g_build_filename (CF_FIXTURES_DIR, "configs", c->file, NULL);
      g_autofree char *expected = g_strdup_printf ("%s:%s", path, c->message);
      g_autoptr(GError) error = NULL;
      g_autoptr(CfConfig) config = cf_config_load_file (path, HOME, &error);

      g_test_message ("%s", c->file);
      g_assert_null (config);
      g_assert_cmpstr (error->message, ==, expected);
      g_assert_error (error, CF_CONFIG_ERROR, (gint) c->code);
    }
}

static void
test_fixtures_good (void)
{
  g_autofree char *minimal = g_build_filename (CF_FIXTURES_DIR, "configs", "valid-minimal.yaml", NULL);
  g_autofree char *legacy = g_build_filename (CF_FIXTURES_DIR, "configs",
                                              "valid-legacy-projects-dir.yaml", NULL);
  g_autofree char *warning = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = NULL;

  config = cf_config_load_file (minimal, HOME, &error);
  g_assert_no_error (error);
  assert_defaults (config);
  g_clear_pointer (&config, cf_config_unref);

  config = cf_config_load_file (legacy, HOME, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->projects_dir, ==, "/srv/projects");
  warning = g_strdup_printf ("%s:6:3: dispatcher.projects_dir is deprecated, use projects.dir", legacy);
  g_assert_cmpuint (g_strv_length (config->warnings), ==, 1);
  g_assert_cmpstr (config->warnings[0], ==, warning);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/errors", test_error_table);
  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/null-sections", test_null_sections);
  g_test_add_func ("/config/example", test_example);
  g_test_add_func ("/config/example-documents-every-key", test_example_mentions_every_key);
  g_test_add_func ("/config/webhooks", test_webhooks);
  g_test_add_func ("/config/tilde", test_tilde_expansion);
  g_test_add_func ("/config/deprecated-projects-dir", test_deprecated_projects_dir);
  g_test_add_func ("/config/durations", test_durations);
  g_test_add_func ("/config/usage-thresholds", test_usage_thresholds);
  g_test_add_func ("/config/values", test_values);
  g_test_add_func ("/config/allow-other-owners", test_allow_other_owners);
  g_test_add_func ("/config/project-isolation", test_project_isolation);
  g_test_add_func ("/config/booleans", test_booleans);
  g_test_add_func ("/config/lookups", test_lookups);
  g_test_add_func ("/config/priorities", test_priorities);
  g_test_add_func ("/config/listen-addresses", test_listen_addresses);
  g_test_add_func ("/config/listen-non-loopback", test_non_loopback_listen_is_explicit);
  g_test_add_func ("/config/delegation-enabled", test_delegation_enabled);
  g_test_add_func ("/config/ref", test_ref_counting);
  g_test_add_func ("/config/file-errors", test_file_errors);
  g_test_add_func ("/config/fixtures/bad", test_fixtures_bad);
  g_test_add_func ("/config/fixtures/good", test_fixtures_good);
  return g_test_run ();
}
