/* Settings by precedence: command line > environment > state > ./ferry.ini > ~/.config/ferry/config,
 * resolved in one place (ferry_config_resolve) from one layer per source. */
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

void
ferry_config_layers_clear (FerryConfigLayers *layers)
{
  for (guint i = 0; i < FERRY_N_LAYERS; i++)
    ferry_config_clear (&layers->layer[i]);
}

#define END FERRY_N_LAYERS

const FerryLayer *
ferry_config_order (FerrySetting setting)
{
  static const FerryLayer region[] = { FERRY_LAYER_CLI,        FERRY_LAYER_ENV,
                                       FERRY_LAYER_AWS_ENV,    FERRY_LAYER_LOCAL_FILE,
                                       FERRY_LAYER_USER_FILE,  FERRY_LAYER_AWS_PROFILE,
                                       FERRY_LAYER_STATE,      END };
  static const FerryLayer name[] = { FERRY_LAYER_CLI,       FERRY_LAYER_ENV,   FERRY_LAYER_LOCAL_FILE,
                                     FERRY_LAYER_USER_FILE, FERRY_LAYER_STATE, FERRY_LAYER_DEFAULT,
                                     END };
  static const FerryLayer state_dir[] = { FERRY_LAYER_CLI, FERRY_LAYER_ENV, FERRY_LAYER_LOCAL_FILE,
                                          FERRY_LAYER_USER_FILE, FERRY_LAYER_DEFAULT, END };
  static const FerryLayer kept[] = { FERRY_LAYER_CLI,        FERRY_LAYER_ENV,       FERRY_LAYER_STATE,
                                     FERRY_LAYER_LOCAL_FILE, FERRY_LAYER_USER_FILE, END };

  switch (setting)
    {
    case FERRY_SETTING_REGION:
      return region;
    case FERRY_SETTING_NAME:
      return name;
    case FERRY_SETTING_STATE_DIR:
      return state_dir;
    case FERRY_SETTING_ENDPOINT_URL:
    case FERRY_SETTING_PROFILE:
    case FERRY_SETTING_SSH_USER:
    case FERRY_SETTING_SSH_OPTIONS:
    case FERRY_N_SETTINGS:
    default:
      return kept;
    }
}

static gpointer *
field (FerryConfig *c, FerrySetting setting)
{
  switch (setting)
    {
    case FERRY_SETTING_ENDPOINT_URL:
      return (gpointer *) &c->endpoint_url;
    case FERRY_SETTING_REGION:
      return (gpointer *) &c->region;
    case FERRY_SETTING_PROFILE:
      return (gpointer *) &c->profile;
    case FERRY_SETTING_STATE_DIR:
      return (gpointer *) &c->state_dir;
    case FERRY_SETTING_NAME:
      return (gpointer *) &c->name;
    case FERRY_SETTING_SSH_USER:
      return (gpointer *) &c->ssh_user;
    case FERRY_SETTING_SSH_OPTIONS:
    case FERRY_N_SETTINGS:
    default:
      return (gpointer *) &c->ssh_options;
    }
}

void
ferry_config_resolve (const FerryConfigLayers *layers, FerryConfig *out, FerryLayer *origins)
{
  ferry_config_clear (out);
  for (FerrySetting s = 0; s < FERRY_N_SETTINGS; s++)
    {
      const FerryLayer *order = ferry_config_order (s);
      gpointer *dest = field (out, s);

      if (origins != NULL)
        origins[s] = FERRY_N_LAYERS;
      for (guint i = 0; order[i] != END; i++)
        {
          gpointer value = *field ((FerryConfig *) &layers->layer[order[i]], s);
          if (value == NULL)
            continue;
          *dest = s == FERRY_SETTING_SSH_OPTIONS ? (gpointer) g_strdupv (value) : g_strdup (value);
          if (origins != NULL)
            origins[s] = order[i];
          break;
        }
    }
}

const char *
ferry_config_layer_describe (const FerryConfigLayers *layers, FerryLayer layer, FerrySetting setting)
{
  static const char *const env_names[] = {
    [FERRY_SETTING_ENDPOINT_URL] = "FERRY_ENDPOINT_URL", [FERRY_SETTING_REGION] = "FERRY_REGION",
    [FERRY_SETTING_PROFILE] = "FERRY_PROFILE",           [FERRY_SETTING_STATE_DIR] = "FERRY_STATE_DIR",
    [FERRY_SETTING_NAME] = "FERRY_NAME",                 [FERRY_SETTING_SSH_USER] = "FERRY_SSH_USER",
    [FERRY_SETTING_SSH_OPTIONS] = "the environment",
  };

  switch (layer)
    {
    case FERRY_LAYER_CLI:
      return "the command line";
    case FERRY_LAYER_ENV:
      return env_names[setting];
    case FERRY_LAYER_AWS_ENV:
      return layers->aws_env_name ? layers->aws_env_name : "the environment";
    case FERRY_LAYER_STATE:
      return "the deployment's state";
    case FERRY_LAYER_LOCAL_FILE:
      return "./ferry.ini";
    case FERRY_LAYER_USER_FILE:
      return "~/.config/ferry/config";
    case FERRY_LAYER_AWS_PROFILE:
      return "the AWS CLI's configuration";
    case FERRY_LAYER_DEFAULT:
      return "ferry's default";
    case FERRY_N_LAYERS:
    default:
      return "nowhere";
    }
}

static void
fill (char **field_, const char *value)
{
  if (*field_ == NULL && value != NULL && *value != '\0')
    *field_ = g_strdup (value);
}

void
ferry_config_layers_fill_env (FerryConfigLayers *layers)
{
  FerryConfig *env = &layers->layer[FERRY_LAYER_ENV];
  FerryConfig *aws = &layers->layer[FERRY_LAYER_AWS_ENV];
  static const char *const aws_region_vars[] = { "AWS_REGION", "AWS_DEFAULT_REGION" };

  fill (&env->endpoint_url, g_getenv ("FERRY_ENDPOINT_URL"));
  fill (&env->region, g_getenv ("FERRY_REGION"));
  fill (&env->profile, g_getenv ("FERRY_PROFILE"));
  fill (&env->state_dir, g_getenv ("FERRY_STATE_DIR"));
  fill (&env->name, g_getenv ("FERRY_NAME"));
  fill (&env->ssh_user, g_getenv ("FERRY_SSH_USER"));
  for (guint i = 0; i < G_N_ELEMENTS (aws_region_vars) && aws->region == NULL; i++)
    {
      fill (&aws->region, g_getenv (aws_region_vars[i]));
      if (aws->region != NULL)
        layers->aws_env_name = aws_region_vars[i];
    }
}

static void
fill_key (char **field_, GKeyFile *kf, const char *key)
{
  g_autofree char *value = g_key_file_get_string (kf, "ferry", key, NULL);
  fill (field_, value);
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
ferry_config_layers_fill_files (FerryConfigLayers *layers, GError **error)
{
  g_autofree char *user = g_build_filename (g_get_user_config_dir (), "ferry", "config", NULL);

  return ferry_config_fill_from_file (&layers->layer[FERRY_LAYER_LOCAL_FILE], "ferry.ini", error)
         && ferry_config_fill_from_file (&layers->layer[FERRY_LAYER_USER_FILE], user, error);
}

char *
ferry_config_aws_profile_region (const char *profile, gboolean *out_sure)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *group = NULL;
  char *region = NULL;
  const char *file = g_getenv ("AWS_CONFIG_FILE");

  *out_sure = TRUE;
  if (profile == NULL || *profile == '\0')
    profile = g_getenv ("AWS_PROFILE");
  if (profile == NULL || *profile == '\0')
    profile = g_getenv ("AWS_DEFAULT_PROFILE");
  if (profile == NULL || *profile == '\0')
    profile = "default";
  path = file != NULL && *file != '\0' ? g_strdup (file)
                                        : g_build_filename (g_get_home_dir (), ".aws", "config", NULL);
  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local_error))
    {
      /* No file: no region there. A file GKeyFile cannot read: the AWS CLI decides. */
      *out_sure = g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
      return NULL;
    }
  group = g_strconcat ("profile ", profile, NULL);
  if (g_key_file_has_group (kf, group))
    region = g_key_file_get_string (kf, group, "region", NULL);
  else if (g_str_equal (profile, "default"))
    region = g_key_file_get_string (kf, "default", "region", NULL);
  if (region != NULL)
    g_strstrip (region);
  if (region != NULL && *region == '\0')
    g_clear_pointer (&region, g_free);
  return region;
}

gboolean
ferry_config_valid_region (const char *region)
{
  return region != NULL && g_regex_match_simple ("^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$", region, 0, 0);
}

gboolean
ferry_config_valid_user_name (const char *user)
{
  return user != NULL && g_regex_match_simple ("^[A-Za-z0-9._][A-Za-z0-9._-]{0,31}$", user, 0, 0);
}
