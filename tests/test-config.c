/* Unit tests for the settings: the whole precedence table, the environment and files as layers,
 * and the user-name rule. */
#include "core/config.h"
#include "test-init.h"

static const FerrySetting all_settings[] = {
  FERRY_SETTING_ENDPOINT_URL, FERRY_SETTING_REGION,   FERRY_SETTING_PROFILE,
  FERRY_SETTING_STATE_DIR,    FERRY_SETTING_NAME,     FERRY_SETTING_SSH_USER,
};

static char **
slot (FerryConfig *c, FerrySetting s)
{
  switch (s)
    {
    case FERRY_SETTING_ENDPOINT_URL:
      return &c->endpoint_url;
    case FERRY_SETTING_REGION:
      return &c->region;
    case FERRY_SETTING_PROFILE:
      return &c->profile;
    case FERRY_SETTING_STATE_DIR:
      return &c->state_dir;
    case FERRY_SETTING_NAME:
      return &c->name;
    case FERRY_SETTING_SSH_USER:
    case FERRY_SETTING_SSH_OPTIONS:
    case FERRY_N_SETTINGS:
    default:
      return &c->ssh_user;
    }
}

/* For every setting, the documented order of sources, written out here once more on purpose. */
static void
test_table (void)
{
  static const struct
  {
    FerrySetting setting;
    FerryLayer order[FERRY_N_LAYERS + 1];
  } table[] = {
    { FERRY_SETTING_REGION,
      { FERRY_LAYER_CLI, FERRY_LAYER_ENV, FERRY_LAYER_AWS_ENV, FERRY_LAYER_LOCAL_FILE,
        FERRY_LAYER_USER_FILE, FERRY_LAYER_AWS_PROFILE, FERRY_LAYER_STATE, FERRY_N_LAYERS } },
    { FERRY_SETTING_NAME,
      { FERRY_LAYER_CLI, FERRY_LAYER_ENV, FERRY_LAYER_LOCAL_FILE, FERRY_LAYER_USER_FILE,
        FERRY_LAYER_STATE, FERRY_LAYER_DEFAULT, FERRY_N_LAYERS } },
    { FERRY_SETTING_STATE_DIR,
      { FERRY_LAYER_CLI, FERRY_LAYER_ENV, FERRY_LAYER_LOCAL_FILE, FERRY_LAYER_USER_FILE,
        FERRY_LAYER_DEFAULT, FERRY_N_LAYERS } },
    { FERRY_SETTING_ENDPOINT_URL,
      { FERRY_LAYER_CLI, FERRY_LAYER_ENV, FERRY_LAYER_STATE, FERRY_LAYER_LOCAL_FILE,
        FERRY_LAYER_USER_FILE, FERRY_N_LAYERS } },
    { FERRY_SETTING_PROFILE,
      { FERRY_LAYER_CLI, FERRY_LAYER_ENV, FERRY_LAYER_STATE, FERRY_LAYER_LOCAL_FILE,
        FERRY_LAYER_USER_FILE, FERRY_N_LAYERS } },
    { FERRY_SETTING_SSH_USER,
      { FERRY_LAYER_CLI, FERRY_LAYER_ENV, FERRY_LAYER_STATE, FERRY_LAYER_LOCAL_FILE,
        FERRY_LAYER_USER_FILE, FERRY_N_LAYERS } },
  };

  for (guint t = 0; t < G_N_ELEMENTS (table); t++)
    {
      const FerryLayer *order = table[t].order;
      guint n = 0;

      while (order[n] != FERRY_N_LAYERS)
        n++;
      /* With the sources from k on set (each to its own name), the k-th one wins. */
      for (guint k = 0; k < n; k++)
        {
          g_auto(FerryConfigLayers) layers = { 0 };
          g_auto(FerryConfig) out = { 0 };
          FerryLayer origins[FERRY_N_SETTINGS];

          for (guint j = k; j < n; j++)
            *slot (&layers.layer[order[j]], table[t].setting) = g_strdup_printf ("layer%d", order[j]);
          /* A layer outside the setting's order never counts. */
          for (FerryLayer l = 0; l < FERRY_N_LAYERS; l++)
            {
              gboolean listed = FALSE;
              for (guint j = 0; j < n; j++)
                listed = listed || order[j] == l;
              if (!listed)
                *slot (&layers.layer[l], table[t].setting) = g_strdup ("never");
            }
          ferry_config_resolve (&layers, &out, origins);
          g_autofree char *want = g_strdup_printf ("layer%d", order[k]);
          g_assert_cmpstr (*slot (&out, table[t].setting), ==, want);
          g_assert_cmpint (origins[table[t].setting], ==, order[k]);
        }
      /* Nothing set: nothing resolved. */
      {
        g_auto(FerryConfigLayers) layers = { 0 };
        g_auto(FerryConfig) out = { 0 };
        FerryLayer origins[FERRY_N_SETTINGS];
        ferry_config_resolve (&layers, &out, origins);
        g_assert_null (*slot (&out, table[t].setting));
        g_assert_cmpint (origins[table[t].setting], ==, FERRY_N_LAYERS);
      }
    }
  g_assert_cmpuint (G_N_ELEMENTS (table), ==, G_N_ELEMENTS (all_settings));
}

/* The environment as aws-cli reads it: AWS_REGION before AWS_DEFAULT_REGION, FERRY_REGION before both. */
static void
test_env (void)
{
  g_auto(FerryConfigLayers) layers = { 0 };
  g_auto(FerryConfig) out = { 0 };
  FerryLayer origins[FERRY_N_SETTINGS];

  g_setenv ("AWS_DEFAULT_REGION", "eu-west-1", TRUE);
  g_setenv ("AWS_REGION", "eu-central-1", TRUE);
  g_unsetenv ("FERRY_REGION");
  ferry_config_layers_fill_env (&layers);
  ferry_config_resolve (&layers, &out, origins);
  g_assert_cmpstr (out.region, ==, "eu-central-1");
  g_assert_cmpstr (ferry_config_layer_describe (&layers, origins[FERRY_SETTING_REGION], FERRY_SETTING_REGION), ==, "AWS_REGION");
  ferry_config_layers_clear (&layers);

  g_unsetenv ("AWS_REGION");
  layers.aws_env_name = NULL;
  ferry_config_layers_fill_env (&layers);
  ferry_config_resolve (&layers, &out, origins);
  g_assert_cmpstr (out.region, ==, "eu-west-1");
  g_assert_cmpstr (ferry_config_layer_describe (&layers, origins[FERRY_SETTING_REGION], FERRY_SETTING_REGION), ==, "AWS_DEFAULT_REGION");
  ferry_config_layers_clear (&layers);

  g_setenv ("FERRY_REGION", "ap-south-1", TRUE);
  ferry_config_layers_fill_env (&layers);
  ferry_config_resolve (&layers, &out, origins);
  g_assert_cmpstr (out.region, ==, "ap-south-1");
  g_assert_cmpstr (ferry_config_layer_describe (&layers, origins[FERRY_SETTING_REGION], FERRY_SETTING_REGION), ==, "FERRY_REGION");
  g_unsetenv ("FERRY_REGION");
  g_unsetenv ("AWS_DEFAULT_REGION");
}

/* ./ferry.ini loses to the state for what bootstrap kept, and wins over ~/.config/ferry/config. */
static void
test_files (void)
{
  g_auto(FerryConfigLayers) layers = { 0 };
  g_auto(FerryConfig) out = { 0 };
  g_autofree char *dir = g_dir_make_tmp ("ferry-config-XXXXXX", NULL);
  g_autofree char *local = g_build_filename (dir, "ferry.ini", NULL);
  g_autofree char *user = g_build_filename (dir, "config", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (local, "[ferry]\nssh-user = fromini\nregion = eu-north-1\nssh-option = A=1;B=2\n", -1, NULL));
  g_assert_true (g_file_set_contents (user, "[ferry]\nssh-user = fromuser\nprofile = lab\n", -1, NULL));
  g_assert_true (ferry_config_fill_from_file (&layers.layer[FERRY_LAYER_LOCAL_FILE], local, &error));
  g_assert_true (ferry_config_fill_from_file (&layers.layer[FERRY_LAYER_USER_FILE], user, &error));
  layers.layer[FERRY_LAYER_STATE].ssh_user = g_strdup ("kept");
  ferry_config_resolve (&layers, &out, NULL);
  g_assert_cmpstr (out.ssh_user, ==, "kept");
  g_assert_cmpstr (out.profile, ==, "lab");
  g_assert_cmpstr (out.region, ==, "eu-north-1");
  g_assert_cmpuint (g_strv_length (out.ssh_options), ==, 2);

  g_assert_true (g_file_set_contents (local, "not a key file", -1, NULL));
  g_assert_false (ferry_config_fill_from_file (&layers.layer[FERRY_LAYER_LOCAL_FILE], local, &error));
  g_assert_nonnull (strstr (error->message, local));
}

static void
test_user_name (void)
{
  const char *good[] = { "ec2-user", "alice", "john.doe", "_svc", "A1", "u-2", NULL };
  const char *bad[] = { "", "-rf", "a b", "x'y", "x;reboot", "$(id)", "é", "a/b",
                        "abcdefghijabcdefghijabcdefghijabc", NULL };

  for (guint i = 0; good[i] != NULL; i++)
    g_assert_true (ferry_config_valid_user_name (good[i]));
  for (guint i = 0; bad[i] != NULL; i++)
    g_assert_false (ferry_config_valid_user_name (bad[i]));
}

/* The profile's region from the AWS config file, as `aws configure` writes it. */
static void
test_profile_region (void)
{
  g_autofree char *dir = g_dir_make_tmp ("ferry-aws-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "config", NULL);
  gboolean sure = FALSE;
  char *r;

  g_setenv ("AWS_CONFIG_FILE", path, TRUE);
  g_unsetenv ("AWS_PROFILE");
  g_unsetenv ("AWS_DEFAULT_PROFILE");
  r = ferry_config_aws_profile_region (NULL, &sure);
  g_assert_null (r);
  g_assert_true (sure);

  g_assert_true (g_file_set_contents (path,
                                      "[default]\nregion = eu-central-1\noutput = json\n\n"
                                      "[profile lab]\nregion = eu-west-2\ns3 =\n    addressing_style = path\n\n"
                                      "[profile bare]\noutput = json\n", -1, NULL));
  r = ferry_config_aws_profile_region (NULL, &sure);
  g_assert_cmpstr (r, ==, "eu-central-1");
  g_free (r);
  r = ferry_config_aws_profile_region ("lab", &sure);
  g_assert_cmpstr (r, ==, "eu-west-2");
  g_free (r);
  g_setenv ("AWS_PROFILE", "lab", TRUE);
  r = ferry_config_aws_profile_region (NULL, &sure);
  g_assert_cmpstr (r, ==, "eu-west-2");
  g_free (r);
  g_unsetenv ("AWS_PROFILE");
  r = ferry_config_aws_profile_region ("bare", &sure);
  g_assert_null (r);
  g_assert_true (sure);

  /* What GKeyFile cannot read is left to the AWS CLI. */
  g_assert_true (g_file_set_contents (path, "region = eu-central-1\n[default\n", -1, NULL));
  r = ferry_config_aws_profile_region (NULL, &sure);
  g_assert_null (r);
  g_assert_false (sure);
  g_unsetenv ("AWS_CONFIG_FILE");
}

static void
test_region_name (void)
{
  const char *good[] = { "eu-central-1", "us-east-1", "us-gov-west-1", "cn-north-1", "ap-southeast-4", NULL };
  const char *bad[] = { "", "eu-central", "EU-CENTRAL-1", "eu central 1", "{\"garbage\"", "us-east-1a", NULL };

  for (guint i = 0; good[i] != NULL; i++)
    g_assert_true (ferry_config_valid_region (good[i]));
  for (guint i = 0; bad[i] != NULL; i++)
    g_assert_false (ferry_config_valid_region (bad[i]));
}

int
main (int argc, char **argv)
{
  ferry_test_init (&argc, &argv);
  g_test_add_func ("/config/table", test_table);
  g_test_add_func ("/config/env", test_env);
  g_test_add_func ("/config/files", test_files);
  g_test_add_func ("/config/user-name", test_user_name);
  g_test_add_func ("/config/region-name", test_region_name);
  g_test_add_func ("/config/profile-region", test_profile_region);
  return g_test_run ();
}
