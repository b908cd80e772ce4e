/* SPDX-License-Identifier: MIT */
/* What a person reads in an alert: the Telegram text (HTML, escaped), the
 * e-mail subject and HTML body, each cut to the service's limits with the
 * host in the footer; and scrub, which takes the channel secrets out of any
 * text before it is logged. */
#include "cf-alerts-private.h"

#include <glib/gi18n.h>
#include <string.h>

#include "cf-text.h"

/* Telegram counts at most 4096 characters of text; with the title and the
 * footer, a body of this many characters fits. */
#define MAX_BODY_CHARS 3000
#define MAX_TITLE_CHARS 200

/* ---- text ---------------------------------------------------------------- */

/* The first MAX characters of TEXT (UTF-8), with "…" when cut. */
static char *
truncate_chars (const char *text, glong max)
{
  g_autofree char *head = NULL;

  if (g_utf8_strlen (text, -1) <= max)
    return g_strdup (text);
  head = g_utf8_substring (text, 0, max - 1);
  return g_strconcat (head, "…", NULL);
}

/* TEXT with & < > " as entities: what Telegram's HTML parse mode and an
 * HTML mail body both accept (Telegram knows no &apos;). */
static void
append_escaped (GString *out, const char *text, gboolean line_breaks)
{
  for (const char *p = text; *p != '\0'; p++)
    switch (*p)
      {
      case '&':
        g_string_append (out, "&amp;");
        break;
      case '<':
        g_string_append (out, "&lt;");
        break;
      case '>':
        g_string_append (out, "&gt;");
        break;
      case '"':
        g_string_append (out, "&quot;");
        break;
      case '\n':
        g_string_append (out, line_breaks ? "<br>\n" : "\n");
        break;
      default:
        g_string_append_c (out, *p);
      }
}

static char *
one_line (const char *text)
{
  char *line = g_strdup (text);

  for (char *p = line; *p != '\0'; p++)
    if (*p == '\n' || *p == '\r' || *p == '\t')
      *p = ' ';
  return line;
}

static char *
footer_text (CfNotify *self)
{
  /* TRANSLATORS: the last line of every notification; %s is the host name. */
  return g_strdup_printf (_("claude-failover on %s"), self->host);
}

char *
telegram_text (CfNotify *self, const Delivery *d)
{
  g_autofree char *title = truncate_chars (d->title, MAX_TITLE_CHARS);
  g_autofree char *line = one_line (title);
  g_autofree char *body = truncate_chars (d->body, MAX_BODY_CHARS);
  g_autofree char *footer = footer_text (self);
  GString *out = g_string_new ("<b>");

  append_escaped (out, line, FALSE);
  g_string_append (out, "</b>\n");
  if (*body != '\0')
    {
      append_escaped (out, body, FALSE);
      g_string_append_c (out, '\n');
    }
  g_string_append (out, "\n<i>");
  append_escaped (out, footer, FALSE);
  g_string_append (out, "</i>");
  return g_string_free (out, FALSE);
}

char *
email_subject (const Delivery *d)
{
  g_autofree char *title = truncate_chars (d->title, MAX_TITLE_CHARS);
  g_autofree char *line = one_line (title);

  return g_strconcat ("[claude-failover] ", line, NULL);
}

char *
email_html (CfNotify *self, const Delivery *d)
{
  g_autofree char *title = truncate_chars (d->title, MAX_TITLE_CHARS);
  g_autofree char *line = one_line (title);
  g_autofree char *footer = footer_text (self);
  GString *out = g_string_new ("<p><b>");

  append_escaped (out, line, FALSE);
  g_string_append (out, "</b></p>\n");
  if (*d->body != '\0')
    {
      g_string_append (out, "<p>");
      append_escaped (out, d->body, TRUE);
      g_string_append (out, "</p>\n");
    }
  g_string_append (out, "<p><i>");
  append_escaped (out, footer, FALSE);
  g_string_append (out, "</i></p>\n");
  return g_string_free (out, FALSE);
}

/* TEXT with every secret of SELF replaced: for anything logged that a
 * server or libsoup wrote (errors, response bodies). */
char *
scrub (CfNotify *self, const char *text)
{
  GString *out = g_string_new (text);

  for (guint i = 0; i < N_CHANNELS; i++)
    {
      g_auto(GStrv) recipients = NULL;

      if (self->channels[i].secret != NULL && strlen (self->channels[i].secret) >= 3)
        g_string_replace (out, self->channels[i].secret, "[redacted]", 0);
      if (self->channels[i].recipient == NULL)
        continue;
      /* The whole value, then each address of a list. */
      g_string_replace (out, self->channels[i].recipient, "[redacted]", 0);
      recipients = g_strsplit (self->channels[i].recipient, ",", -1);
      for (guint j = 0; recipients[j] != NULL; j++)
        {
          g_strstrip (recipients[j]);
          if (strlen (recipients[j]) >= 3)
            g_string_replace (out, recipients[j], "[redacted]", 0);
        }
    }
  /* A webhook's URL, and its path and query alone (where the token is). */
  for (guint i = 0; self->webhooks != NULL && i < self->webhooks->len; i++)
    {
      Channel *webhook = g_ptr_array_index (self->webhooks, i);
      g_autoptr(GUri) uri = g_uri_parse (webhook->url, G_URI_FLAGS_NONE, NULL);

      g_string_replace (out, webhook->url, "[redacted]", 0);
      if (uri == NULL)
        continue;
      if (strlen (g_uri_get_path (uri)) >= 3)
        g_string_replace (out, g_uri_get_path (uri), "[redacted]", 0);
      if (g_uri_get_query (uri) != NULL && strlen (g_uri_get_query (uri)) >= 3)
        g_string_replace (out, g_uri_get_query (uri), "[redacted]", 0);
      if (g_uri_get_userinfo (uri) != NULL && strlen (g_uri_get_userinfo (uri)) >= 3)
        g_string_replace (out, g_uri_get_userinfo (uri), "[redacted]", 0);
    }
  return g_string_free (out, FALSE);
}
