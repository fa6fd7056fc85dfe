/* --use-conda on the remote: conda or mamba must be there before the run starts, and the
 * environments go under one stable prefix in the remote user's home, built once and reused. */
#include "remote.h"

gboolean
ferry_remote_snakemake_args_use_conda (const char *const *args)
{
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    if (g_str_equal (args[i], "--use-conda") || g_str_equal (args[i], "--sdm=conda")
        || (g_str_equal (args[i], "--software-deployment-method") && args[i + 1] != NULL
            && g_str_equal (args[i + 1], "conda")))
      return TRUE;
  return FALSE;
}

char *
ferry_remote_conda_prefix (FerryRemote *remote, GCancellable *cancellable, GError **error)
{
  /* One /bin/sh line: exit 3 says neither conda nor mamba is there; else $HOME is printed. */
  static const char script[] = "command -v conda >/dev/null 2>&1 || command -v mamba >/dev/null 2>&1 "
                               "|| exit 3; printf '%s\\n' \"$HOME\"";
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
                         "--use-conda, but %s has neither conda nor mamba on its PATH: install one there "
                         "(Miniforge has both), or drop --use-conda",
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
