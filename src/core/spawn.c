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

void
ferry_spawn_job_free (FerrySpawnJob *job)
{
  if (job == NULL)
    return;
  g_strfreev (job->argv);
  g_free (job->stdin_data);
  g_free (job->out);
  g_free (job->err);
  g_free (job);
}

typedef struct
{
  FerrySpawnJob **jobs;
  GSubprocess **procs;
  guint n_jobs;
  guint next;
  guint n_pending;
  guint max_parallel;
  const char *const *env;
  gboolean fail_fast;
  gboolean stopping;
  GError *error;
  GCancellable *cancellable;
} Pool;

static void pool_start_more (Pool *pool);

static void
pool_stop_all (Pool *pool)
{
  pool->stopping = TRUE;
  for (guint i = 0; i < pool->n_jobs; i++)
    if (pool->procs[i] != NULL && !pool->jobs[i]->finished)
      g_subprocess_send_signal (pool->procs[i], SIGTERM);
}

static void
on_communicated (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Pool *pool = user_data;
  GSubprocess *proc = G_SUBPROCESS (source);
  g_autoptr(GError) local_error = NULL;
  FerrySpawnJob *job = NULL;

  for (guint i = 0; i < pool->n_jobs; i++)
    if (pool->procs[i] == proc)
      job = pool->jobs[i];
  g_assert (job != NULL);

  pool->n_pending--;
  if (!g_subprocess_communicate_utf8_finish (proc, res, &job->out, &job->err, &local_error))
    {
      /* The pipes failed; make sure the child is gone before it is forgotten. */
      g_subprocess_force_exit (proc);
      g_subprocess_wait (proc, NULL, NULL);
      if (pool->error == NULL)
        pool->error = g_steal_pointer (&local_error);
      pool_stop_all (pool);
    }
  else
    {
      g_subprocess_wait (proc, NULL, NULL);
      job->status = g_subprocess_get_status (proc);
      if (pool->fail_fast && pool->error == NULL
          && !ferry_spawn_status_check ((const char *const *) job->argv, job->status, job->err,
                                        &pool->error))
        pool_stop_all (pool);
    }
  job->finished = TRUE;
  pool_start_more (pool);
}

static void
pool_start_more (Pool *pool)
{
  while (!pool->stopping && pool->next < pool->n_jobs && pool->n_pending < pool->max_parallel)
    {
      guint i = pool->next++;
      FerrySpawnJob *job = pool->jobs[i];
      GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;

      if (job->stdin_data != NULL)
        flags |= G_SUBPROCESS_FLAGS_STDIN_PIPE;
      pool->procs[i] = ferry_spawn_start ((const char *const *) job->argv, pool->env, flags,
                                          pool->error ? NULL : &pool->error);
      if (pool->procs[i] == NULL)
        {
          pool_stop_all (pool);
          return;
        }
      pool->n_pending++;
      g_subprocess_communicate_utf8_async (pool->procs[i], job->stdin_data, NULL, on_communicated,
                                           pool);
    }
}

/* On the pool's own context (not from the thread that cancelled), so the pool is only touched here. */
static gboolean
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  pool_stop_all (user_data);
  return G_SOURCE_REMOVE;
}

gboolean
ferry_spawn_parallel (FerrySpawnJob **jobs, guint n_jobs, guint max_parallel,
                      const char *const *env, gboolean fail_fast,
                      GCancellable *cancellable, GError **error)
{
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_autofree GSubprocess **procs = g_new0 (GSubprocess *, n_jobs + 1);
  Pool pool = { jobs, procs, n_jobs, 0, 0, MAX (max_parallel, 1), env, fail_fast, FALSE, NULL,
                cancellable };
  g_autoptr(GSource) cancel_source = NULL;

  g_main_context_push_thread_default (ctx);
  if (cancellable != NULL)
    {
      cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (cancel_source, G_SOURCE_FUNC (on_cancelled), &pool, NULL);
      g_source_attach (cancel_source, ctx);
    }

  pool_start_more (&pool);
  while (pool.n_pending > 0)
    g_main_context_iteration (ctx, TRUE);

  if (cancel_source != NULL)
    g_source_destroy (cancel_source);
  g_main_context_pop_thread_default (ctx);

  for (guint i = 0; i < n_jobs; i++)
    g_clear_object (&procs[i]);

  if (pool.error == NULL && g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (pool.error != NULL)
    {
      g_propagate_error (error, pool.error);
      return FALSE;
    }
  return TRUE;
}
