/* Children as argv vectors through GSubprocess: capture, stream, and a bounded parallel pool. */
#include <signal.h>
#include <sys/wait.h>

#include "spawn.h"

char *
ferry_argv_display (const char *const *argv)
{
  g_autoptr(GString) s = g_string_new (NULL);

  for (guint i = 0; argv != NULL && argv[i] != NULL; i++)
    {
      g_autofree char *q = g_shell_quote (argv[i]);
      if (i > 0)
        g_string_append_c (s, ' ');
      /* Plain words read better unquoted. */
      if (*argv[i] != '\0' && strspn (argv[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                               "0123456789-_./=:,@%+") == strlen (argv[i]))
        g_string_append (s, argv[i]);
      else
        g_string_append (s, q);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

GSubprocess *
ferry_spawn_start (const char *const *argv, const char *const *env, GSubprocessFlags flags,
                   GError **error)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr(GError) local_error = NULL;
  GSubprocess *proc;

  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);

  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (env[i], "=", 2);
      g_subprocess_launcher_setenv (launcher, kv[0], kv[1] ? kv[1] : "", TRUE);
    }

  proc = g_subprocess_launcher_spawnv (launcher, argv, &local_error);
  if (proc == NULL)
    {
      if (g_error_matches (local_error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT))
        {
          g_autofree char *base = g_path_get_basename (argv[0]);
          return (ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                               "%s is not installed (not found on PATH)", base),
                  NULL);
        }
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "running %s: ", argv[0]);
      return NULL;
    }
  return proc;
}

/* The last non-empty lines of a child's stderr, joined into one line for an error message. */
static char *
stderr_summary (const char *err)
{
  g_auto(GStrv) lines = NULL;
  g_autoptr(GString) s = g_string_new (NULL);
  guint n, kept = 0;

  if (err == NULL)
    return g_strdup ("");
  lines = g_strsplit (err, "\n", -1);
  n = g_strv_length (lines);
  for (guint i = n; i > 0 && kept < 3; i--)
    {
      const char *line = g_strstrip (lines[i - 1]);
      if (*line == '\0')
        continue;
      if (kept++ > 0)
        g_string_prepend (s, " | ");
      g_string_prepend (s, line);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

gboolean
ferry_spawn_status_check (const char *const *argv, int wait_status, const char *child_stderr,
                          GError **error)
{
  g_autofree char *summary = NULL;
  g_autofree char *base = NULL;
  g_autofree char *what = NULL;

  if (WIFEXITED (wait_status) && WEXITSTATUS (wait_status) == 0)
    return TRUE;

  base = g_path_get_basename (argv[0]);
  if (argv[1] != NULL && argv[1][0] != '-' && g_str_equal (base, "aws") && argv[2] != NULL)
    what = g_strdup_printf ("%s %s %s", base, argv[1], argv[2]);
  else
    what = g_strdup (base);
  summary = stderr_summary (child_stderr);

  if (WIFSIGNALED (wait_status))
    return ferry_throw (error, FERRY_ERROR_CHILD, "%s was killed by signal %d%s%s", what,
                        WTERMSIG (wait_status), *summary ? ": " : "", summary);
  return ferry_throw (error, FERRY_ERROR_CHILD, "%s failed (exit %d)%s%s", what,
                      WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1, *summary ? ": " : "",
                      summary);
}

gboolean
ferry_spawn_capture (const char *const *argv, const char *const *env, const char *stdin_data,
                     char **out_stdout, char **out_stderr, int *out_status,
                     GCancellable *cancellable, GError **error)
{
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;
  g_autoptr(GSubprocess) proc = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (stdin_data != NULL)
    flags |= G_SUBPROCESS_FLAGS_STDIN_PIPE;
  proc = ferry_spawn_start (argv, env, flags, error);
  if (proc == NULL)
    return FALSE;

  if (!g_subprocess_communicate_utf8 (proc, stdin_data, cancellable, &out, &err, error))
    {
      g_subprocess_force_exit (proc);
      g_subprocess_wait (proc, NULL, NULL);
      return FALSE;
    }
  if (!g_subprocess_wait (proc, cancellable, error))
    {
      g_subprocess_send_signal (proc, SIGTERM);
      g_subprocess_wait (proc, NULL, NULL);
      return FALSE;
    }

  if (out_status)
    *out_status = g_subprocess_get_status (proc);
  if (out_stdout)
    *out_stdout = g_steal_pointer (&out);
  if (out_stderr)
    *out_stderr = g_steal_pointer (&err);
  return TRUE;
}

gboolean
ferry_spawn_check (const char *const *argv, const char *const *env, const char *stdin_data,
                   char **out_stdout, GCancellable *cancellable, GError **error)
{
  g_autofree char *err = NULL;
  int status = 0;

  if (!ferry_spawn_capture (argv, env, stdin_data, out_stdout, &err, &status, cancellable, error))
    return FALSE;
  if (!ferry_spawn_status_check (argv, status, err, error))
    {
      if (out_stdout)
        g_clear_pointer (out_stdout, g_free);
      return FALSE;
    }
  return TRUE;
}

gboolean
ferry_spawn_inherit (const char *const *argv, const char *const *env, int *out_exit,
                     GCancellable *cancellable, GError **error)
{
  g_autoptr(GSubprocess) proc = ferry_spawn_start (argv, env, G_SUBPROCESS_FLAGS_NONE, error);
  int status;

  if (proc == NULL)
    return FALSE;
  if (!g_subprocess_wait (proc, cancellable, error))
    {
      g_subprocess_send_signal (proc, SIGTERM);
      g_subprocess_wait (proc, NULL, NULL);
      return FALSE;
    }
  status = g_subprocess_get_status (proc);
  if (out_exit)
    *out_exit = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
  return TRUE;
}
