/* Settings by precedence: command line > environment > state > ./ferry.ini > ~/.config/ferry/config,
 * resolved in one place (ferry_config_resolve) from one layer per source. */
#pragma once

#include "ferry-common.h"

G_BEGIN_DECLS

typedef struct
{
  char *endpoint_url;
  char *region;
  char *profile;
  char *state_dir;
  char *name;
  char *ssh_user;
  GStrv ssh_options;
} FerryConfig;

void ferry_config_clear (FerryConfig *config);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (FerryConfig, ferry_config_clear)

/* Where a setting can come from. A layer that has no say over a setting leaves it NULL. */
typedef enum
{
  FERRY_LAYER_CLI,         /* --region ... */
  FERRY_LAYER_ENV,         /* FERRY_REGION ... */
  FERRY_LAYER_AWS_ENV,     /* AWS_REGION, else AWS_DEFAULT_REGION (the region only) */
  FERRY_LAYER_STATE,       /* what bootstrap kept in <state-dir>/state.json */
  FERRY_LAYER_LOCAL_FILE,  /* ./ferry.ini */
  FERRY_LAYER_USER_FILE,   /* ~/.config/ferry/config */
  FERRY_LAYER_AWS_PROFILE, /* `aws configure get region` for the profile (the region only) */
  FERRY_LAYER_DEFAULT,     /* ferry's defaults: .ferry, and the name "ferry" */
  FERRY_N_LAYERS
} FerryLayer;

typedef enum
{
  FERRY_SETTING_ENDPOINT_URL,
  FERRY_SETTING_REGION,
  FERRY_SETTING_PROFILE,
  FERRY_SETTING_STATE_DIR,
  FERRY_SETTING_NAME,
  FERRY_SETTING_SSH_USER,
  FERRY_SETTING_SSH_OPTIONS,
  FERRY_N_SETTINGS
} FerrySetting;

typedef struct
{
  FerryConfig layer[FERRY_N_LAYERS];
  /* Which environment variable the AWS_ENV layer's region came from. */
  const char *aws_env_name;
} FerryConfigLayers;

void ferry_config_layers_clear (FerryConfigLayers *layers);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (FerryConfigLayers, ferry_config_layers_clear)

/* The layers a setting is taken from, first found wins; ends with FERRY_N_LAYERS.
 *   region:      cli, env, aws env, ./ferry.ini, user config, the profile's region, state
 *   name:        cli, env, ./ferry.ini, user config, state, default  (a state dir knows its deployment)
 *   state dir:   cli, env, ./ferry.ini, user config, default
 *   the others:  cli, env, state, ./ferry.ini, user config */
const FerryLayer *ferry_config_order (FerrySetting setting);

/* Resolves every setting from the layers into `out` (copies); `origins` (may be NULL) gets the layer
 * each came from, FERRY_N_LAYERS for none. */
void ferry_config_resolve (const FerryConfigLayers *layers, FerryConfig *out, FerryLayer *origins);

/* Words for where a setting came from ("AWS_DEFAULT_REGION", "./ferry.ini", "the state"...). */
const char *ferry_config_layer_describe (const FerryConfigLayers *layers, FerryLayer layer,
                                         FerrySetting setting);

/* Fills the ENV and AWS_ENV layers from the process environment. */
void ferry_config_layers_fill_env (FerryConfigLayers *layers);
/* Fills a file layer from the [ferry] group of a key file (a missing file is skipped; a malformed
 * one is an error). */
gboolean ferry_config_fill_from_file (FerryConfig *config, const char *path, GError **error);
/* ./ferry.ini and ~/.config/ferry/config into their layers. */
gboolean ferry_config_layers_fill_files (FerryConfigLayers *layers, GError **error);

/* The region of an AWS CLI profile, read from $AWS_CONFIG_FILE (else ~/.aws/config) with GKeyFile:
 * `profile` (NULL: $AWS_PROFILE, else $AWS_DEFAULT_PROFILE, else "default") in [default] or
 * [profile NAME]. *out_sure is FALSE when the file is there but GKeyFile cannot read it: then ask the
 * AWS CLI (`aws configure get region`), which knows every corner of its format. */
char *ferry_config_aws_profile_region (const char *profile, gboolean *out_sure);

/* An AWS region name: eu-central-1, us-gov-west-1, cn-north-1. */
gboolean ferry_config_valid_region (const char *region);

/* A POSIX user name: 1 to 32 characters of the portable filename set ([A-Za-z0-9._-]), no leading
 * hyphen. */
gboolean ferry_config_valid_user_name (const char *user);

G_END_DECLS
