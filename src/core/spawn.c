/* Children as argv vectors through GSubprocess: capture, stream, and a bounded parallel pool. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib-unix.h>

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

/* The child's environment: ours with `env` ("KEY=VALUE") set over it. */
static GStrv
child_environ (const char *const *env)
{
  GStrv envp = g_get_environ ();

  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (env[i], "=", 2);
      envp = g_environ_setenv (envp, kv[0], kv[1] ? kv[1] : "", TRUE);
    }
  return envp;
}

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

/* Reads what is there on `fd` into `buf`; FALSE at end of file (or an error: the child is gone). */
static gboolean
drain (int fd, GString *buf)
{
  char chunk[16384];

  for (;;)
    {
      ssize_t n = read (fd, chunk, sizeof chunk);
      if (n > 0)
        {
          g_string_append_len (buf, chunk, n);
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      return n < 0 && errno == EAGAIN;
    }
}

/* Runs in the child between fork and exec: a process group of its own, so that a cancel reaches
 * whatever it started too (setpgid is async-signal-safe). */
static void
own_process_group (gpointer data)
{
  setpgid (0, 0);
}

/* The child's wait status. Once its outputs are closed it is ending; the wait still honours the
 * cancellable (a child that closed them and lingers is killed on Ctrl-C, with its process group: a
 * `sh -c` left alone would leave its own children running). */
static gboolean
reap (GPid pid, int *out_status, GCancellable *cancellable, GError **error)
{
  guint pause_ms = 1;

  for (;;)
    {
      pid_t got = waitpid (pid, out_status, WNOHANG);
      if (got == pid)
        return TRUE;
      if (got < 0 && errno != EINTR)
        return ferry_throw (error, FERRY_ERROR_CHILD, "waiting for child %d: %s", (int) pid,
                            g_strerror (errno));
      if (g_cancellable_is_cancelled (cancellable))
        {
          kill (-pid, SIGKILL);
          kill (pid, SIGKILL);
          while (waitpid (pid, out_status, 0) < 0 && errno == EINTR)
            ;
          return !g_cancellable_set_error_if_cancelled (cancellable, error);
        }
      g_usleep (pause_ms * 1000);
      pause_ms = MIN (pause_ms * 2, 50);
    }
}

/* Without GSubprocess on purpose: this runs on the pool's worker threads, many at once, and
 * GSubprocess's communicate there (GLib 2.74) now and then never returned, its thread stuck in
 * g_object_unref with the child long gone. Here each call is GLib's spawn, one poll loop over the
 * pipes and the cancellable, and a waitpid of its own child: no child watch, no worker thread. */
gboolean
ferry_spawn_capture (const char *const *argv, const char *const *env, const char *stdin_data,
                     char **out_stdout, char **out_stderr, int *out_status,
                     GCancellable *cancellable, GError **error)
{
  g_auto(GStrv) envp = child_environ (env);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GString) err = g_string_new (NULL);
  GPollFD fds[4];
  int in_fd = -1, out_fd = -1, err_fd = -1;
  gsize in_len = stdin_data ? strlen (stdin_data) : 0, in_done = 0;
  gboolean out_open = TRUE, err_open = TRUE, have_cancel_fd = FALSE;
  GPid pid;
  int status = 0;

  g_return_val_if_fail (argv != NULL && argv[0] != NULL, FALSE);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (!g_spawn_async_with_pipes_and_fds (NULL, argv, (const char *const *) envp,
                                         G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD
                                             | G_SPAWN_CLOEXEC_PIPES,
                                         own_process_group, NULL, -1, -1, -1, NULL, NULL, 0, &pid,
                                         stdin_data != NULL ? &in_fd : NULL, &out_fd, &err_fd,
                                         &local_error))
    {
      if (g_error_matches (local_error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT))
        {
          g_autofree char *base = g_path_get_basename (argv[0]);
          return ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                              "%s is not installed (not found on PATH)", base);
        }
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "running %s: ", argv[0]);
      return FALSE;
    }
  /* Also from this side, so that a cancel right after the spawn finds the group (EACCES once the child
     has run exec is harmless: it set its group first). */
  setpgid (pid, pid);
  g_unix_set_fd_nonblocking (out_fd, TRUE, NULL);
  g_unix_set_fd_nonblocking (err_fd, TRUE, NULL);
  if (in_fd >= 0)
    {
      g_unix_set_fd_nonblocking (in_fd, TRUE, NULL);
      if (in_len == 0)
        close_fd (&in_fd);
    }
  fds[3].fd = -1;
  if (cancellable != NULL && g_cancellable_make_pollfd (cancellable, &fds[3]))
    have_cancel_fd = TRUE;

  while (out_open || err_open)
    {
      int rc;

      /* A closed pipe is -1, which poll passes over; the cancellable's fd, when it has one, last. */
      fds[0] = (GPollFD){ out_open ? out_fd : -1, G_IO_IN | G_IO_HUP | G_IO_ERR, 0 };
      fds[1] = (GPollFD){ err_open ? err_fd : -1, G_IO_IN | G_IO_HUP | G_IO_ERR, 0 };
      fds[2] = (GPollFD){ in_fd, G_IO_OUT | G_IO_ERR, 0 };
      fds[3].revents = 0;
      rc = g_poll (fds, have_cancel_fd ? 4 : 3, -1);
      if (rc < 0 && errno != EINTR)
        break;
      if (g_cancellable_is_cancelled (cancellable))
        break;
      if (out_open && fds[0].revents != 0)
        out_open = drain (out_fd, out);
      if (err_open && fds[1].revents != 0)
        err_open = drain (err_fd, err);
      if (in_fd >= 0 && fds[2].revents != 0)
        {
          ssize_t w = write (in_fd, stdin_data + in_done, in_len - in_done);
          if (w > 0)
            in_done += w;
          /* Written, or the child closed its stdin (EPIPE): either way no more to give. */
          if (in_done >= in_len || (w < 0 && errno != EAGAIN && errno != EINTR))
            close_fd (&in_fd);
        }
    }
  close_fd (&in_fd);
  close_fd (&out_fd);
  close_fd (&err_fd);
  if (have_cancel_fd)
    g_cancellable_release_fd (cancellable);
  if (!reap (pid, &status, cancellable, error))
    return FALSE;
  g_spawn_close_pid (pid);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  /* As GSubprocess's communicate_utf8: text up to a NUL must be UTF-8 (NULs may separate words). */
  if (!g_utf8_validate (out->str, -1, NULL) || !g_utf8_validate (err->str, -1, NULL))
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA, "%s printed invalid UTF-8", argv[0]);
  if (out_status)
    *out_status = status;
  if (out_stdout)
    *out_stdout = g_string_free (g_steal_pointer (&out), FALSE);
  if (out_stderr)
    *out_stderr = g_string_free (g_steal_pointer (&err), FALSE);
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
