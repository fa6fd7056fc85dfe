/* Settings by precedence: command line > environment > state > ./ferry.ini > ~/.config/ferry/config. */
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

/* Fills every field still NULL from the environment (FERRY_ENDPOINT_URL, FERRY_REGION, FERRY_PROFILE,
 * FERRY_STATE_DIR, FERRY_NAME, FERRY_SSH_USER), then from the [ferry] group of the given key files,
 * in order (a missing file is skipped; a malformed one is an error). */
gboolean ferry_config_fill_from_env (FerryConfig *config);
gboolean ferry_config_fill_from_file (FerryConfig *config, const char *path, GError **error);
/* ./ferry.ini then ~/.config/ferry/config. */
gboolean ferry_config_fill_from_files (FerryConfig *config, GError **error);

G_END_DECLS
