/* Settings by precedence: command line > environment > state > ./ferry.ini > ~/.config/ferry/config. */
#include "config.h"

void
ferry_config_clear (FerryConfig *config)
{
  g_clear_pointer (&config->endpoint_url, g_free);
  g_clear_pointer (&config->region, g_free);
  g_clear_pointer (&config->profile, g_free);
  g_clear_pointer (&config->state_dir, g_free);
  g_clear_pointer (&config->name, g_free);
  g_clear_pointer (&config->ssh_user, g_free);
  g_clear_pointer (&config->ssh_options, g_strfreev);
}

static void
fill (char **field, const char *value)
{
  if (*field == NULL && value != NULL && *value != '\0')
    *field = g_strdup (value);
}

gboolean
ferry_config_fill_from_env (FerryConfig *config)
{
  fill (&config->endpoint_url, g_getenv ("FERRY_ENDPOINT_URL"));
  fill (&config->region, g_getenv ("FERRY_REGION"));
  fill (&config->profile, g_getenv ("FERRY_PROFILE"));
  fill (&config->state_dir, g_getenv ("FERRY_STATE_DIR"));
  fill (&config->name, g_getenv ("FERRY_NAME"));
  fill (&config->ssh_user, g_getenv ("FERRY_SSH_USER"));
  return TRUE;
}

static void
fill_key (char **field, GKeyFile *kf, const char *key)
{
  g_autofree char *value = g_key_file_get_string (kf, "ferry", key, NULL);
  fill (field, value);
}

gboolean
ferry_config_fill_from_file (FerryConfig *config, const char *path, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "reading config %s: ", path);
      return FALSE;
    }
  fill_key (&config->endpoint_url, kf, "endpoint-url");
  fill_key (&config->region, kf, "region");
  fill_key (&config->profile, kf, "profile");
  fill_key (&config->state_dir, kf, "state-dir");
  fill_key (&config->name, kf, "name");
  fill_key (&config->ssh_user, kf, "ssh-user");
  if (config->ssh_options == NULL)
    config->ssh_options = g_key_file_get_string_list (kf, "ferry", "ssh-option", NULL, NULL);
  return TRUE;
}

gboolean
ferry_config_fill_from_files (FerryConfig *config, GError **error)
{
  g_autofree char *user = g_build_filename (g_get_user_config_dir (), "ferry", "config", NULL);

  return ferry_config_fill_from_file (config, "ferry.ini", error)
         && ferry_config_fill_from_file (config, user, error);
}
