/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Claude Code's version, as `claude --version` prints it. Pure. */

/* The version of OUTPUT ("2.1.332 (Claude Code)\n"): its first word when it
 * is 1 to 4 dot-separated numbers, optionally followed by a "-prerelease"
 * tag; NULL otherwise. Newly allocated. */
char *cf_claude_version_parse (const char *output);

/* Compares two versions number by number ("2.1.10" > "2.1.9", "2.1" ==
 * "2.1.0"); a prerelease ("2.2.0-beta.1") comes before its release.
 * Negative, 0 or positive, like strcmp. Text that does not parse sorts
 * before every version. */
int cf_claude_version_compare (const char *a, const char *b);

G_END_DECLS
