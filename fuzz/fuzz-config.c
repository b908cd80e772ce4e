/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the configuration loader (and the duration parser it
 * uses): any input either loads into a consistent config or fails with one
 * "fuzz.yaml:LINE:COL: ..." line, and never crashes. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "cf-config.h"
#include "cf-duration.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_config (const CfConfig *config)
{
  g_assert_cmpuint (config->accounts->len, >=, 1);
  g_assert_cmpuint (config->pool_min, <=, config->pool_max);
  g_assert_nonnull (config->warnings);

  for (guint i = 0; i < config->accounts->len; i++)
    {
      const CfAccountConfig *account = g_ptr_array_index (config->accounts, i);

      g_assert_true (g_path_is_absolute (account->home));
      g_assert_true (cf_config_find_account (config, account->name) == account);
    }
  for (guint i = 0; i < config->dedicated->len; i++)
    {
      const CfDedicatedConfig *session = g_ptr_array_index (config->dedicated, i);

      g_assert_false (cf_config_is_pool_session (config, session->name));
      g_assert_true (cf_config_find_dedicated (config, session->name) == session);
    }
  if (config->pool_max > 0)
    {
      g_autofree char *first = cf_config_pool_session_name (config, config->pool_start_index);
      g_autofree char *last = cf_config_pool_session_name (config, config->pool_start_index +
                                                                   config->pool_max - 1);
      g_assert_true (cf_config_is_pool_session (config, first));
      g_assert_true (cf_config_is_pool_session (config, last));
    }
  for (guint i = 0; config->warnings[i] != NULL; i++)
    {
      g_assert_true (g_str_has_prefix (config->warnings[i], "fuzz.yaml:"));
      g_assert_null (strchr (config->warnings[i], '\n'));
    }
}

static void
check_duration (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  gint64 usec;

  if (cf_duration_parse (text, &usec))
    {
      g_autofree char *formatted = cf_duration_format (usec);
      gint64 again = -1;

      g_assert_cmpint (usec, >=, 0);
      g_assert_true (cf_duration_parse (formatted, &again));
      g_assert_cmpint (again, ==, usec);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CfConfig) config = NULL;

  config = cf_config_load_data ((const char *) data, (gssize) size, "fuzz.yaml", "/home/fuzz", &error);
  if (config != NULL)
    {
      g_assert_no_error (error);
      check_config (config);
    }
  else
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == CF_CONFIG_ERROR);
      g_assert_true (g_str_has_prefix (error->message, "fuzz.yaml:"));
      g_assert_null (strchr (error->message, '\n'));
    }

  if (size < 64)
    check_duration (data, size);
  return 0;
}
