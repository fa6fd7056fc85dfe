/* --use-conda (or --sdm conda) on the remote: conda must be there before the run starts, and the
 * environments go under one stable prefix in the remote user's home, built once and reused. */
#include "remote.h"

#include <string.h>

/* snakemake 8+ spells the deployment method four ways, and takes a list after it (--sdm conda
 * apptainer): the words up to the next option. */
static const char *const sdm_names[] = { "--software-deployment-method", "--deployment-method",
                                         "--deployment", "--sdm" };

gboolean
ferry_remote_snakemake_args_use_conda (const char *const *args)
{
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    {
      if (g_str_equal (args[i], "--use-conda"))
        return TRUE;
      for (guint k = 0; k < G_N_ELEMENTS (sdm_names); k++)
        {
          gsize n = strlen (sdm_names[k]);

          if (strncmp (args[i], sdm_names[k], n) != 0)
            continue;
          if (args[i][n] == '=' && g_str_equal (args[i] + n + 1, "conda"))
            return TRUE;
          if (args[i][n] != '\0')
            continue;
          for (guint j = i + 1; args[j] != NULL && args[j][0] != '-'; j++)
            if (g_str_equal (args[j], "conda"))
              return TRUE;
        }
    }
  return FALSE;
}

char *
ferry_remote_conda_prefix (FerryRemote *remote, GCancellable *cancellable, GError **error)
{
  /* One /bin/sh line: exit 3 says neither conda nor mamba is there, 4 mamba without conda; else
   * $HOME is printed. snakemake (7.21 to 9) runs `conda info --json` whatever its frontend, so
   * mamba alone fails the run once it starts. */
  static const char script[] = "if ! command -v conda >/dev/null 2>&1; then command -v mamba"
                               " >/dev/null 2>&1 && exit 4; exit 3; fi; printf '%s\\n' \"$HOME\"";
  g_autoptr(GString) cmd = g_string_new (NULL);
  g_autoptr(GBytes) out = NULL;
  g_autofree char *home = NULL;
  int code = 0;

  ferry_remote_cmd_op (cmd, "exec /bin/sh -c");
  ferry_remote_cmd_word (cmd, script);
  if (!ferry_remote_capture (remote, cmd->str, &out, &code, cancellable, error))
    return NULL;
  if (code == 3)
    return (ferry_throw (error, FERRY_ERROR_FAILED,
                         "--use-conda, but %s has neither conda nor mamba on its PATH: install conda"
                         " there (Miniforge has both), or drop --use-conda",
                         remote->host),
            NULL);
  if (code == 4)
    return (ferry_throw (error, FERRY_ERROR_FAILED,
                         "--use-conda, but %s has mamba and no conda on its PATH, and snakemake runs"
                         " `conda info` whatever its frontend: install conda there (Miniforge has"
                         " both), or drop --use-conda",
                         remote->host),
            NULL);
  home = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
  g_strstrip (home);
  if (code != 0 || !g_path_is_absolute (home))
    return (ferry_throw (error, FERRY_ERROR_FAILED,
                         "could not check for conda on %s (exit %d); is /bin/sh there?", remote->host,
                         code),
            NULL);
  return g_build_filename (home, ".ferry", "conda", NULL);
}
