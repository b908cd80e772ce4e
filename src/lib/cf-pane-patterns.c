/* SPDX-License-Identifier: MIT */
/* What Claude Code's screen is matched against: the versioned pattern table
 * (limits, warnings, server errors, throttles, dialogs, auto-continue), the
 * other expressions the classifier uses (spinner, menus, resume hint, shell
 * prompt, …) compiled once, and the names and fixes of pattern kinds and
 * dialogs. The classifier that reads a screen with them is cf-pane.c. */
#include "cf-pane.h"
#include "cf-pane-private.h"

#include <glib/gi18n.h>

/* The pattern table.  Every phrasing Claude Code has used for an exhausted,
 * nearly exhausted or failing account is a row; ARCHITECTURE.md 5 lists them
 * and tests/fixtures/panes holds one capture per phrasing.  Change a row →
 * bump CF_PANE_PATTERNS_VERSION. */

#define CF_EXAMPLES(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define CF_ROW(row_id, row_kind, row_regex, first_example, ...)                  \
  { .id = row_id, .kind = row_kind, .regex = row_regex, .example = first_example, \
    .examples = CF_EXAMPLES (first_example, ##__VA_ARGS__) }
#define CF_DIALOG_ROW(row_id, row_dialog, row_needs_menu, row_regex, first_example, ...) \
  { .id = row_id, .kind = CF_PANE_PATTERN_DIALOG, .regex = row_regex,                    \
    .example = first_example, .examples = CF_EXAMPLES (first_example, ##__VA_ARGS__),    \
    .dialog = row_dialog, .needs_menu = row_needs_menu }
#define CF_AUTO_ROW(row_id, row_state, row_regex, first_example, ...)                    \
  { .id = row_id, .kind = CF_PANE_PATTERN_AUTO_CONTINUE, .regex = row_regex,             \
    .example = first_example, .examples = CF_EXAMPLES (first_example, ##__VA_ARGS__),    \
    .auto_continue = row_state }

/* Claude Code starts its own messages at the line start, after a transcript
 * marker; anchoring there keeps Claude's prose ("the text \"5-hour limit
 * reached\" means…") from counting as a limit. */
#define LEAD "^\\s*(?:[⎿●⏺•✗✘⚠]\\s*)?(?:error:\\s*)?"
/* "You've", "You’ve" (Claude Code uses both apostrophes) and "You have". */
#define YOU_HAVE "(?:you(?:'|’)?ve|you have)"
#define YOU_ARE "(?:you(?:'|’)?re|you are)"
/* Dialog lines start the row, inside an optional box border. */
#define DIALOG_LEAD "^\\s*(?:│\\s*)?"

const CfPanePatternInfo cf_pane_pattern_table[] = {
  /* Limits.  Specific phrasings first so that the reported id is precise;
   * the generic row last. */
  CF_ROW ("claude-ai-epoch", CF_PANE_PATTERN_LIMIT,
          LEAD "claude(?: ai)? usage limit reached\\s*\\|\\s*\\d{9,13}",
          "Claude AI usage limit reached|1760004000"),
  CF_ROW ("claude-usage-reset-at", CF_PANE_PATTERN_LIMIT,
          LEAD "claude(?: ai)? usage limit reached\\b",
          "Claude usage limit reached. Your limit will reset at 9am (America/Chicago).",
          "Claude AI usage limit reached. Your limit will reset at 5pm."),
  CF_ROW ("auto-continue", CF_PANE_PATTERN_LIMIT,
          LEAD "(?:usage limit reached\\W+continuing automatically\\b"
          "|continuing automatically at\\s*\\d)",
          "Usage limit reached · continuing automatically at 7pm · esc or type to cancel"),
  /* 2.1.332: Claude Code's own auto-continue, armed under the limit line. */
  CF_ROW ("auto-continue-set", CF_PANE_PATTERN_LIMIT,
          LEAD "usage limit reached(?: again)?\\W+set to continue automatically\\b",
          "Usage limit reached · set to continue automatically at 4:23pm",
          "Usage limit reached again · set to continue automatically at 3pm"),
  CF_ROW ("five-hour-limit", CF_PANE_PATTERN_LIMIT,
          LEAD "5[- ]?hour limit reached\\b",
          "5-hour limit reached ∙ resets 9pm",
          "5-hour limit reached · resets 2pm (Pacific/Auckland) · /upgrade to Max or turn on /extra-usage"),
  CF_ROW ("weekly-limit", CF_PANE_PATTERN_LIMIT,
          LEAD "(?:opus |sonnet )?weekly limit reached\\b",
          "Weekly limit reached · resets 10am (Asia/Seoul)",
          "Opus weekly limit reached · resets Jul 31, 2am"),
  CF_ROW ("hit-session-limit", CF_PANE_PATTERN_LIMIT,
          LEAD YOU_HAVE " hit your session limit\\b",
          "You've hit your session limit · resets 8pm (America/New_York)"),
  CF_ROW ("hit-five-hour-limit", CF_PANE_PATTERN_LIMIT,
          LEAD YOU_HAVE " hit your 5[- ]?hour limit\\b",
          "You've hit your 5-hour limit · resets 4:23pm (Europe/Berlin)",
          "You've hit your 5-hour limit · resets 1:47pm (UTC) · progress saved"),
  CF_ROW ("hit-weekly-limit", CF_PANE_PATTERN_LIMIT,
          LEAD YOU_HAVE " hit your (?:[\\w-]+ )?weekly limit\\b",
          "You've hit your weekly limit · resets Jul 31, 2am (UTC)",
          "You’ve hit your Opus weekly limit · resets Aug 4, 9am"),
  CF_ROW ("hit-your-limit", CF_PANE_PATTERN_LIMIT,
          LEAD YOU_HAVE " hit your (?:[\\w-]+ ){0,2}limit\\b",
          "You've hit your limit · resets 11:30pm (Europe/Berlin)",
          "You've hit your limit · resets Feb 17 at 2pm (Asia/Seoul)",
          "You've hit your Opus limit · resets Dec 9, 5:32pm (Europe/Berlin)",
          "You've hit your usage credit limit · out of usage credits"),
  CF_ROW ("out-of-usage-credits", CF_PANE_PATTERN_LIMIT,
          LEAD "(?:" YOU_ARE "|your organization is) out of usage credits\\b",
          "You're out of usage credits · resets 5:34pm (UTC)",
          "Your organization is out of usage credits. Contact your admin to add more."),
  CF_ROW ("extra-usage-exhausted", CF_PANE_PATTERN_LIMIT,
          LEAD YOU_ARE " out of extra usage\\b",
          "You're out of extra usage · resets 4pm (America/Los_Angeles)"),
  CF_ROW ("rate-limit-error", CF_PANE_PATTERN_LIMIT,
          LEAD "(?:api error:?\\s*\\(?\\d{3}\\)?:?\\s*\\{.*\\brate_limit_error\\b"
          "|api error:?\\s*\\(?429\\b|\\{.*\"rate_limit_error\")",
          "API Error: 429 {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"This request would exceed your account's rate limit.\"}}"),
  CF_ROW ("usage-limit-reached", CF_PANE_PATTERN_LIMIT,
          LEAD "(?:(?:usage|rate) limit (?:reached|exceeded)\\b"
          "|" YOU_HAVE " reached your (?:[\\w-]+ )?(?:usage )?limit\\b)",
          "Usage limit reached",
          "Rate limit exceeded",
          "You have reached your usage limit."),

  /* Warnings: a reset time is shown, but work goes on. */
  CF_ROW ("warning-approaching", CF_PANE_PATTERN_WARNING,
          LEAD "approaching (?:your )?(?:[\\w-]+ )?(?:usage )?limit\\b",
          "Approaching usage limit · resets at 3pm",
          "Approaching weekly limit",
          "Approaching Opus usage limit · resets 5pm"),
  CF_ROW ("warning-used-percent", CF_PANE_PATTERN_WARNING,
          LEAD YOU_HAVE " used \\d{1,3}% of your\\b",
          "You've used 98% of your weekly limit · resets Jul 31, 2am (UTC)",
          "You’ve used 90% of your session limit · resets 9pm"),

  /* Server errors stay in the transcript and quote rate limits: they veto. */
  CF_ROW ("server-api-error-5xx", CF_PANE_PATTERN_SERVER_ERROR,
          "\\bapi error:?\\s*\\(?5\\d\\d\\b",
          "API Error: 500 {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal server error\"}}",
          "API Error: 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
          "API Error (503): upstream connect error"),
  CF_ROW ("server-api-error-type", CF_PANE_PATTERN_SERVER_ERROR,
          "\"type\"\\s*:\\s*\"api_error\"",
          "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"rate limit service unavailable\"}}"),
  CF_ROW ("server-overloaded", CF_PANE_PATTERN_SERVER_ERROR,
          "\\boverloaded_error\\b",
          "{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}"),
  CF_ROW ("server-internal-error", CF_PANE_PATTERN_SERVER_ERROR,
          "\\binternal server error\\b",
          "Internal server error"),
  CF_ROW ("server-http-5xx", CF_PANE_PATTERN_SERVER_ERROR,
          "\\b(?:50[0234]|529)\\s+(?:bad gateway|service unavailable|gateway timeout|overloaded)\\b"
          "|\\b(?:bad gateway|service unavailable|gateway timeout)\\b",
          "502 Bad Gateway",
          "503 Service Unavailable",
          "529 Overloaded"),

  /* A 429 without the unified headers: the server sheds load, the account
   * is fine.  StopFailure says rate_limit for these too. */
  CF_ROW ("throttle-server-limiting", CF_PANE_PATTERN_THROTTLE,
          LEAD "(?:api error:?\\s*)?server is temporarily limiting requests\\b",
          "API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited"),
  CF_ROW ("throttle-request-rejected", CF_PANE_PATTERN_THROTTLE,
          LEAD "(?:api error:?\\s*)?request rejected \\(429\\)",
          "API Error: Request rejected (429) · Rate limited"),

  /* Dialogs, menus and refusals, looked for below the last ❯ box only.
   * Within a dialog the first row that matches names it. */
  CF_DIALOG_ROW ("trust-quick-safety-check", CF_PANE_DIALOG_TRUST, FALSE,
                 DIALOG_LEAD "quick safety check: is this a project you created or one you trust\\b",
                 "Quick safety check: Is this a project you created or one you trust? (Like your own code, a well-known open source project, or work from your team)."),
  CF_DIALOG_ROW ("trust-legacy", CF_PANE_DIALOG_TRUST, FALSE,
                 DIALOG_LEAD "do you trust the files in this folder\\?",
                 "Do you trust the files in this folder?"),
  CF_DIALOG_ROW ("trust-accessing-workspace", CF_PANE_DIALOG_TRUST, FALSE,
                 DIALOG_LEAD "accessing workspace:\\s*$",
                 "Accessing workspace:"),
  CF_DIALOG_ROW ("trust-yes-option", CF_PANE_DIALOG_TRUST, FALSE,
                 DIALOG_LEAD "(?:❯\\s*)?(?:\\d\\.\\s*)?yes, i trust this folder\\b",
                 "Yes, I trust this folder"),
  CF_DIALOG_ROW ("bypass-warning", CF_PANE_DIALOG_BYPASS_WARNING, FALSE,
                 DIALOG_LEAD "warning: claude code running in bypass permissions mode\\b",
                 "WARNING: Claude Code running in Bypass Permissions mode"),
  CF_DIALOG_ROW ("onboarding-failed", CF_PANE_DIALOG_ONBOARDING_FAILED, FALSE,
                 DIALOG_LEAD "unable to connect to anthropic services\\b",
                 "Unable to connect to Anthropic services"),
  CF_DIALOG_ROW ("api-key-detected", CF_PANE_DIALOG_API_KEY, FALSE,
                 DIALOG_LEAD "detected a custom api key in your environment\\b",
                 "Detected a custom API key in your environment"),
  CF_DIALOG_ROW ("root-refused", CF_PANE_DIALOG_ROOT_REFUSED, FALSE,
                 "--dangerously-skip-permissions cannot be used with root/sudo privileges\\b",
                 "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons"),
  CF_DIALOG_ROW ("no-conversation", CF_PANE_DIALOG_NO_CONVERSATION, FALSE,
                 DIALOG_LEAD "no conversation found with session id\\b",
                 "No conversation found with session ID: e77f7190-7555-40bd-a0ac-c4e022aa58f0"),
  CF_DIALOG_ROW ("login-method", CF_PANE_DIALOG_LOGIN, FALSE,
                 DIALOG_LEAD "select login method:",
                 "Select login method:"),
  /* Right-aligned in the footer of a Claude that has no credentials. */
  CF_DIALOG_ROW ("login-missing", CF_PANE_DIALOG_LOGIN, FALSE,
                 "\\bnot logged in\\W+run /login\\b",
                 "Not logged in · run /login"),
  CF_DIALOG_ROW ("limit-options-menu", CF_PANE_DIALOG_LIMIT_MENU, TRUE,
                 DIALOG_LEAD "(?:❯\\s*)?\\d{1,2}\\.\\s+(?:stop and wait for (?:the )?limit to reset"
                 "|wait here, then continue automatically)\\b",
                 "❯ 1. Stop and wait for limit to reset",
                 "2. Wait here, then continue automatically at Dec 9, 2:37pm"),
  CF_DIALOG_ROW ("permission-question", CF_PANE_DIALOG_PERMISSION, TRUE,
                 DIALOG_LEAD "do you want to (?:proceed|make this edit|create|allow|delete|overwrite"
                 "|run|fetch|use|edit|write)\\b[^?]*\\?",
                 "Do you want to proceed?",
                 "Do you want to make this edit to cf-pane.c?",
                 "Do you want to create notes.md?"),

  /* Claude Code's own continue after a usage limit (CLAUDE-CODE.md).  The
   * footer lines sit right-aligned, so these rows are not anchored. */
  CF_AUTO_ROW ("auto-continue-cancelled", "cancelled",
               "\\bautomatic continue (?:cancelled|stopped|was turned off"
               "|at the usage-limit reset was cancelled)\\b",
               "Automatic continue cancelled · /rate-limit-options to wait again",
               "automatic continue cancelled",
               "Automatic continue stopped after repeated usage limit hits"),
  CF_AUTO_ROW ("auto-continue-fired", "fired",
               "(?:\\busage limit reset\\W+continuing automatically\\b"
               "|\\byour claude\\.ai usage limit has reset\\. continue the task\\b)",
               "Usage limit reset · Continuing automatically",
               "❯ Your claude.ai usage limit has reset. Continue the task you were working on when the limit was reached; do not repeat work that is already complete."),
  CF_AUTO_ROW ("auto-continue-armed", "armed",
               "(?:\\bcontinuing (?:automatically|shortly)\\b[^·]*·\\s*esc (?:or type )?to cancel\\b"
               "|\\bset to continue automatically\\b"
               "|\\busage limit reached\\W+continuing automatically\\b)",
               "Continuing automatically at 4:23pm · Esc to cancel",
               "Continuing shortly · Esc to cancel",
               "● Usage limit reached · set to continue automatically at 4:23pm",
               "Usage limit reached · continuing automatically at 7pm · esc or type to cancel"),
};

const guint cf_pane_n_patterns = G_N_ELEMENTS (cf_pane_pattern_table);

/* Spinner glyphs Claude Code has cycled through (· ✢ ✳ ✶ ✻ ✽ and the
 * Windows/Ghostty variants), plus the Braille frames of older releases.
 * A glyph alone is not enough: "✻ Worked for 1m 52s" and "✻ Welcome to
 * Claude Code!" stay on screen when idle; a live spinner's verb ends in "…". */
#define SPINNER_GLYPHS "·✢✳✶✻✽∗*✱✲✴✵✷✸✹✺✼❋✦✧\\x{2800}-\\x{28FF}"

static const char spinner_source[] =
  "^\\s*[" SPINNER_GLYPHS "]\\s+\\p{L}[^…]{0,80}?(?:…|\\.\\.\\.)";
static const char interrupt_source[] = "\\besc to interrupt\\b";
static const char elapsed_source[] = "\\((?:\\d+h\\s*)?(?:\\d+m\\s*)?\\d+s\\s*·";
/* "❯ 1. Stop and wait for limit to reset": a selection menu, not the input. */
static const char menu_cursor_source[] = "^\\s*❯\\s*\\d{1,2}[.)]\\s";
static const char menu_option_source[] = "^\\s*\\d{1,2}[.)]\\s+\\S";
/* The exit hint repeats the launch flags before --resume
 * ("claude --model sonnet --dangerously-skip-permissions --resume <uuid>"). */
static const char resume_source[] =
  "\\bclaude(?:[ \\t]+(?!--resume\\b)[^\\s|;&]+){0,16}?[ \\t]+--resume(?:=|[ \\t]+)[\"']?"
  "([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}"
  "-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})(?![0-9A-Fa-f-])";
/* API retries keep the turn alive: "✻ API error · retrying in 24s ·
 * attempt 1/10", "✻ Waiting for API response · will retry in 4m 15s". */
static const char retry_source[] =
  "(?:\\bretrying in (?:\\d+h\\s*)?(?:\\d+m\\s*)?(?:\\d+s)?\\s*·\\s*attempt \\d+/\\d+"
  "|\\bwaiting for api response\\b)";
static const char resume_hint_source[] = "^\\s*resume this session with:";
/* "bash-5.2#", "claude@vm:~/web$", "[me@host dir]$", "host%", "$": a shell
 * waiting for a command.  "5h: 92%" (a statusline) is not one. */
static const char shell_prompt_source[] =
  "^(?:\\S*[@:~/]\\S*(?:\\s+\\S+){0,3}|(?:ba|z|k|da|fi)?sh(?:-\\d+(?:\\.\\d+)*)?"
  "|\\[[^\\]]{1,80}\\]|\\S*[A-Za-z_])?\\s?(?:[$#]|(?<!\\d)%)$";
static const char banner_source[] = "(?:\\bclaude code v\\d|\\bwelcome to claude code\\b)";
static const char pane_dead_source[] = "^\\s*pane is dead\\b";
/* A reset time with its zone in parentheses: "resets 4:23pm (Europe/Berlin)". */
static const char zone_source[] = "\\bresets?\\b[^()]*\\((?:[A-Za-z_]+(?:/[A-Za-z0-9_+-]+)*)\\)";
/* The dim suggestion of an empty 1.x/2.0 box: 'Try "refactor redirect.ts"'. */
static const char suggestion_source[] = "^try \"[^\"]{1,200}\"$";
/* The dim placeholders left in the box after an API error (2.1.332). */
const char *const cf_pane_placeholders[] = {
  "Resend your message to try again",
  "Once fixed, resend your message",
  "Run /rewind to go back",
  NULL,
};

static GRegex *
compile (const char *source)
{
  g_autoptr(GError) error = NULL;
  GRegex *regex = g_regex_new (source, G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, &error);

  /* The sources are constants checked by the unit tests. */
  if (regex == NULL)
    g_error ("pane pattern /%s/: %s", source, error->message);
  return regex;
}

/* Compiled once per process and never freed, like the table they come from. */
const CfPaneRegexes *
cf_pane_regexes (void)
{
  static CfPaneRegexes compiled;
  static gsize initialised = 0;

  if (g_once_init_enter (&initialised))
    {
      compiled.patterns = g_new0 (GRegex *, cf_pane_n_patterns);
      for (guint i = 0; i < cf_pane_n_patterns; i++)
        compiled.patterns[i] = compile (cf_pane_pattern_table[i].regex);
      compiled.spinner = compile (spinner_source);
      compiled.interrupt = compile (interrupt_source);
      compiled.elapsed = compile (elapsed_source);
      compiled.menu_cursor = compile (menu_cursor_source);
      compiled.menu_option = compile (menu_option_source);
      compiled.resume = compile (resume_source);
      compiled.retry = compile (retry_source);
      compiled.resume_hint = compile (resume_hint_source);
      compiled.shell_prompt = compile (shell_prompt_source);
      compiled.banner = compile (banner_source);
      compiled.pane_dead = compile (pane_dead_source);
      compiled.zone = compile (zone_source);
      compiled.footer_gap = compile ("\\s{3,}");
      compiled.suggestion = compile (suggestion_source);
      g_once_init_leave (&initialised, 1);
    }
  return &compiled;
}

const CfPanePatternInfo *
cf_pane_patterns (guint *n_patterns)
{
  if (n_patterns != NULL)
    *n_patterns = cf_pane_n_patterns;
  return cf_pane_pattern_table;
}

const char *
cf_pane_pattern_kind_to_string (CfPanePatternKind kind)
{
  switch (kind)
    {
    case CF_PANE_PATTERN_LIMIT:
      return "limit";
    case CF_PANE_PATTERN_WARNING:
      return "warning";
    case CF_PANE_PATTERN_SERVER_ERROR:
      return "server-error";
    case CF_PANE_PATTERN_THROTTLE:
      return "throttle";
    case CF_PANE_PATTERN_DIALOG:
      return "dialog";
    case CF_PANE_PATTERN_AUTO_CONTINUE:
      return "auto-continue";
    default:
      return "unknown";
    }
}

const char *
cf_pane_dialog_to_string (CfPaneDialog dialog)
{
  switch (dialog)
    {
    case CF_PANE_DIALOG_NONE:
      return "none";
    case CF_PANE_DIALOG_TRUST:
      return "trust";
    case CF_PANE_DIALOG_BYPASS_WARNING:
      return "bypass-warning";
    case CF_PANE_DIALOG_ONBOARDING_FAILED:
      return "onboarding-failed";
    case CF_PANE_DIALOG_API_KEY:
      return "api-key";
    case CF_PANE_DIALOG_ROOT_REFUSED:
      return "root-refused";
    case CF_PANE_DIALOG_NO_CONVERSATION:
      return "no-conversation";
    case CF_PANE_DIALOG_PERMISSION:
      return "permission";
    case CF_PANE_DIALOG_LIMIT_MENU:
      return "limit-menu";
    case CF_PANE_DIALOG_LOGIN:
      return "login";
    case CF_PANE_DIALOG_UNKNOWN_MENU:
      return "unknown-menu";
    default:
      return "unknown";
    }
}

const char *
cf_pane_dialog_fix (CfPaneDialog dialog)
{
  switch (dialog)
    {
    case CF_PANE_DIALOG_TRUST:
      return _("trust the project in the account's .claude.json (prepare_accounts does it)");
    case CF_PANE_DIALOG_BYPASS_WARNING:
      return _("accept the bypass-permissions warning in the account's settings.json "
               "(skipDangerousModePermissionPrompt; prepare_accounts does it)");
    case CF_PANE_DIALOG_ONBOARDING_FAILED:
      return _("complete onboarding in the account's .claude.json (hasCompletedOnboarding; "
               "prepare_accounts does it)");
    case CF_PANE_DIALOG_API_KEY:
      return _("approve the API key in the account's .claude.json (customApiKeyResponses) "
               "or use a subscription login");
    case CF_PANE_DIALOG_ROOT_REFUSED:
      return _("run the service as a non-root user or set IS_SANDBOX=1");
    case CF_PANE_DIALOG_NO_CONVERSATION:
      return _("the account's projects link to the shared projects directory is missing");
    case CF_PANE_DIALOG_PERMISSION:
      return _("answer the permission question in the session, or allow the tool in settings.json");
    case CF_PANE_DIALOG_LIMIT_MENU:
      return _("the account is out of usage until the reset: switch accounts or pick an option in "
               "the menu");
    case CF_PANE_DIALOG_LOGIN:
      return _("log in to the account once: CLAUDE_CONFIG_DIR=<account home> claude, then /login");
    case CF_PANE_DIALOG_UNKNOWN_MENU:
      return _("attach to the session and answer the menu");
    case CF_PANE_DIALOG_NONE:
    default:
      return NULL;
    }
}
